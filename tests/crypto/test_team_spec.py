"""A second team record reader, written from docs/team.md alone, run over the vectors.

Like tests/crypto/test_format_spec.py it imports nothing of `crypto` or
`reviewer`: only hashlib, json and nacl.bindings (and that file's envelope
decrypter, itself written from docs/format.md). If docs/team.md left a byte
or a check out, this reader and the vectors would disagree.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import nacl.bindings as na
import nacl.exceptions
import pytest

from tests.crypto.test_format_spec import Outcome, decrypt
from tests.crypto.test_vectors import one, parse

VECTORS = Path(__file__).parents[1] / "vectors" / "team"
HEX32 = re.compile(r"[0-9a-f]{32}")
KINDS = {
    "verification": {"identity", "work", "persecution", "risk", "recommendation", "notes"},
    "note": {"text"}, "state": {"state", "reason"}, "assignment": {"assignee"},
    "reply": {"reply", "text"}, "file-saved": {"blob", "name"},
    "link": {"other", "relation", "reason"}, "rotation": {"new_author", "new_key", "binding"},
    "referral": {"dossier", "city", "coordinator", "answers", "files", "note", "verification",
                 "consent"},
    "consent": {"how"}, "dossier-answer": {"dossier", "answer", "city", "day", "text"},
    "city": {"action", "name", "country", "key"},
}
CASELESS = {"rotation", "city"}
STATES = {"unverified", "proceed", "more-info", "refer", "decline"}


def malformed() -> Outcome:
    return Outcome("TeamRecordError")


def x25519_ok(raw: bytes) -> bool:
    if raw[31] & 0x80 or int.from_bytes(raw, "little") >= 2**255 - 19:
        return False
    try:
        na.crypto_scalarmult(b"\x42" * 32, raw)
    except nacl.exceptions.RuntimeError:
        return False
    return True


def text_key(text: object, prefix: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(prefix) or len(text) != len(prefix) + 52:
        raise malformed()
    body = text[len(prefix):]
    if not re.fullmatch(r"[a-z2-7]{52}", body):
        raise malformed()
    raw = base64.b32decode(body.upper() + "====")
    if prefix + base64.b32encode(raw).decode().rstrip("=").lower() != text:
        raise malformed()
    if prefix == "refuge-sig1-" and not na.crypto_core_ed25519_is_valid_point(raw):
        raise malformed()
    if prefix == "refuge-pk1-" and not x25519_ok(raw):
        raise malformed()
    return raw


def ed25519_ok(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        na.crypto_sign_open(signature + message, key)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def not_blank(value: object) -> bool:
    return isinstance(value, str) and not value.isspace() and value != ""


def is_id(value: object) -> bool:
    return isinstance(value, str) and HEX32.fullmatch(value) is not None


def one_line(value: object) -> bool:
    return not_blank(value) and "\n" not in str(value) and "\r" not in str(value)


def day_ok(value: object) -> bool:
    try:
        return datetime.strptime(str(value), "%Y-%m-%d").strftime("%Y-%m-%d") == value
    except ValueError:
        return False


def key_ok(value: object) -> bool:
    try:
        text_key(value, "refuge-pk1-")
    except Outcome:
        return False
    return True


def referral_ok(b: dict[str, Any]) -> bool:
    answers, files = b["answers"], b["files"]
    return (is_id(b["dossier"]) and one_line(b["city"]) and key_ok(b["coordinator"])
            and isinstance(answers, list) and len(answers) <= 1000
            and all(not_blank(a) for a in answers) and len(set(answers)) == len(answers)
            and isinstance(files, list) and len(files) <= 1000
            and all(isinstance(f, dict) and set(f) == {"number", "blob"}
                    and type(f["number"]) is int and f["number"] >= 1 and is_id(f["blob"])
                    for f in files)
            and len({f["number"] for f in files}) == len(files)
            and type(b["note"]) is bool and type(b["verification"]) is bool
            and b["consent"] in ("yes", "recorded"))


def read_frame(frame: bytes) -> tuple[list[bytes], bytes, bytes, dict[str, Any]]:
    if len(frame) < 8 or frame[:6] != b"RFGREC":
        raise Outcome("NotATeamRecord")
    if frame[6:8] != b"\x00\x01":
        raise Outcome("UnsupportedTeamRecord")
    if len(frame) < 9 or not 1 <= frame[8] <= 32:
        raise malformed()
    n = frame[8]
    if len(frame) < 9 + 32 * n:
        raise malformed()
    recipients = [frame[9 + 32 * i: 41 + 32 * i] for i in range(n)]
    for i, raw in enumerate(recipients):
        if not x25519_ok(raw) or (i and raw <= recipients[i - 1]):
            raise malformed()
    pos = 9 + 32 * n
    if len(frame) < pos + 4:
        raise malformed()
    length = int.from_bytes(frame[pos:pos + 4], "big")
    if not 2 <= length <= 1 << 20 or len(frame) != pos + 4 + length + 64:
        raise malformed()
    record = frame[pos + 4: pos + 4 + length]
    return recipients, record, frame[pos + 4 + length:], read_document(record)


def read_document(record: bytes) -> dict[str, Any]:
    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        if len({k for k, _ in items}) != len(items):
            raise malformed()
        return dict(items)

    def no_number(_: str) -> object:
        raise malformed()

    if record.startswith(b"\xef\xbb\xbf"):
        raise malformed()
    try:
        doc = json.loads(record.decode("utf-8"), object_pairs_hook=pairs,
                         parse_float=no_number, parse_constant=no_number)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError):
        raise malformed() from None
    if not isinstance(doc, dict) or doc.get("format") != "refuge-intake team record":
        raise malformed()
    if type(doc.get("version")) is not int or doc["version"] != 1:
        raise Outcome("UnsupportedTeamRecord")
    if set(doc) != {"format", "version", "id", "case", "author", "parents", "time", "kind",
                    "body"}:
        raise malformed()
    kind = doc["kind"]
    if not isinstance(doc["id"], str) or not HEX32.fullmatch(doc["id"]) or kind not in KINDS:
        raise malformed()
    if (doc["case"] is not None or kind not in CASELESS) and not (
            isinstance(doc["case"], str) and HEX32.fullmatch(doc["case"])
            and kind not in CASELESS):
        raise malformed()
    text_key(doc["author"], "refuge-sig1-")
    parents = doc["parents"]
    if not isinstance(parents, list) or len(parents) > 1000 or not all(
            isinstance(p, str) and HEX32.fullmatch(p) for p in parents):
        raise malformed()
    if parents != sorted(set(parents)) or doc["id"] in parents or (kind == "rotation" and parents):
        raise malformed()
    try:
        ok_time = datetime.strptime(doc["time"], "%Y-%m-%dT%H:%M:%SZ").strftime(
            "%Y-%m-%dT%H:%M:%SZ") == doc["time"]
    except (TypeError, ValueError):
        ok_time = False
    body = doc["body"]
    if not ok_time or not isinstance(body, dict) or set(body) != KINDS[kind]:
        raise malformed()
    rules = {
        "note": lambda b: not_blank(b["text"]),
        "state": lambda b: b["state"] in STATES and not_blank(b["reason"]),
        "reply": lambda b: isinstance(b["reply"], str) and HEX32.fullmatch(b["reply"])
        and not_blank(b["text"]),
        "link": lambda b: b["relation"] in ("same-person", "related")
        and b["other"] != doc["case"] and isinstance(b["reason"], str),
        "verification": lambda b: b["risk"] in ("low", "medium", "high", "critical")
        and b["recommendation"] in ("proceed", "more-info", "refer", "decline"),
        "referral": referral_ok,
        "consent": lambda b: not_blank(b["how"]),
        "dossier-answer": lambda b: is_id(b["dossier"]) and is_id(b["answer"])
        and one_line(b["city"]) and day_ok(b["day"]) and not_blank(b["text"]),
        "city": lambda b: b["action"] in ("add", "remove") and one_line(b["name"])
        and isinstance(b["country"], str) and re.fullmatch(r"([A-Z]{2})?", b["country"])
        and key_ok(b["key"]),
    }
    if kind in rules and not rules[kind](body):
        raise malformed()
    return doc


def check(data: bytes, reader: bytes, book: dict[bytes, tuple[str, str | None]], day: str,
          cases: set[str]) -> dict[str, Any]:
    recipients, record, signature, doc = read_frame(decrypt(data, [reader]))
    case = bytes.fromhex(doc["case"]) if doc["case"] else b""
    message = (b"refuge-intake team record v1\x00" + len(record).to_bytes(4, "big") + record
               + bytes([len(case)]) + case + len(doc["parents"]).to_bytes(2, "big")
               + b"".join(bytes.fromhex(p) for p in doc["parents"])
               + bytes([len(recipients)]) + b"".join(recipients))
    author = text_key(doc["author"], "refuge-sig1-")
    if not ed25519_ok(author, message, signature):
        if any(ed25519_ok(k, message, signature) for k in book if k != author):
            raise Outcome("ForgedAuthor")
        raise Outcome("BadSignature")
    if doc["kind"] == "rotation":
        new_author = text_key(doc["body"]["new_author"], "refuge-sig1-")
        new_key = text_key(doc["body"]["new_key"], "refuge-pk1-")
        if not ed25519_ok(new_author, b"refuge-intake signing key binding v1\x00" + new_key
                          + new_author, bytes.fromhex(doc["body"]["binding"])):
            raise Outcome("BadSignature")
    if author not in book:
        raise Outcome("UnknownAuthor")
    removed = book[author][1]
    if removed is not None and day >= removed:
        raise Outcome("RemovedAuthor")
    if doc["case"] is not None and doc["case"] not in cases:
        raise Outcome("UnknownCase")
    return doc


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.txt")), ids=lambda p: p.stem)
def test_spec_team_reader_agrees_with_the_vector(path: Path) -> None:
    fields, body = parse(path)
    book: dict[bytes, tuple[str, str | None]] = {}
    for line in fields["author"]:
        name, key, *rest = line.split(" ")
        book[text_key(key, "refuge-sig1-")] = (name, rest[1] if rest else None)
    docs: dict[str, dict[str, Any]] = {}
    sealed = []
    while body:
        length = int.from_bytes(body[:4], "big")
        sealed.append(body[4:4 + length])
        body = body[4 + length:]
    for data, expect in zip(sealed, fields["expect"], strict=True):
        try:
            doc = check(data, bytes.fromhex(one(fields, "identity")), book, one(fields, "day"),
                        set(fields["case"]))
        except Outcome as outcome:
            assert expect == f"failure {outcome}"
            continue
        assert expect == f"success {doc['id']}"
        if doc["case"] == fields["case"][0]:
            docs[doc["id"]] = doc  # a copy counts once
    if not docs:
        assert "fold" not in fields
        return
    # The fold's first steps: what is applied, what is held for a missing parent.
    applied: set[str] = set()
    while True:
        ready = {i for i, d in docs.items() if i not in applied and set(d["parents"]) <= applied}
        if not ready:
            break
        applied |= ready
    held = sorted(set(docs) - applied)
    assert fields["fold"] == [f"records {len(docs)}", *(f"held {i}" for i in held)]
