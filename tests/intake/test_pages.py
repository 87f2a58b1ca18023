"""Every page: content, headers, no script, nothing from elsewhere, no tracebacks."""

from __future__ import annotations

import contextlib
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from crypto.keys import PrivateKey

from .conftest import SQLITE_ONLY
from .helpers import (
    answers,
    apply,
    codename_of,
    counts,
    csrf,
    files,
    post,
    sign_out,
    staging_files,
    store_files,
)

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


# Spelled out here, never read from intake.security: a change to the product's
# headers must fail this test, not quietly redefine what it expects.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def check_headers(response: TestResponse) -> None:
    where = f"{response.request.method} {response.request.path} ({response.status_code})"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.getlist(name) == [value], f"{name} on {where}"


def check_page(response: TestResponse) -> str:
    check_headers(response)
    html = response.get_data(as_text=True)
    response.close()  # a static file response holds the file open until closed
    assert "<script" not in html.lower()
    assert "javascript:" not in html.lower()
    assert not EXTERNAL.search(html), "a resource or form points at another origin"
    assert " on" + "click" not in html.lower()
    assert "Traceback" not in html
    return html


def every_page(app: Flask, client: FlaskClient) -> list[TestResponse]:
    """One response for each route and each state a page can be in."""
    out = [client.get(p) for p in ("/", "/apply", "/signin", "/signout", "/case", "/nowhere",
                                   "/static/style.css")]
    out.append(client.delete("/apply"))  # 405
    bad = answers(name="")
    bad["csrf_token"] = csrf(client, "/apply")
    out.append(post(client, "/apply", bad))  # form with errors
    first = apply(client)
    out.append(first)  # the codename page
    out.append(client.get("/case"))
    out.append(client.get("/signout"))
    out.append(client.post("/signout"))  # no token: the confirm form
    out.append(sign_out(client))
    out.append(client.post("/signout"))  # not signed in
    out.append(client.post("/signin", data={"csrf_token": "stale", "codename": "x"}))
    return out


@SQLITE_ONLY
def test_every_page_is_safe(app: Flask, client: FlaskClient) -> None:
    for response in every_page(app, client):
        check_page(response)


@SQLITE_ONLY
def test_every_route_and_status_carries_the_security_headers(make_app) -> None:
    closed = make_app(with_key=False)  # no reviewer key yet: intake is closed
    client = closed.test_client()
    responses = [client.get("/apply"), post(client, "/apply", answers())]  # 503
    assert closed.test_cli_runner().invoke(
        args=["keys", "add", PrivateKey.generate().public_key.to_text(), "--name", "r"]
    ).exit_code == 0
    app = make_app(with_key=False)
    app.testing = False  # the error handler answers a 500
    app.add_url_rule("/boom", view_func=lambda: 1 / 0)
    client = app.test_client()
    responses += every_page(app, client)  # 200, 302, 400, 404, 405, static
    responses += [
        client.head("/"),
        client.options("/apply"),
        client.get("/boom"),  # 500
        client.get("/language/fa?next=/apply"),  # 303
        client.get("/language/xx"),  # 404
        client.post("/signin", data={"codename": "x" * 100_000}),  # 413
        client.post("/case", data={"message": "no session"}),  # 302
    ]
    apply(client)
    responses += [
        post(client, "/case", {"message": "no token"}),  # 400
        post(client, "/case/replies/nothing/delete", {"csrf_token": csrf(client, "/case")}),
        client.get("/case"),
    ]
    statuses = set()
    endpoints = set()
    for response in responses:
        check_headers(response)
        response.close()
        statuses.add(response.status_code)
        with contextlib.suppress(HTTPException):  # a 404 or 405 matches no route
            endpoints.add(app.url_map.bind("localhost").match(
                response.request.path, method=response.request.method)[0])
    assert statuses >= {200, 302, 303, 400, 404, 405, 413, 500, 503}
    assert endpoints >= {r.endpoint for r in app.url_map.iter_rules()}


@SQLITE_ONLY
def test_landing_says_what_matters(client: FlaskClient) -> None:
    html = check_page(client.get("/"))
    for phrase in ("Who may apply", "What happens next", "How your information is protected",
                   "Tor Browser", "Safest", "not watched", "no authority over any country",
                   "only route to safety"):
        assert phrase in html
    assert 'href="/apply"' in html and 'href="/signin"' in html


@SQLITE_ONLY
def test_stylesheet_is_served_by_the_app(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert b"url(" not in response.data  # nothing fetched from anywhere
    check_headers(response)
    response.close()


@SQLITE_ONLY
def test_apply_form_has_every_field_and_a_proper_honeypot(client: FlaskClient) -> None:
    html = check_page(client.get("/apply"))
    for name in ("name", "contact", "country", "country_other", "profession", "profession_other",
                 "languages",
                 "work", "threat", "situation", "urgency", "family", "references",
                 "attachments", "acknowledge", "csrf_token"):
        assert f'name="{name}"' in html, name
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input[^>]*multiple[^>]*name="attachments"|name="attachments"[^>]*multiple',
                     html)
    hp = re.search(r'<div class="hp" aria-hidden="true">(.*?)</div>', html, re.S)
    assert hp, "honeypot wrapper must be aria-hidden"
    assert 'tabindex="-1"' in hp.group(1) and 'autocomplete="off"' in hp.group(1)
    assert 'name="homepage"' in hp.group(1)


