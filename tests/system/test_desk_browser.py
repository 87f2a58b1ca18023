"""The reviewer's desk in a real Chromium with JavaScript off, served by the real waitress.

A reviewer's day, start to end: unlock → the case list → filter and search → a case in
Arabic → save a file → a verification → a reply, previewed, withdrawn, written again →
export replies → lock → unlock. Every page is scanned with axe-core (0 violations, any
impact) in a second, JavaScript-on Chromium holding the same desk cookie. The
JavaScript-off browser runs in a private window (as docs/reviewer.md asks) on a fresh
profile directory that is searched afterwards, with the home and the temporary
directory, for the canaries planted in the answers, the file names and contents, the
verification notes and the reply. (In a normal window Chromium's History keeps the
name of every file saved, which is one reason the docs ask for a private window.)
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import unquote

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from reviewer.desk import Desk
from reviewer.desk.server import make_server, stop
from reviewer.home import Home
from tests.harness import browser as harness
from tests.harness.many_cases import generate, populate
from tests.reviewer.desk.conftest import (
    ARABIC_NAME,
    CANARY_ANSWER,
    CANARY_CONTENT,
    CANARY_FILE,
    CANARY_NOTE,
    CANARY_REPLY,
    PASSPHRASE,
    make_home,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@contextmanager
def desk_served(desk: Desk) -> Iterator[str]:
    server = make_server(desk, 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{desk.port}"
    finally:
        stop(server)
        thread.join(10)


@contextmanager
def chromium(profile: Path, *, javascript: bool, downloads: Path | None = None,
             private: bool = False) -> Iterator[WebDriver]:
    """A Chromium on PROFILE; PRIVATE: a private ("incognito") window, as docs/reviewer.md says."""
    harness.require_browser()
    plain = harness.chromium_arguments
    with mock.patch.object(harness, "chromium_arguments",
                           lambda d: [*plain(d), *(["--incognito"] if private else [])]):
        driver = harness.start_chromium(javascript=javascript, user_data_dir=profile)
    try:
        if downloads is not None:
            # Per page: a private window's downloads are not the default context's.
            driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()


def wait_for_file(folder: Path, suffix: str, before: set[Path]) -> Path:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [p for p in folder.iterdir() if p not in before and p.name.endswith(suffix)]
        if new:
            return new[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} download in {folder}: {list(folder.iterdir())}")


def button(driver: WebDriver, text: str):
    return driver.find_element(By.XPATH, f"//button[normalize-space()='{text}']")


@dataclass
class DeskBrowsers:
    """The private JavaScript-off Chromium a reviewer uses (`b`, saving into `downloads`,
    its profile searched afterwards) and a JavaScript-on one holding the same cookie that
    runs axe-core on a snapshot of each page (`js`); `scanned` names the pages scanned."""

    b: WebDriver
    js: WebDriver
    profile: Path
    downloads: Path
    scanned: list[str] = field(default_factory=list)

    def axe(self, name: str) -> None:
        found = harness.axe_scan_snapshot(self.js, self.b)
        assert not found, f"{name}:\n{harness.format_violations(found)}"
        self.scanned.append(name)

    def click(self, text: str) -> None:
        harness.submit(self.b, button(self.b, text))

    def open_desk(self, base: str, desk: Desk) -> None:
        """Follow the desk's printed address, give the axe browser the cookie, unlock."""
        self.b.get(f"{base}/cases?token={desk.token}")
        self.js.get(f"{base}/nowhere")
        self.js.execute_cdp_cmd("Network.setCookie", {
            "name": desk.cookie_name, "value": desk.cookie, "url": base,
            "httpOnly": True, "sameSite": "Strict"})
        self.b.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
        self.click("Unlock")
        assert self.b.current_url == f"{base}/cases"


@contextmanager
def desk_browsers(tmp_path: Path) -> Iterator[DeskBrowsers]:
    profile = tmp_path / "profile"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with chromium(profile, javascript=False, downloads=downloads, private=True) as b, \
            chromium(tmp_path / "axe-profile", javascript=True) as js:
        yield DeskBrowsers(b, js, profile, downloads)


