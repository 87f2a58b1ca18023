"""The metadata values an attachment carries, read for the reviewer to see.

Authenticating an applicant's work means asking who made a file, with what,
and when: a photo's EXIF artist, camera and dates, a PDF's author and the
program that made it, a PNG's text. `reviewer extract` prints these values and
the desk shows them beside each file. They are read with well-kept libraries
(Pillow for JPEG, PNG, TIFF and WebP; pypdf for PDF's document information
and for XMP, whose XML parser refuses entity declarations and caps the
element count), never with a parser of our own.

The content is hostile, so:
- everything happens in memory (a BytesIO), never in a temporary file;
- each library is told which format to expect (Pillow tries no other plugin)
  and reads headers only: no image is decoded, and Pillow's decompression-bomb
  limit stays on;
- values are text, shown as they are written and never interpreted (a date
  is the string the file holds), cut to `MAX_VALUE` characters, with every
  control, bidi and invisible character escaped (reviewer.inert);
- a file that a library cannot read gives the entry `UNREADABLE` (and what
  was read before the failure), never an exception.

A GPS position is reported as present, not shown: the reviewer needs to know
that the file says where it was made (and that a copy sent on would say so
too); the coordinates stay in the file for whoever needs to check them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from reviewer import filetypes
from reviewer.inert import inert

Entry = tuple[str, str]

#: Characters shown of one value (after escaping); the rest is cut with "…".
MAX_VALUE = 300
#: Characters shown of a label that came from the file (a PNG text keyword).
MAX_LABEL = 60
#: Entries shown for one file: a file can carry thousands of text chunks.
MAX_ENTRIES = 40
#: What a file gives when (part of) its metadata could not be read.
UNREADABLE: Entry = ("metadata", "could not be read")
#: What a GPS position is shown as.
GPS_PRESENT: Entry = ("GPS position", "present")

_PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
}

#: EXIF tags of the first image directory (IFD0), in the order shown.
_IFD0_TAGS = (
    (0x013B, "Artist"),
    (0x9C9D, "Author (Windows)"),
    (0x8298, "Copyright"),
    (0x010E, "Description"),
    (0x9C9B, "Title (Windows)"),
    (0x9C9C, "Comment (Windows)"),
    (0x0131, "Software"),
    (0x0132, "Date changed"),
)
_CAMERA_MAKE, _CAMERA_MODEL = 0x010F, 0x0110
#: EXIF tags of the Exif sub-directory.
_EXIF_IFD = 0x8769
_EXIF_TAGS = (
    (0x9003, "Date taken"),
    (0x9004, "Date digitised"),
    (0xA430, "Camera owner"),
    (0xA431, "Camera serial number"),
    (0xA434, "Lens"),
    (0xA435, "Lens serial number"),
    (0x9286, "Comment"),
)
_GPS_IFD = 0x8825
_WINDOWS_TAGS = {0x9C9B, 0x9C9C, 0x9C9D}  # UTF-16 little-endian in BYTE arrays

#: PDF document information entries, in the order shown.
_PDF_INFO = (
    ("/Author", "Author"),
    ("/Title", "Title"),
    ("/Subject", "Subject"),
    ("/Keywords", "Keywords"),
    ("/Creator", "Creator"),
    ("/Producer", "Producer"),
    ("/CreationDate", "Created"),
    ("/ModDate", "Modified"),
)

_DC = "http://purl.org/dc/elements/1.1/"
_XMP = "http://ns.adobe.com/xap/1.0/"
_PDF = "http://ns.adobe.com/pdf/1.3/"
_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
_EXIF_NS = "http://ns.adobe.com/exif/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#: XMP properties, in the order shown.
_XMP_FIELDS = (
    (_DC, "creator", "XMP creator"),
    (_DC, "rights", "XMP rights"),
    (_DC, "title", "XMP title"),
    (_DC, "description", "XMP description"),
    (_PHOTOSHOP, "Credit", "XMP credit"),
    (_PHOTOSHOP, "City", "XMP city"),
    (_PHOTOSHOP, "Country", "XMP country"),
    (_XMP, "CreatorTool", "XMP creator tool"),
    (_PDF, "Producer", "XMP producer"),
    (_XMP, "CreateDate", "XMP created"),
    (_XMP, "ModifyDate", "XMP modified"),
    (_PHOTOSHOP, "DateCreated", "XMP date created"),
)


class _Found:
    """The entries read so far: shown text, capped, without repeats."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, label: str, value: object) -> None:
        text = _text(value)
        if not text or len(self.entries) >= MAX_ENTRIES:
            return
        entry = (_shown(label, MAX_LABEL), _shown(text, MAX_VALUE))
        if entry not in self.entries:
            self.entries.append(entry)

    def failed(self) -> None:
        if UNREADABLE not in self.entries:
            self.entries.append(UNREADABLE)

    @contextlib.contextmanager
    def part(self) -> Iterator[None]:
        """Read one part of the metadata; if it fails, say so and go on with the next."""
        try:
            yield
        except Exception:  # hostile content: any failure of a library is "could not be read"
            self.failed()


