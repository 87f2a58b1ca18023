"""The sign-in guard's answers to a visitor who is not signed in, and the typed app state.

Each page of a case says something different when the session has gone: the case page
says whether something it was sent was lost; deleting a reply only asks to sign in.
"""

from __future__ import annotations

import pytest
from flask import Flask

from intake import appstate
from intake.security import DerivationLimiter

from .helpers import counts, csrf, post
from .transfer_helpers import new_applicant

NOT_SIGNED_IN = "You are not signed in, or your session ended after a while without activity."
UNSENT = "Your session had ended, so what you were sending was not stored."


def test_case_post_without_a_session_says_it_was_not_stored(app: Flask) -> None:
    client = app.test_client()
    new_applicant(client)
    token = csrf(client, "/case")
    stranger = app.test_client()
    before = counts(app)
    response = post(stranger, "/case", {"csrf_token": token, "message": "lost"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
    page = stranger.get("/signin").get_data(as_text=True)
    assert UNSENT in page and NOT_SIGNED_IN not in page
    assert counts(app) == before


def test_case_get_and_delete_without_a_session_only_ask_to_sign_in(app: Flask) -> None:
    client = app.test_client()
    for method, path in (("GET", "/case"), ("POST", "/case/replies/0/delete")):
        response = client.open(path, method=method)
        assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
        page = client.get("/signin").get_data(as_text=True)
        assert NOT_SIGNED_IN in page and UNSENT not in page


def test_app_state_is_read_under_its_old_names(app: Flask) -> None:
    assert appstate.SALT.get(app) == app.extensions["intake_salt"]
    busy = DerivationLimiter(1, 0.0)
    app.extensions["intake_limiter"] = busy  # as tests put stand-ins in
    assert appstate.LIMITER.get(app) is busy
    with app.app_context():
        assert appstate.STAGING.get() is app.extensions["intake_staging"]


def test_missing_or_mistyped_app_state_is_an_error() -> None:
    bare = Flask("bare")
    with pytest.raises(appstate.NotSetUp, match="intake_salt is not set up"):
        appstate.SALT.get(bare)
    bare.extensions["intake_limiter"] = object()
    with pytest.raises(appstate.NotSetUp, match="intake_limiter"):
        appstate.LIMITER.get(bare)
    appstate.SCHEMA_READY.set(bare, True)
    assert appstate.SCHEMA_READY.get(bare) is True
