"""The desk's member-city pages: refer a case, record consent, open a dossier.

The Secretariat's desk (the `client` fixture, on the home of conftest) refers to
a city whose coordinator has her own home and her own desk; what the desk does
is checked against what the commands read (reviewer.referrals, `dossier open`).
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from crypto import envelope
from crypto.keys import PublicKey
from reviewer.cli import cli
from reviewer.desk import Desk, create_app
from reviewer.home import Home
from reviewer.referrals import (
    ReferralView,
    case_content,
    dossier_files,
    open_dossier,
    referral_views,
)
from tests.reviewer.desk.conftest import (
    ARABIC_NAME,
    BASE,
    CANARY_ANSWER,
    CANARY_CONTENT,
    CANARY_FILE,
    CANARY_NOTE,
    PASSPHRASE,
    PORT,
    World,
    carry,
    csrf,
    init_home,
    make_team,
    page,
    post,
)
from tests.reviewer.desk.test_team import client_for

CANARY_COVER = "CANARY-COVER-NOTE-d35k"
CANARY_CONSENT = "CANARY-CONSENT-d35k"


class Coordinator:
    """A city coordinator: her own home (made with `reviewer init`) and her desk."""

    def __init__(self, tmp_path: Path, name: str = "coord") -> None:
        self.pass_file = tmp_path / f"pass-{name}"
        self.pass_file.write_text(PASSPHRASE + "\n")
        self.home_dir = tmp_path / name
        self.public = init_home(self.home_dir, self.pass_file)
        home = Home(self.home_dir)
        self.desk = Desk(home, home.unlock(PASSPHRASE), port=PORT)
        self.client = create_app(self.desk, {"TESTING": True}).test_client()
        r = self.client.get(f"/cases?token={self.desk.token}", base_url=BASE)
        assert r.status_code == 303

    def confirm(self, key: PublicKey, name: str) -> None:
        out = CliRunner().invoke(cli, ["keys", "add", "--home", str(self.home_dir),
                                       "--passphrase-file", str(self.pass_file),
                                       key.to_text(), "--name", name, "--yes"])
        assert out.exit_code == 0, out.output

    def upload(self, data: bytes, *, status: int = 200) -> str:
        r = post(self.client, "/dossiers/open", {"dossier": (io.BytesIO(data), "d.refuge")},
                 status=status, token_from="/dossiers/open",
                 content_type="multipart/form-data")
        return str(r.get_data(as_text=True))


def add_city(world: World, name: str, key: PublicKey, country: str = "NO") -> None:
    out = CliRunner().invoke(cli, ["cities", "add", "--home", str(world.home_dir),
                                   "--passphrase-file", str(world.pass_file), name,
                                   key.to_text(), "--country", country, "--yes"])
    assert out.exit_code == 0, out.output


@pytest.fixture
def coordinator(tmp_path: Path, world: World) -> Coordinator:
    c = Coordinator(tmp_path)
    add_city(world, "Alesund", PublicKey.from_text(
        Coordinator(tmp_path, "other-city").public.to_text()), "NO")
    add_city(world, "Bergen", c.public, "NO")
    c.confirm(world.public, "Secretariat Ana")
    return c


def refer_form(html: str) -> str:
    found = re.search(r'<form[^>]*class="refer-form".*?</form>', html, re.S)
    assert found, "no refer form on the case page"
    return found.group(0)


def consent(client: FlaskClient, case: str, how: str = "By phone, 2 December.") -> None:
    r = post(client, f"/cases/{case}/consent", {"how": how}, status=303)
    assert r.headers["Location"] == f"/cases/{case}?done=consent"


def verify(client: FlaskClient, case: str) -> None:
    post(client, f"/cases/{case}/verify", {"identity": "passport seen", "work": "w",
                                           "persecution": "p", "risk": "high",
                                           "recommendation": "refer", "notes": CANARY_NOTE})


def refer(client: FlaskClient, case: str, data: Mapping[str, object], *, status: int = 200):
    """The refer form sent as the case page made it (with its register stamp)."""
    found = re.search(r'name="register" value="([0-9a-f]+)"', page(client, f"/cases/{case}"))
    stamp = {"register": found.group(1)} if found else {}
    return post(client, f"/cases/{case}/refer", {**stamp, **data}, status=status)


def referrals(desk: Desk, case: str) -> list[ReferralView]:
    return referral_views(desk.home, desk.state(), desk.keys, case)


def test_the_form_chooses_nothing_and_marks_the_contact(client: FlaskClient, world: World,
                                                        coordinator: Coordinator) -> None:
    html = page(client, f"/cases/{world.a.case}")
    form = refer_form(html)
    assert 'method="post"' in form and 'autocomplete="off"' in form and 'name="csrf"' in form
    assert " checked" not in form  # nothing included by default
    # Every answer of the application is offered by its name; the contact is flagged.
    home = Home(world.home_dir)
    content = case_content(home, home.load_state(), home.unlock(PASSPHRASE), world.a.case)
    assert "contact" in content.answers and "threat" in content.answers
    for name in content.answers:
        assert f'name="answer" value="{name}"' in form
    contact = re.search(r'value="contact"[^>]*aria-describedby="([^"]+)"', form)
    assert contact, "the contact answer is not flagged"
    assert re.search(rf'id="{contact.group(1)}">Most sensitive: the applicant\'s contact',
                     form)
    # The files by the numbers the case page shows, the same on its save buttons.
    assert "File 1: <span dir=\"auto\" class=\"file-name\">" + CANARY_FILE in form
    assert 'name="file" value="2"' in form and "Save a copy of file 2" in html
    # Cities by their position in the register, never by name in a value.
    assert '<option value="1" dir="auto" >Bergen (NO)</option>' in form
    assert 'value="Bergen"' not in form
    assert 'name="note"' in form and 'name="verification" value="1"' in form
    assert "<script" not in html.replace("&lt;script", "") and " style=" not in html
    # The applicant's answer to the consent question, and the way to record consent.
    assert "The applicant answered <strong>ask me first</strong>" in html
    assert f'action="/cases/{world.a.case}/consent"' in html


def test_refused_without_consent_until_recorded(client: FlaskClient, world: World,
                                                desk: Desk, coordinator: Coordinator) -> None:
    case = world.a.case
    choice = {"city": "1", "answer": ["work", "contact"], "file": ["2"], "note": "for you"}
    r = refer(client, case, choice, status=409)
    html = r.get_data(as_text=True)
    assert "No dossier written: the applicant chose &#34;ask me first&#34;" in html
    assert "attachment" not in r.headers.get("Content-Disposition", "")
    assert referrals(desk, case) == []
    # The choices are kept for the next try.
    form = refer_form(html)
    assert re.search(r'value="contact"\s+checked', form) and ">for you</textarea>" in form
    assert re.search(r'value="work"\s+checked', form) and 'value="2"\n        checked' in form
    # A blank consent is refused with a sentence; nothing recorded.
    r = post(client, f"/cases/{case}/consent", {"how": "  "}, status=400)
    assert "Say how the applicant agreed; nothing was recorded." in r.get_data(as_text=True)
    assert case_content(desk.home, desk.state(), desk.keys, case).consents == ()
    consent(client, case, CANARY_CONSENT)
    html = page(client, f"/cases/{case}?done=consent")
    assert "Consent recorded: a dossier can now be written for this case." in html
    assert f'<li dir="auto" class="value">{CANARY_CONSENT}</li>' in html
    r = refer(client, case, choice)
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert len(referrals(desk, case)) == 1


def test_the_dossier_is_a_download_with_only_what_was_chosen(
        client: FlaskClient, world: World, desk: Desk, coordinator: Coordinator,
        tmp_path: Path) -> None:
    case = world.a.case
    consent(client, case)
    verify(client, case)
    r = refer(client, case, {"city": "1", "answer": ["threat", "contact"], "file": "2",
                             "note": CANARY_COVER + "\nسطر", "verification": "1"})
    done = referrals(desk, case)
    assert len(done) == 1
    name = f"dossier-{done[0].dossier[:12]}.refuge"
    assert r.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert r.headers["Content-Type"] == "application/octet-stream"
    data = r.get_data()
    assert data.startswith(envelope.MAGIC_PREFIX)  # sealed, as crypto/dossier.py writes it
    assert CANARY_ANSWER.encode() not in data and CANARY_CONTENT not in data
    # Recorded on the case: the city, what went, by whom; shown on its page.
    ref = done[0]
    assert (ref.city, ref.answers, ref.files, ref.note, ref.verification) == (
        "Bergen", ("threat", "contact"), (2,), True, True)
    html = page(client, f"/cases/{case}")
    assert f"dossier <span class=\"case-id\">{ref.dossier[:12]}</span> to" in html
    # By whom: the name this home knows the referring key by, "you" for its own.
    assert re.search(rf'{ref.dossier[:12]}</span> to <span dir="auto">Bergen</span> \(NO\),'
                     r' by <strong dir="auto">you</strong>\.', html)
    assert "Answers: threat, contact; files: 2; note: yes; verification summary: yes." in html
    # The coordinator's command opens exactly what was chosen.
    path = tmp_path / name
    path.write_bytes(data)
    out = CliRunner().invoke(cli, ["dossier", "open", "--home", str(coordinator.home_dir),
                                   "--passphrase-file", str(coordinator.pass_file),
                                   str(path), "--out", str(tmp_path / "got")])
    assert out.exit_code == 0, out.output
    assert "Signed by Secretariat Ana" in out.output and CANARY_ANSWER in out.output
    assert CANARY_COVER in out.output and "risk high, recommendation refer" in out.output
    assert "signal +90 555" in out.output  # the contact, chosen
    assert "Columns on press freedom" not in out.output  # `work`, not chosen
    assert [p.read_bytes() for p in (tmp_path / "got").iterdir()] == [CANARY_CONTENT]
    assert CANARY_FILE not in out.output  # file 1, not chosen


@pytest.mark.parametrize(("data", "sentence"), [
    ({"answer": "work"}, "No dossier written: choose the city to refer the case to."),
    ({"city": "7"}, "No dossier written: choose the city to refer the case to."),
    ({"city": "x"}, "No dossier written: choose the city to refer the case to."),
    ({"city": "1", "file": "9"}, "has no file number 9; it has 2"),
    ({"city": "1", "file": "-1"}, "No dossier written: a file is chosen by its number."),
    ({"city": "1", "answer": "nonsense"}, "the application has no answer named"),
    ({"city": "1", "verification": "1"}, "has no verification record you can read"),
])
def test_bad_choices_are_refused_with_a_sentence(client: FlaskClient, world: World,
                                                 desk: Desk, coordinator: Coordinator,
                                                 data: dict[str, object],
                                                 sentence: str) -> None:
    consent(client, world.a.case)
    r = refer(client, world.a.case, data, status=400)
    assert sentence in r.get_data(as_text=True).replace("&#39;", "'")
    assert "Content-Disposition" not in r.headers
    assert referrals(desk, world.a.case) == []


def test_no_cities_no_form(client: FlaskClient, world: World) -> None:
    html = page(client, f"/cases/{world.a.case}")
    assert "No member cities in the register yet" in html and "refer-form" not in html
    r = refer(client, world.a.case, {"city": "0"}, status=400)
    assert "choose the city" in r.get_data(as_text=True)


def dossier_for(client: FlaskClient, world: World, **extra: object) -> bytes:
    consent(client, world.a.case)
    r = refer(client, world.a.case, {"city": "1", "answer": ["threat"], "file": ["1", "2"],
                                     "note": CANARY_COVER, **extra})
    return bytes(r.get_data())


def test_the_coordinator_opens_it_at_her_desk(client: FlaskClient, world: World,
                                              coordinator: Coordinator) -> None:
    data = dossier_for(client, world)
    html = coordinator.upload(data)
    assert re.search(r'Signed by <strong dir="auto">Secretariat Ana</strong> \(<span'
                     rf' class="fingerprint">{world.public.fingerprint}</span>\)', html)
    # Inert, in its own direction: the applicant's answer holds a script tag.
    assert f'<dd dir="auto" class="value">{CANARY_ANSWER}\n&lt;script&gt;' in html
    assert "<script>" not in html and " style=" not in html
    assert f'<div dir="auto" class="value">{CANARY_COVER}</div>' in html
    assert "Not included." in html  # no verification summary went
    assert re.search(r"<title>Dossier · Reviewer's desk</title>", html)
    for form in re.findall(r"<form[^>]*>", html):
        assert 'method="post"' in form and 'autocomplete="off"' in form
    handle = re.search(r'action="/dossiers/([0-9a-f]{32})/files/2"', html)
    assert handle
    r = post(coordinator.client, f"/dossiers/{handle.group(1)}/files/2", {},
             token_from="/dossiers/open")
    assert r.get_data() == CANARY_CONTENT
    assert r.headers["Content-Disposition"] == "attachment; filename=notes.txt"
    r = post(coordinator.client, f"/dossiers/{handle.group(1)}/files/1", {},
             token_from="/dossiers/open")
    assert r.get_data().startswith(b"\xff\xd8")
    assert r.headers["Content-Disposition"] == f"attachment; filename={CANARY_FILE}.jpg"
    post(coordinator.client, f"/dossiers/{handle.group(1)}/files/3", {},
         token_from="/dossiers/open", status=404)
    # Locking forgets the dossier: its files are no longer there.
    post(coordinator.client, "/lock", {}, status=303, token_from="/dossiers/open")
    assert coordinator.desk.dossiers == {}
    post(coordinator.client, "/unlock", {"passphrase": PASSPHRASE}, status=303,
         token_from="/dossiers/open")
    r = post(coordinator.client, f"/dossiers/{handle.group(1)}/files/2", {},
             token_from="/dossiers/open", status=404)
    assert "open it again" in r.get_data(as_text=True)


def test_refusals_when_opening(client: FlaskClient, world: World, coordinator: Coordinator,
                               tmp_path: Path) -> None:
    data = dossier_for(client, world)
    # Signed by a key she has not confirmed: one line, with the signer's fingerprint.
    stranger = Coordinator(tmp_path, "stranger")
    add_city(world, "Tromsø", stranger.public)
    html = stranger.upload(dossier_for(client, world, city="2"), status=400)
    assert ("Not opened: this dossier is signed by a key you have not confirmed (fingerprint"
            f" {world.public.fingerprint}); nothing was opened.") in html
    assert CANARY_COVER not in html
    # Not sealed to her key.
    third = Coordinator(tmp_path, "third")
    third.confirm(world.public, "Ana")
    assert "Not opened: this dossier is not addressed to your key." in third.upload(
        data, status=400)
    # One byte changed.
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 1
    html = coordinator.upload(bytes(bad), status=400)
    assert "Not opened:" in html and CANARY_COVER not in html
    assert "Not opened:" in coordinator.upload(b"junk" * 10, status=400)
    # No file chosen.
    r = post(coordinator.client, "/dossiers/open", {}, status=400, token_from="/dossiers/open")
    assert "Choose a dossier file first." in r.get_data(as_text=True)
    assert coordinator.desk.dossiers == {}


def test_a_colleague_reopens_it(client: FlaskClient, world: World, desk: Desk,
                                coordinator: Coordinator) -> None:
    """The Secretariat's own desk opens what it sent (signed by "you")."""
    html = page(client, "/dossiers/open")
    assert 'enctype="multipart/form-data"' in html and 'autocomplete="off"' in html
    data = dossier_for(client, world)
    r = post(client, "/dossiers/open", {"dossier": (io.BytesIO(data), "d.refuge")},
             token_from="/dossiers/open", content_type="multipart/form-data")
    assert 'Signed by <strong dir="auto">you</strong>' in r.get_data(as_text=True)


