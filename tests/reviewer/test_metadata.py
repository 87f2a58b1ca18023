"""Metadata values read from real files (reviewer.metadata), and copies without them
(reviewer.saving): files built here with Pillow and pypdf, hostile ones by hand."""

from __future__ import annotations

import datetime
import io
import logging
import struct
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, PngImagePlugin
from pypdf import PdfWriter
from pypdf.xmp import XmpInformation

from reviewer import filetypes, saving
from reviewer.metadata import GPS_PRESENT, MAX_ENTRIES, MAX_VALUE, UNREADABLE, read_metadata

XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    b' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
    b' xmp:CreatorTool="Darktable 4.8" exif:GPSLatitude="52,30.0N">'
    b'<dc:creator><rdf:Seq><rdf:li>XMP-CANARY Person</rdf:li></rdf:Seq></dc:creator>'
    b'<xmp:CreateDate>2026-11-29T08:15:00+03:00</xmp:CreateDate>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


def photo_exif(artist: str = "EXIF-CANARY Artist") -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = artist  # Artist
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    exif[0x0131] = "Lightroom 12"  # Software
    exif.get_ifd(0x8769)[0x9003] = "2026:11:30 10:04:05"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.5)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "E", (13.0, 24.0, 0.0)
    return exif


def picture() -> Image.Image:
    im = Image.new("RGB", (64, 48))
    im.putdata([(x * 4 % 256, y * 5 % 256, (x * y) % 256) for y in range(48) for x in range(64)])
    return im


def jpeg(**kw: object) -> bytes:
    buf = io.BytesIO()
    picture().save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def png(info: PngImagePlugin.PngInfo) -> bytes:
    buf = io.BytesIO()
    picture().save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def pdf(info: dict[str, str], xmp: bool = True) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata(info)
    if xmp:
        meta = XmpInformation.create()
        meta.dc_creator = ["XMP-CANARY Writer"]
        meta.xmp_create_date = datetime.datetime(2026, 11, 28, 9, 30, tzinfo=datetime.UTC)
        meta.xmp_creator_tool = "LibreOffice Writer"
        writer.xmp_metadata = meta
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.tobytes()


# --- reading ----------------------------------------------------------------------


def test_jpeg_exif_values_and_gps_present_not_shown() -> None:
    found = read_metadata(jpeg(exif=photo_exif(), comment=b"taken at the border"),
                          "image/jpeg")
    assert found == (
        ("Artist", "EXIF-CANARY Artist"),
        ("Camera", "Canon EOS 5D Mark IV"),
        ("Software", "Lightroom 12"),
        ("Date taken", "2026:11:30 10:04:05"),
        GPS_PRESENT,
        ("Comment", "taken at the border"),
    )
    # present, never the coordinates
    assert not any("52" in value or "13" in value for _, value in found if _ != "Date taken")


def test_jpeg_xmp_values_and_gps() -> None:
    found = dict(read_metadata(jpeg(xmp=XMP_PACKET), "image/jpeg"))
    assert found["XMP creator"] == "XMP-CANARY Person"
    assert found["XMP creator tool"] == "Darktable 4.8"
    assert found["XMP created"] == "2026-11-29T08:15:00+03:00"  # as written, not interpreted
    assert found["GPS position"] == "present"


def test_png_text_chunks() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "TEXT-CANARY")
    info.add_text("Software", "Inkscape", zip=True)  # zTXt
    info.add_itxt("Title", "قصيدة عن الحرية", lang="ar", zip=True)
    found = read_metadata(png(info), "image/png")
    assert found == (
        ("Text: Author", "TEXT-CANARY"),
        ("Text: Software", "Inkscape"),
        ("Text: Title", "قصيدة عن الحرية"),
    )


def test_png_text_after_the_image_data_is_flagged() -> None:
    data = png(PngImagePlugin.PngInfo())
    chunk = b"tEXtAuthor\0LATE-CANARY"
    late = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = data[:-12] + late + data[-12:]  # before IEND
    assert read_metadata(data, "image/png") == (
        ("Text after the image data", "present (not shown)"),
    )


def test_tiff_and_webp_exif() -> None:
    for fmt, ctype in (("TIFF", "image/tiff"), ("WEBP", "image/webp")):
        buf = io.BytesIO()
        picture().save(buf, fmt, exif=photo_exif())
        found = dict(read_metadata(buf.getvalue(), ctype))
        assert found["Artist"] == "EXIF-CANARY Artist", fmt
        assert found["Camera"] == "Canon EOS 5D Mark IV", fmt
        if fmt == "WEBP":  # Pillow's TIFF writer leaves out the GPS directory
            assert found["GPS position"] == "present", fmt


