"""Saving an attachment: the one path from a stored envelope to a file the reviewer keeps.

`reviewer extract` writes what `saved_copy` returns into a folder; the desk's
"Save a copy" and "Save without metadata" send it as a download. Both get the
same bytes under the same safe name (reviewer.safenames), so what the desk
saves and what the command writes can never differ.

A copy is built in memory: the attachment is decrypted into a buffer, never
into a temporary file, and the caller decides where it goes (a file the
reviewer named, or the browser's download). Its content type is always
`application/octet-stream`: a browser given `application/pdf` may open the
file in its own viewer even when told to save it, and a hostile file must
never be opened on the reviewer's machine.

Without metadata: JPEG and PNG images only, by dropping the parts that
describe the image and keeping every byte that draws it, so the picture is
exactly the one sent (no re-encoding). JPEG keeps the JFIF header, ICC colour
profiles and Adobe's colour transform, and drops every other application
segment (EXIF, XMP, IPTC, MPF and FlashPix among them), comments, and
anything after the end of the image (a second, "preview" image with its own
EXIF, or an appended archive). PNG keeps only the chunks needed to draw the
image. Each copy is read back (reviewer.filetypes, reviewer.metadata) before
it is handed out: if anything is still found, no copy is made.

Other formats (PDF, office documents, video) are not stripped here. mat2, the
tool Tails and SecureDrop's reviewers use, handles many of them, but it is
not a library this tool could call in memory: it needs GObject, Poppler and
GdkPixbuf from the system (no wheel on PyPI), works on files on disk, writes
temporary files for several formats, and re-renders PDFs and images (a PDF
becomes pictures of its pages). docs/reviewer.md says how to run it on Tails
on a copy saved here.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crypto import envelope
from crypto.errors import NoMatch
from reviewer import filetypes
from reviewer.blobs import BlobStore
from reviewer.errors import NotFound, ReviewerError
from reviewer.home import Home, Keys
from reviewer.metadata import UNREADABLE, read_metadata
from reviewer.safenames import safe_name
from reviewer.state import State, Submission

#: What every saved copy is sent as: a download, never something to display.
CONTENT_TYPE = "application/octet-stream"
STRIPPABLE = frozenset({"image/jpeg", "image/png"})


class NotForYourKey(ReviewerError):
    """The submission or the file is sealed to other reviewers' keys only."""


class CannotStrip(ReviewerError):
    """No copy without metadata can be made of this file (the sentence says why)."""


@dataclass(frozen=True, slots=True)
class SavedFile:
    #: A plain file name (no directory) from reviewer.safenames.safe_name;
    #: `stem.stripped.ext` for a copy without metadata. Not yet made unique in
    #: any folder: `extract` does that with reviewer.safenames.unique_name.
    safe_name: str
    content_type: str
    data: bytes
    #: The name the applicant's browser sent (hostile: show it through reviewer.inert).
    original_name: str = ""
    #: The type the applicant's browser claimed (hostile too).
    claimed_type: str = ""
    #: The type seen in the content (reviewer.filetypes.detect_type).
    detected_type: str = ""
    #: The size the applicant's browser reported.
    listed_size: int = 0
    stripped: bool = False
    #: The attachment's id (its envelope in the home), for the `file-saved` team record.
    blob: str = ""


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def submission_folders(submissions: Sequence[Submission]) -> list[str]:
    """The folder name for each submission's files, in the case's order.

    `DAY-application` for the application, `DAY-followup-N` for the N-th
    follow-up of the case (counted from 1 over the whole case, in the order
    `show` lists them), so two follow-ups of one day get two folders
    (`2026-12-01-followup-1`, `2026-12-01-followup-2`) and a folder's number
    is the follow-up's number whatever its day. A day that is not of the form
    YYYY-MM-DD (state.json is bookkeeping, not trusted) is written `undated`.
    """
    names: list[str] = []
    counts = {"application": 0, "followup": 0}
    for sub in submissions:
        day = sub.day if _DAY.fullmatch(sub.day) else "undated"
        counts[sub.kind] += 1
        n = counts[sub.kind]
        if sub.kind == "followup":
            names.append(f"{day}-followup-{n}")
        else:  # a case has one application; a second would still get its own folder
            names.append(f"{day}-application" + (f"-{n}" if n > 1 else ""))
    return names


def strippable(detected_type: str) -> bool:
    """Whether a copy without metadata can be made of a file of this type."""
    return detected_type in STRIPPABLE


def saved_copy(home: Home, state: State, keys: Keys, case_id: str, submission_id: str,
               number: int, *, strip: bool) -> SavedFile:
    """The `number`-th file (from 1) of a case's submission, decrypted in memory.

    With `strip`, a copy without metadata (JPEG and PNG only: CannotStrip
    otherwise). Raises NotFound for an unknown case, submission or number,
    NotForYourKey when the submission or the file is not sealed to this
    home's keys.
    """
    case = state.case(case_id)
    sub = next((s for s in case.submissions if s.id == submission_id), None)
    if sub is None:
        raise NotFound(f"case {case_id} has no submission {submission_id!r}")
    store = home.store(state)
    try:
        if not sub.readable:
            raise NoMatch()
        doc = store.open_json(sub.answers, keys)
    except NoMatch:
        raise NotForYourKey(
            f"submission {submission_id} is not addressed to your key"
        ) from None
    listed: list[Any] = doc.get("attachments", [])
    if not 1 <= number <= len(listed):
        raise NotFound(f"submission {submission_id} has no file number {number}")
    entry = listed[number - 1]
    original = str(entry["name"])
    try:
        data = decrypted(store, keys, entry["blob"])
    except NoMatch:
        raise NotForYourKey(f"file {number} of submission {submission_id} is not addressed"
                            " to your key") from None
    copy = safe_copy(original, str(entry["type"]), data, int(entry["size"]),
                     blob=str(entry["blob"]))
    return without_metadata(copy) if strip else copy


