"""The desk's team pages, through Flask's test client: history, notes, assignee, state,
conflicts, and the case list's assignee, conflict and "mine" views."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from markupsafe import escape

from crypto.bundle import Manifest
from reviewer.cli import cli
from reviewer.desk import Desk, create_app
from reviewer.home import Home
from reviewer.teamview import CaseTeam
from tests.harness.bundles import read_members
from tests.reviewer.desk.conftest import (
    BASE,
    CANARY_CONTENT,
    CANARY_FILE,
    CANARY_NOTE,
    PASSPHRASE,
    PORT,
    World,
    carry,
    export_outbox,
    import_outbox,
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
    # The redirect's word is one of the desk's: anything else shows nothing.
    assert "zz-not-a-word" not in page(client, f"/cases/{case}?done=zz-not-a-word")
    assert "Note added" not in page(client, f"/cases/{case}?done=zz-not-a-word")
    # Nothing written reaches a URL or the title.
    assert not any(CANARY_NOTE in u or "second" in u for u in urls(html))
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None and CANARY_NOTE not in title.group(1)


def test_a_note_made_in_the_terminal_shows_at_the_open_desk(client: FlaskClient,
                                                          world: World) -> None:
    case = world.c.case
    assert "No notes yet." in page(client, f"/cases/{case}")
    assert "<td>unverified</td>" in page(client, "/cases")
    out = CliRunner().invoke(cli, ["note", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), case], input="From the terminal.\n")
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["state", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), case, "refer", "--reason", "r"])
    assert out.exit_code == 0, out.output
    html = page(client, f"/cases/{case}")
    assert '<div dir="auto" class="value">From the terminal.\n</div>' in section(html, "notes")
    assert case in page(client, "/cases?state=refer")


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u3000"])
def test_a_blank_note_is_not_kept(client: FlaskClient, world: World, text: str) -> None:
    r = post(client, f"/cases/{world.a.case}/notes", {"text": text}, status=400)
    html = r.get_data(as_text=True)
    assert "Nothing was saved: the note is empty." in html
    assert 'aria-invalid="true" aria-describedby="note-error"' in html
    assert team_of(world, world.a.case).history == ()


@pytest.mark.parametrize("text", ["x" * 1_000_000, '"' * 600_000, "\x01" * 200_000])
def test_a_note_too_long_for_a_record_says_so(client: FlaskClient, world: World,
                                              text: str) -> None:
    r = post(client, f"/cases/{world.a.case}/notes", {"text": text}, status=400)
    assert "The text is too long for one record" in r.get_data(as_text=True)
    r = post(client, f"/cases/{world.a.case}/state", {"state": "refer", "reason": text},
             status=400)
    assert "The text is too long for one record" in r.get_data(as_text=True)
    assert team_of(world, world.a.case).history == ()
    # Just under the limit, it is one record.
    post(client, f"/cases/{world.a.case}/notes", {"text": "y" * 900_000}, status=303)
    (entry,) = team_of(world, world.a.case).history
    assert len(entry.text) == 900_000


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


def test_saving_a_file_is_in_the_history(client: FlaskClient, world: World) -> None:
    case = world.a.case
    sub = world.a.submissions[0].record.submission
    r = post(client, f"/cases/{case}/files/{sub}/2", {"strip": "0"})
    assert r.get_data() == CANARY_CONTENT
    r.close()
    r = post(client, f"/cases/{case}/files/{sub}/1", {"strip": "1"})
    r.close()
    saved = [e for e in team_of(world, case).history if e.kind == "file-saved"]
    assert [e.summary for e in saved] == ["saved a file as 'notes.txt'",
                                          f"saved a file as '{CANARY_FILE}.stripped.jpg'"]
    html = page(client, f"/cases/{case}")
    assert "You</strong> saved a file as &#39;notes.txt&#39;" in section(html, "history")
    assert "saved a file as 'notes.txt'" in history_cli(world, case)
    # A refused copy makes no record.
    post(client, f"/cases/{case}/files/{sub}/2", {"strip": "1"})
    assert len(team_of(world, case).history) == 2


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


def read_members_of(data: bytes) -> tuple[Manifest, dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "outbox.bundle"
        path.write_bytes(data)  # ciphertext only
        return read_members(path, "replies")


def conflict_of(html: str) -> list[str]:
    return re.findall(r'<p class="notice problem conflict" role="note"><strong>Conflict:</strong>'
                      r" (.*?)</p>", html)


def test_a_state_conflict_is_named_until_a_decision(team: tuple[World, World]) -> None:
    ana, bea = team
    case = ana.a.case
    a, b = client_for(ana), client_for(bea)
    # Neither has seen the other's decision.
    post(a, f"/cases/{case}/state", {"state": "proceed", "reason": "documents check out"},
         status=303)
    post(b, f"/cases/{case}/state", {"state": "decline", "reason": "no link to the work"},
         status=303)
    carry(ana, bea)
    carry(bea, ana)
    html = page(a, f"/cases/{case}")
    assert "<dt>State</dt>\n  <dd><strong>in conflict</strong></dd>" in html
    assert conflict_of(html) in (
        ["You set proceed, Bea set decline, neither had seen the other;"
         " record a decision to resolve."],
        ["Bea set decline, you set proceed, neither had seen the other;"
         " record a decision to resolve."])
    (said,) = conflict_of(page(b, f"/cases/{case}"))
    assert "Ana set proceed" in said and "ou set decline" in said
    # The list says so, and its filter finds it.
    only = page(a, "/cases?conflict=1")
    assert case in only and ana.b.case not in only and ana.c.case not in only
    assert '<strong class="mark">conflict</strong>' in only
    assert ana.b.case in page(a, "/cases") and case in page(a, "/cases")
    # A note that has seen both is not a decision.
    post(b, f"/cases/{case}/notes", {"text": "Let us talk."}, status=303)
    assert conflict_of(page(b, f"/cases/{case}"))
    # A decision that has seen both resolves it, at both desks once carried.
    post(a, f"/cases/{case}/state", {"state": "refer", "reason": "agreed by phone"},
         status=303)
    html = page(a, f"/cases/{case}")
    assert conflict_of(html) == [] and "<dt>State</dt>\n  <dd>refer</dd>" in html
    assert case not in page(a, "/cases?conflict=1")
    carry(ana, bea)
    html = page(b, f"/cases/{case}")
    assert conflict_of(html) == [] and "<dt>State</dt>\n  <dd>refer</dd>" in html
    history = section(html, "history")
    for said in ("documents check out", "no link to the work", "Let us talk.",
                 "agreed by phone"):
        assert f'<div dir="auto" class="value">{said}</div>' in history
    assert "by Ana’s clock" in history and "by your clock" in history


def test_assign_a_colleague_and_filter_by_assignee(team: tuple[World, World]) -> None:
    ana, bea = team
    a, b = client_for(ana), client_for(bea)
    # Bea's signing key has not reached A yet: the desk says so, nothing is made.
    r = post(a, f"/cases/{ana.a.case}/assign", {"who": "colleague:Bea"}, status=400)
    assert "Bea&#39;s signing key has not reached this home yet" in r.get_data(as_text=True)
    assert team_of(ana, ana.a.case).history == ()
    carry(bea, ana)  # her announcement
    html = page(a, f"/cases/{ana.a.case}")
    assert '<option value="colleague:Bea" dir="auto">Bea</option>' in html
    post(a, f"/cases/{ana.a.case}/assign", {"who": "colleague:Bea"}, status=303)
    assert "<dt>Assigned to</dt>\n  <dd>Bea</dd>" in page(a, f"/cases/{ana.a.case}")
    # The assignee filter carries Bea's position in the menu, never her name.
    html = page(a, "/cases")
    menu = html[html.index('id="f-assignee"'):]
    menu = menu[:menu.index("</select>")]
    options = dict(re.findall(r'<option value="(\w+)"[^>]*>([^<]+)</option>', menu))
    assert options == {"nobody": "Nobody", "0": "Bea"}
    only_bea = page(a, "/cases?assignee=0")
    assert ana.a.case in only_bea and ana.b.case not in only_bea
    assert not any("Bea" in u for u in urls(only_bea))
    nobody = page(a, "/cases?assignee=nobody")
    assert ana.a.case not in nobody and ana.b.case in nobody
    # At Bea's desk, once carried, the case is hers: "Mine".
    carry(ana, bea)
    assert "<dt>Assigned to</dt>\n  <dd>you</dd>" in page(b, f"/cases/{ana.a.case}")
    mine = page(b, "/cases?mine=1")
    assert ana.a.case in mine and ana.b.case not in mine
    assert ana.a.case not in page(a, "/cases?mine=1")
    # Both take case c, neither having seen the other: an assignment conflict.
    post(a, f"/cases/{ana.c.case}/assign", {"who": "me"}, status=303)
    post(b, f"/cases/{ana.c.case}/assign", {"who": "me"}, status=303)
    carry(ana, bea)
    carry(bea, ana)
    html = page(a, f"/cases/{ana.c.case}")
    assert "<dt>Assigned to</dt>\n  <dd><strong>in conflict</strong></dd>" in html
    (said,) = conflict_of(html)
    assert "ou assigned you" in said and "Bea assigned Bea" in said
    assert said.endswith("neither had seen the other; assign the case again to resolve.")
    assert "Take this case" in html
    assert ana.c.case in page(a, "/cases?conflict=1")


def test_records_waiting_for_an_earlier_one_are_counted(team: tuple[World, World]) -> None:
    ana, bea = team
    a, b = client_for(ana), client_for(bea)
    carry(ana, bea)  # Ana's announcement
    post(a, f"/cases/{ana.b.case}/notes", {"text": "first"}, status=303)
    first = export_outbox(ana, "first")
    post(a, f"/cases/{ana.b.case}/notes", {"text": "second, after the first"}, status=303)
    second = export_outbox(ana, "second")
    import_outbox(bea, second)  # the second bundle arrives first
    html = page(b, f"/cases/{ana.b.case}")
    assert ("1 record of this case waits for an earlier record not yet received;"
            " it is shown once that arrives.") in html
    assert "second, after the first" not in html
    import_outbox(bea, first)
    html = page(b, f"/cases/{ana.b.case}")
    assert "waits for an earlier record" not in html
    assert html.index(">first</div>") < html.index(">second, after the first</div>")


def test_the_desks_outbox_and_import(team: tuple[World, World]) -> None:
    """A's desk exports the outbox (replies and team envelopes); B's desk imports it
    and says what its team records were."""
    ana, bea = team
    a, b = client_for(ana), client_for(bea)
    post(a, f"/cases/{ana.a.case}/notes", {"text": "from the desk"}, status=303)
    post(a, f"/cases/{ana.a.case}/replies", {"text": "We have your application.", "reply": ""})
    r = post(a, "/replies/export", {})
    assert r.headers["Content-Disposition"].startswith("attachment; filename=outbox-")
    data = r.get_data()
    r.close()
    manifest, _members = read_members_of(data)
    assert len(manifest.replies) == 1 and len(manifest.team) >= 3  # announcement, note, reply
    html = page(a, f"/cases/{ana.a.case}")
    assert "sent a reply to the applicant" in section(html, "history")
    said = post(a, "/replies/export", {}).get_data(as_text=True)
    assert "Nothing to send: no replies and no team records waiting" in said
    r = post(b, "/import", {"bundle": (io.BytesIO(data), "outbox.bundle")},
             token_from="/import", content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert "A colleague&#39;s outbox (a bundle of replies)" in html
    assert "1 signing key announcement" in html
    html = page(b, f"/cases/{ana.a.case}")
    history = section(html, "history")
    assert "from the desk" in history and "We have your application." in history
    assert "by Ana’s clock" in history


def test_conflict_sentences_name_everyone_as_spelt() -> None:
    from reviewer.desk.views import conflict_sentences
    from reviewer.teamview import Conflict

    three = CaseTeam("conflict", (Conflict("de Vries", "proceed"), Conflict("you", "decline"),
                                  Conflict("Carl", "refer")), None, (), (), 0)
    assert conflict_sentences(three) == [
        "de Vries set proceed, you set decline, Carl set refer, none had seen the others;"
        " record a decision to resolve."]
    two = CaseTeam("proceed", (), None, (Conflict("you", "you"), Conflict("Bea", "nobody")),
                   (), 0)
    assert conflict_sentences(two) == [
        "You assigned you, Bea assigned nobody, neither had seen the other; assign the case"
        " again to resolve."]
