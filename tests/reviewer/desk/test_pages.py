"""The desk's pages, through Flask's test client: what a reviewer does in a day."""

from __future__ import annotations

import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from crypto import envelope
from reviewer.cli import cli
from reviewer.desk import Desk, create_app, views
from reviewer.home import Home
from reviewer.outcome import import_sentence
from tests.harness.bundles import read_members
from tests.reviewer.desk.conftest import (
    ARABIC_NAME,
    BASE,
    CANARY_ANSWER,
    CANARY_CONTENT,
    CANARY_FILE,
    CANARY_NOTE,
    CANARY_REASON,
    CANARY_REPLY,
    CANARY_TEAM_NOTE,
    PASSPHRASE,
    PORT,
    World,
    make_home,
    page,
    post,
)


def urls(html: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', html)


def test_cases_most_urgent_first(client: FlaskClient, world: World) -> None:
    html = page(client, "/cases")
    order = [m for m in re.findall(r'/cases/([0-9a-f]{32})"', html)]
    # b chose "in danger now", c "within weeks", a "within months".
    assert order == [world.b.case, world.c.case, world.a.case]
    assert "I am in danger now (days)" in html
    assert html.count(">New</strong>") == 3
    assert '<td dir="auto">' + ARABIC_NAME in html


def test_filters_keep_applicant_values_out_of_urls(client: FlaskClient, world: World) -> None:
    html = page(client, "/cases?urgency=weeks")
    assert world.c.case in html and world.a.case not in html and world.b.case not in html
    # The country menu offers positions; the URL never carries the country itself.
    menu = html[html.index('id="f-country"'):]
    menu = menu[:menu.index("</select>")]
    options = dict(re.findall(r'<option value="(\d+)" dir="auto" >([^<]+)</option>', menu))
    assert "Iran" in options.values()
    iran = next(k for k, v in options.items() if v == "Iran")
    html = page(client, f"/cases?country={iran}")
    assert world.c.case in html and world.a.case not in html
    assert not any("Iran" in u or "cartoonist" in u for u in urls(html))
    page(client, f"/cases/{world.c.case}")
    assert world.c.case not in page(client, "/cases?mark=new")
    assert world.a.case in page(client, "/cases?mark=new")


def test_search_is_a_post_and_stays_out_of_urls(client: FlaskClient, world: World) -> None:
    r = post(client, "/cases/search", {"text": "تهديدات"})
    html = r.get_data(as_text=True)
    assert world.b.case in html and world.a.case not in html
    assert not any("تهديدات" in u or "%D8" in u for u in urls(html))
    r = post(client, "/cases/search", {"text": CANARY_ANSWER.lower()})
    assert world.a.case in r.get_data(as_text=True)
    assert page(client, "/cases").count("/cases/") >= 3  # the search is not remembered


def test_paging(client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    first = page(client, "/cases")
    assert "Page 1 of 2" in first and world.b.case in first and world.a.case not in first
    second = page(client, "/cases?page=2")
    assert world.a.case in second and world.b.case not in second
    # Search results page by POST, the text in the form, not the address.
    html = post(client, "/cases/search", {"text": "PEN Turkey", "page": "2"}).get_data(
        as_text=True)
    assert "Page 2 of 2" in html and 'name="text" value="PEN Turkey"' in html


def test_a_case_in_arabic(client: FlaskClient, world: World, desk: Desk) -> None:
    html = page(client, f"/cases/{world.b.case}")
    assert f'<dd dir="auto" class="value">{ARABIC_NAME}</dd>' in html
    assert "Follow-up, 2026-11-22" in html and "More news." in html
    assert "poem.png" in html and "Save file 1 without metadata" in html
    assert re.search(r"<title>Case [0-9a-f]{12} · Reviewer's desk</title>", html)
    assert world.b.case not in page(client, "/cases?mark=new")  # opened: no longer new


def test_answers_are_inert(client: FlaskClient, world: World) -> None:
    html = page(client, f"/cases/{world.a.case}")
    assert CANARY_ANSWER in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert f'<span class="file-name" dir="auto">{CANARY_FILE}.jpg</span>' in html


def test_save_a_copy(client: FlaskClient, world: World) -> None:
    sub = world.a.submissions[0].record.submission
    r = post(client, f"/cases/{world.a.case}/files/{sub}/2", {"strip": "0"})
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "notes.txt" in r.headers["Content-Disposition"]
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.get_data() == CANARY_CONTENT
    r.close()
    r = client.post(f"/cases/{world.a.case}/files/{sub}/9", data={"csrf": "x"}, base_url=BASE)
    assert r.status_code == 400  # no CSRF token: refused before anything else


def test_verification(client: FlaskClient, world: World) -> None:
    html = page(client, f"/cases/{world.a.case}/verify")
    for question in ("Identity check", "Work authenticated (how, with what evidence)",
                     "Persecution verified (sources)", "Risk level", "Recommendation", "Notes"):
        assert question in html
    for choice in ("low", "medium", "high", "critical", "proceed", "more-info", "refer",
                   "decline"):
        assert f'<option value="{choice}"' in html
    r = post(client, f"/cases/{world.a.case}/verify",
             {"identity": "passport seen", "work": "", "persecution": "court records",
              "risk": "high", "recommendation": "proceed", "notes": CANARY_NOTE}, status=400)
    assert "Nothing was saved" in r.get_data(as_text=True)
    assert Home(world.home_dir).load_state().cases[world.a.case].verifications == ()
    r = post(client, f"/cases/{world.a.case}/verify",
             {"identity": "passport seen", "work": "articles", "persecution": "court records",
              "risk": "high", "recommendation": "proceed", "notes": CANARY_NOTE + "\nline 2"})
    assert "Verification record 1 saved for this case: proceed." in r.get_data(as_text=True)
    assert len(Home(world.home_dir).load_state().cases[world.a.case].verifications) == 1
    html = page(client, f"/cases/{world.a.case}/verify")
    assert CANARY_NOTE + "\nline 2" in html  # shown under "Earlier records"
    assert "proceed" in page(client, "/cases?state=proceed")
    out = CliRunner().invoke(cli, ["show", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), world.a.case])
    assert CANARY_NOTE in out.output  # the same record the CLI reads


def test_reply_preview_withdraw_and_export(client: FlaskClient, world: World,
                                           tmp_path: Path) -> None:
    case = world.a.case
    text = CANARY_REPLY + " <b>bold?</b>\nsecond line\n\nnew paragraph"
    r = post(client, f"/cases/{case}/replies/preview", {"text": text})
    html = r.get_data(as_text=True)
    assert "&lt;b&gt;bold?&lt;/b&gt;<br>" in html and "<b>bold" not in html
    assert "Nothing is saved yet" in html
    assert Home(world.home_dir).load_state().cases[case].replies == ()
    r = post(client, f"/cases/{case}/replies", {"text": text, "reply": ""})
    assert "Reply saved to the outbox" in r.get_data(as_text=True)
    (reply,) = Home(world.home_dir).load_state().cases[case].replies
    html = page(client, f"/cases/{case}/replies/{reply.id}/edit")
    assert CANARY_REPLY in html
    r = post(client, f"/cases/{case}/replies", {"text": "Changed text.", "reply": reply.id})
    assert "Reply changed" in r.get_data(as_text=True)
    assert "Changed text." in page(client, f"/cases/{case}")
    r = post(client, f"/cases/{case}/replies/{reply.id}/withdraw", {})
    assert "Reply withdrawn" in r.get_data(as_text=True)
    assert Home(world.home_dir).load_state().cases[case].replies == ()
    post(client, f"/cases/{case}/replies", {"text": "We have your application.", "reply": ""})
    r = post(client, "/replies/export", {})
    assert r.headers["Content-Disposition"].startswith("attachment;")
    bundle = tmp_path / "replies.bundle"
    bundle.write_bytes(r.get_data())
    r.close()
    manifest, members = read_members(bundle, "replies")
    (sent,) = manifest.replies
    doc = json.loads(envelope.decrypt_bytes(members[sent.blob], [world.a.reply_key]))
    assert doc["text"] == "We have your application."
    assert list((world.home_dir / "tmp").iterdir()) == []
    html = page(client, f"/cases/{case}")
    assert "final — exported" in html and "Withdraw this reply" not in html
    r = post(client, f"/cases/{case}/replies/{sent.reply}/withdraw", {})
    assert "final" in r.get_data(as_text=True)
    assert len(Home(world.home_dir).load_state().cases[case].replies) == 1
    assert "Nothing to send: no replies and no team records waiting" in post(
        client, "/replies/export", {}).get_data(as_text=True)
    again = post(client, "/replies/export", {"everything": "1"})
    assert again.headers["Content-Disposition"].startswith("attachment;")
    again.close()


def test_an_empty_reply_is_not_saved(client: FlaskClient, world: World) -> None:
    r = post(client, f"/cases/{world.a.case}/replies/preview", {"text": "  \n "}, status=400)
    assert "the reply is empty" in r.get_data(as_text=True)


@pytest.fixture
def empty(tmp_path: Path) -> tuple[World, FlaskClient]:
    world = make_home(tmp_path, imported=False)
    home = Home(world.home_dir)
    app = create_app(Desk(home, home.unlock(PASSPHRASE), port=PORT), {"TESTING": True})
    c = app.test_client()
    assert c.get(f"/cases?token={app.extensions['desk'].token}", base_url=BASE).status_code == 303
    return world, c


def test_import(empty: tuple[World, FlaskClient], tmp_path: Path) -> None:
    world, client = empty

    def upload(data: bytes) -> str:
        r = post(client, "/import", {"bundle": (io.BytesIO(data), "pickup.bundle")},
                 status=200 if data[:4] != b"junk" else 400, token_from="/import",
                 content_type="multipart/form-data")
        return str(r.get_data(as_text=True))

    html = upload(world.bundle.read_bytes())
    assert "Imported 4 submissions: 3 new cases, 1 follow-up." in html
    assert html.count("/cases/") >= 3 and ARABIC_NAME in html
    # The follow-up is to a case new in the same bundle: three new cases, none updated.
    assert html.count("<li><a href=\"/cases/") == 3 and "Updated cases" not in html
    assert "Nothing new: all 4 submissions" in upload(world.bundle.read_bytes())
    junk = tmp_path / "junk.bundle"
    junk.write_bytes(b"junk" * 100)
    html = upload(junk.read_bytes())
    cli_said = CliRunner().invoke(cli, ["import", "--home", str(world.home_dir),
                                        "--passphrase-file", str(world.pass_file), str(junk)])
    sentence = cli_said.output.strip().removeprefix("Error: ")
    assert cli_said.exit_code == 4 and sentence
    from markupsafe import escape

    assert f"Not imported: {escape(sentence)}" in html


def test_import_sentence_is_the_clis(world: World) -> None:
    from reviewer.home import ImportResult

    out = CliRunner().invoke(cli, ["import", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), str(world.bundle)])
    assert out.output.strip() == import_sentence(ImportResult(already=4))


