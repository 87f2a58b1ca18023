"""The reviewer's pure helpers: safe names, inert text, type and metadata detection."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.server_sim import jpeg_with_exif, png_with_text
from reviewer import filetypes, saving
from reviewer.inert import cell, inert
from reviewer.safenames import MAX_NAME_BYTES, safe_name, unique_name

# inert builds its character classes on first use (about 30 ms, more on a loaded
# machine): build them here, not inside an example that Hypothesis times.
inert("")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/abs/x.sh", "x.sh"),
        ("C:\\Users\\me\\evil.bat", "evil.bat"),
        ("..", "attachment"),
        ("", "attachment"),
        (".bashrc", "bashrc"),
        ("...hidden", "hidden"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1.pdf", "_LPT1.pdf"),
        ("a:b?.txt", "a_b_.txt"),
        ("a\x00b\x1b[31m.pdf", "ab[31m.pdf"),
        ("\u202egnp.exe", "gnp.exe"),
        ("trailing. ", "trailing"),
        ("شعر.pdf", "شعر.pdf"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


#: Characters that draw nothing, each of which once passed the escaping (as
#: `report.pdf\u200b.exe`): zero-width characters, invisible operators,
#: deprecated format characters, the Mongolian vowel separator, the combining
#: grapheme joiner, Hangul fillers, tag characters, and the bidi marks.
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064",
    *map(chr, range(0x206A, 0x2070)), "\u180e", "\u034f", "\u115f", "\u1160", "\u3164",
    "\uffa0", "\U000e0001", "\U000e0041", "\U000e007f", "\u00ad", "\ufeff", "\ue000",
    "\U000f0000", "\u0378", "\U0010fffe", "\u200e", "\u200f", "\u061c", "\u2028",
]


@pytest.mark.parametrize("ch", INVISIBLE)
def test_safe_name_drops_invisible_characters(ch: str) -> None:
    assert safe_name(f"report.pdf{ch}.exe") == "report.pdf.exe"
    assert safe_name(f"{ch}\ud800شعر{ch}.pdf") == "شعر.pdf"


def test_long_name_keeps_extension() -> None:
    name = safe_name("é" * 300 + ".docx")
    assert name.endswith(".docx")
    assert len(name.encode()) <= MAX_NAME_BYTES


@given(st.text(max_size=400))
def test_safe_name_is_always_safe(name: str) -> None:
    out = safe_name(name)
    assert out and out not in (".", "..")
    assert "/" not in out and "\\" not in out and "\0" not in out
    assert not out.startswith(".")
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out)
    assert len(out.encode("utf-8")) <= MAX_NAME_BYTES
    assert out.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


def test_unique_name(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"")
    taken: set[str] = set()
    assert unique_name(tmp_path, "a.pdf", taken) == "a (2).pdf"
    assert unique_name(tmp_path, "A.PDF", taken) == "A.PDF"
    assert unique_name(tmp_path, "a.pdf", taken) == "a (3).pdf"
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    assert unique_name(tmp_path, "link", taken) == "link (2)"
    long = "x" * (MAX_NAME_BYTES - 4) + ".pdf"
    (tmp_path / long).write_bytes(b"")
    second = unique_name(tmp_path, long, taken)
    assert second.endswith(" (2).pdf") and len(second.encode()) <= MAX_NAME_BYTES


def test_inert() -> None:
    assert inert("a\x1b[31mb") == "a\\x1b[31mb"
    assert inert("line\n\tnext") == "line\n\tnext"
    assert inert("line\nnext", multiline=False) == "line\\x0anext"
    assert inert("over\rwrite") == "over\\x0dwrite"
    assert inert("\u202egnp.exe") == "\\u202egnp.exe"
    assert inert("\x9b31m") == "\\x9b31m"  # C1 CSI
    assert inert("\ud800") == "\\ud800"
    assert inert("فارسی\u200cنیم‌فاصله") == "فارسی\u200cنیم‌فاصله"  # ZWNJ is text, not a trick
    assert cell("x" * 30, 10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    "ch", [c for c in INVISIBLE if c not in "\u200c\u200d\u200e\u200f\u061c"]
)
def test_inert_escapes_invisible_characters(ch: str) -> None:
    for text in (f"report.pdf{ch}.exe", f"شعر{ch}شعر", f"a{ch}"):
        assert ch not in inert(text) and ch not in inert(text, multiline=False)
    code = ord(ch)
    expected = (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                else f"\\U{code:08x}")
    assert inert(f"report.pdf{ch}.exe") == f"report.pdf{expected}.exe"


def test_inert_shows_what_arabic_and_persian_text_uses() -> None:
    # Direction marks, as a reviewer saw them in a Persian contact answer.
    contact = "سيغنال: \u200e+961 70 000 000\u200f ؜٣"
    assert inert(contact) == contact and inert(contact, multiline=False) == contact
    # Zero-width non-joiner and joiner between letters (and after a mark) stay.
    for text in ("می\u200cخواهم", "نیم\u200cفاصله", "ب\u200dب", "क्\u200dष", "بَ\u200cب"):
        assert inert(text) == text
    # Anywhere else they are escaped: at an edge, beside a digit, a dot or another one.
    assert inert("\u200cب") == "\\u200cب"
    assert inert("ب\u200c") == "ب\\u200c"
    assert inert("report.pdf\u200d.exe") == "report.pdf\\u200d.exe"
    assert inert("ب\u200c\u200cب") == "ب\\u200c\\u200cب"
    assert inert("1\u200c2") == "1\\u200c2"
    # Overrides, embeddings and isolates stay escaped.
    for ch in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
               "\u2068", "\u2069"):
        assert inert(f"ب{ch}ب") == f"ب\\u{ord(ch):04x}ب"
    # Visible characters of every plane are untouched: emoji, CJK extension B, a
    # variation selector, an ideographic and a no-break space.
    for text in ("\U0001f600", "\U00020000", "\u2764\ufe0f", "一\u3000二", "a\u00a0:"):
        assert inert(text) == text


@given(st.text())
def test_inert_never_lets_controls_through(text: str) -> None:
    out = inert(text, multiline=False)
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out)
    assert not set(out) & {"\u202e", "\u2066", "\u2028"}


def _detect(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "f"
    path.write_bytes(data)
    return filetypes.detect_type(path)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (jpeg_with_exif(), "image/jpeg"),
        (png_with_text(), "image/png"),
        (b"GIF89a....", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"MZ\x90\x00", "application/x-msdownload"),
        (b"\x7fELF\x02", "application/x-executable"),
        (b"#!/bin/sh\nrm -rf ~\n", "application/x-sh"),
        ("Привет, мир\n".encode(), "text/plain"),
        (b"<!DOCTYPE html><p>", "text/html"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
        (_zip({"word/document.xml": b"<w/>", "docProps/core.xml": b"<c/>"}),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (_zip({"a.txt": b"a"}), "application/zip"),
    ],
)
def test_detect_type(tmp_path: Path, data: bytes, expected: str) -> None:
    assert _detect(tmp_path, data) == expected


def test_odt_detected(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("mimetype", b"application/vnd.oasis.opendocument.text")
        zf.writestr("META-INF/manifest.xml", b"<m/>")
        zf.writestr("meta.xml", b"<meta/>")
    path = tmp_path / "doc.odt"
    path.write_bytes(buf.getvalue())
    detected = filetypes.detect_type(path)
    assert detected == "application/vnd.oasis.opendocument.text"
    assert filetypes.types_agree("application/vnd.oasis.opendocument.text", detected)
    assert filetypes.find_metadata(path, detected) == ["document properties"]


def test_types_agree() -> None:
    assert filetypes.types_agree("image/jpg", "image/jpeg")
    assert filetypes.types_agree("text/csv; charset=utf-8", "text/plain")
    assert not filetypes.types_agree("application/pdf", "image/png")
    assert not filetypes.types_agree("application/pdf", "application/x-msdownload")
    assert not filetypes.types_agree("application/x-msdownload", "application/x-msdownload")
    assert filetypes.types_agree("application/zip", "application/zip")


def test_pdf_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"x" * (1 << 20) + b"trailer << /Info 3 0 R >>")
    assert filetypes.find_metadata(path, "application/pdf") == ["document info"]
    path.write_bytes(b"%PDF-1.4\nclean")
    assert filetypes.find_metadata(path, "application/pdf") == []


def test_strip_removes_only_metadata(tmp_path: Path) -> None:
    original = jpeg_with_exif()
    stripped = saving.stripped(original, "image/jpeg")
    assert filetypes.find_metadata(stripped, "image/jpeg") == []
    assert filetypes.detect_type(stripped) == "image/jpeg"
    # the quantisation table and the scan are untouched
    assert stripped.endswith(original[-40:])
    with pytest.raises(saving.CannotStrip):
        saving.stripped(original, "application/pdf")


def test_hostile_odf_type_is_not_echoed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("mimetype", b"application/vnd.oasis.opendocument.\x1b[2Jtext")
    detected = _detect(tmp_path, buf.getvalue())
    assert "\x1b" not in detected
    assert detected.startswith("application/vnd.oasis.opendocument")


def _inert_reference(text: str, multiline: bool) -> str:
    """The definition, one character at a time (what inert's regexes must match)."""
    import unicodedata

    from reviewer.inert import _escape, _escaped

    def letter(i: int) -> bool:
        return 0 <= i < len(text) and unicodedata.category(text[i])[0] in "LM"

    out = []
    for i, ch in enumerate(text):
        if ch in "\u200c\u200d":
            out.append(ch if letter(i - 1) and letter(i + 1) else _escape(ch))
        elif (ch in "\n\t" and multiline) or not _escaped(ord(ch)):
            out.append(ch)
        else:
            out.append(_escape(ch))
    return "".join(out)


def test_inert_classes_hold_exactly_the_escaped_characters() -> None:
    from reviewer.inert import _escaped, escaped_bmp_codes

    assert escaped_bmp_codes() == [c for c in range(0x10000) if _escaped(c)]
    # Every character of the Basic Multilingual Plane (the regex class), then the
    # tag and variation-selector block whole and a sample of the other planes
    # (decided one by one): all of them took 10 s.
    astral = [*range(0xE0000, 0xE1000), *range(0x10000, 0x110000, 61), 0x10FFFF]
    every = "".join(map(chr, [*range(0x10000), *astral]))
    for multiline in (True, False):
        assert inert(every, multiline=multiline) == _inert_reference(every, multiline)


def test_printable_text_without_a_filler_is_drawn_as_is_everywhere() -> None:
    # drawn_as_is lets printable text past the patterns: no printable character
    # but a filler may be one inert escapes or decides by its neighbours.
    from reviewer.inert import FILLERS, JOINERS, _escaped, _patterns, drawn_as_is

    for code in range(0x110000):
        if chr(code).isprintable() and code not in FILLERS:
            assert not _escaped(code) and code not in JOINERS, hex(code)
    assert not any(drawn_as_is(f"a{chr(c)}b") for c in FILLERS)
    # The patterns are not built for such text (the speed it buys).
    _patterns.cache_clear()
    assert inert("Ayşe Yılmaz, 王小明, \U0001f600") == "Ayşe Yılmaz, 王小明, \U0001f600"
    assert _patterns.cache_info().currsize == 0


@given(st.text(), st.booleans())
def test_inert_matches_its_definition(text: str, multiline: bool) -> None:
    assert inert(text, multiline=multiline) == _inert_reference(text, multiline)


def test_commands_pause_the_cyclic_collector_and_restore_it(tmp_path) -> None:
    # Commands run with the cyclic collector off (speed: docs/performance.md);
    # whatever happens, it is on again afterwards.
    import gc

    from click.testing import CliRunner

    from reviewer.cli import cli

    seen: list[bool] = []
    original = cli.commands["list"].callback
    assert original is not None

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    cli.commands["list"].callback = spy
    try:
        assert gc.isenabled()
        result = CliRunner().invoke(cli, ["list", "--home", str(tmp_path / "none")])
    finally:
        cli.commands["list"].callback = original
    assert result.exit_code != 0  # no key in that home: a failure, handled
    assert seen == [False]
    assert gc.isenabled()