def test_pdf_info_and_xmp() -> None:
    data = pdf({"/Author": "PDF-CANARY Author", "/Creator": "Writer", "/Producer": "LibreOffice",
                "/CreationDate": "D:20261130120000+01'00'", "/Title": "Columns 2025",
                "/Company": "Daily News"})
    found = read_metadata(data, "application/pdf")
    assert found == (
        ("Author", "PDF-CANARY Author"),
        ("Title", "Columns 2025"),
        ("Creator", "Writer"),
        ("Producer", "LibreOffice"),
        ("Created", "D:20261130120000+01'00'"),
        ("Info /Company", "Daily News"),
        ("XMP creator", "XMP-CANARY Writer"),
        ("XMP creator tool", "LibreOffice Writer"),
        ("XMP created", "2026-11-28T09:30:00.000000Z"),
    )


def test_values_are_inert_and_capped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Author", "\x1b]0;pwned\x07\u202egnp.exe")
    info.add_text("Long", "x" * 100_000)
    for i in range(MAX_ENTRIES + 10):
        info.add_text(f"k{i}", "v")
    found = read_metadata(png(info), "image/png")
    assert found[0] == ("Text: Author", "\\x1b]0;pwned\\x07\\u202egnp.exe")
    assert found[1][1] == "x" * (MAX_VALUE - 1) + "…"
    assert len(found) == MAX_ENTRIES


def test_only_headers_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # No image is decoded to read its metadata: a PNG's getexif() and text would.
    def no_decoding(self: object) -> None:
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "TEXT-CANARY")
    assert read_metadata(png(info), "image/png") == (("Text: Author", "TEXT-CANARY"),)
    assert dict(read_metadata(jpeg(exif=photo_exif()), "image/jpeg"))["Artist"] == (
        "EXIF-CANARY Artist")


def test_types_not_read_give_nothing() -> None:
    assert read_metadata(b"plain text", "text/plain") == ()
    assert read_metadata(jpeg(exif=photo_exif()), "application/octet-stream") == ()
    assert read_metadata(jpeg(), "image/jpeg") == ()


# --- hostile files ----------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
               for c in range(ord("b"), ord("k")))
    + b']><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    b' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&j;</rdf:RDF></x:xmpmeta>'
)


