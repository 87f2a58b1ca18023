"""Make applicant text safe to print on a terminal.

Applicant answers and filenames are hostile: an escape sequence can rewrite
the screen, retitle the window or (on some terminals) inject keystrokes; a
carriage return can hide a line behind another; a bidi override can make
"exe.pdf" read as "fdp.exe"; an invisible character can make
"report.pdf\\u200b.exe" look like a PDF. Every character that is not drawn
(Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp, and the fillers that draw
nothing) is shown as a visible escape (`\\x1b`, `\\u202e`, `\\U000e0041`)
instead, with two exceptions that Arabic and Persian text uses all the time
and that cannot hide anything: the direction marks U+200E, U+200F and U+061C,
and the zero-width non-joiner and joiner (U+200C, U+200D) between two
letters, shown as they are. Overrides, embeddings and isolates stay escaped.
Newlines and tabs survive in long text so that answers stay readable; in
one-line fields (table cells, names) they are escaped too.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

#: Categories of characters that draw nothing of their own: controls, format
#: characters (bidi controls, zero-width characters, tags), surrogates, private
#: use, unassigned code points, line and paragraph separators.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Letters and marks that draw nothing either: the Hangul fillers and the
#: combining grapheme joiner.
FILLERS = frozenset({0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0})
#: Invisible, but part of ordinary Arabic and Persian text: shown as they are.
DIRECTION_MARKS = frozenset({0x061C, 0x200E, 0x200F})
#: The zero-width non-joiner and joiner: shown as they are between two letters
#: (or marks), where they shape the letters; escaped anywhere else.
JOINERS = frozenset({0x200C, 0x200D})


def invisible(code: int) -> bool:
    """True for a character that draws nothing: no file name keeps one."""
    return code in FILLERS or unicodedata.category(chr(code)) in INVISIBLE_CATEGORIES


def _escaped(code: int) -> bool:
    """The one definition of what is always shown as an escape (newline and tab aside).

    The joiners are decided by their neighbours (`_joins_letters`), not here.
    """
    return invisible(code) and code not in DIRECTION_MARKS and code not in JOINERS


def _is_letter(ch: str) -> bool:
    """A letter (isalpha is exactly the L categories, and fast) or a mark."""
    return ch.isalpha() or unicodedata.category(ch)[0] == "M"


def _joins_letters(text: str, at: int) -> bool:
    """Whether the joiner at `at` stands between two letters (or marks)."""
    return 0 < at < len(text) - 1 and _is_letter(text[at - 1]) and _is_letter(text[at + 1])


def _class_of(codes: Iterable[int]) -> str:
    """A regex character class body matching exactly `codes`, written as ranges."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


def escaped_bmp_codes() -> list[int]:
    """Every code point below U+10000 that `_escaped` escapes (the same test, inlined,
    and only on the characters str.isprintable refuses: every character of an invisible
    category is among them, since isprintable refuses exactly the categories C and Z but
    the space. About 9 ms instead of 18 ms, in every command that prints applicant text;
    a test compares the result with `_escaped` over the whole plane)."""
    category = unicodedata.category
    shown = DIRECTION_MARKS | JOINERS
    unprintable = [c for c, ch in enumerate(map(chr, range(0x10000))) if not ch.isprintable()]
    return sorted({c for c in unprintable if category(chr(c)) in INVISIBLE_CATEGORIES}
                  .union(FILLERS).difference(shown))


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The candidates to escape, for one-line and for multiline text.

    Searching in C, and deciding only where something matched, keeps `list`
    (30,000 cells for 10,000 cases) from spending its time in a per-character
    loop. The class holds the escaped characters of the Basic Multilingual
    Plane, the joiners, and every character above it (decided one by one in
    `_replace`: a class with the unassigned ranges of the other planes made
    `re` test each character against hundreds of ranges, 100 times slower).
    Built on first use: the 65,536 category look-ups take about 30 ms.
    """
    bmp = escaped_bmp_codes()
    joiners = _class_of(JOINERS)
    one_line = re.compile(f"[{_class_of(bmp)}{joiners}\U00010000-\U0010ffff]")
    kept = {ord("\n"), ord("\t")}
    multiline = re.compile(
        f"[{_class_of(c for c in bmp if c not in kept)}{joiners}\U00010000-\U0010ffff]"
    )
    return one_line, multiline


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _replace(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if code in JOINERS:
        return ch if _joins_letters(match.string, match.start()) else _escape(ch)
    if code >= 0x10000 and not _escaped(code):
        return ch
    return _escape(ch)


#: The only characters str.isprintable accepts that `inert` escapes.
_FILLER = re.compile(f"[{_class_of(FILLERS)}]")


def drawn_as_is(text: str) -> bool:
    """Whether `inert` leaves `text` unchanged, decided without its patterns; a speed
    trick only.

    str.isprintable refuses exactly the categories C and Z but the space: every
    invisible category, the joiners and direction marks (Cf), newline and tab
    among them. So printable text holds nothing `inert` escapes but a filler (a
    letter or mark that draws nothing), looked for with a five-character class;
    anything else goes through the patterns. A test checks the premise on every
    code point. What it buys: `list` of 10,000 cases, whose names, countries
    and professions are printable, never builds the patterns (65,536 category
    look-ups): its table of 10,000 rows took 85 ms of CPU before and 66 ms after
    (medians of 10 alternated runs, the patterns built afresh each time), and an
    import that names its new cases saves the build too
    (docs/performance.md, 2026-12-02). Removing it changes speed, never output.
    """
    return text.isprintable() and _FILLER.search(text) is None


def inert(text: str, *, multiline: bool = True) -> str:
    """Return `text` with every control, bidi, invisible and unpaired-surrogate character escaped."""
    if drawn_as_is(text):
        return text
    one_line, lines = _patterns()
    return (lines if multiline else one_line).sub(_replace, text)


def cell(text: str, width: int) -> str:
    """One table cell: inert on one line, cut to `width` characters."""
    safe = inert(text, multiline=False)
    return safe if len(safe) <= width else safe[: width - 1] + "…"
