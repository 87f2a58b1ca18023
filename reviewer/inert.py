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

import re
from collections.abc import Iterable

#: Bidirectional formatting characters (Unicode TR9) and line/paragraph separators.
_VISIBLE_ESCAPES = frozenset(
    [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
     0xFFF9, 0xFFFA, 0xFFFB, 0xFEFF]
)


def _escaped(code: int) -> bool:
    """The one definition of what is shown as an escape (newline and tab aside)."""
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or code in _VISIBLE_ESCAPES
        or 0xD800 <= code <= 0xDFFF
    )


def _class_of(codes: Iterable[int]) -> re.Pattern[str]:
    """A regex character class matching exactly `codes`, written as ranges."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    body = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )
    return re.compile(f"[{body}]")


# The same set as _escaped (a test holds them equal), as regex classes: a table
# of 10,000 cases prints 30,000 cells, and searching in C, escaping only where
# something matched, keeps `list` from spending its time in a per-character loop.
_ESCAPED_CODES = sorted(
    {*range(0x20), *range(0x7F, 0xA0), *_VISIBLE_ESCAPES, *range(0xD800, 0xE000)}
)
_ONE_LINE = _class_of(_ESCAPED_CODES)
_MULTILINE = _class_of(c for c in _ESCAPED_CODES if chr(c) not in "\n\t")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_match(match: re.Match[str]) -> str:
    return _escape(match.group())


def inert(text: str, *, multiline: bool = True) -> str:
    """Return `text` with every control, bidi and unpaired-surrogate character escaped."""
    return (_MULTILINE if multiline else _ONE_LINE).sub(_escape_match, text)


def cell(text: str, width: int) -> str:
    """One table cell: inert on one line, cut to `width` characters."""
    safe = inert(text, multiline=False)
    return safe if len(safe) <= width else safe[: width - 1] + "…"