def test_new_forms_need_the_cookie_and_the_csrf_token(client: FlaskClient, anonymous: FlaskClient,
                                                      world: World, desk: Desk,
                                                      coordinator: Coordinator) -> None:
    case = world.a.case
    token = csrf(page(client, "/cases"))
    forms: dict[str, dict[str, object]] = {f"/cases/{case}/consent": {"how": "by phone"},
             f"/cases/{case}/refer": {"city": "1", "answer": "threat"},
             "/dossiers/open": {"dossier": (io.BytesIO(b"x"), "d.refuge")},
             f"/dossiers/{'0' * 32}/files/1": {},
             f"/dossiers/{'0' * 32}/files/1/stripped": {}}
    for path, data in forms.items():
        fresh = {k: (io.BytesIO(b"x"), "d") if isinstance(v, tuple) else v
                 for k, v in data.items()}
        assert anonymous.post(path, data={"csrf": token, **fresh},
                              base_url=BASE).status_code == 403, path
        for bad in ({}, {"csrf": "0" * 64}):
            fresh = {k: (io.BytesIO(b"x"), "d") if isinstance(v, tuple) else v
                     for k, v in data.items()}
            r = client.post(path, data={**fresh, **bad}, base_url=BASE)
            assert r.status_code == 400, (path, bad)
            assert "did not come from the desk" in r.get_data(as_text=True)
    state, keys = desk.home.load_state(), desk.keys
    assert case_content(desk.home, state, keys, case).consents == ()
    assert referral_views(desk.home, state, keys, case) == []
    # A locked desk acts on none of them.
    desk.lock()
    r = client.post(f"/cases/{case}/consent", data={"csrf": token, "how": "x"}, base_url=BASE)
    assert "nothing was saved" in r.get_data(as_text=True)
    assert case_content(desk.home, desk.home.load_state(), keys, case).consents == ()


