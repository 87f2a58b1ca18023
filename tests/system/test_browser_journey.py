"""The applicant's whole journey in a real Chromium with JavaScript off, against the real app.

Tor Browser at "Safest" runs no script, so this is how applicants meet the server: the
app from ``create_app`` on a fresh data directory, sealed to a key made by the real
reviewer tool, served on 127.0.0.1 by the harness (tests/harness/browser.py, docs/browser-tests.md).

Every page the applicant sees on the way is photographed (test-artifacts/screenshots/,
named ``journey-<locale>-<step>``), scanned with axe-core in the JavaScript-on browser
(0 serious or critical violations), and laid out at 360 px wide without sideways
scrolling. The pages that the journey does not pass through (closed intake, expired
form, 404) are checked the same way in their own tests.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from sqlalchemy import func, select

from crypto.keys import PublicKey
from crypto.params import TEST_LIMITS
from intake import create_app, db
from intake.models import Applicant, Blob, Submission
from reviewer.cli import cli as reviewer_cli
from tests.harness import browser as harness

MB = 1024 * 1024
# Small, so the oversize step needs only a few megabytes on disk.
MAX_UPLOAD = 1 * MB
PASSPHRASE = "six random words for the test reviewer"
NARROW = (360, 740)


# --- the reviewer and the server -----------------------------------------------------------


@dataclass
class Reviewer:
    """A reviewer home made by the real reviewer tool, with a passphrase file."""

    runner: CliRunner
    home: Path
    pass_file: Path
    public: PublicKey

    def run(self, *args: str, key: bool = True) -> str:
        extra = ["--passphrase-file", str(self.pass_file)] if key else []
        result = self.runner.invoke(reviewer_cli, [args[0], "--home", str(self.home), *extra, *args[1:]])
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
def reviewer(tmp_path: Path) -> Reviewer:
    runner = CliRunner()
    pass_file = tmp_path / "passphrase"
    pass_file.write_text(PASSPHRASE + "\n")
    home = tmp_path / "reviewer-home"
    result = runner.invoke(
        reviewer_cli,
        ["init", "--home", str(home), "--passphrase-file", str(pass_file), "--insecure-test-limits"],
    )
    assert result.exit_code == 0, result.output
    return Reviewer(runner, home, pass_file, PublicKey.from_text(result.output.splitlines()[2]))


def make_app(data_dir: Path, key: PublicKey | None, *, init: bool = True) -> Flask:
    """The real app on DATA_DIR, sealed to KEY (no key: intake closed; not INIT: no
    database schema yet)."""
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": data_dir,
            "ARGON2_LIMITS": TEST_LIMITS,
            "MAX_CONTENT_LENGTH": MAX_UPLOAD,
            "DRAIN_LIMIT": 32 * MB,
        }
    )
    if not init:
        return app
    with app.app_context():
        db.create_schema(db.engine())
    if key is not None:
        result = app.test_cli_runner().invoke(args=["keys", "add", key.to_text(), "--name", "reviewer one"])
        assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def app(tmp_path: Path, reviewer: Reviewer) -> Flask:
    return make_app(tmp_path / "data", reviewer.public)


def stored(app: Flask) -> tuple[int, int, int]:
    """Applicants, submissions and blobs in the database."""
    with app.app_context():
        s = db.session()
        return (
            s.scalar(select(func.count()).select_from(Applicant)) or 0,
            s.scalar(select(func.count()).select_from(Submission)) or 0,
            s.scalar(select(func.count()).select_from(Blob)) or 0,
        )


# --- looking at a page ----------------------------------------------------------------------


def narrow_overflow(js_browser: WebDriver, picture: str | None = None) -> tuple[int, int]:
    """At 360 px wide, how wide the page is and how wide the window is (JavaScript-on
    browser, on the document it shows); saves a screenshot named PICTURE at that size."""
    harness.set_viewport(js_browser, *NARROW, mobile=True)
    try:
        # Layout happens on demand: reading scrollWidth forces it at the new size.
        scroll, client = js_browser.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
        if picture:
            harness.screenshot(js_browser, picture)
    finally:
        js_browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return int(scroll), int(client)


@dataclass
class Visit:
    """Walks the pages in one locale: every page looked at is photographed, scanned with
    axe and measured at 360 px wide."""

    browser: WebDriver
    js_browser: WebDriver
    locale: str
    steps: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def look(self, step: str) -> None:
        started = time.monotonic()
        self.steps.append(step)
        name = f"journey-{self.locale}-{len(self.steps):02d}-{step}"
        harness.screenshot(self.browser, name)
        html = self.browser.find_element(By.TAG_NAME, "html")
        assert html.get_attribute("lang") == self.locale, step
        if self.locale in RTL:
            assert html.get_attribute("dir") == "rtl", step
        script = SCRIPTS.get(self.locale)
        if script is not None:
            for h in self.browser.find_elements(By.CSS_SELECTOR, "h1, h2, h3"):
                if not script.search(h.text):
                    self.untranslated.append(f"{step}: {h.text}")
        # The JavaScript-on browser scans a copy of exactly what the applicant sees.
        found = harness.assert_accessible_snapshot(self.js_browser, self.browser)
        # Minor and moderate findings do not fail; they are printed for reading (-s).
        if found:
            print(f"axe, {name} (not blocking):\n{harness.format_violations(found)}")
        scroll, client = narrow_overflow(self.js_browser, f"{name}-360px")
        assert scroll <= client, f"{step}: {scroll} px wide at {client} px: sideways scrolling"
        self.timings[step] = time.monotonic() - started


RTL = frozenset({"ar", "fa"})
# A page in these languages has every heading in their script.
SCRIPTS = {"ar": re.compile("[\u0600-\u06ff]")}
NAME = {"en": "Leyla K.", "ar": "ليلى خالد"}
REPLY = {
    "en": "Dear Leyla,\nwe have your application and the summons.",
    "ar": "عزيزتي ليلى،\nوصلنا طلبك ومذكرة الاستدعاء.",
}


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def button(driver: WebDriver, css: str = "main form button[type=submit], main form input[type=submit]"):
    return driver.find_element(By.CSS_SELECTOR, css)


# --- the journey ----------------------------------------------------------------------------


def write_files(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Two files to apply with, one to follow up with, and one over the upload limit."""
    poems = tmp_path / "poems.txt"
    poems.write_bytes("Poems about rivers, 2019–2024.\n".encode() * 300)
    letter = tmp_path / "threat letter.pdf"
    letter.write_bytes(b"%PDF-1.4 a letter that threatens\n" + bytes(range(256)) * 40)
    more = tmp_path / "court summons.txt"
    more.write_bytes(b"Summons to appear, 12 March.\n" * 50)
    big = tmp_path / "video.bin"
    big.write_bytes(bytes(3 * MAX_UPLOAD))
    return poems, letter, more, big


