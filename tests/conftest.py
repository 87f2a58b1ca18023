"""Shared pytest configuration for the whole suite."""

# The real-browser fixtures (live_server, browser, js_browser); see tests/browser.py.
pytest_plugins = ["tests.browser"]
