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

from tests.harness import browser as harness


@pytest.mark.browser
@pytest.mark.parametrize("code", ["ar", "en"])
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
        assert load.count <= 2 and load.body_bytes <= 20 * 1024, (path, load)
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
