"""Sessions that end: a copied session cookie replayed after sign-out, after the absolute
lifetime and after idle expiry; sign-out and the language choice from another site.

The thief is a second test client holding a copy of the applicant's session cookie,
as someone who copied it off the machine (or out of a backup of the browser profile)
would. Time is the app's CLOCK setting, moved by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from crypto.keys import PrivateKey
from intake import db
from intake.config import ConfigError, defaults_from_env
from intake.db import new_id
from intake.models import Applicant
from intake.sessions import EPOCH, ISSUED, SEEN, Ended, begin, session_problem

from .helpers import Clock, counts, csrf, post, sign_out
from .transfer_helpers import new_applicant, replies_bundle, reply_key, sealed_reply, sign_in

COOKIE = "intake_session"
SECRET_REPLY = "the secret reply text"
HOUR = 3600


def copy_of_session(client: FlaskClient) -> FlaskClient:
    """A new client holding a copy of `client`'s session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = client.application.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def with_reply(app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey,
               tmp_path: Path) -> tuple[FlaskClient, str]:
    """A signed-in applicant with one reply waiting; returns the client and the codename."""
    client = app.test_client()
    case, codename = new_applicant(client)
    envelope = sealed_reply(case, reply_id := new_id(), SECRET_REPLY,
                            reply_key(app, codename).public_key, [reviewer_key.public_key])
    bundle = replies_bundle(tmp_path / "r.bundle", [(reply_id, case, envelope)],
                            [reviewer_key.public_key])
    assert runner.invoke(args=["import-replies", str(bundle)]).exit_code == 0
    return client, codename


def refused(client: FlaskClient) -> None:
    """The client is not signed in: /case sends it to sign in, and shows nothing of the case."""
    response = client.get("/case")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
    assert SECRET_REPLY not in client.get("/signin").get_data(as_text=True)


