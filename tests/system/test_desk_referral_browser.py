"""A referral from desk to desk in a real Chromium with JavaScript off.

At the Secretariat's desk a reviewer opens a case whose applicant chose "ask me
first", ticks two answers (the contact among them), one file and a cover note, and
is refused with a sentence; she records how consent was given and writes the dossier,
which the browser downloads. At the city coordinator's desk (her own home, the
Secretariat's key confirmed) the dossier is uploaded on "Open a dossier": the signer
is named, the content shown, and a file saved. Every new page is scanned with
axe-core in a JavaScript-on Chromium holding the same cookies; the private window's
profile, both homes and the temporary directory are searched afterwards for the
canaries (the files saved on purpose are in the downloads folder only).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from reviewer.cli import cli
from reviewer.desk import Desk
from reviewer.home import Home
from tests.reviewer.desk.conftest import (
    CANARY_ANSWER,
    CANARY_CONTENT,
    PASSPHRASE,
    init_home,
    make_home,
)
from tests.system.test_desk_browser import (
    button,
    desk_browsers,
    desk_served,
    wait_for_file,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CANARY_COVER = "CANARY-COVER-NOTE-b7w2"
CANARY_CONSENT = "CANARY-CONSENT-b7w2"


def test_refer_at_the_secretariat_open_at_the_city(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    world = make_home(tmp_path)
    case = world.a.case
    coord_pass = tmp_path / "pass-coord"
    coord_pass.write_text(PASSPHRASE + "\n")
    coord_home = tmp_path / "coord"
    coord_key = init_home(coord_home, coord_pass)
    runner = CliRunner()
    out = runner.invoke(cli, ["cities", "add", "--home", str(world.home_dir), "--passphrase-file",
                              str(world.pass_file), "Bergen", coord_key.to_text(),
                              "--country", "NO", "--yes"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["keys", "add", "--home", str(coord_home), "--passphrase-file",
                              str(coord_pass), world.public.to_text(), "--name",
                              "Secretariat Ana", "--yes"])
    assert out.exit_code == 0, out.output
    secretariat = Desk(Home(world.home_dir), None)
    city = Desk(Home(coord_home), None)
    with desk_served(secretariat) as base_s, desk_served(city) as base_c, \
            desk_browsers(tmp_path) as web:
        b, profile, downloads, scanned = web.b, web.profile, web.downloads, web.scanned
        axe, click, open_desk = web.axe, web.click, web.open_desk

        def choose() -> None:
            Select(b.find_element(By.ID, "refer-city")).select_by_visible_text("Bergen (NO)")
            for name in ("threat", "contact"):
                b.find_element(By.CSS_SELECTOR, f"input[name=answer][value={name}]").click()
            b.find_element(By.CSS_SELECTOR, "input[name=file][value='2']").click()
            b.find_element(By.ID, "refer-note").send_keys(CANARY_COVER)

        # --- the Secretariat ---------------------------------------------------------------
        open_desk(base_s, secretariat)
        b.get(f"{base_s}/cases/{case}")
        form = b.find_element(By.CSS_SELECTOR, "form.refer-form")
        assert not [e for e in form.find_elements(By.TAG_NAME, "input") if e.is_selected()]
        assert "Most sensitive" in form.text
        assert "ask me first" in b.find_element(By.ID, "consent-answer").text
        axe("case with the refer form")
        choose()
        click("Write the dossier")
        problem = b.find_element(By.ID, "refer-error").text
        assert problem.startswith("No dossier written: the applicant chose \"ask me first\"")
        assert not list(downloads.iterdir())
        axe("refer refused without consent")
        b.find_element(By.ID, "consent-how").send_keys(CANARY_CONSENT)
        click("Record how consent was given")
        assert "Consent recorded" in b.page_source and b.current_url.endswith("?done=consent")
        choose()
        before = set(downloads.iterdir())
        button(b, "Write the dossier").click()
        dossier = wait_for_file(downloads, ".refuge", before)
        assert dossier.name.startswith("dossier-")
        b.get(f"{base_s}/cases/{case}")
        made = b.find_element(By.CSS_SELECTOR, "ol.referrals").text
        assert "Bergen (NO)" in made and "Answers: contact, threat; files: 2" in made
        axe("case with a referral")

        # --- the city coordinator ----------------------------------------------------------
        open_desk(base_c, city)
        b.find_element(By.LINK_TEXT, "Open a dossier").click()
        axe("open a dossier")
        b.find_element(By.ID, "dossier-file").send_keys(str(dossier))
        click("Open")
        signer = b.find_element(By.ID, "dossier-signer").text
        assert f"Signed by Secretariat Ana ({world.public.fingerprint})" in signer
        main = b.find_element(By.TAG_NAME, "main").text
        assert CANARY_ANSWER in main and CANARY_COVER in main and "signal +90 555" in main
        assert "Columns on press freedom" not in main  # not chosen
        assert "<script>alert(1)</script>" in main  # the applicant's text, shown as text
        axe("dossier opened")
        before = set(downloads.iterdir())
        button(b, "Save a copy of file 1").click()
        saved = wait_for_file(downloads, ".txt", before)
        deadline = time.monotonic() + 10
        while saved.read_bytes() != CANARY_CONTENT and time.monotonic() < deadline:
            time.sleep(0.1)
        assert saved.read_bytes() == CANARY_CONTENT
        click("Lock now")

    assert len(scanned) == 5
    canaries = [CANARY_ANSWER, CANARY_COVER, CANARY_CONSENT, CANARY_CONTENT.decode()]
    for root in (profile, world.home_dir, coord_home, tmpdir):
        for p in root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                for canary in canaries:
                    assert canary.encode() not in data, (p, canary)
