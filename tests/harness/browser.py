"""Real-browser test harness: Debian's Chromium, driven by Selenium, with JavaScript off.

Applicants use Tor Browser at "Safest", where no script runs, so the applicant pages are
tested in a real browser with JavaScript disabled. A second browser with JavaScript on
exists only to run the axe-core accessibility scan, which is itself a script.

The browser is the one Debian packages (``chromium`` and ``chromium-driver``). Nothing is
ever downloaded: the driver path is given to Selenium explicitly, and Selenium Manager
(which would fetch drivers and browsers from the network) is made to fail loudly if it
is ever called. Chromium is told to resolve no host name except the loopback one.

Loaded as a pytest plugin from ``tests/conftest.py`` (``pytest_plugins``). Fixtures:

- ``live_server`` -- the ``app`` fixture served on 127.0.0.1; yields its base URL.
- ``browser`` -- the JavaScript-off Chromium, cookies cleared before each test.
- ``js_browser`` -- the JavaScript-on Chromium, for :func:`axe_scan` only.

Without Chromium the browser tests are skipped, except under ``CI`` where they fail: CI
installs the browser, so a missing one there is a broken build, not a reason to skip.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from socketserver import BaseServer, ThreadingMixIn
from typing import TYPE_CHECKING, Any, Literal, cast
from unittest import mock
from urllib.parse import urljoin, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as wsgiref_make_server

import pytest

from tests.harness.tools import send_whole_then_read

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path(os.environ.get("REFUGE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("REFUGE_CHROMEDRIVER", "/usr/bin/chromedriver"))
# A newer axe.min.js (say from the npm package axe-core) can be tried without a code change.
AXE_SOURCE_OVERRIDE = os.environ.get("REFUGE_AXE_JS")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# A desktop window; a test of the narrow layout sets its own size with set_viewport().
WINDOW_SIZE = (1280, 900)
PAGE_LOAD_TIMEOUT_S = 30

# Impacts that fail a page: axe also reports "minor" and "moderate", which are printed
# but tolerated.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def browser_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"{path} not found: apt-get install -y {package}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: run `make install` (it installs requirements/dev.txt)"
    return None


def under_ci() -> bool:
    """True when the CI variable is set to anything but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Skip the calling test when Chromium is missing; under CI, fail it instead."""
    reason = browser_missing()
    if reason is None:
        return
    if under_ci():
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def chromium_arguments(user_data_dir: Path) -> list[str]:
    """Command-line flags for a quiet, isolated, offline headless Chromium."""
    return [
        "--headless=new",
        "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",  # /dev/shm is tiny in containers
        "--disable-extensions",
        "--disable-default-apps",
        "--no-default-browser-check",
        "--metrics-recording-only",
        "--password-store=basic",
        # Every host name but the loopback one fails to resolve, so a page (or Chromium
        # itself) that reaches for another origin fails instead of touching the network.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
        "--lang=en-US",
    ]


def start_chromium(
    *, javascript: bool, user_data_dir: Path, log_path: Path | None = None, log_network: bool = False
) -> WebDriver:
    """A new Chromium driven through /usr/bin/chromedriver, never through Selenium Manager.

    ``log_network`` keeps DevTools network events for :func:`load_and_count`.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in chromium_arguments(user_data_dir):
        options.add_argument(argument)
    prefs: dict[str, Any] = {
        "intl.accept_languages": "en-US,en",
        "credentials_enable_service": False,
        "profile.password_manager_enabled": False,
    }
    if not javascript:
        # The managed (policy-level) setting, as an administrator would set it: 2 = block.
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    if log_network:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.page_load_strategy = "normal"

    service = Service(
        executable_path=str(CHROMEDRIVER),
        log_output=str(log_path) if log_path else os.devnull,
    )

    def no_selenium_manager(*args: object, **kwargs: object) -> dict[str, str]:
        raise AssertionError("Selenium Manager was called; it would download from the network")

    # With an explicit driver path Selenium skips its manager; this makes sure of it.
    with mock.patch.object(SeleniumManager, "binary_paths", no_selenium_manager):
        driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
    return driver


@contextmanager
def chromium(*, javascript: bool, name: str, log_network: bool = False) -> Iterator[WebDriver]:
    """A Chromium with a fresh profile directory, quit and removed afterwards."""
    require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix=f"refuge-{name}-profile-"))
    try:
        driver = start_chromium(
            javascript=javascript,
            user_data_dir=profile,
            log_path=ARTIFACTS / f"chromedriver-{name}.log",
            log_network=log_network,
        )
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def reset(driver: WebDriver) -> None:
    """Forget all cookies, the cache, any emulated screen size and logged network events,
    and leave the browser on a blank page.

    Cookies are not separated by port, so a session from one test's server would
    otherwise be sent to the next test's server on another port.
    """
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    if _logs_network(driver):
        driver.get_log("performance")  # drop what earlier tests left