def test_no_plaintext_on_disk_after_a_session(empty: tuple[World, FlaskClient], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    world, client = empty
    post(client, "/import", {"bundle": (io.BytesIO(world.bundle.read_bytes()), "p.bundle")},
         token_from="/import", content_type="multipart/form-data")
    case = world.a.case
    page(client, f"/cases/{case}")
    post(client, "/cases/search", {"text": CANARY_ANSWER})
    sub = world.a.submissions[0].record.submission
    for n in (1, 2):
        post(client, f"/cases/{case}/files/{sub}/{n}", {"strip": "0"}).close()
    post(client, f"/cases/{case}/verify", {"identity": "i", "work": "w", "persecution": "p",
                                           "risk": "low", "recommendation": "refer",
                                           "notes": CANARY_NOTE})
    post(client, f"/cases/{case}/replies", {"text": CANARY_REPLY, "reply": ""})
    post(client, f"/cases/{case}/notes", {"text": CANARY_TEAM_NOTE}, status=303)
    post(client, f"/cases/{case}/state", {"state": "refer", "reason": CANARY_REASON},
         status=303)
    post(client, f"/cases/{case}/assign", {"who": "me"}, status=303)
    page(client, f"/cases/{case}")
    post(client, "/replies/export", {}).close()
    post(client, "/lock", {}, status=303)
    canaries = [CANARY_ANSWER, CANARY_FILE, CANARY_NOTE, CANARY_REPLY, CANARY_CONTENT.decode(),
                CANARY_TEAM_NOTE, CANARY_REASON, ARABIC_NAME, "Ayşe", "cartoonist"]
    for root in (world.home_dir, tmpdir):
        for p in root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                for canary in canaries:
                    assert canary.encode() not in data, (p, canary)
    assert list(tmpdir.iterdir()) == []


def test_the_cli_sees_what_the_desk_did_and_back(client: FlaskClient, world: World) -> None:
    reply = world.home_dir.parent / "r.txt"
    reply.write_text("From the terminal.")
    out = CliRunner().invoke(cli, ["reply", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), world.c.case, "--file", str(reply)])
    assert out.exit_code == 0, out.output
    assert "From the terminal." in page(client, f"/cases/{world.c.case}")


