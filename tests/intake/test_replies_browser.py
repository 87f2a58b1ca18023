"""Replies in a real JavaScript-off Chromium: read (line breaks kept), accessible, deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from selenium.webdriver.common.by import By

from crypto.keys import PrivateKey
from intake.db import new_id
from tests.harness import browser as harness

from .transfer_helpers import new_applicant, replies_bundle, reply_key, reply_rows, sealed_reply


@pytest.mark.browser
def test_read_and_delete_a_reply_in_the_browser(app: Flask, reviewer_key: PrivateKey,
                                                live_server: str, browser, js_browser,
                                                tmp_path: Path) -> None:
    case, codename = new_applicant(app.test_client())
    reply_id = new_id()
    text = "First line <b>not bold</b>\nSecond line"
    envelope = sealed_reply(case, reply_id, text, reply_key(app, codename).public_key,
                            [reviewer_key.public_key])
    bundle = replies_bundle(tmp_path / "r.bundle", [(reply_id, case, envelope)],
                            [reviewer_key.public_key])
    assert app.test_cli_runner().invoke(args=["import-replies", str(bundle)]).exit_code == 0

    browser.get(live_server + "/signin")
    browser.find_element(By.ID, "codename").send_keys(codename)
    harness.submit(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    shown = browser.find_element(By.CSS_SELECTOR, ".reply-text")
    # Rendered as text, the line break a <br> of the shared rule (crypto/replytext.py).
    assert shown.text == text
    assert shown.value_of_css_property("white-space") == "pre-wrap"
    harness.assert_accessible_snapshot(js_browser, browser)

    button = browser.find_element(By.ID, f"delete-submit-{reply_id}")
    harness.submit(browser, button)
    assert "deleted for good" in browser.page_source
    assert browser.find_elements(By.CSS_SELECTOR, ".reply-text") == []
    assert reply_rows(app) == []