def test_codename_page(client: FlaskClient) -> None:
    response = apply(client)
    html = check_page(response)
    assert len(codename_of(response).split()) == 7
    assert "only this once" in html
    assert "intake_session" in response.headers.get("Set-Cookie", "")


@SQLITE_ONLY
def test_cookie_flags(app: Flask, client: FlaskClient) -> None:
    response = client.get("/apply")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP (an onion service)
    secure = app.test_client().get("/apply", base_url="https://localhost")
    assert "Secure" in secure.headers["Set-Cookie"]
    assert "Expires" not in cookie  # a browser-session cookie, never written to disk to persist


def test_per_field_errors_keep_what_was_typed(app: Flask, client: FlaskClient) -> None:
    data = answers(country="", profession="other", profession_other="", acknowledge="")
    data["csrf_token"] = csrf(client, "/apply")
    data["attachments"] = files((b"data", "sample.pdf", "application/pdf"))
    response = post(client, "/apply", data)
    assert response.status_code == 400
    html = check_page(response)
    assert "Please choose the country, or another place at the end of the list." in html
    assert "Please say what you do." in html
    assert "Please confirm that you have read this." in html
    assert "Poems about rivers." in html and "Ayşe Example" in html  # kept
    assert "choose your files again" in html
    assert counts(app) == (0, 0, 0) and store_files(app) == [] and staging_files(app) == []


def test_bad_choices_are_refused(client: FlaskClient, app: Flask) -> None:
    data = answers(profession="astronaut", urgency="")
    data["csrf_token"] = csrf(client, "/apply")
    response = post(client, "/apply", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Please choose one of the options in the list." in html  # astronaut
    assert "Please say how urgent it is." in html
    assert counts(app) == (0, 0, 0)


def test_too_long_answer_is_refused(client: FlaskClient, app: Flask) -> None:
    data = answers(name="x" * 301)
    data["csrf_token"] = csrf(client, "/apply")
    response = post(client, "/apply", data)
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0)


def test_too_many_files(make_app) -> None:
    app = make_app(MAX_FILES=2)
    client = app.test_client()
    response = apply(client, attachments=files(*[(b"x", f"{i}.txt", "text/plain")
                                                 for i in range(3)]))
    assert response.status_code == 400
    assert "at most 2 files" in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0) and store_files(app) == [] and staging_files(app) == []


def test_empty_file_is_refused_and_empty_input_ignored(client: FlaskClient, app: Flask) -> None:
    response = apply(client, attachments=files((b"", "empty.pdf", "application/pdf")))
    assert response.status_code == 400
    assert "is empty" in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0) and staging_files(app) == []
    # A file input left empty: browsers send a part with filename="".
    response = apply(client, attachments=files((b"", "", "application/octet-stream")))
    assert response.status_code == 200
    assert counts(app) == (1, 1, 1)


def test_stale_csrf_keeps_the_form(client: FlaskClient, app: Flask) -> None:
    data = answers()
    data["csrf_token"] = "stale-token"
    response = post(client, "/apply", data)
    assert response.status_code == 400
    html = check_page(response)
    assert "open for a long time" in html
    assert "Poems about rivers." in html
    assert 'name="csrf_token" type="hidden" value="' in html  # a fresh token to send again
    assert counts(app) == (0, 0, 0)