def test_app_factory_has_no_debug(app: Flask) -> None:
    assert not app.debug and app.request_class.__name__ == "InMemoryRequest"


def test_metadata_shown_and_a_copy_without_it(client: FlaskClient, world: World) -> None:
    html = page(client, f"/cases/{world.b.case}")
    assert "TEXT-CANARY" in html  # the PNG's text chunk, shown as text
    sub = world.b.submissions[0].record.submission
    r = post(client, f"/cases/{world.b.case}/files/{sub}/1", {"strip": "1"})
    assert "poem.stripped.png" in r.headers["Content-Disposition"]
    data = r.get_data()
    r.close()
    assert data.startswith(b"\x89PNG") and b"TEXT-CANARY" not in data
    r = post(client, f"/cases/{world.b.case}/files/{sub}/1", {"strip": "0"})
    assert b"TEXT-CANARY" in r.get_data()
    r.close()
    a_sub = world.a.submissions[0].record.submission
    r = post(client, f"/cases/{world.a.case}/files/{a_sub}/2", {"strip": "1"})
    assert "Not saved: only JPEG and PNG images" in r.get_data(as_text=True)
    r = post(client, f"/cases/{world.a.case}/files/{a_sub}/7", {"strip": "0"}, status=404)


def test_a_case_prints_without_the_controls(client: FlaskClient, world: World) -> None:
    html = page(client, f"/cases/{world.a.case}")
    assert re.search(r'<link rel="stylesheet" href="/static/print.css" media="print">', html)
    r = client.get("/static/print.css", base_url=BASE)
    css = r.get_data(as_text=True)
    r.close()
    assert re.search(r"\.bar, [^{]*form[^{]*\{ display: none !important; \}", css)


def test_the_preview_is_the_applicant_pages_rule(client: FlaskClient, world: World) -> None:
    # The applicant's case page shows a reply by crypto.replytext.reply_html
    # (tests/intake/test_reply_display.py renders SAMPLES through the real page); the
    # desk's preview of the same texts must be that same HTML, character for character.
    from crypto.replytext import reply_html
    from tests.crypto.test_replytext import SAMPLES
    from tests.intake.test_reply_display import SHOWN

    for text in SAMPLES:
        html = post(client, f"/cases/{world.a.case}/replies/preview",
                    {"text": text}).get_data(as_text=True)
        assert SHOWN.findall(html) == [reply_html(reply_document_text(text))]


def reply_document_text(text: str) -> str:
    """The text a reply document holds for what the reviewer typed (reviewer.records)."""
    from reviewer.records import reply_document

    return str(reply_document("0" * 32, text)["text"])
