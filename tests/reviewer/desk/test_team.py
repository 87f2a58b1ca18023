"""The desk's team pages, through Flask's test client: history, notes, assignee, state,
conflicts, and the case list's assignee, conflict and "mine" views."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from markupsafe import escape

from reviewer.cli import cli
from reviewer.desk import Desk, create_app
from reviewer.home import Home
from reviewer.teamview import CaseTeam
from tests.reviewer.desk.conftest import (
    BASE,
    CANARY_NOTE,
    PASSPHRASE,
    PORT,
    World,
    make_team,
    page,
    post,
)

NOTE = CANARY_NOTE + " <script>alert(1)</script>\nsecond line, عربي"


def team_of(world: World, case: str) -> CaseTeam:
    home = Home(world.home_dir)
    return home.case_team(case, home.unlock(PASSPHRASE))


def history_cli(world: World, case: str) -> str:
    out = CliRunner().invoke(cli, ["history", "--home", str(world.home_dir),
                                   "--passphrase-file", str(world.pass_file), case])
    assert out.exit_code == 0, out.output
    return out.output


def urls(html: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', html)


def section(html: str, name: str) -> str:
    start = html.index(f'<section class="{name}"')
    return html[start:html.index("</section>", start)]


def test_a_case_with_no_team_records(client: FlaskClient, world: World) -> None:
    html = page(client, f"/cases/{world.a.case}")
    team = section(html, "team")
    assert "<dt>State</dt>\n  <dd>unverified</dd>" in team
    assert "<dt>Assigned to</dt>\n  <dd>nobody</dd>" in team
    assert "Take this case" in team and "Conflict" not in team
    assert "No notes yet." in html and "No team records yet." in html
    assert 'id="note-text"' in html and 'id="state-reason"' in html


def test_add_a_note(client: FlaskClient, world: World) -> None:
    case = world.a.case
    r = post(client, f"/cases/{case}/notes", {"text": NOTE}, status=303)
    assert r.headers["Location"] == f"/cases/{case}?done=note"
    html = page(client, r.headers["Location"])
    assert "Note added" in html
    # The full text, inert, in both the thread and the history.
    shown = f'<div dir="auto" class="value">{escape(NOTE)}</div>'
    assert section(html, "notes").count(shown) == 1
    assert section(html, "history").count(shown) == 1
    assert "<script>alert" not in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC by your clock", section(html, "notes"))
    # The record is the home's: the API and the CLI see it.
    (entry,) = team_of(world, case).history
    assert entry.kind == "note" and entry.text == NOTE and entry.author == "you"
    assert CANARY_NOTE in history_cli(world, case)
    # Nothing written reaches a URL or the title.
    assert not any(CANARY_NOTE in u or "second" in u for u in urls(html))
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None and CANARY_NOTE not in title.group(1)


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u3000"])
def test_a_blank_note_is_not_kept(client: FlaskClient, world: World, text: str) -> None:
    r = post(client, f"/cases/{world.a.case}/notes", {"text": text}, status=400)
    html = r.get_data(as_text=True)
    assert "Nothing was saved: the note is empty." in html
    assert 'aria-invalid="true" aria-describedby="note-error"' in html
    assert team_of(world, world.a.case).history == ()


def test_take_the_case_then_leave_it(client: FlaskClient, world: World) -> None:
    case = world.c.case
    r = post(client, f"/cases/{case}/assign", {"who": "me"}, status=303)
    html = page(client, r.headers["Location"])
    assert "Assignment recorded" in html
    assert "<dt>Assigned to</dt>\n  <dd>you</dd>" in html
    assert "Take this case" not in html  # taken already
    assert team_of(world, case).assignee == "you"
    post(client, f"/cases/{case}/assign", {"who": "nobody"}, status=303)
    assert team_of(world, case).assignee is None
    assert "Take this case" in page(client, f"/cases/{case}")
    kinds = [e.kind for e in team_of(world, case).history]
    assert kinds == ["assignment", "assignment"]


@pytest.mark.parametrize("who", ["", "you", "colleague:", "colleague:Nobody Known", "Bea"])
def test_assigning_someone_unknown_says_so(client: FlaskClient, world: World,
                                          who: str) -> None:
    r = post(client, f"/cases/{world.a.case}/assign", {"who": who}, status=400)
    assert "Nothing was saved: choose who is on this case." in r.get_data(as_text=True)
    assert team_of(world, world.a.case).history == ()


def test_change_the_state(client: FlaskClient, world: World) -> None:
    case = world.b.case
    r = post(client, f"/cases/{case}/state", {"state": "refer", "reason": "PEN can help.\nCall."},
             status=303)
    html = page(client, r.headers["Location"])
    assert "State change recorded" in html
    assert "<dt>State</dt>\n  <dd>refer</dd>" in html
    assert '<div dir="auto" class="value">PEN can help.\nCall.</div>' in section(html, "history")
    assert team_of(world, case).state == "refer"
    assert case in page(client, "/cases?state=refer")
    assert "refer" in history_cli(world, case)


@pytest.mark.parametrize(("state", "reason", "said"), [
    ("refer", "  \n", "Nothing was saved: say why (the reason is empty)."),
    ("", "a reason", "Nothing was saved: choose a state."),
    ("maybe", "a reason", "Nothing was saved: choose a state."),
])
def test_a_bad_state_change_says_so(client: FlaskClient, world: World, state: str,
                                    reason: str, said: str) -> None:
    r = post(client, f"/cases/{world.b.case}/state", {"state": state, "reason": reason},
             status=400)
    html = r.get_data(as_text=True)
    assert said in html
    assert f">{escape(reason)}</textarea>" in html  # what was typed is kept on the page
    assert team_of(world, world.b.case).history == ()


def test_a_verification_is_in_the_history(client: FlaskClient, world: World) -> None:
    post(client, f"/cases/{world.a.case}/verify",
         {"identity": "passport seen", "work": "articles", "persecution": "court records",
          "risk": "high", "recommendation": "proceed", "notes": ""})
    html = page(client, f"/cases/{world.a.case}")
    assert "<dt>State</dt>\n  <dd>proceed</dd>" in html
    assert [e.kind for e in team_of(world, world.a.case).history] == ["verification"]
    assert "No team records yet." not in html


def test_the_list_shows_assignee_and_state_and_mine(client: FlaskClient, world: World) -> None:
    post(client, f"/cases/{world.a.case}/assign", {"who": "me"}, status=303)
    post(client, f"/cases/{world.c.case}/state", {"state": "decline", "reason": "out of scope"},
         status=303)
    html = page(client, "/cases")
    assert '<th scope="col">Assigned to</th>' in html
    rows = {m.group(1): m.group(0)
            for m in re.finditer(r'/cases/([0-9a-f]{32})".*?</tr>', html, re.S)}
    assert '<td dir="auto">you</td>' in rows[world.a.case]
    assert '<td dir="auto">nobody</td>' in rows[world.b.case]
    assert "<td>decline</td>" in rows[world.c.case]
    mine = page(client, "/cases?mine=1")
    assert "Cases assigned to you" in mine
    assert world.a.case in mine and world.b.case not in mine and world.c.case not in mine
    nobody = page(client, "/cases?assignee=nobody")
    assert world.a.case not in nobody and world.b.case in nobody and world.c.case in nobody
    assert world.a.case in page(client, "/cases")
    assert 'href="/cases?mine=1"' in page(client, "/cases")  # the "Mine" view is one click


# --- two homes ---------------------------------------------------------------------------


@pytest.fixture
def team(tmp_path: Path) -> tuple[World, World]:
    return make_team(tmp_path)


def client_for(world: World) -> FlaskClient:
    home = Home(world.home_dir)
    app = create_app(Desk(home, home.unlock(PASSPHRASE), port=PORT), {"TESTING": True})
    c = app.test_client()
    assert c.get(f"/cases?token={app.extensions['desk'].token}", base_url=BASE).status_code == 303
    return c
