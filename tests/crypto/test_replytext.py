"""The reply display rule (crypto/replytext.py), shared by the case page and the desk's preview."""

from __future__ import annotations

import pytest

from crypto.replytext import reply_html, reply_paragraphs

#: Inputs every display of a reply is checked with (tests/intake/test_reply_display.py too).
SAMPLES = [
    "<script>alert(1)</script>",
    "Dear applicant,\n\nWe have read your application.\nWe will write again.\n\n\n\nThe Secretariat",
    "Windows\r\nline ends\r\n\r\nand an old Mac\rline end",
    "مرحباً،\nلقد قرأنا طلبك.\n\nWe write in English too.",
    "\n\n  indented first line  \n\t\n last line \t",
    "& \"quoted\" 'single' <b>bold</b> &amp;",
    "a\u2028b\x0cc",
]


def test_paragraphs_and_lines() -> None:
    assert reply_paragraphs(SAMPLES[1]) == [
        ["Dear applicant,"], ["We have read your application.", "We will write again."],
        ["The Secretariat"],
    ]
    assert reply_paragraphs(SAMPLES[2]) == [["Windows", "line ends"], ["and an old Mac", "line end"]]
    assert reply_paragraphs(SAMPLES[4]) == [["  indented first line"], [" last line"]]
    assert reply_paragraphs(SAMPLES[6]) == [["a\u2028b\x0cc"]]  # only CR and LF end a line
    assert reply_paragraphs("") == [] and reply_paragraphs(" \n\t\r\n") == []


@pytest.mark.parametrize("text", SAMPLES)
def test_nothing_becomes_markup(text: str) -> None:
    html = reply_html(text)
    stripped = html.replace('<p dir="auto">', "").replace("</p>", "").replace("<br>", "")
    assert "<" not in stripped and ">" not in stripped and '"' not in stripped
    assert "'" not in stripped


def test_html() -> None:
    assert reply_html(SAMPLES[0]) == '<p dir="auto">&lt;script&gt;alert(1)&lt;/script&gt;</p>'
    assert reply_html("a\nb\n\nc") == '<p dir="auto">a<br>b</p><p dir="auto">c</p>'
    assert reply_html(SAMPLES[5]) == ('<p dir="auto">&amp; &quot;quoted&quot; &#x27;single&#x27;'
                                      ' &lt;b&gt;bold&lt;/b&gt; &amp;amp;</p>')
