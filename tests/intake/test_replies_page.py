"""Replies on /case: the sealed key in the session, unreadable replies, deleting."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from crypto.envelope import encrypt_bytes
from crypto.keys import PrivateKey
from intake.config import ConfigError, defaults_from_env
from intake.db import new_id

from .conftest import SQLITE_ONLY
from .helpers import csrf, sign_out
from .transfer_helpers import (
    new_applicant,
    replies_bundle,
    reply_doc,
    reply_key,
    reply_rows,
    sealed_reply,
    sign_in,
)


def _with_reply(app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
                text: str = "Line one\nLine two") -> tuple[FlaskClient, str, str]:
    client = app.test_client()
    case, codename = new_applicant(client)
    envelope = sealed_reply(case, reply_id := new_id(), text,
                            reply_key(app, codename).public_key, [reviewer_key.public_key])
    path = replies_bundle(tmp_path / f"{reply_id}.bundle", [(reply_id, case, envelope)],
                          [reviewer_key.public_key])
    assert runner.invoke(args=["import-replies", str(path)]).exit_code == 0
    return client, codename, reply_id


def test_session_holds_the_reply_key_only_sealed(app: Flask, runner: FlaskCliRunner,
                                                 reviewer_key: PrivateKey,
                                                 tmp_path: Path) -> None:
    client, codename, _ = _with_reply(app, runner, reviewer_key, tmp_path)
    raw = reply_key(app, codename).raw()
    with client.session_transaction() as sess:
        sealed = sess["reply_key"]
    assert isinstance(sealed, bytes) and len(sealed) == 32 + 40 and raw not in sealed
    # Right after applying, the reply is readable without signing in again.
    page = client.get("/case").get_data(as_text=True)
    assert "Line one<br>Line two" in page
    # Signing out forgets the key with everything else.
    sign_out(client)
    with client.session_transaction() as sess:
        assert "reply_key" not in sess and "case" not in sess


def test_page_structure(app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey,
                        tmp_path: Path) -> None:
    client, _, reply_id = _with_reply(app, runner, reviewer_key, tmp_path)
    html = client.get("/case").get_data(as_text=True)
    levels = [int(n) for n in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert f'action="/case/replies/{reply_id}/delete"' in html
    assert f'aria-describedby="reply-{reply_id}-heading"' in html
    assert 'value="Delete"' in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert "<script" not in html
    css = (Path(app.root_path) / "static" / "style.css").read_text()
    assert ".reply-text { white-space: pre-wrap;" in css


def test_a_box_from_another_case_does_not_open(app: Flask, runner: FlaskCliRunner,
                                               reviewer_key: PrivateKey, tmp_path: Path) -> None:
    client, _, _ = _with_reply(app, runner, reviewer_key, tmp_path)
    other = app.test_client()
    new_applicant(other)
    with other.session_transaction() as sess:
        foreign = sess["reply_key"]
    with client.session_transaction() as sess:
        sess["reply_key"] = foreign
    page = client.get("/case")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "sign out and sign in again" in text and "Line one" not in text
    assert reply_rows(app)[0].read_day is None


def test_unreadable_reply_shows_a_note(app: Flask, runner: FlaskCliRunner,
                                       reviewer_key: PrivateKey, tmp_path: Path) -> None:
    client, _, _ = _with_reply(app, runner, reviewer_key, tmp_path)
    blob = Path(app.config["DATA_DIR"]) / "store" / reply_rows(app)[0].blob_id
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0x40
    blob.write_bytes(bytes(data))
    page = client.get("/case")
    assert page.status_code == 200
    assert "could not be opened" in page.get_data(as_text=True)
    blob.unlink()  # a missing file is a note too, never a 500
    page = client.get("/case")
    assert page.status_code == 200 and "could not be opened" in page.get_data(as_text=True)
    # and it can still be deleted
    token = csrf(client, "/case")
    client.post(f"/case/replies/{reply_rows(app)[0].id}/delete", data={"csrf_token": token})
    assert reply_rows(app) == []


@pytest.mark.parametrize(("field", "value"), [
    (None, None),  # as sealed: shown, so the refusals below are about the one field
    ("case", "another case"),
    ("reply", "another reply"),
    ("format", "refuge-intake submission"),
    ("version", 2),
    ("text", ["not", "text"]),
])
@SQLITE_ONLY
def test_a_reply_document_naming_something_else_is_not_shown(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        field: str | None, value: object) -> None:
    # A valid envelope to this applicant's reply key whose document is not this
    # reply: it was meant for another case or reply, or is not a reply at all.
    client = app.test_client()
    case, codename = new_applicant(client)
    reply_id = new_id()
    doc = json.loads(reply_doc(case, reply_id, "Meant for one reply only"))
    if field is not None:
        doc[field] = new_id() if value in ("another case", "another reply") else value
    envelope = encrypt_bytes(json.dumps(doc).encode(),
                             [reply_key(app, codename).public_key, reviewer_key.public_key])
    path = replies_bundle(tmp_path / "r.bundle", [(reply_id, case, envelope)],
                          [reviewer_key.public_key])
    assert runner.invoke(args=["import-replies", str(path)]).exit_code == 0
    page = client.get("/case").get_data(as_text=True)
    if field is None:
        assert "Meant for one reply only" in page
        assert reply_rows(app)[0].read_day is not None
        return
    assert "Meant for one reply only" not in page
    assert "could not be opened" in page
    assert reply_rows(app)[0].read_day is None  # not counted as read


def test_delete_needs_csrf_and_the_owner(app: Flask, runner: FlaskCliRunner,
                                         reviewer_key: PrivateKey, tmp_path: Path) -> None:
    client, _, reply_id = _with_reply(app, runner, reviewer_key, tmp_path)
    assert client.post(f"/case/replies/{reply_id}/delete").status_code == 302
    assert "Nothing was deleted" in client.get("/case").get_data(as_text=True)
    assert len(reply_rows(app)) == 1
    # Another applicant cannot delete it.
    other = app.test_client()
    new_applicant(other)
    token = csrf(other, "/case")
    other.post(f"/case/replies/{reply_id}/delete", data={"csrf_token": token})
    assert "does not exist" in other.get("/case").get_data(as_text=True)
    assert len(reply_rows(app)) == 1
    # Signed out: sent to sign in, nothing deleted.
    anonymous = app.test_client()
    response = anonymous.post(f"/case/replies/{reply_id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
    assert len(reply_rows(app)) == 1


def test_sign_in_restores_the_key(app: Flask, runner: FlaskCliRunner,
                                  reviewer_key: PrivateKey, tmp_path: Path) -> None:
    _client, codename, _ = _with_reply(app, runner, reviewer_key, tmp_path)
    fresh = app.test_client()
    sign_in(fresh, codename)
    assert "Line one<br>Line two" in fresh.get("/case").get_data(as_text=True)


def test_a_short_secret_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        defaults_from_env({"INTAKE_SECRET_KEY": "short"})
    assert defaults_from_env({"INTAKE_SECRET_KEY": "s" * 16})["SECRET_KEY"] == "s" * 16


@pytest.mark.parametrize(
    "change",
    [{"day": "2026-02-30"}, {"signature": "x"}, {"text": "  "}, {"version": 2},
     {"reply": "A" * 32}],
    ids=["no-such-day", "unknown-field", "blank-text", "version-2", "uppercase-id"],
)
@SQLITE_ONLY
def test_a_reply_document_that_breaks_the_spec_is_not_shown(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        change: dict[str, object]) -> None:
    # docs/format.md, "The reply document": the case page reads it by those rules.
    import json

    from crypto.envelope import encrypt_bytes

    client = app.test_client()
    case, codename = new_applicant(client)
    reply_id = new_id()
    doc = {"format": "refuge-intake reply", "version": 1, "case": case, "reply": reply_id,
           "day": "2026-11-23", "text": "Hidden words", **change}
    envelope = encrypt_bytes(json.dumps(doc).encode(),
                             [reply_key(app, codename).public_key, reviewer_key.public_key])
    path = replies_bundle(tmp_path / "r.bundle", [(reply_id, case, envelope)],
                          [reviewer_key.public_key])
    assert runner.invoke(args=["import-replies", str(path)]).exit_code == 0
    page = client.get("/case").get_data(as_text=True)
    assert "could not be opened" in page and "Hidden words" not in page
