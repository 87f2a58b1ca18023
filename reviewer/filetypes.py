"""What an extracted file really is, and which kinds of metadata it carries.

The claimed content type came from the applicant's browser (or from an
adversary): the reviewer needs the type seen in the content, beside it, with
a warning when they differ. Embedded metadata (a photo's EXIF GPS position, a
PDF's author) can identify a source, so the reviewer is told which kinds each
file carries (reviewer.metadata reads their values; reviewer.saving writes
copies of JPEG and PNG images without them).

Small table-driven detectors over the first bytes and a few structural scans,
over a file on disk or over bytes in memory (the desk never writes a
decrypted file); nothing is ever opened with another program.
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: A file to look at: its path, or its whole content in memory.
Source = Path | bytes

SNIFF_BYTES = 4096

#: (content type, offset, signature) — first match wins; order matters.
_SIGNATURES: list[tuple[str, int, bytes]] = [
    ("application/pdf", 0, b"%PDF-"),
    ("image/png", 0, b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", 0, b"\xff\xd8\xff"),
    ("image/gif", 0, b"GIF87a"),
    ("image/gif", 0, b"GIF89a"),
    ("image/tiff", 0, b"II*\x00"),
    ("image/tiff", 0, b"MM\x00*"),
    ("audio/mpeg", 0, b"ID3"),
    ("audio/ogg", 0, b"OggS"),
    ("audio/flac", 0, b"fLaC"),
    ("application/gzip", 0, b"\x1f\x8b"),
    ("application/x-7z-compressed", 0, b"7z\xbc\xaf\x27\x1c"),
    ("application/vnd.rar", 0, b"Rar!\x1a\x07"),
    ("application/msword", 0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    ("application/rtf", 0, b"{\\rtf"),
    ("application/x-msdownload", 0, b"MZ"),
    ("application/x-executable", 0, b"\x7fELF"),
    ("application/x-mach-binary", 0, b"\xcf\xfa\xed\xfe"),
    ("application/x-mach-binary", 0, b"\xfe\xed\xfa\xcf"),
]
EXECUTABLE_TYPES = {
    "application/x-msdownload",
    "application/x-executable",
    "application/x-mach-binary",
    "application/x-sh",
}
_ODF_PREFIX = b"mimetypeapplication/vnd.oasis.opendocument."
_ODF_TYPE = re.compile(rb"application/vnd\.oasis\.opendocument\.[a-z][a-z.-]{0,40}[a-z]")
_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_EQUIVALENT = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
}


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    else:
        with open(source, "rb") as f:
            yield f


def _zip_names(source: Source) -> list[str] | None:
    """The member names of a ZIP file, or None if it is not one that can be read."""
    try:
        with _opened(source) as f, zipfile.ZipFile(f) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _zip_type(source: Source, head: bytes) -> str:
    if head[30:].startswith(_ODF_PREFIX):
        # The type is the applicant's bytes: accept only a plain ODF type name.
        match = _ODF_TYPE.match(head, 38)
        return match.group().decode("ascii") if match else "application/vnd.oasis.opendocument"
    names = _zip_names(source)
    if names is None:
        return "application/zip"
    for prefix, ctype in _OOXML.items():
        if any(n.startswith(prefix) for n in names):
            return ctype
    if "META-INF/manifest.xml" in names and "mimetype" in names:
        return "application/vnd.oasis.opendocument"
    return "application/zip"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        # The sniffed prefix may end inside a multi-byte character.
        if e.start < len(head) - 3:
            return False
        text = head[: e.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    return printable >= 0.95 * len(text)


def detect_type(source: Source) -> str:
    """The content type seen in the file's bytes (application/octet-stream if unknown).

    `source` is a path, or the whole content in memory.
    """
    with _opened(source) as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(source, head)
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[
            head[8:12]
        ]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else (
            "video/quicktime" if brand == b"qt  " else "video/mp4"
        )
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    for ctype, offset, sig in _SIGNATURES:
        if head[offset : offset + len(sig)] == sig:
            return ctype
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MPEG audio frame sync with no ID3 tag
    if head.startswith(b"#!"):
        return "application/x-sh"
    if _looks_like_text(head):
        lowered = head[:512].lstrip().lower()
        if lowered.startswith((b"<!doctype html", b"<html")):
            return "text/html"
        if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
            return "image/svg+xml"
        return "text/plain"
    return "application/octet-stream"


def normalise_type(ctype: str) -> str:
    base = ctype.split(";", 1)[0].strip().lower()
    return _EQUIVALENT.get(base, base)


def types_agree(claimed: str, detected: str) -> bool:
    """Whether the claimed type is a fair description of what was detected."""
    claimed = normalise_type(claimed)
    if detected in EXECUTABLE_TYPES:
        return False  # always worth a warning, whatever was claimed
    if claimed == detected:
        return True
    if claimed in ("", "application/octet-stream"):
        return detected == "application/octet-stream"
    if detected == "text/plain" and claimed.startswith("text/"):
        return True  # csv, markdown: plain text to a sniffer
    if detected == "application/zip" and (
        "officedocument" in claimed or "opendocument" in claimed or claimed.endswith("+zip")
    ):
        return True
    return detected.startswith("application/vnd.oasis.opendocument") and claimed.startswith(
        detected
    )


# --- metadata -----------------------------------------------------------------


def jpeg_segments(f: BinaryIO) -> list[tuple[int, int, bytes]]:
    """(marker, offset, first bytes) of each segment before the first scan."""
    out: list[tuple[int, int, bytes]] = []
    f.seek(2)
    while True:
        pos = f.tell()
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return out
        if head[1] == 0xFF:  # a fill byte before a marker
            f.seek(pos + 1)
            continue
        marker = head[1]
        if marker == 0xDA:  # start of scan: image data follows
            out.append((marker, pos, b""))
            return out
        (length,) = struct.unpack(">H", head[2:])
        if length < 2:
            return out
        first = f.read(min(length - 2, 64))
        out.append((marker, pos, first))
        f.seek(pos + 2 + length)


def png_chunks(f: BinaryIO) -> list[tuple[bytes, int, int]]:
    """(type, offset, data length) of each chunk."""
    out: list[tuple[bytes, int, int]] = []
    f.seek(8)
    while True:
        pos = f.tell()
        head = f.read(8)
        if len(head) < 8:
            return out
        length, ctype = struct.unpack(">I4s", head)
        out.append((ctype, pos, length))
        if ctype == b"IEND":
            return out
        f.seek(pos + 12 + length)


def _scan_for(source: Source, needles: tuple[bytes, ...]) -> set[bytes]:
    found: set[bytes] = set()
    overlap = max(len(n) for n in needles)
    tail = b""
    with _opened(source) as f:
        while chunk := f.read(1 << 20):
            window = tail + chunk
            found.update(n for n in needles if n in window)
            tail = window[-overlap:]
    return found


def find_metadata(source: Source, detected: str) -> list[str]:
    """Names of the kinds of embedded metadata found (empty list: none seen).

    `source` is a path, or the whole content in memory.
    """
    found: list[str] = []
    if detected == "image/jpeg":
        with _opened(source) as f:
            for marker, _, first in jpeg_segments(f):
                if marker == 0xE1 and first.startswith(b"Exif\0"):
                    found.append("EXIF")
                elif marker == 0xE1 and b"ns.adobe.com/xap" in first:
                    found.append("XMP")
                elif marker == 0xED:
                    found.append("IPTC")
                elif marker == 0xFE:
                    found.append("comment")
    elif detected == "image/png":
        names = {b"tEXt": "text", b"zTXt": "text", b"iTXt": "text", b"eXIf": "EXIF",
                 b"tIME": "timestamp"}
        with _opened(source) as f:
            for ctype, _, _ in png_chunks(f):
                if ctype in names and names[ctype] not in found:
                    found.append(names[ctype])
    elif detected == "application/pdf":
        hits = _scan_for(source, (b"/Info", b"/Author", b"/Producer", b"/Creator", b"<x:xmpmeta"))
        if hits & {b"/Info", b"/Author", b"/Producer", b"/Creator"}:
            found.append("document info")
        if b"<x:xmpmeta" in hits:
            found.append("XMP")
    elif detected == "image/webp":
        hits = _scan_for(source, (b"EXIF", b"XMP "))
        found += ["EXIF"] * (b"EXIF" in hits) + ["XMP"] * (b"XMP " in hits)
    elif "officedocument" in detected or "opendocument" in detected:
        names_in = set(_zip_names(source) or ())
        if names_in & {"docProps/core.xml", "docProps/app.xml", "meta.xml"}:
            found.append("document properties")
    return found
