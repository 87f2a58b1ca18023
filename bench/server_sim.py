"""Build submissions bundles the way the server does (per the contract), for tests.

The reviewer tool must never import intake, and its tests do not either: this
module plays the server's part with crypto.envelope and crypto.bundle only.
"""

from __future__ import annotations

import functools
import io
import json
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto.atomic import atomic_output
from crypto.bundle import BundleWriter, SubmissionRecord
from crypto.envelope import encrypt_bytes
from crypto.keys import PrivateKey, PublicKey


def new_id() -> str:
    return secrets.token_hex(16)


@dataclass
class Submission:
    record: SubmissionRecord
    blobs: dict[str, bytes]


@dataclass
class Applicant:
    case: str = field(default_factory=new_id)
    reply_key: PrivateKey = field(default_factory=PrivateKey.generate)
    submissions: list[Submission] = field(default_factory=list)


APPLICATION = {
    "name": "Ayşe Yılmaz",
    "contact": "signal +90 555",
    "country": "Türkiye",
    "profession": "journalist",
    "profession_other": "",
    "languages": ["Turkish", "Kurdish"],
    "work": "Columns on press freedom since 2015.\nLinks: https://example.org/ayse",
    "threat": "Prosecuted for articles; detained twice.",
    "situation": "In hiding.",
    "urgency": "high",
    "family": "none",
    "references": "PEN Turkey",
    "acknowledge": "yes",
}


def submit(
    applicant: Applicant,
    recipients: list[PublicKey],
    *,
    kind: str = "application",
    day: str = "2026-11-20",
    answers: dict[str, Any] | None = None,
    files: list[tuple[str, str, bytes]] | None = None,
    doc_override: dict[str, Any] | None = None,
) -> Submission:
    """One submission: an answers envelope plus one envelope per file."""
    sid = new_id()
    blobs: dict[str, bytes] = {}
    listed: list[dict[str, Any]] = []
    for name, ctype, data in files or []:
        bid = new_id()
        blobs[bid] = encrypt_bytes(data, recipients)
        listed.append({"blob": bid, "name": name, "type": ctype, "size": len(data)})
    doc = {
        "format": "refuge-intake submission",
        "version": 1,
        "case": applicant.case,
        "submission": sid,
        "kind": kind,
        "day": day,
        "answers": answers if answers is not None else (
            APPLICATION if kind == "application" else {"message": "More news."}
        ),
        "attachments": listed,
    }
    doc.update(doc_override or {})
    aid = new_id()
    blobs = {aid: encrypt_bytes(json.dumps(doc).encode(), recipients), **blobs}
    record = SubmissionRecord(sid, day, kind, aid, tuple(a["blob"] for a in listed))
    sub = Submission(record, blobs)
    applicant.submissions.append(sub)
    return sub


def write_bundle(
    path: Path,
    cases: list[tuple[Applicant, list[Submission]]],
    recipients: list[PublicKey],
) -> Path:
    with atomic_output(path) as out:
        w = BundleWriter(out, "submissions", created="2026-11-23", recipients=recipients)
        for applicant, subs in cases:
            for sub in subs:
                for bid, data in sub.blobs.items():
                    w.add_member(bid, functools.partial(io.BytesIO, data))
            w.add_case(applicant.case, applicant.reply_key.public_key, [s.record for s in subs])
        w.close()
    return path


# --- small real-looking files -------------------------------------------------------


def jpeg_with_exif() -> bytes:
    def seg(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    return (
        b"\xff\xd8"
        + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + seg(0xE1, b"Exif\x00\x00MM\x00*GPS-CANARY-52.5N")
        + seg(0xFE, b"comment canary")
        + seg(0xDB, bytes(65))
        + seg(0xDA, b"\x00\x01\x02")
        + b"\x12\x34\x56scan\xff\xd9"
    )


def png_with_text() -> bytes:
    def chunk(ctype: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + ctype + data + struct.pack(
            ">I", zlib.crc32(ctype + data)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"tEXt", b"Author\x00TEXT-CANARY")
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )
