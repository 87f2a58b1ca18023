"""Two reviewers' desks in a real Chromium with JavaScript off: the team loop.

Ana's home (A) and Bea's (B) hold the same cases and have confirmed each other's
keys. At A's desk, Ana writes a note (a blank one is refused with a sentence), takes
the case, records a verification, writes a reply and sets the case to proceed; at
B's desk, not having seen any of that, Bea sets it to decline. A's outbox goes to B
through the desks themselves (A's export downloads the bundle, B's import uploads
it, as a stick would carry it), and B's to A. Each desk then shows the other's note,
assignment, verification and the reply sent, and names the conflict, who set what;
Ana records a decision and the conflict is gone, at both desks after one more round.
Every new page is scanned with axe-core in a JavaScript-on Chromium holding the same
cookies; the private window's profile, both homes and the temporary directory are
searched afterwards for the note's and the reasons' canaries. A second test runs the
loop with the intake server as the relay (the operator's `import-replies` and
`export`, the desks' own Export and Import pages).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from reviewer.cli import cli
from reviewer.desk import Desk
from reviewer.home import Home
from tests.harness import browser as harness
from tests.reviewer.desk.conftest import (
    CANARY_REASON,
    CANARY_TEAM_NOTE,
    PASSPHRASE,
    make_team,
)
from tests.system.test_desk_browser import (
    button,
    chromium,
    desk_browsers,
    desk_served,
    wait_for_file,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_two_reviewers_one_case_history(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    ana, bea = make_team(tmp_path)
    case = ana.a.case
    desk_a = Desk(Home(ana.home_dir), None)
    desk_b = Desk(Home(bea.home_dir), None)
    with desk_served(desk_a) as base_a, desk_served(desk_b) as base_b, \
            desk_browsers(tmp_path) as web:
        b, profile, downloads, scanned = web.b, web.profile, web.downloads, web.scanned
        axe, click, open_desk = web.axe, web.click, web.open_desk

        def team_summary() -> str:
            return b.find_element(By.CSS_SELECTOR, "dl.team-summary").text

        def change_state(state: str, reason: str) -> None:
            Select(b.find_element(By.ID, "state-value")).select_by_value(state)
            b.find_element(By.ID, "state-reason").send_keys(reason)
            click("Change the state")
            assert "State change recorded" in b.page_source

        def carry(from_base: str, to_base: str) -> None:
            """One desk's outbox to the other: downloaded, then uploaded (a stick)."""
            b.get(f"{from_base}/cases")
            before = set(downloads.iterdir())
            button(b, EXPORT).click()
            bundle = wait_for_file(downloads, ".bundle", before)
            b.get(f"{to_base}/import")
            b.find_element(By.ID, "bundle").send_keys(str(bundle))
            click("Import")
            said = b.find_element(By.TAG_NAME, "main").text
            assert "A colleague's outbox" in said and "Team records:" in said, said
            assert "Team records: 0 applied" not in said, said
            assert "Refused" not in said and "Kept aside" not in said, said
            axe("outbox imported")
            bundle.unlink()

        # --- Ana, at A's desk ---------------------------------------------------------
        open_desk(base_a, desk_a)
        b.get(f"{base_a}/cases/{case}")
        assert "unverified" in team_summary() and "nobody" in team_summary()
        axe("case with no team records")
        b.find_element(By.ID, "note-text").send_keys("   ")
        click("Add the note")
        assert "Nothing was saved: the note is empty." in b.page_source
        axe("blank note refused")
        b.find_element(By.ID, "note-text").clear()
        b.find_element(By.ID, "note-text").send_keys(CANARY_TEAM_NOTE + "\nSecond line.")
        click("Add the note")
        assert "Note added" in b.page_source
        assert b.current_url == f"{base_a}/cases/{case}?done=note"
        thread = b.find_element(By.CSS_SELECTOR, "ol.thread li .value")
        assert thread.text == CANARY_TEAM_NOTE + "\nSecond line."
        assert thread.get_attribute("dir") == "auto"
        click("Take this case")
        assert "Assigned to\nyou" in team_summary()
        assert not b.find_elements(By.XPATH, "//button[normalize-space()='Take this case']")
        # A verification (it sets the state too) and a reply, as any day at the desk.
        b.find_element(By.LINK_TEXT, "Record a verification").click()
        b.find_element(By.ID, "v-identity").send_keys("passport seen on video call")
        b.find_element(By.ID, "v-work").send_keys("articles checked")
        b.find_element(By.ID, "v-persecution").send_keys("court records")
        Select(b.find_element(By.ID, "v-risk")).select_by_value("high")
        Select(b.find_element(By.ID, "v-recommendation")).select_by_value("more-info")
        click("Save the verification record")
        assert "State\nmore-info" in team_summary()
        b.find_element(By.LINK_TEXT, "Write a reply").click()
        b.find_element(By.ID, "reply-text").send_keys(REPLY)
        click("Preview")
        click("Save to the outbox")
        change_state("proceed", CANARY_REASON + " A")
        assert "State\nproceed" in team_summary()
        axe("case with a note, taken, verified, proceed")
        assert CANARY_TEAM_NOTE not in b.title and CANARY_TEAM_NOTE not in b.current_url

        # --- Bea, at B's desk, not having seen any of it --------------------------------
        open_desk(base_b, desk_b)
        b.get(f"{base_b}/cases/{case}")
        assert "unverified" in team_summary()
        change_state("decline", CANARY_REASON + " B")

        # --- the outboxes cross --------------------------------------------------------
        carry(base_a, base_b)
        b.get(f"{base_b}/cases/{case}")
        assert CANARY_TEAM_NOTE in b.find_element(By.CSS_SELECTOR, "ol.thread").text
        assert "Ana" in b.find_element(By.CSS_SELECTOR, "ol.thread").text
        assert "Assigned to\nAna" in team_summary()
        history = b.find_element(By.CSS_SELECTOR, "ol.history").text
        assert "Ana recorded a verification: risk high, recommends more-info" in history
        assert "Ana sent a reply to the applicant" in history and REPLY in history
        conflict = b.find_element(By.CSS_SELECTOR, ".conflict").text
        assert "Ana set proceed" in conflict and "you set decline" in conflict.lower()
        assert "neither had seen the other; record a decision to resolve" in conflict
        axe("case in conflict at B")
        b.get(f"{base_b}/cases?conflict=1")
        rows = b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")
        assert len(rows) == 1 and case[:12] in rows[0].text and "Ana" in rows[0].text
        axe("cases in conflict")
        b.get(f"{base_b}/cases")
        Select(b.find_element(By.ID, "f-assignee")).select_by_visible_text("Ana")
        click("Filter")
        rows = b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")
        assert len(rows) == 1 and case[:12] in rows[0].text
        assert "Ana" not in b.current_url

        carry(base_b, base_a)
        b.get(f"{base_a}/cases/{case}")
        conflict = b.find_element(By.CSS_SELECTOR, ".conflict").text
        assert "Bea set decline" in conflict and "you set proceed" in conflict.lower()
        change_state("refer", "We agreed on the phone: PEN can help.")
        assert not b.find_elements(By.CSS_SELECTOR, ".conflict")
        assert "State\nrefer" in team_summary()
        b.get(f"{base_a}/cases?mine=1")
        rows = b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")
        assert len(rows) == 1 and case[:12] in rows[0].text
        axe("mine")

        carry(base_a, base_b)
        b.get(f"{base_b}/cases/{case}")
        assert not b.find_elements(By.CSS_SELECTOR, ".conflict")
        assert "State\nrefer" in team_summary()
        history = b.find_element(By.CSS_SELECTOR, "ol.history").text
        for said in (CANARY_TEAM_NOTE, CANARY_REASON + " A", CANARY_REASON + " B",
                     "PEN can help."):
            assert said in history
        assert "by Ana’s clock" in history and "by your clock" in history
        axe("history at B")

    assert len(scanned) >= 7
    canaries = [CANARY_TEAM_NOTE, CANARY_REASON]
    for root in (profile, ana.home_dir, bea.home_dir, tmpdir):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                for canary in canaries:
                    for form in {canary.encode(), canary.encode("utf-16-le")}:
                        assert form not in data, (path, canary)