def test_missing_csrf_is_friendly(client: FlaskClient, app: Flask) -> None:
    response = post(client, "/apply", answers())
    assert response.status_code == 400
    assert "open for a long time" in response.get_data(as_text=True)
    response = client.post("/signin", data={"codename": "a b c d e f g"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("token", [None, "stale-token"])
def test_followup_without_a_valid_csrf_token_is_refused(
        client: FlaskClient, app: Flask, token: str | None) -> None:
    assert apply(client).status_code == 200  # signed in
    before = (counts(app), store_files(app))
    fields: dict[str, object] = {
        "message": "a follow-up sent from another site",
        "attachments": files((b"x" * 5000, "f.txt", "text/plain")),
    }
    if token is not None:
        fields["csrf_token"] = token
    response = post(client, "/case", fields)
    assert response.status_code == 400
    html = check_page(response)
    assert "open for a long time" in html
    assert 'name="csrf_token" type="hidden" value="' in html  # a fresh token to send again
    assert (counts(app), store_files(app)) == before
    assert staging_files(app) == []


def test_honeypot_turns_bots_away(client: FlaskClient, app: Flask) -> None:
    response = apply(client, data=answers(homepage="http://spam.example"),
                     attachments=files((b"x" * 1000, "a.txt", "text/plain")))
    assert response.status_code == 200
    assert 'id="codename"' not in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0) and store_files(app) == [] and staging_files(app) == []


@pytest.mark.parametrize("path", ["/apply", "/case", "/signin", "/"])
@SQLITE_ONLY
def test_wrong_method(client: FlaskClient, path: str) -> None:
    response = client.put(path)
    assert response.status_code == 405
    assert "Not allowed" in check_page(response)


@SQLITE_ONLY
def test_not_found(client: FlaskClient) -> None:
    response = client.get("/admin")
    assert response.status_code == 404
    assert "Page not found" in check_page(response)


@SQLITE_ONLY
def test_500_has_no_traceback(make_app, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    app.testing = False  # let the error handler answer instead of re-raising

    def boom() -> str:
        raise RuntimeError("secret applicant text")

    app.add_url_rule("/boom", view_func=boom)

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    html = check_page(response)
    assert "secret applicant text" not in html and "RuntimeError" not in html
    assert "secret applicant text" not in caplog.text
    assert "RuntimeError" in caplog.text  # the operator still learns what and where


def test_intake_closed_without_key(make_app, reviewer_key: PrivateKey) -> None:
    app = make_app(with_key=False)
    client = app.test_client()
    assert "closed" in client.get("/").get_data(as_text=True)
    response = client.get("/apply")
    assert response.status_code == 503
    assert "closed" in check_page(response)
    data = answers()
    data["attachments"] = files((b"x" * 1000, "a.txt", "text/plain"))
    response = post(client, "/apply", data)
    assert response.status_code == 503
    assert counts(app) == (0, 0, 0) and store_files(app) == [] and staging_files(app) == []


def test_followup_refused_when_intake_closes(app: Flask, client: FlaskClient,
                                             reviewer_key: PrivateKey) -> None:
    apply(client)
    result = app.test_cli_runner().invoke(args=["keys", "remove", "reviewer one"])
    assert result.exit_code == 0
    page = client.get("/case")
    assert "not accepting new material" in page.get_data(as_text=True)
    token = csrf(client, "/signin")
    response = post(client, "/case", {"csrf_token": token, "message": "hello"})
    assert response.status_code == 503
    assert counts(app) == (1, 1, 1)


def test_uninitialised_database_says_what_to_run(make_app,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(with_key=False, init=False)
    response = app.test_client().get("/")
    assert response.status_code == 503
    assert "flask --app intake init-db" in check_page(response)
    assert "flask --app intake init-db" in caplog.text


def test_no_template_has_script_or_remote_resource() -> None:
    from intake import templates_dir

    names = sorted(p.name for p in templates_dir().glob("*.html"))
    assert "apply.html" in names and "base.html" in names
    for path in templates_dir().glob("*.html"):
        text = path.read_text("utf-8").lower()
        assert "<script" not in text and "javascript:" not in text, path.name
        assert "http://" not in text and "https://" not in text, path.name


@SQLITE_ONLY
def test_debug_mode_is_refused(make_app) -> None:
    app = make_app(DEBUG=True)
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


def test_interrupted_upload_stores_nothing(app: Flask, client: FlaskClient) -> None:
    # The test client marks its input as terminated, so Werkzeug sees a short
    # multipart body (refused as a damaged form) rather than a disconnect (400 page);
    # either way the half-streamed envelope must go.
    import io

    from .helpers import multipart

    body, ctype = multipart(dict(answers(), csrf_token=csrf(client, "/apply"),
                                 attachments=files((b"p" * 300_000, "a.bin", "x/y"))))
    response = client.post("/apply", input_stream=io.BytesIO(body[: len(body) - 1000]),
                           content_type=ctype, content_length=len(body))
    assert response.status_code == 400
    check_page(response)
    assert counts(app) == (0, 0, 0) and staging_files(app) == [] and store_files(app) == []


@SQLITE_ONLY
def test_signin_refuses_a_large_body(client: FlaskClient) -> None:
    response = client.post("/signin", data={"codename": "x" * 100_000})
    assert response.status_code == 413


@SQLITE_ONLY
def test_error_markup_is_accessible(client: FlaskClient) -> None:
    data = answers(country="")
    data["csrf_token"] = csrf(client, "/apply")
    html = check_page(post(client, "/apply", data))
    assert '"None"' not in html
    assert re.search(r'<select[^>]*aria-describedby="country-error"[^>]*aria-invalid="true"'
                     r'|<select[^>]*aria-invalid="true"[^>]*aria-describedby="country-error"', html)
    assert 'id="country-error"' in html


@SQLITE_ONLY
def test_ids_are_unique_on_every_page(app: Flask, client: FlaskClient) -> None:
    for response in every_page(app, client):
        ids = re.findall(r'\sid="([^"]+)"', response.get_data(as_text=True))
        response.close()
        assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