def _logs_network(driver: WebDriver) -> bool:
    return "performance" in cast(list[str], driver.log_types)


# --- the server --------------------------------------------------------------------------


class _QuietWSGIRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: a log line per request buries a failing test's output."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serve(app: WSGIApplication, *, server: Literal["werkzeug", "wsgiref"] = "werkzeug") -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1, on a free port, in a background thread.

    Yields the base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``.

    ``werkzeug`` is Flask's development server. It quietly reads and discards whatever
    part of a request body the app left unread, which production servers (gunicorn)
    do not: a server that answers 413 and closes the connection early makes a client
    that is still uploading see a reset connection instead of the page. ``wsgiref``
    (the standard library's server) does not discard, so a test that the app itself
    drains refused uploads must use it.
    """
    if server == "werkzeug":
        from werkzeug.serving import make_server

        httpd: BaseServer = make_server("127.0.0.1", 0, app, threaded=True)
    else:
        httpd = wsgiref_make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietWSGIRequestHandler
        )
    port = cast(tuple[str, int], httpd.server_address)[1]
    # A short poll interval, so that shutting down takes milliseconds, not half a second.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class UploadOutcome:
    """What a send-everything-first client saw: whether its whole body went out, and the
    bytes of the answer it could read afterwards."""

    sent_all: bool
    answer: bytes


def post_whole_body_first(
    base_url: str, path: str, body_bytes: int, content_type: str = "multipart/form-data; boundary=x"
) -> UploadOutcome:
    """POST BODY_BYTES of zeros to PATH, sending all of it before reading any answer.

    Firefox, and so Tor Browser, shows "The connection was reset" when the server
    stops reading and closes mid-upload, even if it sent a 413 page first (Mozilla bug
    746877). Chromium reads such an early answer anyway, so the browser
    tests cannot show this; this client can. Make BODY_BYTES larger than the loopback
    socket buffers (tens of MiB) or the kernel swallows it all and hides the problem.
    """
    port = urlsplit(base_url).port
    if port is None:
        raise ValueError(f"no port in {base_url}")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {body_bytes}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    chunk = bytes(1024 * 1024)
    pieces = (chunk[: min(body_bytes - start, len(chunk))]
              for start in range(0, body_bytes, len(chunk)))
    return UploadOutcome(*send_whole_then_read(port, head, pieces, timeout=30))


# --- pictures -------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save the whole page (not only the window) as test-artifacts/screenshots/NAME.png.

    Uses the DevTools protocol, not page script, so it works with JavaScript off.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_UNSAFE_NAME.sub('-', name).strip('-') or 'page'}.png"
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def set_viewport(driver: WebDriver, width: int, height: int, *, mobile: bool = False) -> None:
    """Emulate a screen size (e.g. 360 px wide phones); ``reset`` undoes it."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def page_size(driver: WebDriver) -> tuple[float, float]:
    """Width and height of the laid-out page in CSS pixels (wider than the viewport means
    the reader must scroll sideways). Read through DevTools, so JavaScript can stay off."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    return float(size["width"]), float(size["height"])


def submit(driver: WebDriver, button: WebElement, timeout: float = PAGE_LOAD_TIMEOUT_S) -> None:
    """Click a submit button and wait until the next page has replaced this one.

    A click returns as soon as the browser has it; with a large upload the new page
    comes later, and reading the page too soon would read the old one.
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    old_page = driver.find_element(By.TAG_NAME, "html")

    def replaced(_: WebDriver) -> bool:
        try:
            old_page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException:
            # Mid-navigation, chromedriver sometimes answers "Node with given id does
            # not belong to the document" instead of "stale"; ask again.
            return False
        return False

    button.click()
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(replaced)


def tab_order(driver: WebDriver, max_steps: int = 100) -> list[str]:
    """Press Tab from the top of a freshly loaded page and list what gets focus, in order.

    Each entry is the element's id, else its name, else its tag. Keyboard users (and
    screen-reader users) move this way; the list shows every control is reachable and
    in a sensible order. Stops when focus leaves the page or comes round again.
    """
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    order: list[str] = []
    first: WebElement | None = None
    for _ in range(max_steps):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        # Round again when the same element (not merely the same label: links without
        # an id all read "a") has focus again.
        if active.tag_name == "body" or active == first:
            break
        first = first or active
        order.append(active.get_attribute("id") or active.get_attribute("name") or active.tag_name)
    return order


@dataclass(frozen=True)
class Fetch:
    """One request the browser made while loading a page."""

    url: str
    kind: str  # DevTools resource type: Document, Stylesheet, Image, Other (favicon), ...
    status: int | None
    body_bytes: int  # decoded body bytes received
    wire_bytes: int  # bytes on the wire, headers included


@dataclass(frozen=True)
class PageLoad:
    """Every request a page load caused, read from Chromium's DevTools network events."""

    fetches: tuple[Fetch, ...]

    @property
    def count(self) -> int:
        return len(self.fetches)

    @property
    def body_bytes(self) -> int:
        return sum(fetch.body_bytes for fetch in self.fetches)

    def without_favicon(self) -> PageLoad:
        """Browsers ask for /favicon.ico on their own unless the page names an icon."""
        return PageLoad(tuple(f for f in self.fetches if urlsplit(f.url).path != "/favicon.ico"))


def load_and_count(driver: WebDriver, url: str, settle_s: float = 0.3) -> PageLoad:
    """Load URL in the ``browser`` fixture and list every request it caused.

    Checks "one page = at most 2 requests and 20 KB" in the real browser, favicon and
    all. Requests that start after the load event (the favicon) are waited for until
    the network has been quiet for SETTLE_S seconds.
    """
    if not _logs_network(driver):
        raise RuntimeError("this browser was started without log_network=True")
    driver.get_log("performance")
    driver.get(url)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10 * settle_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        fresh = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
        fresh = [event for event in fresh if str(event.get("method", "")).startswith("Network.")]
        if fresh:
            events.extend(fresh)
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle_s:
            break
        time.sleep(0.05)

    order: list[str] = []
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        params = event["params"]
        request_id = params.get("requestId")
        if request_id is None:
            continue
        record = seen.setdefault(request_id, {"body": 0, "wire": 0, "status": None})
        method = event["method"]
        if method == "Network.requestWillBeSent" and request_id not in order:
            # Only what went to a server: data: URLs are inline, and chrome:// pages
            # are Chromium's own (its new-tab page loads in the background at start).
            if not params["request"]["url"].startswith(("http://", "https://")):
                continue
            order.append(request_id)
            record["url"] = params["request"]["url"]
            record["kind"] = params.get("type", "")
        elif method == "Network.responseReceived":
            record["status"] = params["response"].get("status")
        elif method == "Network.dataReceived":
            record["body"] += params.get("dataLength", 0)
        elif method == "Network.loadingFinished":
            record["wire"] = int(params.get("encodedDataLength", 0))
    fetches = tuple(
        Fetch(seen[rid]["url"], seen[rid]["kind"], seen[rid]["status"], seen[rid]["body"], seen[rid]["wire"])
        for rid in order
    )
    return PageLoad(fetches)


# --- accessibility --------------------------------------------------------------------------


@functools.cache
def axe_source() -> str:
    """axe-core's axe.min.js, from the axe-core-python wheel (or REFUGE_AXE_JS)."""
    if AXE_SOURCE_OVERRIDE:
        return Path(AXE_SOURCE_OVERRIDE).read_text(encoding="utf-8")
    return resources.files("axe_core_python").joinpath("axe.min.js").read_text(encoding="utf-8")


_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, JSON.parse(arguments[0]))
  .then(results => done({violations: results.violations}))
  .catch(error => done({error: String(error)}));
