"""The real-browser harness proven on a stand-in app (tests/harness/browser_demo_app.py).

These tests show that the harness does what the applicant-page tests will need: a real
Chromium with JavaScript off fills forms in English and Arabic, attaches two files,
submits, reads the result, reaches the oversize page and saves screenshots; and that the
accessibility scan runs under a strict Content-Security-Policy, finds a real violation
and passes a clean page.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.harness import browser as harness
from tests.harness.browser_demo_app import CSP, create_demo_app

LIMIT = 64 * 1024


@pytest.fixture
def app() -> Flask:
    return create_demo_app(max_content_length=LIMIT)


def _files(tmp_path: Path, names: tuple[str, str]) -> list[tuple[Path, bytes]]:
    made = []
    for number, name in enumerate(names):
        data = f"file {number} of the applicant's work\n".encode() * (200 + number)
        path = tmp_path / name
        path.write_bytes(data)
        made.append((path, data))
    return made


def _fill_and_send(driver: WebDriver, name: str, work: str, files: list[tuple[Path, bytes]]) -> None:
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "work").send_keys(work)
    # A file input takes its path through send_keys; no dialog, no script.
    driver.find_element(By.ID, "sample").send_keys(str(files[0][0]))
    driver.find_element(By.ID, "evidence").send_keys(str(files[1][0]))
    harness.submit(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def _received_files(driver: WebDriver) -> dict[str, tuple[str, int, str]]:
    received = {}
    for item in driver.find_elements(By.CSS_SELECTOR, "#files li"):
        field = item.get_attribute("data-field") or ""
        received[field] = (
            item.get_attribute("data-name") or "",
            int(item.get_attribute("data-size") or -1),
            item.get_attribute("data-sha256") or "",
        )
    return received


# --- JavaScript is really off ------------------------------------------------------------


@pytest.mark.browser
def test_scripts_do_not_run_in_the_applicant_browser(browser, js_browser, live_server):
    # /script-check sends no CSP, so only the browser setting can stop its inline script.
    browser.get(live_server + "/script-check")
    harness.screenshot(browser, "harness-script-check-js-off")
    assert browser.title == "scripts did not run"
    assert browser.find_element(By.ID, "noscript").is_displayed()

    # The same page in the scripting browser changes its title: the check can fail.
    js_browser.get(live_server + "/script-check")
    assert js_browser.title == "scripts ran"
    assert js_browser.find_elements(By.ID, "noscript") == [] or not (
        js_browser.find_element(By.ID, "noscript").is_displayed()
    )


# --- forms, files, languages -------------------------------------------------------------


@pytest.mark.browser
def test_form_with_two_files_in_english(browser, live_server, tmp_path):
    files = _files(tmp_path, ("poems.txt", "threat-letter.txt"))
    browser.get(live_server + "/")
    harness.screenshot(browser, "harness-en-1-form")

    _fill_and_send(browser, "Leyla K.", "Poems, 2019–2024\nhttps://example.org/leyla", files)

    harness.screenshot(browser, "harness-en-2-received")
    assert browser.find_element(By.ID, "received").text == "Received"
    assert browser.find_element(By.ID, "result-name").text == "Leyla K."
    assert "Poems, 2019–2024" in browser.find_element(By.ID, "result-work").text
    assert _received_files(browser) == {
        "sample": ("poems.txt", len(files[0][1]), hashlib.sha256(files[0][1]).hexdigest()),
        "evidence": ("threat-letter.txt", len(files[1][1]), hashlib.sha256(files[1][1]).hexdigest()),
    }


@pytest.mark.browser
def test_form_with_two_files_in_arabic_right_to_left(browser, live_server, tmp_path):
    files = _files(tmp_path, ("قصائد.txt", "رسالة تهديد.txt"))
    browser.get(live_server + "/ar")
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    # Right to left for real: the button sits against the right edge of the form.
    main = browser.find_element(By.TAG_NAME, "main").rect
    button = browser.find_element(By.CSS_SELECTOR, "button[type=submit]").rect
    assert abs((button["x"] + button["width"]) - (main["x"] + main["width"])) < 2
    assert button["x"] > main["x"] + main["width"] / 2
    harness.screenshot(browser, "harness-ar-1-form")

    name = "ليلى خالد"
    work = "قصائد ومقالات عن حرية التعبير"
    _fill_and_send(browser, name, work, files)

    harness.screenshot(browser, "harness-ar-2-received")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert browser.find_element(By.ID, "received").text == "تم الاستلام"
    assert browser.find_element(By.ID, "result-name").text == name
    assert browser.find_element(By.ID, "result-work").text == work
    received = _received_files(browser)
    assert received["sample"] == ("قصائد.txt", len(files[0][1]), hashlib.sha256(files[0][1]).hexdigest())
    assert received["evidence"][0] == "رسالة تهديد.txt"


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/", "/ar"])
def test_every_control_is_reached_by_keyboard_in_order(browser, live_server, path):
    browser.get(live_server + path)
    assert harness.tab_order(browser) == ["name", "work", "sample", "evidence", "button"]


@pytest.mark.browser
def test_narrow_screen_needs_no_sideways_scrolling(browser, live_server):
    harness.set_viewport(browser, 360, 740, mobile=True)
    browser.get(live_server + "/ar")
    harness.screenshot(browser, "harness-ar-360px")
    width, _ = harness.page_size(browser)
    assert width <= 360


@pytest.mark.browser
def test_every_request_a_page_causes_is_counted(browser, live_server):
    load = harness.load_and_count(browser, live_server + "/ar")
    assert [(urlsplit(f.url).path, f.kind, f.status) for f in load.fetches] == [
        ("/ar", "Document", 200),
        ("/style.css", "Stylesheet", 200),
    ]
    assert 0 < load.body_bytes < 20 * 1024

    # A page that names no icon makes the browser ask for /favicon.ico: a third request.
    load = harness.load_and_count(browser, live_server + "/script-check")
    assert [urlsplit(f.url).path for f in load.fetches] == ["/script-check", "/favicon.ico"]
    assert load.without_favicon().count == 1


# --- too large ---------------------------------------------------------------------------


@pytest.mark.browser
def test_oversize_upload_shows_a_readable_page(browser, live_server, tmp_path):
    big = tmp_path / "video.bin"
    big.write_bytes(b"\0" * (4 * LIMIT))
    browser.get(live_server + "/")
    browser.find_element(By.ID, "name").send_keys("Leyla K.")
    browser.find_element(By.ID, "sample").send_keys(str(big))
    harness.submit(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    harness.screenshot(browser, "harness-en-3-too-large")
    assert browser.title == "Too large"
    assert "Nothing was kept" in browser.find_element(By.ID, "too-large").text


BODY_BYTES = 96 * 1024 * 1024  # more than loopback socket buffers can swallow


def test_werkzeug_hides_a_missing_drain_that_a_production_like_server_shows():
    # The app drains: the client sends all and reads the page, on either server.
    for server in ("wsgiref", "werkzeug"):
        with harness.serve(create_demo_app(max_content_length=LIMIT, drain=True), server=server) as url:
            outcome = harness.post_whole_body_first(url, "/submit", BODY_BYTES)
        assert outcome.sent_all, server
        assert outcome.answer.split(b"\r\n", 1)[0].endswith(b"413 REQUEST ENTITY TOO LARGE")
        assert b'id="too-large"' in outcome.answer

    # The app does not drain: a server that does not either cuts the upload off...
    with harness.serve(create_demo_app(max_content_length=LIMIT, drain=False), server="wsgiref") as url:
        assert not harness.post_whole_body_first(url, "/submit", BODY_BYTES).sent_all
    # ...while Flask's development server drains on the app's behalf and hides it.
    with harness.serve(create_demo_app(max_content_length=LIMIT, drain=False), server="werkzeug") as url:
        outcome = harness.post_whole_body_first(url, "/submit", BODY_BYTES)
    assert outcome.sent_all
    assert b'id="too-large"' in outcome.answer


@pytest.mark.browser
def test_chromium_shows_an_early_413_even_from_a_server_that_does_not_drain(browser, tmp_path):
    # Recorded so nobody relies on Chromium to catch a missing drain: it cannot.
    big = tmp_path / "video.bin"
    big.write_bytes(bytes(8 * 1024 * 1024))
    with harness.serve(create_demo_app(max_content_length=LIMIT, drain=False), server="wsgiref") as url:
        browser.get(url + "/")
        browser.find_element(By.ID, "name").send_keys("x")
        browser.find_element(By.ID, "sample").send_keys(str(big))
        harness.submit(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert browser.title == "Too large"


# --- accessibility -----------------------------------------------------------------------


def test_the_stand_in_pages_send_a_script_forbidding_policy(app):
    response = app.test_client().get("/")
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP


@pytest.mark.browser
def test_axe_runs_under_the_policy_and_finds_an_unlabelled_input(js_browser, live_server):
    violations = harness.axe_scan(js_browser, live_server + "/unlabelled")
    bad = harness.blocking(violations)
    assert [v["id"] for v in bad] == ["label"]
    assert [node["target"] for node in bad[0]["nodes"]] == [["#nolabel"]]
    report = harness.format_violations(bad)
    assert "[critical] label: Form elements must have labels" in report
    assert "#nolabel" in report
    with pytest.raises(AssertionError, match="1 serious or critical violation"):
        harness.assert_accessible(js_browser, live_server + "/unlabelled")


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/", "/ar"])
def test_axe_passes_the_clean_pages(js_browser, live_server, path):
    harness.assert_accessible(js_browser, live_server + path)


@pytest.mark.browser
def test_axe_scans_what_the_applicant_browser_shows_after_a_post(browser, js_browser, live_server, tmp_path):
    # The answer to a POST cannot be fetched again by URL; it is scanned as shown.
    browser.get(live_server + "/ar")
    _fill_and_send(browser, "ليلى", "قصائد", _files(tmp_path, ("a.txt", "b.txt")))
    assert harness.assert_accessible_snapshot(js_browser, browser) == []
    # The copy keeps the page's language, direction and text.
    assert js_browser.find_element(By.ID, "result-name").text == "ليلى"
    assert js_browser.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert js_browser.execute_script("return getComputedStyle(document.body).maxWidth") == "640px"

    browser.get(live_server + "/unlabelled")
    violations = harness.axe_scan_snapshot(js_browser, browser)
    assert [v["id"] for v in harness.blocking(violations)] == ["label"]
    # Scans in a row share the vessel and the axe loaded into it: each sees only its own page.
    browser.get(live_server + "/")
    assert harness.assert_accessible_snapshot(js_browser, browser) == []
    assert js_browser.find_elements(By.ID, "nolabel") == []


# --- the harness itself --------------------------------------------------------------------


def test_missing_browser_skips_locally_and_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        harness.require_browser()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        harness.require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        harness.require_browser()


def test_chromium_is_told_to_stay_offline_and_isolated(tmp_path):
    arguments = harness.chromium_arguments(tmp_path)
    for flag in ("--headless=new", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", f"--user-data-dir={tmp_path}"):
        assert flag in arguments
    assert any(a.startswith("--host-resolver-rules=MAP * ~NOTFOUND") for a in arguments)