def test_replayed_cookie_is_refused_after_sign_out(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path) -> None:
    applicant, codename = with_reply(app, runner, reviewer_key, tmp_path)
    thief = copy_of_session(applicant)
    assert SECRET_REPLY in thief.get("/case").get_data(as_text=True)  # the copy works...
    token = csrf(thief, "/case")

    sign_out(applicant)
    refused(thief)  # ...until the applicant signs out
    before = counts(app)
    response = post(thief, "/case", {"csrf_token": token, "message": "sent by the thief"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
    assert counts(app) == before
    refused(applicant)

    # Signing in again opens a new session; the old copy stays dead.
    sign_in(applicant, codename)
    assert SECRET_REPLY in applicant.get("/case").get_data(as_text=True)
    refused(thief)


def test_sign_out_ends_the_session_on_every_device(app: Flask) -> None:
    laptop = app.test_client()
    _case, codename = new_applicant(laptop)
    phone = app.test_client()
    sign_in(phone, codename)
    assert phone.get("/case").status_code == 200
    sign_out(laptop)
    refused(phone)


def test_replayed_cookie_is_refused_after_the_absolute_lifetime(make_app) -> None:
    clock = Clock()
    app = make_app(CLOCK=clock)  # 4 hours, 60 minutes idle: the defaults
    assert app.config["SESSION_MAX_AGE"] == dt.timedelta(hours=4)
    applicant = app.test_client()
    new_applicant(applicant)
    thief = copy_of_session(applicant)
    # Both keep their copy busy, so neither is ever idle for long.
    for _ in range(7):
        clock.advance(30 * 60)
        assert applicant.get("/case").status_code == 200
        assert thief.get("/case").status_code == 200
    clock.advance(30 * 60 - 1)  # 4 hours less a second after signing in
    assert thief.get("/case").status_code == 200
    clock.advance(1)
    refused(thief)
    refused(applicant)


def test_replayed_cookie_is_refused_after_idle_expiry(make_app) -> None:
    clock = Clock()
    app = make_app(CLOCK=clock)
    applicant = app.test_client()
    new_applicant(applicant)
    thief = copy_of_session(applicant)  # copied, then left unused
    for _ in range(3):
        clock.advance(30 * 60)
        assert applicant.get("/case").status_code == 200  # the applicant's own use...
    refused(thief)  # ...does not keep an unused copy alive: it has been idle 90 minutes


def test_session_limits_come_from_the_environment() -> None:
    config = defaults_from_env({"INTAKE_SESSION_MAX_HOURS": "2", "INTAKE_SESSION_MINUTES": "15"})
    assert config["SESSION_MAX_AGE"] == dt.timedelta(hours=2)
    assert config["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(minutes=15)
    for bad in ("0", "-1", "four"):
        with pytest.raises(ConfigError, match="INTAKE_SESSION_MAX_HOURS"):
            defaults_from_env({"INTAKE_SESSION_MAX_HOURS": bad})


def test_a_cookie_from_before_sessions_could_end_is_not_signed_in(app: Flask) -> None:
    client = app.test_client()
    case, _ = new_applicant(client)
    with client.session_transaction() as sess:
        sess.clear()
        sess["case"] = case  # all a session cookie carried before
    refused(client)


def test_applicants_from_before_the_epoch_get_one_at_sign_in(app: Flask) -> None:
    client = app.test_client()
    case, codename = new_applicant(client)
    with app.app_context():
        applicant = db.session().get(Applicant, case)
        assert applicant is not None and len(applicant.session_epoch) == 32
        applicant.session_epoch = ""  # as revision 0004 leaves existing applicants
        db.session().commit()
    refused(client)
    sign_in(client, codename)
    assert client.get("/case").status_code == 200
    with app.app_context():
        epochs = db.session().scalars(select(Applicant.session_epoch)).all()
    assert len(epochs) == 1 and len(epochs[0]) == 32


def test_session_problem_decides_from_the_cookie_and_the_row() -> None:
    good = {EPOCH: "e" * 32, ISSUED: 1000, SEEN: 1500}

    def problem(cookie: dict[str, object], epoch: str | None = "e" * 32,
                at: int = 1600) -> Ended | None:
        return session_problem(cookie, epoch, at, idle=600, lifetime=4 * HOUR)

    assert problem(good) is None
    assert problem(good, epoch=None) is Ended.NO_CASE
    assert problem(good, epoch="f" * 32) is Ended.SIGNED_OUT
    assert problem({**good, EPOCH: ""}, epoch="") is Ended.SIGNED_OUT  # "" matches nothing
    assert problem(good, at=1000 + 4 * HOUR) is Ended.TOO_OLD
    assert problem(good, at=1000 + 4 * HOUR - 1) is Ended.IDLE
    assert problem({**good, SEEN: 1000 + 4 * HOUR - 10}, at=1000 + 4 * HOUR - 1) is None
    assert problem(good, at=2100) is Ended.IDLE
    assert problem(good, at=2099) is None
    for broken in ({EPOCH: "e" * 32, ISSUED: 1000}, {**good, ISSUED: "1000"},
                   {**good, SEEN: True}, {**good, EPOCH: 7},
                   {**good, ISSUED: 1600},  # issued after last seen
                   {**good, SEEN: 1700}):  # seen in the future
        assert problem(broken) is Ended.MALFORMED, broken


def test_a_session_without_an_epoch_is_never_begun(app: Flask) -> None:
    # Sign-out ends a session by changing the epoch: one begun without it could not end.
    unset = Applicant(id=new_id(), lookup_id=new_id(), reply_public_key="", session_epoch="")
    with app.test_request_context(), pytest.raises(ValueError, match="session epoch"):
        begin(unset)


# --- from another site: sign-out and the language choice ------------------------------------


def test_sign_out_checks_the_token_and_asks_again(app: Flask) -> None:
    client = app.test_client()
    new_applicant(client)
    response = client.post("/signout")  # no token: a stale page, or forged
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "still signed in" in html and 'name="csrf_token"' in html
    assert 'action="/signout"' in html and "<script" not in html
    assert client.get("/case").status_code == 200
    response = client.post("/signout", data={"csrf_token": "forged"})
    assert response.status_code == 400 and client.get("/case").status_code == 200
    assert "You are signed out" in sign_out(client).get_data(as_text=True)
    refused(client)


def test_sign_out_from_another_site_leaves_the_session(app: Flask) -> None:
    client = app.test_client()
    new_applicant(client)
    # With SameSite=Strict a request from another site arrives without the cookie:
    # the answer must set none, or it would replace the real one in the browser.
    other_site = app.test_client()
    for response in (other_site.post("/signout"), other_site.get("/signout")):
        assert response.headers.getlist("Set-Cookie") == []
        assert "not signed in" in response.get_data(as_text=True)
    assert client.get("/case").status_code == 200


def test_language_change_from_another_site_sets_only_the_language(app: Flask) -> None:
    client = app.test_client()
    new_applicant(client)
    other_site = app.test_client()  # arrives without the session cookie
    response = other_site.get("/language/fr", query_string={"next": "/case"})
    assert response.status_code == 303
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith("intake_lang=fr;"), cookies
    # The browser keeps its session cookie and takes the language one.
    client.set_cookie("intake_lang", "fr")
    page = client.get("/case")
    assert page.status_code == 200 and '<html lang="fr"' in page.get_data(as_text=True)


def test_language_cookie_flags(client: FlaskClient) -> None:
    cookie = client.get("/language/ar").headers["Set-Cookie"]
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == "intake_lang=ar"
    assert "HttpOnly" in parts and "SameSite=Lax" in parts and "Path=/" in parts
    assert not any(p.lower().startswith(("expires", "max-age")) for p in parts)
    client.set_cookie("intake_lang", "xx")  # not a language: English, no error
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)