"""


def axe_scan(js_driver: WebDriver, url: str, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Load URL in the JavaScript-on browser, run axe-core on it, return its violations.

    axe is injected with WebDriver's execute_script, which Chromium runs through the
    DevTools protocol and does not submit to the page's Content-Security-Policy, so the
    pages keep their strict policy during the scan (tests/system/test_browser_harness.py shows
    this against a page that sends ``default-src 'none'``).
    """
    js_driver.get(url)
    return _run_axe(js_driver, url, options)


# axe.run is a function only once axe.min.js ran in this window (an element with
# id="axe" would make `axe` an object without one).
_AXE_LOADED = "return typeof axe === 'object' && typeof axe.run === 'function';"


def _run_axe(js_driver: WebDriver, url: str, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    if not js_driver.execute_script(_AXE_LOADED):
        js_driver.execute_script(axe_source())
    js_driver.set_script_timeout(60)
    run_options = {"resultTypes": ["violations"], **(options or {})}
    result = js_driver.execute_async_script(_AXE_RUN, json.dumps(run_options))
    if not isinstance(result, dict) or "violations" not in result:
        raise RuntimeError(f"axe did not run on {url}: {result!r}")
    return cast(list[dict[str, Any]], result["violations"])


# Per JavaScript-on browser, per origin's root: the address the last vessel loaded at.
_VESSELS: weakref.WeakKeyDictionary[WebDriver, dict[str, str]] = weakref.WeakKeyDictionary()


def axe_scan_snapshot(js_driver: WebDriver, browser_driver: WebDriver) -> list[dict[str, Any]]:
    """Scan the page the JavaScript-off browser is showing now, as it is now.

    Some pages cannot be loaded again by URL: the answer to a POST (the page that shows
    a new codename once), or a page behind the other browser's session. This copies the
    JavaScript-off browser's document into the JavaScript-on browser -- on the same
    origin, so the stylesheet and the Content-Security-Policy still apply -- and scans
    it there. The copy's address is the origin's root, so relative links in it resolve
    against "/"; the pages should use absolute paths (they do, through url_for).

    The vessel is loaded only when the JavaScript-on browser is not still on the one
    it loaded last for this origin: replacing a document's content keeps its window,
    and with it axe, which is then injected once rather than before every scan.
    """
    page_url = browser_driver.current_url
    html = browser_driver.page_source
    # Any page of the same origin will do as the vessel; GET / has no side effects.
    root = urljoin(page_url, "/")
    vessels = _VESSELS.setdefault(js_driver, {})
    if vessels.get(root) != js_driver.current_url:
        js_driver.get(root)
        vessels[root] = js_driver.current_url  # where / led (the desk's goes to /cases)
    frame_id = js_driver.execute_cdp_cmd("Page.getFrameTree", {})["frameTree"]["frame"]["id"]
    js_driver.execute_cdp_cmd("Page.setDocumentContent", {"frameId": frame_id, "html": html})
    return _run_axe(js_driver, page_url)


def format_violations(violations: list[dict[str, Any]]) -> str:
    """axe violations as lines a person can act on: impact, rule, help, each element."""
    lines: list[str] = []
    for violation in violations:
        lines.append(
            f"[{violation.get('impact')}] {violation.get('id')}: {violation.get('help')}"
            f" ({violation.get('helpUrl')})"
        )
        for node in violation.get("nodes", []):
            target = " ".join(str(part) for part in node.get("target", []))
            lines.append(f"    at {target}: {node.get('html', '')[:200]}")
            summary = node.get("failureSummary")
            if summary:
                lines.extend(f"      {line}" for line in str(summary).splitlines())
    return "\n".join(lines)


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations with impact serious or critical."""
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def assert_accessible(js_driver: WebDriver, url: str) -> list[dict[str, Any]]:
    """Fail unless axe finds no serious or critical violation on URL; returns all found."""
    return _assert_no_blocking(axe_scan(js_driver, url), url)


def assert_accessible_snapshot(js_driver: WebDriver, browser_driver: WebDriver) -> list[dict[str, Any]]:
    """Like :func:`assert_accessible`, for the page the JavaScript-off browser shows now."""
    url = browser_driver.current_url
    return _assert_no_blocking(axe_scan_snapshot(js_driver, browser_driver), url)


def _assert_no_blocking(violations: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    bad = blocking(violations)
    assert not bad, f"axe found {len(bad)} serious or critical violation(s) on {url}:\n" + (
        format_violations(bad)
    )
    return violations


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def live_server(app: WSGIApplication) -> Iterator[str]:
    """The test module's ``app`` fixture served on 127.0.0.1; yields the base URL."""
    with serve(app) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def chromium_js_off() -> Iterator[WebDriver]:
    """One JavaScript-off Chromium for the whole run (starting one takes about a second)."""
    with chromium(javascript=False, name="js-off", log_network=True) as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium_js_on() -> Iterator[WebDriver]:
    """One JavaScript-on Chromium for the whole run, for the accessibility scan only."""
    with chromium(javascript=True, name="js-on") as driver:
        yield driver


@pytest.fixture
def browser(chromium_js_off: WebDriver) -> WebDriver:
    """The JavaScript-off Chromium, with no cookie or cache left from earlier tests."""
    reset(chromium_js_off)
    return chromium_js_off


@pytest.fixture
def js_browser(chromium_js_on: WebDriver) -> WebDriver:
    """The JavaScript-on Chromium, reset; use it only through :func:`axe_scan`."""
    reset(chromium_js_on)
    return chromium_js_on


__all__ = [
    "Fetch",
    "PageLoad",
    "UploadOutcome",
    "assert_accessible",
    "assert_accessible_snapshot",
    "axe_scan",
    "axe_scan_snapshot",
    "blocking",
    "browser",
    "browser_missing",
    "chromium",
    "chromium_js_off",
    "chromium_js_on",
    "format_violations",
    "js_browser",
    "live_server",
    "load_and_count",
    "page_size",
    "post_whole_body_first",
    "require_browser",
    "reset",
    "screenshot",
    "serve",
    "set_viewport",
    "submit",
    "tab_order",
    "under_ci",
]