def test_no_plaintext_on_disk(client: FlaskClient, world: World, desk: Desk,
                              coordinator: Coordinator, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    case = world.a.case
    consent(client, case, CANARY_CONSENT)
    verify(client, case)
    r = refer(client, case, {"city": "1", "answer": ["threat", "contact"], "file": ["1", "2"],
                             "note": CANARY_COVER, "verification": "1"})
    data = r.get_data()
    for path in (f"/cases/{case}", "/dossiers/open"):
        page(client, path)
    html = coordinator.upload(data)
    handle = re.search(r'/dossiers/([0-9a-f]{32})/files/1', html)
    assert handle
    for n in (1, 2):
        post(coordinator.client, f"/dossiers/{handle.group(1)}/files/{n}", {},
             token_from="/dossiers/open").close()
    post(coordinator.client, f"/dossiers/{handle.group(1)}/files/1/stripped", {},
         token_from="/dossiers/open").close()  # the JPEG, without its metadata
    page(client, f"/cases/{case}")
    post(client, "/lock", {}, status=303)
    post(coordinator.client, "/lock", {}, status=303, token_from="/dossiers/open")
    canaries = [CANARY_ANSWER, CANARY_FILE, CANARY_CONTENT.decode(), CANARY_NOTE,
                CANARY_COVER, CANARY_CONSENT, ARABIC_NAME, "Ayşe", "signal +90 555"]
    for root in (world.home_dir, coordinator.home_dir, tmpdir):
        for p in root.rglob("*"):
            if p.is_file():
                content = p.read_bytes()
                for canary in canaries:
                    assert canary.encode() not in content, (p, canary)
    assert list(tmpdir.iterdir()) == []


def test_files_are_numbered_over_the_whole_case(client: FlaskClient, world: World,
                                                desk: Desk, coordinator: Coordinator,
                                                tmp_path: Path) -> None:
    """A follow-up's file is file 2 of its case on the page, in the form and in `refer`."""
    from bench.server_sim import APPLICATION, Applicant, submit, write_bundle

    d = Applicant()
    submit(d, [world.public], answers={**APPLICATION, "share": "yes"},
           files=[("a.txt", "text/plain", b"first")])
    submit(d, [world.public], kind="followup", day="2026-11-22",
           files=[("a.txt", "text/plain", b"second")])  # names repeat; numbers do not
    bundle = write_bundle(tmp_path / "d.bundle", [(d, d.submissions)], [world.public])
    out = CliRunner().invoke(cli, ["import", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), str(bundle)])
    assert out.exit_code == 0, out.output
    html = page(client, f"/cases/{d.case}")
    assert "Save a copy of file 1" in html and "Save a copy of file 2" in html
    assert "The applicant answered <strong>yes</strong>" in html
    assert 'name="file" value="2"' in refer_form(html)
    r = refer(client, d.case, {"city": "1", "file": "2"})  # consent: the applicant said yes
    home = coordinator.desk.home
    verified = open_dossier(home, coordinator.desk.keys, io.BytesIO(r.get_data()))
    files = list(dossier_files(coordinator.desk.keys, io.BytesIO(r.get_data()), verified))
    assert [data for _entry, data in files] == [b"second"]