def malformed() -> list[tuple[str, bytes, str]]:
    good_jpeg = jpeg(exif=photo_exif())
    good_pdf = pdf({"/Author": "A"})
    exif_at = good_jpeg.index(b"Exif\0\0")
    broken_exif = good_jpeg[: exif_at + 6] + b"MM\0*\xff\xff\xff\xff" + good_jpeg[exif_at + 14 :]
    circular = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
                b"3 0 obj 3 0 R endobj\n"
                b"trailer << /Root 1 0 R /Info 3 0 R >>\n%%EOF\n")
    return [
        ("empty jpeg", b"", "image/jpeg"),
        ("jpeg magic only", b"\xff\xd8\xff", "image/jpeg"),
        ("truncated jpeg", good_jpeg[: exif_at + 40], "image/jpeg"),
        ("jpeg with a broken EXIF directory", broken_exif, "image/jpeg"),
        ("jpeg with entity-bomb XMP", jpeg(xmp=BILLION_LAUGHS), "image/jpeg"),
        ("png with a bad chunk length", b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffIHDR", "image/png"),
        ("png a billion pixels wide", _png_header(100_000, 100_000), "image/png"),
        ("garbage pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40, "application/pdf"),
        ("truncated pdf", good_pdf[: len(good_pdf) // 2], "application/pdf"),
        ("pdf whose info is itself", circular, "application/pdf"),
        ("tiff header only", b"II*\x00\xff\xff\xff\x7f", "image/tiff"),
        ("webp header only", b"RIFF\x10\x00\x00\x00WEBPVP8X", "image/webp"),
    ]


def _png_header(width: int, height: int) -> bytes:
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body
            + struct.pack(">I", zlib.crc32(body)))


@pytest.mark.parametrize(("what", "data", "ctype"), malformed(), ids=lambda v: str(v)[:40])
def test_malformed_files_read_as_nothing_or_unreadable(what: str, data: bytes, ctype: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    found = read_metadata(data, ctype)  # no exception, whatever the file holds
    assert time.monotonic() - started < 5, what
    assert set(found) <= {UNREADABLE, ("Artist", "EXIF-CANARY Artist"),
                          ("Camera", "Canon EOS 5D Mark IV"), ("Software", "Lightroom 12")}, what
    # pypdf's complaints stay with pypdf: not a log line, not a warning
    assert not [r for r in caplog.records if r.name.startswith("pypdf")], what


def test_broken_exif_says_could_not_be_read() -> None:
    good = jpeg(exif=photo_exif())
    at = good.index(b"Exif\0\0")
    broken = good[: at + 6] + b"MM\0*\xff\xff\xff\xff" + good[at + 14 :]
    assert read_metadata(broken, "image/jpeg") == (UNREADABLE,)
    assert read_metadata(b"%PDF-1.4\nnothing here", "application/pdf") == (UNREADABLE,)


def test_decompression_bomb_limit_stays_on() -> None:
    assert Image.MAX_IMAGE_PIXELS is not None
    assert read_metadata(_png_header(100_000, 100_000), "image/png") == (UNREADABLE,)


def test_library_warnings_do_not_stop_the_reading() -> None:
    # 100 million pixels: past Pillow's decompression-bomb warning (not its
    # error); under pytest's -W error the warning would become an exception.
    body = b"tEXtAuthor\0TEXT-CANARY"
    text = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    data = _png_header(10_000, 10_000) + text + b"\0\0\0\0IEND\xaeB`\x82"
    assert read_metadata(data, "image/png") == (("Text: Author", "TEXT-CANARY"),)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["image/jpeg", "image/png", "application/pdf", "image/tiff"]),
       st.binary(max_size=400))
def test_random_bytes_never_raise(ctype: str, tail: bytes) -> None:
    head = {"image/jpeg": b"\xff\xd8\xff\xe1", "image/png": b"\x89PNG\r\n\x1a\n",
            "application/pdf": b"%PDF-1.4\n", "image/tiff": b"II*\x00"}[ctype]
    found = read_metadata(head + tail, ctype)
    assert all(isinstance(label, str) and isinstance(value, str) for label, value in found)


# --- copies without metadata ------------------------------------------------------


def test_jpeg_stripped_keeps_the_picture_and_drops_everything_else() -> None:
    second = jpeg(exif=photo_exif("TRAILER-CANARY"))  # a phone's "preview" image, with EXIF
    original = jpeg(exif=photo_exif(), comment=b"COMMENT-CANARY", xmp=XMP_PACKET,
                    icc_profile=b"\0" * 128) + second
    bare = saving.stripped(original, "image/jpeg")
    assert read_metadata(bare, "image/jpeg") == ()
    assert filetypes.find_metadata(bare, "image/jpeg") == []
    for canary in (b"CANARY", b"Canon", b"Exif", b"xmpmeta"):
        assert canary not in bare
    assert pixels(bare) == pixels(original)  # the same picture, not re-encoded
    assert b"ICC_PROFILE\0" in bare and bare.endswith(b"\xff\xd9")


def test_progressive_jpeg_stripped() -> None:
    original = jpeg(exif=photo_exif(), progressive=True)
    bare = saving.stripped(original, "image/jpeg")
    assert read_metadata(bare, "image/jpeg") == ()
    assert pixels(bare) == pixels(original)


def test_png_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "TEXT-CANARY")
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode(), zip=True)
    original = png(info)
    bare = saving.stripped(original + b"APPENDED-CANARY", "image/png")
    assert read_metadata(bare, "image/png") == ()
    assert b"CANARY" not in bare and pixels(bare) == pixels(original)


def test_damaged_jpeg_is_not_stripped() -> None:
    with pytest.raises(saving.CannotStrip):
        saving.stripped(b"\xff\xd8\xff\xe1\xff\xff" + b"x" * 10, "image/jpeg")
    with pytest.raises(saving.CannotStrip):
        saving.stripped(b"GIF89a", "image/jpeg")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["image/jpeg", "image/png"]), st.data())
def test_damaged_images_give_a_clean_copy_or_a_refusal(ctype: str, draw: st.DataObject) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "TEXT-CANARY")
    original = bytearray(jpeg(exif=photo_exif(), comment=b"COMMENT-CANARY")
                         if ctype == "image/jpeg" else png(info))
    for _ in range(draw.draw(st.integers(1, 6))):
        original[draw.draw(st.integers(0, len(original) - 1))] = draw.draw(st.integers(0, 255))
    copy = saving.SavedFile("a", saving.CONTENT_TYPE, bytes(original), detected_type=ctype)
    try:
        bare = saving.without_metadata(copy)
    except saving.CannotStrip:
        return
    assert [e for e in read_metadata(bare.data, ctype) if e != UNREADABLE] == []
    assert filetypes.find_metadata(bare.data, ctype) == []
