"""An applicant's whole journey, and what the reviewer finds when decrypting it."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crypto.keys import PrivateKey
from intake import db
from intake.models import Applicant, Submission

from .conftest import BOTH_STORES
from .helpers import (
    Clock,
    answers,
    apply,
    codename_of,
    counts,
    csrf,
    files,
    opened_submissions,
    post,
    sign_out,
    store_files,
)


@BOTH_STORES
def test_full_journey(app: Flask, client: FlaskClient, reviewer_key: PrivateKey) -> None:
    pdf = b"%PDF-1.4 sample of work\x00\x01" * 100
    jpg = bytes(range(256)) * 3000  # > 500 KB: Werkzeug would have spooled this
    response = apply(client, attachments=files(
        (pdf, "poems.pdf", "application/pdf"), (jpg, "threat letter.jpg", "image/jpeg")))
    assert response.status_code == 200
    codename = codename_of(response)
    assert len(codename.split()) == 7
    assert counts(app) == (1, 1, 3)

    # The case page works straight away, then sign out.
    page = client.get("/case")
    assert page.status_code == 200
    assert "Application" in page.get_data(as_text=True)
    sign_out(client)
    assert client.get("/case").status_code == 302

    # Sign in again, typed carelessly: case and hyphens are forgiven.
    token = csrf(client, "/signin")
    response = client.post("/signin", data={
        "csrf_token": token, "codename": "  " + codename.upper().replace(" ", "-") + " "})
    assert response.status_code == 302 and response.headers["Location"].endswith("/case")
    page = client.get("/case")
    text = page.get_data(as_text=True)
    assert db.today().isoformat() in text
    assert "Not yet" in text

    # A follow-up with a message and a file goes to the same case.
    token = csrf(client, "/case")
    response = post(client, "/case", {
        "csrf_token": token, "message": "More evidence attached.",
        "attachments": files((b"second file", "more.txt", "text/plain"))})
    assert response.status_code == 302
    assert "added to your case" in client.get("/case").get_data(as_text=True)
    assert counts(app) == (1, 2, 5)

    docs = opened_submissions(app, reviewer_key)
    first, second = sorted(docs, key=lambda d: d["kind"])  # application < followup
    assert first["format"] == "refuge-intake submission" and first["version"] == 2
    assert first["kind"] == "application"
    expected = answers()
    expected["acknowledge"] = "yes"
    expected["country_other"] = ""  # every question is written; "" when unanswered
    expected["share"] = ""  # the consent question, left unanswered: read as "ask me first"
    assert first["answers"] == expected
    names = [(a["name"], a["type"], a["size"]) for a in first["attachments"]]
    assert names == [("poems.pdf", "application/pdf", len(pdf)),
                     ("threat letter.jpg", "image/jpeg", len(jpg))]
    assert [first["_files"][a["blob"]] for a in first["attachments"]] == [pdf, jpg]
    assert second["kind"] == "followup"
    assert second["answers"] == {"message": "More evidence attached."}
    assert second["case"] == first["case"] == first["_row"]["applicant"]
    assert [second["_files"][a["blob"]] for a in second["attachments"]] == [b"second file"]
    assert second["attachments"][0]["name"] == "more.txt"

    # The database holds ids, days, sizes and the reply public key only.
    with app.app_context():
        applicant = db.session().scalars(select(Applicant)).one()
        assert applicant.reply_public_key.startswith("refuge-pk1-")
        assert len(applicant.lookup_id) == 32
        subs = db.session().scalars(select(Submission)).all()
        assert all(s.exported_day is None for s in subs)
    assert len(store_files(app)) == 5


def test_picked_up_is_shown(app: Flask, client: FlaskClient) -> None:
    apply(client)
    with app.app_context():
        sub = db.session().scalars(select(Submission)).one()
        sub.exported_day = dt.date(2026, 1, 2)
        db.session().commit()
    assert "Yes, on 2026-01-02" in client.get("/case").get_data(as_text=True)


def test_wrong_codename_gets_one_clear_message(app: Flask, client: FlaskClient) -> None:
    apply(client)
    sign_out(client)
    for attempt in ("not a codename", "abacus " * 7):
        token = csrf(client, "/signin")
        response = client.post("/signin", data={"csrf_token": token, "codename": attempt})
        assert response.status_code == 400
        text = response.get_data(as_text=True)
        assert "does not open any case" in text
        assert attempt.strip() not in text  # never echoed back
    assert client.get("/case").status_code == 302


def test_codename_is_never_stored(app: Flask, client: FlaskClient) -> None:
    codename = codename_of(apply(client))
    data_dir = app.config["DATA_DIR"]
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert codename.encode() not in content
            for word in codename.split():
                assert f" {word} ".encode() not in content


def test_followup_needs_message_or_file(app: Flask, client: FlaskClient) -> None:
    apply(client)
    token = csrf(client, "/case")
    response = post(client, "/case", {"csrf_token": token, "message": "  "})
    assert response.status_code == 400
    assert "Write a message or choose at least one file" in response.get_data(as_text=True)
    assert counts(app) == (1, 1, 1)


def test_case_requires_sign_in(client: FlaskClient) -> None:
    response = client.get("/case")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
    assert "not signed in" in client.get("/signin").get_data(as_text=True)


def test_session_expires(make_app) -> None:
    clock = Clock()
    app = make_app(CLOCK=clock)  # idle limit: 60 minutes
    client = app.test_client()
    apply(client)
    clock.advance(59 * 60)
    assert client.get("/case").status_code == 200
    clock.advance(60 * 60)
    response = client.get("/case")
    assert response.status_code == 302
    assert "session ended" in client.get("/signin").get_data(as_text=True)