REPLY = "We have your application; we will call you on Thursday."
#: The Cases page's button that downloads the outbox.
EXPORT = "Export the outbox"


def test_the_loop_through_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same loop with the intake server as the relay: each desk's outbox goes to the
    operator (`import-replies`), the operator's next `export` to both desks' Import
    page. The server's data directory never holds the note."""
    from crypto.params import TEST_LIMITS
    from intake import create_app, db
    from tests.intake.transfer_helpers import new_applicant
    from tests.reviewer.desk.conftest import init_home

    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    data = tmp_path / "data"
    server = create_app({"TESTING": True, "DATA_DIR": data, "ARGON2_LIMITS": TEST_LIMITS})
    with server.app_context():
        db.create_schema(db.engine())
    operator = server.test_cli_runner()

    def flask(*args: str) -> str:
        result = operator.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    homes = {name: tmp_path / f"home-{name}" for name in ("Ana", "Bea")}
    keys = {name: init_home(home, pass_file) for name, home in homes.items()}
    for name, key in keys.items():
        flask("keys", "add", key.to_text(), "--name", name)
    runner = CliRunner()
    for name, home in homes.items():
        other = "Bea" if name == "Ana" else "Ana"
        out = runner.invoke(cli, ["keys", "add", "--home", str(home), "--passphrase-file",
                                  str(pass_file), keys[other].to_text(), "--name", other,
                                  "--yes"])
        assert out.exit_code == 0, out.output
    case, _codename = new_applicant(server.test_client(), name="Alice")
    desks = {name: Desk(Home(home), None) for name, home in homes.items()}
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    round_ = 0

    with desk_served(desks["Ana"]) as base_a, desk_served(desks["Bea"]) as base_b, \
            chromium(tmp_path / "profile", javascript=False, downloads=downloads,
                     private=True) as b:
        bases = {"Ana": base_a, "Bea": base_b}

        def click(text: str) -> None:
            harness.submit(b, button(b, text))

        def pick_up() -> None:
            """The operator's export, imported at both desks."""
            nonlocal round_
            round_ += 1
            pickup = tmp_path / f"pickup-{round_}.bundle"
            flask("export", str(pickup))
            for base in bases.values():
                b.get(f"{base}/import")
                b.find_element(By.ID, "bundle").send_keys(str(pickup))
                click("Import")
                said = b.find_element(By.TAG_NAME, "main").text
                assert "Not imported" not in said and "Refused" not in said, said

        def send(name: str) -> None:
            """A desk's outbox, downloaded and given to the operator."""
            b.get(f"{bases[name]}/cases")
            before = set(downloads.iterdir())
            button(b, EXPORT).click()
            outbox = wait_for_file(downloads, ".bundle", before)
            flask("import-replies", str(outbox))
            outbox.unlink()

        for name, base in bases.items():
            b.get(f"{base}/cases?token={desks[name].token}")
            b.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
            click("Unlock")
        pick_up()  # the application, at both desks
        for name in bases:  # the signing key announcements
            send(name)
        pick_up()

        # Ana notes, takes the case and replies; her outbox goes through the server.
        b.get(f"{base_a}/cases/{case}")
        b.find_element(By.ID, "note-text").send_keys(CANARY_TEAM_NOTE)
        click("Add the note")
        click("Take this case")
        b.find_element(By.LINK_TEXT, "Write a reply").click()
        b.find_element(By.ID, "reply-text").send_keys(REPLY)
        click("Preview")
        click("Save to the outbox")
        send("Ana")
        pick_up()
        b.get(f"{base_b}/cases/{case}")
        assert "Assigned to\nAna" in b.find_element(By.CSS_SELECTOR, "dl.team-summary").text
        history = b.find_element(By.CSS_SELECTOR, "ol.history").text
        assert "Ana wrote a note" in history and CANARY_TEAM_NOTE in history
        assert "Ana sent a reply to the applicant" in history and REPLY in history

        # Bea decides; Ana sees it after the next round.
        Select(b.find_element(By.ID, "state-value")).select_by_value("refer")
        b.find_element(By.ID, "state-reason").send_keys(CANARY_REASON)
        click("Change the state")
        send("Bea")
        pick_up()
        b.get(f"{base_a}/cases/{case}")
        assert "State\nrefer" in b.find_element(By.CSS_SELECTOR, "dl.team-summary").text
        assert "Bea set the state to refer" in b.find_element(By.CSS_SELECTOR,
                                                              "ol.history").text

    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for canary in (CANARY_TEAM_NOTE, CANARY_REASON, REPLY):
                assert canary.encode() not in content, (path, canary)