def _text(value: object) -> str:
    """A value as text: bytes decoded (UTF-8, or Latin-1), surrounding NULs and spaces gone."""
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_text(v) for v in value)
    else:
        text = str(value)
    return text.strip("\0 \t\r\n")


def _shown(text: str, limit: int) -> str:
    safe = inert(text[: limit + 1], multiline=False)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


_quiet_lock = threading.Lock()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the libraries' complaints about a damaged file to themselves.

    Pillow and pypdf warn (`warnings.warn`) and pypdf logs (the "pypdf"
    logger) when they meet something malformed; neither is the reviewer's
    business, a log line could carry bits of the file, and under pytest's
    `-W error` a warning would become an exception. The warning filters are
    process-wide, so the reads are serialised (the desk serves several
    threads): one read at a time never restores another's filters.
    """
    logger = logging.getLogger("pypdf")
    with _quiet_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        level = logger.level
        logger.setLevel(logging.CRITICAL + 1)  # its modules' loggers inherit the level
        try:
            yield
        finally:
            logger.setLevel(level)


def read_metadata(data: bytes, detected_type: str) -> tuple[Entry, ...]:
    """The (label, value) pairs of metadata found in `data`, of the type seen in its bytes.

    Empty for a type not read (or a file carrying none); `UNREADABLE` among
    them when (part of) the file could not be read. Never raises for what
    the file holds.
    """
    reader = _READERS.get(detected_type)
    if reader is None:
        return ()
    found = _Found()
    with _quiet(), found.part():
        reader(data, detected_type, found)
    return tuple(found.entries)


# --- images (Pillow) --------------------------------------------------------------


def _image(data: bytes, detected: str, found: _Found) -> None:
    from PIL import Image  # here: only reading metadata needs it

    with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[detected]]) as im:
        if detected == "image/png":
            with found.part():
                _png_text(im, data, found)
        # A PNG's getexif() decodes the whole image to look for an eXIf chunk
        # after the image data; only the one read on opening is used.
        if detected != "image/png" or "exif" in im.info:
            with found.part():
                exif = im.getexif()
                if not exif and len(im.info.get("exif", b"")) > 16:
                    found.failed()  # Pillow gave up on it (with a warning, kept quiet)
                _exif(exif, found)
        with found.part():
            found.add("Comment", im.info.get("comment", b""))
        xmp = im.info.get("xmp")
        if isinstance(xmp, (bytes, str)) and xmp:
            with found.part():
                _xmp(xmp.encode("utf-8") if isinstance(xmp, str) else xmp, found)


def _exif(exif: Any, found: _Found) -> None:
    def add(label: str, tag: int, value: object) -> None:
        if tag in _WINDOWS_TAGS and isinstance(value, bytes):
            value = value.decode("utf-16-le", "replace")
        if tag == 0x9286 and isinstance(value, bytes):  # UserComment: 8 bytes name its code
            code, value = value[:8], value[8:]
            if code.startswith(b"UNICODE"):
                value = value.decode("utf-16-be" if exif.endian == ">" else "utf-16-le",
                                     "replace")
        found.add(label, value)

    for tag, label in _IFD0_TAGS[:6]:
        add(label, tag, exif.get(tag, ""))
    make, model = _text(exif.get(_CAMERA_MAKE, "")), _text(exif.get(_CAMERA_MODEL, ""))
    found.add("Camera", model if make and model.startswith(make) else f"{make} {model}")
    for tag, label in _IFD0_TAGS[6:]:
        add(label, tag, exif.get(tag, ""))
    with found.part():
        sub = exif.get_ifd(_EXIF_IFD)
        for tag, label in _EXIF_TAGS:
            add(label, tag, sub.get(tag, ""))
    with found.part():
        if exif.get_ifd(_GPS_IFD):
            found.add(*GPS_PRESENT)


def _png_text(im: Any, data: bytes, found: _Found) -> None:
    # The text chunks before the image data, as Pillow read them on opening
    # (`im.text` would decode the whole image to find any after it).
    stream = getattr(im, "png", None)
    for keyword, value in getattr(stream, "im_text", {}).items():
        if keyword != "XML:com.adobe.xmp":  # read as XMP
            found.add(f"Text: {keyword}", value)
    with io.BytesIO(data) as f:
        chunks = [ctype for ctype, _, _ in filetypes.png_chunks(f)]
    if b"IDAT" in chunks:
        after = chunks[chunks.index(b"IDAT"):]
        if {b"tEXt", b"zTXt", b"iTXt"} & set(after):
            found.add("Text after the image data", "present (not shown)")


# --- XMP and PDF (pypdf) ----------------------------------------------------------


def _xmp(packet: bytes, found: _Found) -> None:
    from pypdf.generic import DecodedStreamObject
    from pypdf.xmp import XmpInformation

    stream = DecodedStreamObject()
    stream.set_data(packet)
    _xmp_fields(XmpInformation(stream), found)


def _xmp_fields(xmp: Any, found: _Found) -> None:
    for namespace, name, label in _XMP_FIELDS:
        for element in xmp.get_element("", namespace, name):
            found.add(label, _xmp_value(element))
    if any(True for _ in xmp.get_element("", _EXIF_NS, "GPSLatitude")):
        found.add(*GPS_PRESENT)


def _xmp_value(node: Any) -> str:
    """An XMP property's text: an attribute's value, or its list items joined, as written."""
    if node.nodeType == node.ATTRIBUTE_NODE:
        return str(node.nodeValue)
    items = node.getElementsByTagNameNS(_RDF, "li")
    parts = [_direct_text(item) for item in items] if items.length else [_direct_text(node)]
    return "; ".join(p for p in parts if p.strip())


def _direct_text(node: Any) -> str:
    return "".join(c.data for c in node.childNodes if c.nodeType == c.TEXT_NODE)


def _pdf(data: bytes, detected: str, found: _Found) -> None:
    from pypdf import PdfReader
    from pypdf.generic import IndirectObject

    reader = PdfReader(io.BytesIO(data), strict=False)
    with found.part():
        info = reader.metadata
        if info is not None:
            keys = [key for key, _ in _PDF_INFO]
            others = sorted(str(k) for k in info if str(k) not in keys)
            for key, label in [*_PDF_INFO, *((k, f"Info {k}") for k in others)]:
                value = info.get(key)
                if isinstance(value, IndirectObject):
                    value = value.get_object()
                if isinstance(value, (str, bytes)):
                    found.add(label, value)
    with found.part():
        xmp = reader.xmp_metadata
        if xmp is not None:
            _xmp_fields(xmp, found)


_READERS: dict[str, Callable[[bytes, str, _Found], None]] = {
    **dict.fromkeys(_PIL_FORMATS, _image),
    "application/pdf": _pdf,
}