def fill_application(driver: WebDriver, files: list[Path], name: str = "Leyla K.") -> None:
    values = {
        "name": name,
        "contact": "signal: +00 000 000",
        "languages": "Kurdish, Turkish",
        "work": "Poems about rivers.\nhttps://example.org/leyla",
        "threat": "Charged in 2023 for a poem.",
        "situation": "In hiding with my sister.",
    }
    for name, value in values.items():
        element = driver.find_element(By.ID, name)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "country_other").clear()
    Select(driver.find_element(By.ID, "country")).select_by_value("TR")
    Select(driver.find_element(By.ID, "profession")).select_by_value("poet")
    Select(driver.find_element(By.ID, "urgency")).select_by_value("weeks")
    acknowledge = driver.find_element(By.ID, "acknowledge")
    if not acknowledge.is_selected():
        acknowledge.click()
    # A multiple file input takes several paths, one a line; no dialog, no script.
    if files:
        driver.find_element(By.ID, "attachments").send_keys("\n".join(str(f) for f in files))


def reviewer_replies(app: Flask, reviewer: Reviewer, tmp_path: Path, text: str, expect: list[str]) -> None:
    """Export the submissions, let the reviewer read them and reply, import the reply.

    EXPECT are strings the reviewer must find in the decrypted case (answers, file names).
    """
    flask = app.test_cli_runner()
    pickup = tmp_path / "pickup.bundle"
    result = flask.invoke(args=["export", str(pickup)])
    assert result.exit_code == 0, result.output
    assert "1 new case" in reviewer.run("import", str(pickup))
    (case,) = json.loads(reviewer.run("list", "--json"))
    shown = reviewer.run("show", case["case"])
    for wanted in expect:
        assert wanted in shown, wanted
    reply_file = tmp_path / "reply.txt"
    reply_file.write_text(text, encoding="utf-8")
    reviewer.run("reply", case["case"], "--file", str(reply_file))
    replies = tmp_path / "replies.bundle"
    assert "1 reply" in reviewer.run("export-replies", str(replies))
    result = flask.invoke(args=["import-replies", str(replies)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 new reply" in result.output


def choose_language(driver: WebDriver, locale: str) -> None:
    """Pick the language with the picker's link, as an applicant would."""
    if locale == "en":
        return
    harness.submit(driver, driver.find_element(By.CSS_SELECTOR, f'a[hreflang="{locale}"]'))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_whole_journey(
    locale: str,
    app: Flask,
    reviewer: Reviewer,
    live_server: str,
    browser: WebDriver,
    js_browser: WebDriver,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    visit = Visit(browser, js_browser, locale)
    poems, letter, more, big = write_files(tmp_path)

    browser.get(live_server + "/")
    choose_language(browser, locale)
    visit.look("landing")

    harness.submit(browser, browser.find_element(By.CSS_SELECTOR, "main a.button"))
    assert browser.current_url == live_server + "/apply"
    if locale in RTL:
        # Right to left for real: the send button sits in the right half of the page.
        main = browser.find_element(By.TAG_NAME, "main").rect
        send = button(browser).rect
        assert send["x"] > main["x"] + main["width"] / 2
    visit.look("apply")

    # The browser itself refuses an empty form (the fields carry `required`, which needs
    # no script); answers of only spaces get past it and are refused by the server.
    for name in ("name", "country_other", "languages", "work", "threat", "situation"):
        browser.find_element(By.ID, name).send_keys("   ")
    # "Another place" with only spaces for the place: the free-text path, refused.
    Select(browser.find_element(By.ID, "country")).select_by_value("other")
    Select(browser.find_element(By.ID, "profession")).select_by_value("other")
    Select(browser.find_element(By.ID, "urgency")).select_by_value("weeks")
    browser.find_element(By.ID, "acknowledge").click()
    browser.find_element(By.ID, "attachments").send_keys(str(poems))
    harness.submit(browser, button(browser))
    assert browser.find_elements(By.CSS_SELECTOR, ".errors[role=alert]")
    for invalid in ("name", "country_other", "languages", "work", "threat", "situation",
                    "profession_other"):
        control = browser.find_element(By.ID, invalid)
        assert control.get_attribute("aria-invalid") == "true", invalid
        assert f"{invalid}-error" in (control.get_attribute("aria-describedby") or "").split()
        assert browser.find_element(By.ID, f"{invalid}-error").text
    assert stored(app) == (0, 0, 0)
    visit.look("apply-errors")

    # Filled in, with two files chosen (again: files are never kept between attempts).
    fill_application(browser, [poems, letter], NAME[locale])
    harness.submit(browser, button(browser))
    codename = browser.find_element(By.ID, "codename").text.strip()
    assert len(codename.split()) == 7
    assert stored(app) == (1, 1, 3)  # answers + two files, each its own envelope
    visit.look("codename")

    # Sign out: the header link, then the button on that page.
    harness.submit(browser, browser.find_element(By.CSS_SELECTOR, 'header a[href="/signout"]'))
    visit.look("signout")
    harness.submit(browser, button(browser))
    # The header offers signing in again, and no longer the case page.
    assert browser.find_elements(By.CSS_SELECTOR, 'header a[href="/signin"]')
    assert not browser.find_elements(By.CSS_SELECTOR, 'header a[href="/case"]')
    visit.look("signed-out")

    # The case page is closed now: the browser is sent to sign in.
    browser.get(live_server + "/case")
    assert browser.current_url == live_server + "/signin"
    assert browser.find_element(By.CSS_SELECTOR, "p.notice[role=status]").text
    visit.look("signin")

    # A wrong codename is refused and never echoed back.
    wrong = "seven wrong words that open nothing"
    browser.find_element(By.ID, "codename").send_keys(wrong)
    harness.submit(browser, button(browser))
    assert browser.current_url == live_server + "/signin"
    codename_input = browser.find_element(By.ID, "codename")
    assert codename_input.get_attribute("aria-invalid") == "true"
    assert codename_input.get_attribute("value") == ""
    assert wrong not in browser.page_source
    visit.look("signin-wrong")

    browser.find_element(By.ID, "codename").send_keys(codename)
    harness.submit(browser, button(browser))
    assert browser.current_url == live_server + "/case"
    assert len(browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")) == 1
    visit.look("case")

    # A follow-up: a message and a file.
    browser.find_element(By.ID, "message").send_keys("A summons came today; attached.")
    browser.find_element(By.ID, "attachments").send_keys(str(more))
    harness.submit(browser, button(browser, "main form[enctype] button[type=submit], "
                                           "main form[enctype] input[type=submit]"))
    assert browser.current_url == live_server + "/case"
    assert browser.find_element(By.CSS_SELECTOR, "p.notice[role=status]").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")) == 2
    assert stored(app) == (1, 2, 5)
    visit.look("case-followup-sent")

    # The Secretariat's side, with the real tools: the operator exports, the reviewer
    # imports, reads and replies offline, the operator imports the reply.
    reply_text = REPLY[locale]
    reviewer_replies(app, reviewer, tmp_path, reply_text,
                     expect=[NAME[locale], poems.name, letter.name, more.name,
                             "A summons came today; attached."])

    # The applicant signs in again and reads the reply.
    harness.submit(browser, browser.find_element(By.ID, "signout-submit"))
    browser.get(live_server + "/signin")
    browser.find_element(By.ID, "codename").send_keys(codename)
    harness.submit(browser, button(browser))
    assert browser.current_url == live_server + "/case"
    (reply,) = browser.find_elements(By.CSS_SELECTOR, "section.reply")
    text = reply.find_element(By.CSS_SELECTOR, ".reply-text")
    assert text.text == reply_text
    # Written in whatever language the reviewer chose: it takes its own direction.
    assert text.get_attribute("dir") == "auto"
    # Both submissions now show that the Secretariat picked them up.
    picked_up = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr td:nth-child(3)")
    assert len(picked_up) == 2 and all(db.today().isoformat() in cell.text for cell in picked_up)
    visit.look("case-reply")

    # The applicant deletes the reply from the server.
    harness.submit(browser, reply.find_element(By.CSS_SELECTOR, "[type=submit]"))
    assert browser.find_elements(By.CSS_SELECTOR, "section.reply") == []
    assert reply_text not in browser.page_source
    visit.look("case-reply-deleted")

    # Too large: a readable page, and nothing stored.
    browser.find_element(By.ID, "message").send_keys("The video of the raid.")
    browser.find_element(By.ID, "attachments").send_keys(str(big))
    harness.submit(browser, button(browser, "main form[enctype] button[type=submit], "
                                           "main form[enctype] input[type=submit]"))
    assert stored(app) == (1, 2, 5)
    if locale == "en":
        assert heading(browser) == "Too large to accept"
        assert "Nothing was stored" in browser.find_element(By.TAG_NAME, "main").text
        assert "at most 1 MB" in browser.find_element(By.TAG_NAME, "main").text
    visit.look("too-large")

    if locale == "en":
        # The English pages really are in English (the Arabic run checks its own script).
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("dir") in (None, "", "ltr")
    elapsed = time.monotonic() - started
    print(f"journey {locale}: {elapsed:.1f} s; per page:",
          ", ".join(f"{k} {v:.2f}" for k, v in visit.timings.items()))
    # Checked last, so that everything else about the pages is known first.
    assert visit.untranslated == [], f"headings not in {locale}: {visit.untranslated}"


# --- pages the journey does not pass through -------------------------------------------------


@pytest.mark.browser
def test_expired_forms_say_so_and_keep_what_was_typed(
    app: Flask, live_server: str, browser: WebDriver, js_browser: WebDriver
) -> None:
    visit = Visit(browser, js_browser, "en")
    browser.get(live_server + "/apply")
    fill_application(browser, [])
    # The session (and with it the CSRF token's secret) is gone, as after a long pause.
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    harness.submit(browser, button(browser))
    assert "open for a long time" in browser.find_element(By.CSS_SELECTOR, ".notice[role=alert]").text
    assert browser.find_element(By.ID, "name").get_attribute("value") == "Leyla K."
    assert stored(app) == (0, 0, 0)
    visit.look("apply-expired")

    browser.get(live_server + "/signin")
    visit.look("signin-fresh")
    browser.find_element(By.ID, "codename").send_keys("any words at all")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    harness.submit(browser, button(browser))
    assert "expired" in browser.find_element(By.CSS_SELECTOR, ".notice[role=alert]").text
    visit.look("signin-expired")


@pytest.mark.browser
def test_not_found_page(live_server: str, browser: WebDriver, js_browser: WebDriver) -> None:
    browser.get(live_server + "/no-such-page")
    assert heading(browser) == "Page not found"
    Visit(browser, js_browser, "en").look("not-found")


@pytest.mark.browser
def test_closed_intake_and_unready_server(
    tmp_path: Path, browser: WebDriver, js_browser: WebDriver
) -> None:
    visit = Visit(browser, js_browser, "en")
    with harness.serve(make_app(tmp_path / "closed", None)) as url:
        browser.get(url + "/")
        assert browser.find_elements(By.CSS_SELECTOR, "main a.button") == []
        visit.look("landing-closed")
        browser.get(url + "/apply")
        assert heading(browser) == "Applications are closed at the moment"
        assert browser.find_elements(By.TAG_NAME, "form") == []
        visit.look("apply-closed")
    # Before the operator has run init-db, every page says the server is not ready.
    with harness.serve(make_app(tmp_path / "new", None, init=False)) as url:
        browser.get(url + "/apply")
        assert heading(browser) == "This server is not ready yet"
        visit.look("not-ready")


@pytest.mark.browser
def test_apply_form_is_reached_by_keyboard_in_order(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/apply")
    order = harness.tab_order(browser)
    controls = [entry for entry in order if entry != "a"]
    assert controls == [
        "name", "contact", "country", "country_other", "profession", "profession_other",
        "languages", "work", "threat", "situation", "urgency", "family", "references", "share",
        "attachments", "acknowledge", "submit",
    ]
    assert "homepage" not in order  # the honeypot is out of reach


@pytest.mark.browser
def test_the_narrow_screen_check_can_fail(
    live_server: str, browser: WebDriver, js_browser: WebDriver
) -> None:
    browser.get(live_server + "/")
    harness.axe_scan_snapshot(js_browser, browser)
    assert narrow_overflow(js_browser)[0] <= NARROW[0]
    js_browser.execute_script(
        "const wide = document.createElement('pre'); wide.textContent = 'x'.repeat(200);"
        "document.querySelector('main').appendChild(wide);"
    )
    scroll, client = narrow_overflow(js_browser)
    assert scroll > client

