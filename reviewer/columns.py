"""Table cells measured in terminal columns, not in characters.

A Chinese or Japanese name takes two columns a character, an accent over a
letter none: padding by `len` breaks the table on the first CJK name. Widths
come from wcwidth (the Unicode East Asian Width and zero-width tables, as
terminals use them). Every cell is made inert first (reviewer.inert), so no
control or bidi character reaches the terminal whatever its width.
"""

from __future__ import annotations

from reviewer.inert import inert

ELLIPSIS = "…"
#: Below this, every character inert leaves is one column wide: ASCII, Latin-1
#: and Latin Extended-A and -B, whose controls and soft hyphen inert escapes;
#: the combining marks start here (a test checks the range against wcwidth).
NARROW_BELOW = "\u0300"


def display_width(text: str) -> int:
    """How many columns inert `text` takes on a terminal."""
    if not text or max(text) < NARROW_BELOW:
        return len(text)  # a speed trick, see `char_width`
    import wcwidth

    width: int = wcwidth.wcswidth(text)
    if width >= 0:
        return width
    return sum(char_width(ch) for ch in text)


def char_width(ch: str) -> int:
    """Columns of one character; wcwidth is imported only for text that needs it.

    Names in Latin scripts (most rows) never need it: `list` of 10,000 such
    cases spends neither wcwidth's import (~0.03 s) nor a call per cell.
    """
    if ch < NARROW_BELOW:
        return 1
    import wcwidth

    return max(wcwidth.wcwidth(ch), 0)


def fit(text: str, width: int) -> str:
    """One table cell, exactly `width` columns wide: inert on one line, cut with "…"
    when longer (never through a wide character), padded with spaces."""
    safe = inert(text, multiline=False)
    used = display_width(safe)
    if used <= width:
        return safe + " " * (width - used)
    room = width - len(ELLIPSIS)
    kept: list[str] = []
    used = 0
    for ch in safe:
        w = char_width(ch)
        if used + w > room:
            break
        kept.append(ch)
        used += w
    return "".join(kept) + ELLIPSIS + " " * (room - used)
