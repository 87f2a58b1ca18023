"""The desk's front door: Host, token and cookie, CSRF, headers, locking."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reviewer.desk import Desk
from reviewer.desk.security import HEADERS
from tests.reviewer.desk.conftest import BASE, PASSPHRASE, PORT, World, csrf, page, post


def test_wrong_host_is_refused(client: FlaskClient) -> None:
    for host in ("evil.example:8765", "127.0.0.1", f"127.0.0.1:{PORT + 1}", "localhost",
                 f"attacker.localhost:{PORT}", ""):
        r = client.get("/cases", base_url=f"http://{host}" if host else BASE,
                       headers={"Host": host})
        assert r.status_code == 421, host
        assert "address `reviewer desk` printed" in r.get_data(as_text=True)
        assert r.headers["Content-Type"].startswith("text/plain")
    # localhost:PORT passes the front door (its cookie jar is 127.0.0.1's, hence 403, not 421).
    assert client.get("/cases", base_url=f"http://localhost:{PORT}").status_code == 403
    assert client.get("/cases", base_url=BASE).status_code == 200


def test_without_the_cookie_nothing_opens(anonymous: FlaskClient, desk: Desk) -> None:
    r = anonymous.get("/cases", base_url=BASE)
    assert r.status_code == 403
    assert "open that address" in r.get_data(as_text=True).lower()
    assert anonymous.get("/cases?token=wrong", base_url=BASE).status_code == 403
    assert anonymous.get("/static/desk.css", base_url=BASE).status_code == 403
    anonymous.set_cookie(desk.cookie_name, "not-the-cookie", domain="127.0.0.1")
    assert anonymous.get("/cases", base_url=BASE).status_code == 403
    assert desk.token is not None  # a wrong token does not use it up


def test_token_becomes_a_cookie_once(anonymous: FlaskClient, app: Flask, desk: Desk) -> None:
    token = desk.token
    assert token is not None
    r = anonymous.get(f"/cases?token={token}", base_url=BASE)
    assert r.status_code == 303
    assert r.headers["Location"] == "/cases"  # the token is gone from the address bar
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"desk-{PORT}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert token not in cookie
    assert anonymous.get("/cases", base_url=BASE).status_code == 200
    # The printed address works once: another browser (or the history) gets nothing.
    other = app.test_client()
    assert other.get(f"/cases?token={token}", base_url=BASE).status_code == 403
    assert other.get("/cases", base_url=BASE).status_code == 403


def test_the_token_redirect_stays_on_the_desk(anonymous: FlaskClient, desk: Desk) -> None:
    # The redirect goes to the path asked for; Werkzeug gives "//evil.example/cases"
    # as "/evil.example/cases", a path of the desk (a 404), never another host.
    r = anonymous.get("/", base_url=BASE, query_string={"token": desk.token},
                      environ_overrides={"PATH_INFO": "//evil.example/cases"})
    assert r.status_code == 303 and r.headers["Location"] == "/evil.example/cases"


def test_post_without_csrf_is_refused(client: FlaskClient, desk: Desk) -> None:
    for data in ({}, {"csrf": "0" * 64}, {"csrf": ""}):
        r = client.post("/lock", data=data, base_url=BASE)
        assert r.status_code == 400
        assert desk.unlocked
    r = client.post("/cases/search", data={"text": "Omid"}, base_url=BASE)
    assert r.status_code == 400
    assert "Omid" not in r.get_data(as_text=True)


#: Every form that makes a team record, with what it would make.
TEAM_FORMS: dict[str, tuple[str, dict[str, object]]] = {
    "desk.add_note": ("notes", {"text": "a note"}),
    "desk.assign": ("assign", {"who": "me"}),
    "desk.set_state": ("state", {"state": "refer", "reason": "a reason"}),
}


def test_every_post_needs_the_cookie_and_the_csrf_token(client: FlaskClient,
                                                        anonymous: FlaskClient, app: Flask,
                                                        desk: Desk, world: World) -> None:
    case = world.a.case
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}
    assert set(TEAM_FORMS) <= posts
    token = csrf(page(client, "/cases"))
    for endpoint, (tail, data) in TEAM_FORMS.items():
        path = f"/cases/{case}/{tail}"
        assert anonymous.post(path, data={"csrf": token, **data},
                              base_url=BASE).status_code == 403, endpoint
        for bad in ({}, {"csrf": "0" * 64}, {"csrf": ""}):
            r = client.post(path, data={**data, **bad}, base_url=BASE)
            assert r.status_code == 400, (endpoint, bad)
            assert "did not come from the desk" in r.get_data(as_text=True)
    assert desk.home.case_team(case, desk.keys).history == ()  # nothing was made
    # A locked desk acts on none of them (the unlock page says nothing was saved).
    keys = desk.keys
    desk.lock()
    for endpoint, (tail, data) in TEAM_FORMS.items():
        r = client.post(f"/cases/{case}/{tail}", data={"csrf": token, **data}, base_url=BASE)
        assert "nothing was saved" in r.get_data(as_text=True), endpoint
    assert desk.home.case_team(case, keys).history == ()
    post(client, "/unlock", {"passphrase": PASSPHRASE}, status=303)
    # With the cookie and the token, each one makes its record.
    for _endpoint, (tail, data) in TEAM_FORMS.items():
        post(client, f"/cases/{case}/{tail}", data, status=303)
    assert len(desk.home.case_team(case, desk.keys).history) == len(TEAM_FORMS)


def _check_headers(r, where: str) -> None:
    for name, value in HEADERS:
        assert r.headers.get(name) == value, (where, name, r.headers.get(name))


def test_every_response_carries_the_headers(client: FlaskClient, anonymous: FlaskClient,
                                            app: Flask, world: World) -> None:
    case = world.a.case
    sub = world.a.submissions[0].record.submission
    token = csrf(page(client, "/cases"))
    seen: set[str] = set()
    for rule in app.url_map.iter_rules():
        path = (rule.rule.replace("<case_id>", case).replace("<submission_id>", sub)
                .replace("<int:number>", "1").replace("<reply_id>", "0" * 32)
                .replace("<path:filename>", "desk.css").replace("<handle>", "0" * 32))
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            r = (client.get(path, base_url=BASE) if method == "GET"
                 else client.post(path, data={"csrf": token}, base_url=BASE))
            r.close()
            assert r.status_code < 500, (method, path, r.status_code)
            _check_headers(r, f"{method} {path}")
            seen.add(rule.endpoint)
            if rule.endpoint == "desk.lock":  # unlock again for the routes after it
                client.post("/unlock", data={"csrf": token, "passphrase": PASSPHRASE},
                            base_url=BASE)
    assert {"desk.cases", "desk.case", "desk.save_file", "desk.verify", "desk.import_",
            "desk.export", "desk.add_note", "desk.assign", "desk.set_state", "desk.refer_case",
            "desk.consent", "desk.open_dossier_page", "desk.save_dossier_file",
            "desk.save_dossier_file_stripped", "static"} <= seen
    # Refusals and errors too.
    _check_headers(anonymous.get("/cases", base_url=BASE), "403")
    _check_headers(client.get("/cases", base_url="http://evil.example:8765"), "421")
    _check_headers(client.get("/nowhere", base_url=BASE), "404")
    _check_headers(client.get(f"/cases/{'f' * 32}", base_url=BASE), "404 case")
    _check_headers(client.post("/lock", base_url=BASE), "400 csrf")


def test_idle_desk_forgets_the_keys(client: FlaskClient, desk: Desk, world: World) -> None:
    assert world.a.case[:12] in page(client, "/cases")
    assert desk.casebook() is not None
    world.clock.now += 59
    assert "Ayşe" in page(client, "/cases")  # a request within the time keeps it open
    world.clock.now += 60
    assert desk.lock_if_idle()  # what the server's watcher thread calls
    assert not desk.unlocked and desk._casebook is None and desk._state is None
    html = page(client, f"/cases/{world.a.case}")
    assert 'type="password"' in html and "Ayşe" not in html and CANARY not in html
    r = post(client, "/unlock", {"passphrase": PASSPHRASE, "next": f"/cases/{world.a.case}"},
             status=303)
    assert r.headers["Location"] == f"/cases/{world.a.case}"
    assert "Ayşe" in page(client, f"/cases/{world.a.case}")


@pytest.mark.parametrize("target", ["//evil", "//2130706433/cases", "https://evil.example/",
                                    "/cases?x=1", "cases"])
def test_unlocking_returns_only_to_a_path_of_the_desk(client: FlaskClient, desk: Desk,
                                                      target: str) -> None:
    desk.lock()
    r = post(client, "/unlock", {"passphrase": PASSPHRASE, "next": target}, status=303)
    assert r.headers["Location"] == "/cases"


CANARY = "CANARY-ANSWER-d35k"


def test_idle_noticed_by_the_next_request(client: FlaskClient, desk: Desk, world: World) -> None:
    world.clock.now += 61
    html = page(client, "/cases")
    assert not desk.unlocked
    assert "The desk is locked" in html and "Ayşe" not in html


def test_lock_now(client: FlaskClient, desk: Desk) -> None:
    assert "Lock now" in page(client, "/cases")
    r = post(client, "/lock", {}, status=303)
    assert not desk.unlocked and desk._casebook is None
    assert r.headers["Location"] == "/cases"
    html = page(client, "/cases")
    assert "The desk is locked" in html and "Ayşe" not in html
    # A form sent to a locked desk is not acted on.
    r = post(client, "/cases/search", {"text": "Ayşe"}, token_from="/cases")
    assert "nothing was saved" in r.get_data(as_text=True) and not desk.unlocked


def test_wrong_passphrase_says_so(client: FlaskClient, desk: Desk) -> None:
    post(client, "/lock", {}, status=303)
    r = post(client, "/unlock", {"passphrase": "not it at all"}, status=403)
    html = r.get_data(as_text=True)
    assert "Not unlocked: wrong passphrase: it opens none of the keys in this home." in html
    assert not desk.unlocked
    post(client, "/unlock", {"passphrase": PASSPHRASE}, status=303)
    assert desk.unlocked


def test_pages_are_script_free_and_say_nothing_in_titles(client: FlaskClient,
                                                         world: World) -> None:
    # A case with team records: a note, an assignment, a state change with its reason.
    post(client, f"/cases/{world.b.case}/notes", {"text": "<script>x</script> ليلى"},
         status=303)
    post(client, f"/cases/{world.b.case}/assign", {"who": "me"}, status=303)
    post(client, f"/cases/{world.b.case}/state", {"state": "refer", "reason": "ليلى <b>"},
         status=303)
    for path in ("/cases", f"/cases/{world.a.case}", f"/cases/{world.b.case}",
                 f"/cases/{world.a.case}/verify", f"/cases/{world.a.case}/replies/compose",
                 "/import", "/cases?mine=1", "/cases?assignee=nobody&conflict=1",
                 "/overview", "/dossiers/open"):
        html = page(client, path)
        assert "<script" not in html.replace("&lt;script", "")
        assert " style=" not in html and "<style" not in html
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        assert title is not None
        assert re.fullmatch(r"[A-Za-z ,·']*( [0-9a-f]{12})?[A-Za-z ,·']*", title.group(1)), title
        for form in re.findall(r"<form[^>]*>", html):
            assert 'autocomplete="off"' in form, (path, form)


def test_the_watcher_locks_an_idle_desk_with_no_request(desk: Desk, world: World) -> None:
    import threading
    import time

    from reviewer.desk.server import watch_idle

    stop = threading.Event()
    thread = watch_idle(desk, stop, every=0.01)
    try:
        time.sleep(0.1)
        assert desk.unlocked  # not idle yet
        world.clock.now += 60
        deadline = time.monotonic() + 5
        while desk.unlocked and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not desk.unlocked and desk._casebook is None
    finally:
        stop.set()
        thread.join(5)
