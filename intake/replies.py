"""Replies on the applicant's case page: the reply key in the session, reading, deleting.

The reply private key is derived from the codename at sign-in (and when the
application is first stored) and kept in the session cookie only sealed in a
session box (crypto/sessionbox.py) under a key derived from the server's
secret and the case id. On the case page it is opened in memory, each reply
envelope decrypted, and the text handed to the template; no reply plaintext
is written anywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, session
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.documents import parse_reply
from crypto.envelope import decrypt_bytes
from crypto.errors import DecryptError, DocumentError
from crypto.keys import PrivateKey
from crypto.sessionbox import SessionBoxError, derive_key, open_box, seal
from intake.models import Applicant, DeletedReply, Reply
from intake.store import Store

SESSION_FIELD = "reply_key"


@dataclass(frozen=True)
class ShownReply:
    id: str
    day: dt.date
    text: str | None  # None: this reply could not be opened


def _box_key(case_id: str) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return derive_key(raw, b"reply-key " + case_id.encode("ascii"))


def remember_reply_key(case_id: str, key: PrivateKey) -> None:
    """Put the sealed reply key in the session (call after setting session['case'])."""
    session[SESSION_FIELD] = seal(_box_key(case_id), key.raw())


def reply_key_from_session(case_id: str) -> PrivateKey | None:
    try:
        return PrivateKey(open_box(_box_key(case_id), session.get(SESSION_FIELD)))
    except (SessionBoxError, ValueError):
        return None


def _open_reply(data: bytes, key: PrivateKey, case_id: str, reply_id: str) -> str | None:
    try:
        doc = parse_reply(decrypt_bytes(data, [key]))
    except (DecryptError, DocumentError):
        return None
    if doc["case"] != case_id or doc["reply"] != reply_id:
        return None
    text: str = doc["text"]
    return text


def replies_for(
    dbs: Session, store: Store, applicant: Applicant, key: PrivateKey | None, today: dt.date
) -> list[ShownReply]:
    """Every stored reply for the case, decrypted when possible; marks them read."""
    rows = dbs.scalars(
        select(Reply).where(Reply.applicant_id == applicant.id).order_by(Reply.day, Reply.id)
    ).all()
    shown = []
    for row in rows:
        text = None
        if key is not None:
            try:
                data = store.read(row.blob_id)
            except OSError:
                data = b""
            text = _open_reply(data, key, applicant.id, row.id)
        if text is not None and row.read_day is None:
            row.read_day = today
        shown.append(ShownReply(row.id, row.day, text))
    if dbs.dirty:
        dbs.commit()
    return shown


def delete_reply(dbs: Session, store: Store, applicant: Applicant, reply_id: str) -> bool:
    """Delete the row and the ciphertext file for good; False if no such reply is theirs."""
    row = dbs.get(Reply, reply_id)
    if row is None or row.applicant_id != applicant.id:
        return False
    blob_id = row.blob_id
    dbs.delete(row)
    dbs.add(DeletedReply(id=reply_id))
    dbs.flush()
    # The file goes before the commit: if the commit then fails the row stays and
    # shows as unreadable, and deleting it again finishes the job.
    store.remove([blob_id])
    dbs.commit()
    return True
