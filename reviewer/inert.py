"""Make applicant text safe to print on a terminal.

Applicant answers and filenames are hostile: an escape sequence can rewrite
the screen, retitle the window or (on some terminals) inject keystrokes; a
carriage return can hide a line behind another; a bidi override can make
"exe.pdf" read as "fdp.exe". Every character that could do any of that is
shown as a visible escape (`\\x1b`, `\\u202e`) instead. Newlines and tabs
survive in long text so that answers stay readable; in one-line fields
(table cells, names) they are escaped too.
"""

from __future__ import annotations

#: Bidirectional formatting characters (Unicode TR9) and line/paragraph separators.
_VISIBLE_ESCAPES = frozenset(
    [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
     0xFFF9, 0xFFFA, 0xFFFB, 0xFEFF]
)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str, *, multiline: bool = True) -> str:
    """Return `text` with every control, bidi and unpaired-surrogate character escaped."""
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t" and multiline:
            out.append(ch)
        elif (
            code < 0x20
            or 0x7F <= code <= 0x9F
            or code in _VISIBLE_ESCAPES
            or 0xD800 <= code <= 0xDFFF
        ):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def cell(text: str, width: int) -> str:
    """One table cell: inert on one line, cut to `width` characters."""
    safe = inert(text, multiline=False)
    return safe if len(safe) <= width else safe[: width - 1] + "…"
