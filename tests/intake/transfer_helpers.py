"""Steps shared by the export/import tests: reading bundles, making replies bundles, signing in."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crypto.atomic import atomic_output
from crypto.bundle import BundleWriter
from crypto.codename import derive
from crypto.envelope import encrypt_bytes
from crypto.keys import PrivateKey, PublicKey
from crypto.params import TEST_LIMITS
from intake import db
from intake.models import Reply

from .helpers import apply, codename_of, csrf


def case_of(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        case = sess["case"]
    assert isinstance(case, str)
    return case


def new_applicant(client: FlaskClient, **answers: str) -> tuple[str, str]:
    """Apply through the form; returns (case id, codename)."""
    from .helpers import answers as base

    response = apply(client, base(**answers))
    assert response.status_code == 200
    return case_of(client), codename_of(response)


def reply_key(app: Flask, codename: str) -> PrivateKey:
    """The applicant's reply key, derived as the server does at sign-in."""
    return derive(codename, app.extensions["intake_salt"], limits=TEST_LIMITS).reply_key


def sign_in(client: FlaskClient, codename: str) -> None:
    token = csrf(client, "/signin")
    response = client.post("/signin", data={"csrf_token": token, "codename": codename})
    assert response.status_code == 302


def reply_doc(case: str, reply: str, text: str, day: str | None = None) -> bytes:
    day = day or db.today().isoformat()
    return json.dumps({"format": "refuge-intake reply", "version": 1, "case": case,
                       "reply": reply, "day": day, "text": text}).encode()


def replies_bundle(path: Path, replies: list[tuple[str, str, bytes]],
                   reviewers: list[PublicKey], day: str | None = None) -> Path:
    """A replies bundle as `reviewer export-replies` makes it: (reply id, case, envelope),
    every reply dated `day` (default: today, UTC)."""
    day = day or db.today().isoformat()
    with atomic_output(path) as out:
        w = BundleWriter(out, "replies", created=day, recipients=reviewers)
        for i, (reply_id, case, envelope) in enumerate(replies):
            blob = f"{i:032x}"
            w.add_member(blob, functools.partial(io.BytesIO, envelope))
            w.add_reply(reply_id, case, day, blob)
        w.close()
    return path


def sealed_reply(case: str, reply_id: str, text: str, applicant: PublicKey,
                 reviewers: list[PublicKey]) -> bytes:
    return encrypt_bytes(reply_doc(case, reply_id, text), [applicant, *reviewers])


def reply_rows(app: Flask) -> list[Reply]:
    with app.app_context():
        return list(db.session().scalars(select(Reply)).all())


def data_files(app: Flask) -> list[Path]:
    return [p for p in Path(app.config["DATA_DIR"]).rglob("*") if p.is_file()]
