"""The languages in a real Chromium with JavaScript off: the picker, right to left, 360 px.

The full journeys are in the end-to-end tests; these check what this module's markup
and stylesheet promise: no sideways scrolling on a phone in either direction, at most two
requests per page, and no serious accessibility problem on the form with every error.
"""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.harness import browser as harness

from .conftest import SQLITE_ONLY
from .helpers import opened_submissions
from .test_i18n import BUDGET, FORM_BUDGET, translate


@pytest.mark.browser
@pytest.mark.parametrize("code", ["ar", "en"])
@SQLITE_ONLY
def test_picker_rtl_and_phone_width(browser: Any, js_browser: Any, live_server: str,
                                    code: str) -> None:
    browser.get(live_server + "/apply")
    picker = browser.find_element(By.CSS_SELECTOR, f'a[hreflang="{code}"]')
    harness.submit(browser, picker)
    assert browser.current_url == live_server + "/apply"
    html = browser.find_element(By.TAG_NAME, "html")
    assert html.get_attribute("lang") == code
    assert html.get_attribute("dir") == ("rtl" if code == "ar" else "ltr")

    harness.set_viewport(browser, 360, 740, mobile=True)
    for path in ("/", "/apply", "/signin"):
        load = harness.load_and_count(browser, live_server + path)
        # The application form carries the country list: its own budget (test_i18n).
        budget = FORM_BUDGET if path == "/apply" else BUDGET
        assert load.count <= 2 and load.body_bytes <= budget, (path, load)
        width, _ = harness.page_size(browser)
        assert width <= 360, (code, path, width)
    # A form the server sends back with an error (the browser's own checks pass:
    # "other" without saying what), as a phone shows it.
    browser.get(live_server + "/apply")
    for field in ("name", "languages", "work", "threat", "situation"):
        browser.find_element(By.ID, field).send_keys("Leyla")
    Select(browser.find_element(By.ID, "country")).select_by_value("IR")
    Select(browser.find_element(By.ID, "profession")).select_by_value("other")
    Select(browser.find_element(By.ID, "urgency")).select_by_value("weeks")
    browser.find_element(By.ID, "acknowledge").click()
    harness.submit(browser, browser.find_element(By.ID, "submit"))
    summary = browser.find_element(By.CSS_SELECTOR, ".errors a[href='#profession_other']")
    field = browser.find_element(By.ID, "profession_other")
    assert field.get_attribute("aria-invalid") == "true"
    assert "profession_other-error" in str(field.get_attribute("aria-describedby"))
    assert summary.text == browser.find_element(By.ID, "profession_other-error").text
    width, _ = harness.page_size(browser)
    assert width <= 360, (code, "apply with errors", width)
    harness.screenshot(browser, f"i18n-{code}-apply-errors-360px")
    harness.assert_accessible_snapshot(js_browser, browser)


SYRIA = {"en": "Syria", "fr": "Syrie", "es": "Siria", "ar": "سوريا", "fa": "سوریه",
         "ru": "Сирия", "tr": "Suriye", "zh_Hans": "叙利亚"}


@pytest.mark.browser
@SQLITE_ONLY
def test_the_country_list_in_every_language_and_another_place(
        browser: Any, js_browser: Any, live_server: str, app: Any, reviewer_key: Any) -> None:
    """JavaScript off: the list names the countries in the page's language (right to
    left in Arabic and Persian), "another place" comes last with its text field on the
    same page, a place written beside a listed country is refused, and the applicant's
    own words reach the answers document."""
    for code, syria in SYRIA.items():
        browser.get(live_server + "/apply")
        harness.submit(browser, browser.find_element(
            By.CSS_SELECTOR, f'a[hreflang="{code.replace("_", "-")}"]'))
        html = browser.page_source
        assert f'<option value="SY">{syria}</option>' in html, code
        country = Select(browser.find_element(By.ID, "country"))
        last = country.options[-1]
        assert last.get_attribute("value") == "other"
        assert last.text == translate(code, "Another place / I prefer to write it")
        assert browser.find_element(By.ID, "country_other").is_displayed()
        direction = browser.find_element(By.TAG_NAME, "html").get_attribute("dir")
        assert direction == ("rtl" if code in ("ar", "fa") else "ltr")

    # Still in Chinese: a listed country and a place written too is refused, words kept.
    def fill(place: str, choice: str) -> None:
        for field in ("name", "languages", "work", "threat", "situation"):
            element = browser.find_element(By.ID, field)
            element.clear()
            element.send_keys("Leyla")
        other = browser.find_element(By.ID, "country_other")
        other.clear()
        other.send_keys(place)
        Select(browser.find_element(By.ID, "country")).select_by_value(choice)
        Select(browser.find_element(By.ID, "profession")).select_by_value("poet")
        Select(browser.find_element(By.ID, "urgency")).select_by_value("weeks")
        if not browser.find_element(By.ID, "acknowledge").is_selected():
            browser.find_element(By.ID, "acknowledge").click()
        harness.submit(browser, browser.find_element(By.ID, "submit"))

    fill("库尔德斯坦", "IR")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "country_other-error"))
    field = browser.find_element(By.ID, "country_other")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("value") == "库尔德斯坦"
    assert browser.find_element(By.ID, "country_other-error").text
    harness.assert_accessible_snapshot(js_browser, browser)
    fill("库尔德斯坦", "other")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "codename"))
    assert len(browser.find_element(By.ID, "codename").text.split()) == 7
    document = opened_submissions(app, reviewer_key)[0]
    assert document["version"] == 2
    assert (document["answers"]["country"], document["answers"]["country_other"]) == (
        "other", "库尔德斯坦")