def test_a_register_changed_since_the_page_is_not_guessed(client: FlaskClient, world: World,
                                                          desk: Desk,
                                                          coordinator: Coordinator) -> None:
    """Position 1 was Bergen when the page was made; a city removed since shifts it."""
    consent(client, world.a.case)
    stamp = re.search(r'name="register" value="([0-9a-f]+)"',
                      page(client, f"/cases/{world.a.case}"))
    assert stamp
    out = CliRunner().invoke(cli, ["cities", "remove", "--home", str(world.home_dir),
                                   "--passphrase-file", str(world.pass_file), "Alesund"])
    assert out.exit_code == 0, out.output
    r = post(client, f"/cases/{world.a.case}/refer",
             {"register": stamp.group(1), "city": "0"}, status=409)
    assert "the register of cities changed since this page was loaded" in r.get_data(
        as_text=True)
    assert referrals(desk, world.a.case) == []


def test_the_citys_answer_shows_on_the_case(client: FlaskClient, world: World,
                                            coordinator: Coordinator, tmp_path: Path) -> None:
    """`dossier answer` at the city, `import` at the Secretariat: the case page shows it."""
    path = tmp_path / "dossier.refuge"
    path.write_bytes(dossier_for(client, world))
    note = tmp_path / "answer.txt"
    note.write_text("We can host her from March. <b>نعم</b>")
    answer = tmp_path / "answer.refuge"
    out = CliRunner().invoke(cli, ["dossier", "answer", "--home", str(coordinator.home_dir),
                                   "--passphrase-file", str(coordinator.pass_file), str(path),
                                   "--note-file", str(note), "--out", str(answer)])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["import", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), str(answer)])
    assert out.exit_code == 0, out.output
    html = page(client, f"/cases/{world.a.case}")
    assert ('<div dir="auto" class="value">We can host her from March. &lt;b&gt;نعم&lt;/b&gt;'
            '</div>') in html