def test_a_reviewers_day_at_the_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    world = make_home(tmp_path)
    desk = Desk(Home(world.home_dir), None)  # started locked: the first page asks
    with desk_served(desk) as base, desk_browsers(tmp_path) as web:
        b, js, profile, downloads, scanned = web.b, web.js, web.profile, web.downloads, web.scanned
        axe, click = web.axe, web.click

        b.get(f"{base}/cases?token={desk.token}")
        assert b.current_url == f"{base}/cases"  # the token is gone from the address bar
        # The axe browser is the same reviewer: give it the desk's cookie.
        js.get(f"{base}/nowhere")
        js.execute_cdp_cmd("Network.setCookie", {"name": desk.cookie_name, "value": desk.cookie,
                                                 "url": base, "httpOnly": True,
                                                 "sameSite": "Strict"})
        assert "The desk is locked" in b.page_source
        axe("unlock")
        b.find_element(By.ID, "passphrase").send_keys("wrong words entirely")
        click("Unlock")
        assert "wrong passphrase" in b.page_source
        axe("unlock, wrong passphrase")
        b.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
        click("Unlock")

        # The list, most urgent first.
        rows = b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")
        assert len(rows) == 3 and ARABIC_NAME in rows[0].text
        assert b.title == "Cases · Reviewer's desk"
        axe("cases")
        Select(b.find_element(By.ID, "f-urgency")).select_by_value("weeks")
        click("Filter")
        assert len(b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")) == 1
        assert world.c.case[:12] in b.page_source
        axe("cases, filtered")
        b.get(f"{base}/cases")
        b.find_element(By.ID, "search-text").send_keys("تهديدات")
        click("Search")
        assert len(b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")) == 1
        assert "تهديدات" not in unquote(b.current_url) and "%D8" not in b.current_url
        axe("search results")

        # A case in Arabic.
        b.find_element(By.LINK_TEXT, world.b.case[:12]).click()
        assert b.current_url == f"{base}/cases/{world.b.case}"
        value = b.find_element(By.XPATH, f"//dd[normalize-space()='{ARABIC_NAME}']")
        assert value.get_attribute("dir") == "auto"
        assert b.execute_cdp_cmd("Runtime.evaluate", {"expression": "1"}) is not None
        assert ARABIC_NAME not in b.title
        axe("case in Arabic")

        # Save a file (the application's JPEG of case a) and a copy without metadata.
        b.get(f"{base}/cases/{world.a.case}")
        axe("case")
        before = set(downloads.iterdir())
        button(b, "Save a copy of file 2").click()
        saved = wait_for_file(downloads, ".txt", before)
        time.sleep(0.3)
        assert saved.read_bytes() == CANARY_CONTENT
        before = set(downloads.iterdir())
        button(b, "Save file 1 without metadata").click()
        assert wait_for_file(downloads, ".stripped.jpg", before).name.startswith(CANARY_FILE)

        # Verification.
        b.find_element(By.LINK_TEXT, "Record a verification").click()
        axe("verification")
        b.find_element(By.ID, "v-identity").send_keys("passport seen on video call")
        b.find_element(By.ID, "v-work").send_keys("articles checked")
        b.find_element(By.ID, "v-persecution").send_keys("court records")
        Select(b.find_element(By.ID, "v-risk")).select_by_value("high")
        Select(b.find_element(By.ID, "v-recommendation")).select_by_value("proceed")
        b.find_element(By.ID, "v-notes").send_keys(CANARY_NOTE + "\nsecond line")
        click("Save the verification record")
        assert "Verification record 1 saved" in b.page_source
        axe("case after verification")

        # A reply: preview, save, withdraw, write again.
        b.find_element(By.LINK_TEXT, "Write a reply").click()
        axe("compose")
        b.find_element(By.ID, "reply-text").send_keys(CANARY_REPLY + " <b>not bold</b>")
        click("Preview")
        assert b.find_element(By.CSS_SELECTOR, ".preview .reply-text").text.endswith(
            "<b>not bold</b>")
        axe("preview")
        click("Save to the outbox")
        assert "Reply saved to the outbox" in b.page_source
        click("Withdraw this reply")
        assert "Reply withdrawn" in b.page_source
        b.find_element(By.LINK_TEXT, "Write a reply").click()
        b.find_element(By.ID, "reply-text").send_keys("We have your application.")
        click("Preview")
        click("Save to the outbox")
        assert "not yet exported" in b.page_source

        # Export the replies.
        b.get(f"{base}/cases")
        before = set(downloads.iterdir())
        button(b, "Export the outbox").click()
        wait_for_file(downloads, ".bundle", before)
        b.get(f"{base}/cases/{world.a.case}")
        assert "final — exported" in b.page_source
        axe("case with a final reply")

        # Lock, then unlock.
        click("Lock now")
        assert not desk.unlocked and "The desk is locked" in b.page_source
        assert ARABIC_NAME not in b.page_source
        b.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
        click("Unlock")
        assert len(b.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")) == 3
        b.get(f"{base}/import")
        axe("import")

    assert len(scanned) >= 12
    canaries = [CANARY_ANSWER, CANARY_FILE, CANARY_NOTE, CANARY_REPLY,
                CANARY_CONTENT.decode(), ARABIC_NAME]
    assert sum(1 for p in profile.rglob("*") if p.is_file()) > 10  # the scan sees a real profile
    for root in (profile, world.home_dir, tmpdir):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                for canary in canaries:
                    for form in {canary.encode(), canary.encode("utf-16-le")}:
                        assert form not in data, (path, canary)


def test_the_overview_in_chromium_without_script(tmp_path: Path) -> None:
    """The Overview page over 200 generated cases, JavaScript off: every chart is drawn
    (SVG, laid out with a real size), nothing carries a style attribute or element, no
    script runs, the page asks nothing of anyone but the desk, Chromium reports no
    Content-Security-Policy refusal, axe-core finds nothing, and "Download counts (CSV)"
    downloads the counts."""
    harness.require_browser()
    world = make_home(tmp_path, imported=False)
    home = Home(world.home_dir)
    keys = home.unlock(PASSPHRASE)
    populate(home, keys, generate(200), tmp_path)
    desk = Desk(home, keys)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with desk_served(desk) as base, \
            chromium(tmp_path / "axe-profile", javascript=True) as js:
        b = harness.start_chromium(javascript=False, user_data_dir=tmp_path / "profile",
                                   log_network=True)
        try:
            b.execute_cdp_cmd("Page.setDownloadBehavior",
                              {"behavior": "allow", "downloadPath": str(downloads)})
            b.get(f"{base}/cases?token={desk.token}")
            load = harness.load_and_count(b, f"{base}/overview")
            assert load.fetches and all(f.url.startswith(base + "/") for f in load.fetches), \
                load.fetches
            assert all(f.status in (200, 404) for f in load.fetches)  # 404: the favicon
            assert b.title == "Overview · Reviewer's desk"
            assert "<script" not in b.page_source
            assert b.find_elements(By.CSS_SELECTOR, "[style], style") == []
            charts = b.find_elements(By.CSS_SELECTOR, "section.chart svg")
            assert len(charts) == 5
            for chart in charts:
                assert chart.size["width"] > 300 and chart.size["height"] > 20
                bars = chart.find_elements(By.TAG_NAME, "rect")
                assert bars and max(bar.size["width"] for bar in bars) > 100
            assert len(b.find_elements(By.CSS_SELECTOR, "table.figures")) == 5
            assert "Syria" in b.find_element(By.ID, "country-title").find_element(
                By.XPATH, "..").text
            refused = [e for e in b.get_log("browser") if "Content Security Policy" in
                       str(e.get("message"))]
            assert refused == []
            js.get(f"{base}/nowhere")
            js.execute_cdp_cmd("Network.setCookie", {"name": desk.cookie_name,
                                                     "value": desk.cookie, "url": base,
                                                     "httpOnly": True, "sameSite": "Strict"})
            found = harness.axe_scan_snapshot(js, b)
            assert not found, harness.format_violations(found)
            before = set(downloads.iterdir())
            button(b, "Download counts (CSV)").click()
            counts = wait_for_file(downloads, ".csv", before)
            time.sleep(0.3)
            assert counts.read_text("utf-8").startswith("table,key,label,cases\n")
        finally:
            b.quit()
