"""Shared steps for the server tests: CSRF tokens, a valid application, decryption."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, stream_encode_multipart

from bench.server import APPLICATION
from crypto.envelope import decrypt_bytes
from crypto.keys import PrivateKey
from intake import appstate, db
from intake.models import Applicant, Blob, Submission
from intake.s3store import S3Store
from intake.store import LocalStore

TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
CODENAME = re.compile(r'id="codename">([^<]+)<')


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    found = TOKEN.search(page.data)
    assert found, f"no CSRF token on {path}"
    return found.group(1).decode()


class Clock:
    """A clock for the app's `CLOCK` setting that a test moves by hand, instead of sleeping."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sign_out(client: FlaskClient) -> TestResponse:
    """Press "Sign out" on the sign-out page (its form carries the CSRF token)."""
    response = client.post("/signout", data={"csrf_token": csrf(client, "/signout")})
    assert response.status_code == 200, response.status_code
    return response


def answers(**over: Any) -> dict[str, Any]:
    """The application form's fields, filled (bench/server.py's answers, another name)."""
    return {**APPLICATION, "name": "Ayşe Example", **over}


def files(*specs: tuple[bytes, str, str]) -> list[FileStorage]:
    return [FileStorage(io.BytesIO(content), filename=name, content_type=ctype)
            for content, name, ctype in specs]


def multipart(fields: dict[str, Any]) -> tuple[bytes, str]:
    """Encode a form body in memory (the test client's encoder spools big bodies to a
    temporary file, which would blur the check that the server never does)."""
    data: MultiDict[str, Any] = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key, item)
    stream, _length, boundary = stream_encode_multipart(data, use_tempfile=False)
    return stream.read(), f"multipart/form-data; boundary={boundary}"


def post(client: FlaskClient, path: str, fields: dict[str, Any]) -> TestResponse:
    body, ctype = multipart(fields)
    return client.post(path, data=body, content_type=ctype)


def apply(client: FlaskClient, data: dict[str, Any] | None = None,
          attachments: list[FileStorage] | None = None) -> TestResponse:
    body = dict(answers() if data is None else data)
    body["csrf_token"] = csrf(client, "/apply")
    if attachments is not None:
        body["attachments"] = attachments
    return post(client, "/apply", body)


def codename_of(response: TestResponse) -> str:
    found = CODENAME.search(response.get_data(as_text=True))
    assert found, "no codename on the page"
    return found.group(1).strip()


def store_files(app: Flask) -> list[str]:
    """The blob ids in the app's store, whichever kind it is (sorted)."""
    store = appstate.STORE.get(app)
    if isinstance(store, S3Store):
        return sorted(name for name, _stamped in store.names())
    assert isinstance(store, LocalStore)
    return sorted(p.name for p in store.root.iterdir())


def put_stored(app: Flask, blob_id: str, data: bytes) -> None:
    """Put an envelope straight into the app's store, as if placed and never committed."""
    store = appstate.STORE.get(app)
    if isinstance(store, S3Store):
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + blob_id, Body=data)
    else:
        assert isinstance(store, LocalStore)
        (store.root / blob_id).write_bytes(data)


def drop_stored(app: Flask, blob_id: str) -> None:
    """Delete an envelope behind the app's back (a lost file, a deleted object)."""
    assert appstate.STORE.get(app).remove([blob_id]) == 1


def staging_files(app: Flask) -> list[Path]:
    root = Path(app.config["DATA_DIR"]) / "staging"
    return [p for p in root.rglob("*") if p.is_file() and p.name != ".lock"]


def counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        s = db.session()
        return (
            len(s.scalars(select(Applicant)).all()),
            len(s.scalars(select(Submission)).all()),
            len(s.scalars(select(Blob)).all()),
        )


def opened_submissions(app: Flask, key: PrivateKey) -> list[dict[str, Any]]:
    """Every stored submission, decrypted as a reviewer would, with attachment bytes."""
    store = appstate.STORE.get(app)
    out = []
    with app.app_context():
        for sub in db.session().scalars(select(Submission).order_by(Submission.day)).all():
            doc = json.loads(decrypt_bytes(store.read(sub.answers_blob_id), [key]))
            doc["_files"] = {
                a["blob"]: decrypt_bytes(store.read(a["blob"]), [key])
                for a in doc["attachments"]
            }
            doc["_row"] = {"kind": sub.kind, "applicant": sub.applicant_id}
            out.append(doc)
    return out
