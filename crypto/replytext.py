"""How a reply's text is shown: one rule for the applicant's case page and the desk's preview.

A reply document's `text` is plain text (docs/format.md, "The reply
document"). The applicant reads it on the case page (templates/case.html,
rendered by the server) and the reviewer previews it before it goes out
(the reviewer's desk); both show it through `reply_html`, so what the reviewer
previews is what the applicant will read.

The rule: a line ends at CR LF, CR or LF (nothing else: U+2028 and form feeds
are text); spaces and tabs at a line's end are dropped; a line of nothing but
white space (str.isspace) separates paragraphs, and several such lines
separate them as one; blank lines at the start and the end are dropped. Each
paragraph is a `<p dir="auto">` (Arabic and Persian paragraphs read right to
left, Latin ones left to right, in the same reply), its lines joined by
`<br>`. Every character of the text is escaped (`& < > " '`), so the text can
never become markup. Pure functions: no Flask, no Jinja.
"""

from __future__ import annotations

import re
from html import escape

_LINE_END = re.compile(r"\r\n|\r|\n")


def reply_paragraphs(text: str) -> list[list[str]]:
    """The reply's paragraphs, each a list of its lines (plain text, not escaped)."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in _LINE_END.split(text):
        if not line or line.isspace():
            if current:
                paragraphs.append(current)
                current = []
            continue
        current.append(line.rstrip(" \t"))
    if current:
        paragraphs.append(current)
    return paragraphs


def reply_html(text: str) -> str:
    """The reply as HTML: escaped paragraphs with line breaks, and nothing else."""
    return "".join(
        '<p dir="auto">' + "<br>".join(escape(line, quote=True) for line in paragraph) + "</p>"
        for paragraph in reply_paragraphs(text)
    )