def test_a_dossiers_files_are_shown_as_a_cases_are(client: FlaskClient, world: World,
                                                   coordinator: Coordinator) -> None:
    """Each file: the type seen in it against the claimed one, the metadata found in it,
    and a copy without that metadata (reviewer.casefile.file_view, saving.without_metadata)."""
    consent(client, world.b.case)
    r = refer(client, world.b.case, {"city": "1", "file": ["1"]})  # poem.png, "Author" text
    html = coordinator.upload(r.get_data())
    assert re.search(r'File 1: <span class="file-name" dir="auto">poem.png</span> · [0-9]+ bytes'
                     r' ·\s+content: image/png · claimed: <span dir="auto">image/png</span>', html)
    assert re.search(r'<dl class="metadata" aria-label="Metadata found in file 1">\s*'
                     r'<dt>[^<]*Author[^<]*</dt><dd dir="auto">TEXT-CANARY</dd>', html)
    handle = re.search(r'action="/dossiers/([0-9a-f]{32})/files/1/stripped"', html)
    assert handle and "Save file 1 without metadata" in html
    r = post(coordinator.client, f"/dossiers/{handle.group(1)}/files/1/stripped", {},
             token_from="/dossiers/open")
    assert r.headers["Content-Disposition"] == "attachment; filename=poem.stripped.png"
    assert r.headers["Content-Type"] == "application/octet-stream"
    data = r.get_data()
    assert data.startswith(b"\x89PNG") and b"TEXT-CANARY" not in data
    r = post(coordinator.client, f"/dossiers/{handle.group(1)}/files/1", {},
             token_from="/dossiers/open")
    assert b"TEXT-CANARY" in r.get_data()
    # A text file: no metadata, and no copy without it.
    html = coordinator.upload(dossier_for(client, world))
    assert "content: text/plain" in html and "No metadata found." in html
    assert "Save file 2 without metadata" not in html
    handle = re.search(r'action="/dossiers/([0-9a-f]{32})/files/2"', html)
    assert handle
    r = post(coordinator.client, f"/dossiers/{handle.group(1)}/files/2/stripped", {},
             token_from="/dossiers/open", status=400)
    assert "Not saved: only JPEG and PNG images" in r.get_data(as_text=True)
    post(coordinator.client, f"/dossiers/{handle.group(1)}/files/3/stripped", {},
         token_from="/dossiers/open", status=404)
    r = post(coordinator.client, f"/dossiers/{'0' * 32}/files/1/stripped", {},
             token_from="/dossiers/open", status=404)
    assert "open it again" in r.get_data(as_text=True)


def test_a_colleagues_referral_names_her(tmp_path: Path) -> None:
    """Referrals made: the colleague's name as this home knows her (as the team history)."""
    ana, bea = make_team(tmp_path)
    add_city(ana, "Bergen", Coordinator(tmp_path).public, "NO")
    a = client_for(ana)
    consent(a, ana.a.case)
    dossier = bytes(refer(a, ana.a.case, {"city": "0", "file": ["2"]}).get_data())
    assert dossier.startswith(envelope.MAGIC_PREFIX)
    carry(ana, bea)
    html = page(client_for(bea), f"/cases/{bea.a.case}")
    assert re.search(r'to <span dir="auto">Bergen</span> \(NO\), by <strong dir="auto">Ana'
                     r"</strong>\.", html), html[html.find("Referrals made"):][:600]