def safe_copy(original_name: str, claimed_type: str, data: bytes, listed_size: int, *,
              blob: str = "") -> SavedFile:
    """A file of an applicant's, decrypted in memory, under a safe name (a case's file,
    or a dossier's: the desk's save buttons, `extract` and `dossier open --out`)."""
    return SavedFile(safe_name(original_name), CONTENT_TYPE, data, original_name,
                     claimed_type, filetypes.detect_type(data), listed_size, blob=blob)


def decrypted(store: BlobStore, keys: Keys, blob: str) -> bytes:
    """A stored attachment envelope's content, decrypted into memory (NoMatch: not ours)."""
    buffer = io.BytesIO()
    with store.open_blob(blob) as src:
        envelope.decrypt(src, buffer, keys.private)
    return buffer.getvalue()


def without_metadata(copy: SavedFile) -> SavedFile:
    """`copy` without its metadata, named `stem.stripped.ext` (JPEG and PNG only)."""
    detected = copy.detected_type
    if not strippable(detected):
        raise CannotStrip(
            f"only JPEG and PNG images can be saved without metadata; this file is {detected}"
        )
    data = stripped(copy.data, detected)
    left = [e for e in read_metadata(data, detected) if e != UNREADABLE]
    if filetypes.find_metadata(data, detected) or left:
        raise CannotStrip("the copy without metadata still carries some; no copy was made")
    stem, dot, ext = copy.safe_name.rpartition(".")
    name = safe_name(f"{stem}.stripped.{ext}" if dot else f"{copy.safe_name}.stripped")
    return SavedFile(name, CONTENT_TYPE, data, copy.original_name, copy.claimed_type,
                     detected, copy.listed_size, stripped=True, blob=copy.blob)


def stripped(data: bytes, detected_type: str) -> bytes:
    """The JPEG or PNG image `data` without its metadata (see the module's docstring)."""
    if detected_type == "image/jpeg":
        return _jpeg_stripped(data)
    if detected_type == "image/png":
        return _png_stripped(data)
    raise CannotStrip(f"cannot strip metadata from {detected_type}")


# --- JPEG -------------------------------------------------------------------------

#: Application segments kept, by marker and how their body starts: what is
#: needed to show the colours right.
_JPEG_KEEP_APP = {0xE0: b"JFIF\0", 0xE2: b"ICC_PROFILE\0", 0xEE: b"Adobe"}
_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
#: Markers that stand alone, with no length: TEM and the restart markers.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _kept_segment(marker: int, body: bytes) -> bool:
    if marker == _COM:
        return False
    if 0xE0 <= marker <= 0xEF:
        start = _JPEG_KEEP_APP.get(marker)
        return start is not None and body.startswith(start)
    return True


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends: the next marker (or the end).

    Inside it, 0xFF is followed by 0x00 (a stuffed byte) or a restart marker;
    any other byte after 0xFF (fill bytes 0xFF aside) starts a marker.
    """
    while True:
        at = data.find(b"\xff", pos)
        if at < 0 or at + 1 >= len(data):
            return len(data)
        following = data[at + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = at + 2
        elif following == 0xFF:
            pos = at + 1
        else:
            return at


def _jpeg_stripped(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise CannotStrip("this JPEG image does not start as one; no copy was made")
    out = [b"\xff\xd8"]
    pos, end = 2, len(data)
    scanned = False
    while pos < end:
        if data[pos] != 0xFF or pos + 1 >= end:
            raise CannotStrip("this JPEG image is damaged; no copy was made")
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before a marker
            pos += 1
            continue
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)  # anything after the end of the image is dropped
        if marker in _STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > end:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > end:
            raise CannotStrip("this JPEG image is damaged; no copy was made")
        keep = _kept_segment(marker, data[pos + 4 : pos + 2 + length])
        if keep:
            out.append(data[pos : pos + 2 + length])
        pos += 2 + length
        if marker == _SOS:
            scanned = True
            scan_end = _scan_end(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end
    if scanned:
        return b"".join(out)  # cut short inside the image data: what there is of it
    raise CannotStrip("this JPEG image has no image data; no copy was made")


# --- PNG --------------------------------------------------------------------------

#: Chunks kept: everything needed to draw the image, nothing descriptive.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB",
             b"iCCP", b"sBIT", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_stripped(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise CannotStrip("this PNG image does not start as one; no copy was made")
    out = [_PNG_SIGNATURE]
    with io.BytesIO(data) as f:
        chunks = filetypes.png_chunks(f)
    for ctype, pos, length in chunks:  # png_chunks stops at IEND: what follows is dropped
        if ctype in _PNG_KEEP:
            out.append(data[pos : pos + 12 + length])
    return b"".join(out)
