"""Turn a filename chosen by an applicant into one safe to create on disk.

The name came from outside and may be built to escape the target folder
(`../../.bashrc`, `/etc/passwd`, `C:\\x`), to hide (`.profile`), to break
Windows or a USB stick's filesystem (`CON`, `a:b`, 300 bytes), or to trick the
eye (control, bidi and invisible characters: `report.pdf\\u200b.exe`). We keep
the last path component only, drop every character that draws nothing, replace
what is dangerous, and never produce a name that exists already.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from reviewer.inert import invisible

#: Names Windows refuses whatever the extension (CON.txt is still CON).
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]
}
_UNSAFE = re.compile(r'[<>:"|?*]')
#: Bytes, not characters: most filesystems limit a name to 255 bytes.
MAX_NAME_BYTES = 200
MAX_EXT_CHARS = 16
FALLBACK = "attachment"


def _clean_char(ch: str) -> str:
    """Drop what draws nothing: controls, format and bidi characters (the zero-width
    ones and direction marks among them), surrogates, private use, unassigned code
    points, line separators and fillers (reviewer.inert.invisible)."""
    return "" if invisible(ord(ch)) else ch


def _split_ext(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > MAX_EXT_CHARS or not ext.isalnum():
        return name, ""
    return stem, "." + ext


def _truncate(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, ext = _split_ext(name)
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut + ext


def safe_name(name: str) -> str:
    """A plain file name (no directory part) derived from `name`."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(_clean_char(ch) for ch in name)
    parts = [p for p in re.split(r"[/\\]", name) if p.strip(" .")]
    name = parts[-1] if parts else ""
    name = _UNSAFE.sub("_", name)
    name = name.strip(" .")  # leading dots hide a file; trailing dots and spaces break Windows
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in _RESERVED:
        name = "_" + name
    name = _truncate(name) if name else FALLBACK
    return name or FALLBACK


def unique_name(directory: Path, name: str, taken: set[str]) -> str:
    """`name`, or `stem (2).ext`, … so that it names nothing in `directory` or `taken`.

    `taken` holds casefolded names already chosen in this run (case-insensitive
    filesystems would otherwise make two of them one file); it is updated.
    """
    stem, ext = _split_ext(name)
    candidate = name
    n = 1
    while candidate.casefold() in taken or (directory / candidate).exists() or (
        directory / candidate
    ).is_symlink():
        n += 1
        suffix = f" ({n}){ext}"
        budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
        candidate = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore") + suffix
    taken.add(candidate.casefold())
    return candidate
