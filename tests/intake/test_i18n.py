"""Languages, accessibility markup and page weight, for every page in every locale.

The catalogs are checked against what the sources ask for (extracted fresh, not read
from the committed .pot), so a new string without translations fails here.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import re
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from crypto.keys import PrivateKey
from intake.db import new_id
from intake.i18n import LANGUAGES, safe_next
from intake.security import DerivationLimiter

from .conftest import SQLITE_ONLY
from .helpers import answers, apply, codename_of, csrf, files, post, sign_out
from .transfer_helpers import case_of, replies_bundle, reply_key, sealed_reply

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "intake" / "translations"
RTL = {"ar", "fa"}
BUDGET = 20 * 1024
#: A page holding the application form carries the list of countries named in its
#: language (250 option elements: 9.5 KB in English, 12 KB in Russian): its own budget
#: (docs/translations.md, "Weight").
FORM_BUDGET = 30 * 1024
COUNTRY_LIST = re.compile(r'<select[^>]* id="country"')


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


def translate(code: str, msgid: str) -> str:
    return str(Translations.load(str(CATALOGS), [code]).gettext(msgid))


# --- catalogs ------------------------------------------------------------------------


def test_every_catalog_is_complete_and_compiled() -> None:
    pot = TOOL.extract()
    assert len([m for m in pot if m.id]) > 100  # the extraction really found the pages
    assert TOOL.problems(pot) == []


def test_committed_template_matches_the_sources() -> None:
    with (CATALOGS / "messages.pot").open("rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    assert committed == {m.id for m in TOOL.extract() if m.id}


FRENCH = CATALOGS / "fr" / "LC_MESSAGES" / "messages.po"


@pytest.fixture
def french_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The checks pointed at an empty catalog folder for French alone; returns where its .po goes."""
    monkeypatch.setattr(TOOL, "CATALOGS", tmp_path)
    monkeypatch.setattr(TOOL, "LOCALES", ("fr",))
    target = tmp_path / "fr" / "LC_MESSAGES" / "messages.po"
    target.parent.mkdir(parents=True)
    return target


def test_the_catalog_checks_can_fail(french_only: Path) -> None:
    # A copy of the French catalog with one entry emptied, one placeholder dropped,
    # and a stale .mo: each must be reported.
    pot, target = TOOL.extract(), french_only
    text = FRENCH.read_text("utf-8")
    text = text.replace('msgstr "Pas encore"', 'msgstr ""')
    text = text.replace("Oui, le %(day)s", "Oui, le jour")
    target.write_text(text, "utf-8")
    (target.with_suffix(".mo")).write_bytes(b"stale")
    found = "\n".join(TOOL.problems(pot))
    assert "empty translation for 'Not yet'" in found
    assert "placeholders or tags differ in 'Yes, on %(day)s'" in found
    assert "is not what the .po compiles to" in found


def test_a_mo_is_checked_by_meaning_not_by_bytes(french_only: Path) -> None:
    # Another Babel release may lay out the same catalog differently: a .mo with other
    # header dates is still right; a well-formed .mo of an older translation is not.
    pot, target, source = TOOL.extract(), french_only, FRENCH
    target.write_bytes(source.read_bytes())
    with source.open("rb") as f:
        catalog = read_po(f)
    catalog.revision_date = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    other_layout = io.BytesIO()
    write_mo(other_layout, catalog, use_fuzzy=False)
    assert other_layout.getvalue() != TOOL.mo_bytes(source)
    target.with_suffix(".mo").write_bytes(other_layout.getvalue())
    assert TOOL.problems(pot) == []

    not_yet = catalog.get("Not yet")
    assert not_yet is not None
    not_yet.string = "Toujours pas"
    older = io.BytesIO()
    write_mo(older, catalog, use_fuzzy=False)
    target.with_suffix(".mo").write_bytes(older.getvalue())
    assert TOOL.problems(pot) == ["fr: messages.mo is not what the .po compiles to"]


def test_catalogs_say_they_need_review() -> None:
    for code in LANGUAGES:
        raw = (CATALOGS / code / "LC_MESSAGES" / "messages.po").read_text("utf-8")
        assert "X-Review-Status: machine-drafted, needs native-speaker review" in raw, code
        assert "NEEDS REVIEW" in raw.split("msgid", 1)[0], code
        assert "#, fuzzy" not in raw, code  # fuzzy entries would be left out of the .mo


@pytest.mark.parametrize("code", sorted(set(LANGUAGES) - {"en"}))
def test_each_language_is_really_translated(code: str) -> None:
    # Not a copy of English: the page headings differ.
    for msgid in ("Apply for a safe place to live and work",
                  "Please choose the country, or another place at the end of the list.",
                  "Too large to accept"):
        assert translate(code, msgid) != msgid, (code, msgid)


# --- the language choice ------------------------------------------------------------


def choose(client: FlaskClient, code: str, next_path: str = "/") -> TestResponse:
    return client.get(f"/language/{code}", query_string={"next": next_path})


@SQLITE_ONLY
def test_choice_is_explicit_and_persists(client: FlaskClient) -> None:
    # Accept-Language is ignored: Tor Browser always asks for English.
    html = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html
    response = choose(client, "fr", "/apply")
    assert response.status_code == 303 and response.headers["Location"] == "/apply"
    for path in ("/apply", "/signin", "/", "/nowhere"):
        html = client.get(path).get_data(as_text=True)
        assert '<html lang="fr" dir="ltr">' in html, path
    assert translate("fr", "Your name or the pseudonym you publish under") in \
        client.get("/apply").get_data(as_text=True)


@SQLITE_ONLY
def test_choice_survives_applying_and_signing_out(client: FlaskClient) -> None:
    choose(client, "ru")
    response = apply(client)
    html = response.get_data(as_text=True)
    assert '<html lang="ru" dir="ltr">' in html and translate("ru", "Keeping your codename") in html
    assert len(codename_of(response).split()) == 7
    html = sign_out(client).get_data(as_text=True)
    assert '<html lang="ru" dir="ltr">' in html
    assert translate("ru", "You are signed out") in html


@SQLITE_ONLY
def test_unknown_language_is_a_404(client: FlaskClient) -> None:
    response = client.get("/language/xx")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "http:/evil.example", "javascript:alert(1)", "evil.example", "/\t/evil.example",
    "/%0a/evil", "", "data:text/html,x",
])
@SQLITE_ONLY
def test_open_redirects_are_refused(client: FlaskClient, target: str) -> None:
    response = choose(client, "fr", target)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location in ("/", target) and location.startswith("/")
    assert not location.startswith("//") and "\\" not in location
    if target not in ("/%0a/evil",):  # a percent-escape is a harmless local path
        assert location == "/"


def test_local_next_is_kept() -> None:
    assert safe_next("/case") == "/case"
    assert safe_next("/apply?x=1") == "/apply?x=1"
    assert safe_next("//evil") == "/"
    assert safe_next("/\\evil") == "/"


# --- every page, every locale ----------------------------------------------------------


class Page(HTMLParser):
    """What the checks need from a page: subresources, headings, ids, labels, links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html_attrs: dict[str, str | None] = {}
        self.subresources: list[tuple[str, str]] = []
        self.links: list[dict[str, str | None]] = []
        self.headings: list[int] = []
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "html":
            self.html_attrs = attrs
        if attrs.get("id"):
            self.ids.append(str(attrs["id"]))
        if tag == "link":
            self.links.append(attrs)
        for name in ("src", "srcset", "data", "poster", "background"):
            if attrs.get(name):
                self.subresources.append((tag, str(attrs[name])))
        if tag in ("img", "script", "iframe", "frame", "object", "embed", "video", "audio",
                   "source", "track", "picture", "svg", "base"):
            self.subresources.append((tag, ""))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label" and attrs.get("for"):
            self.label_for.add(str(attrs["for"]))
        if tag in ("input", "select", "textarea"):
            self.controls.append(attrs)
        if tag == "a":
            self.anchors.append(attrs)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


REPLY = ("Thank you for your application. We have read it and will write again within "
         "two weeks. Please tell us through this page if your contact details change.\n") * 3


def add_replies(app: Flask, client: FlaskClient, codename: str, reviewer: PrivateKey,
                where: Path) -> None:
    """Two replies from the Secretariat in the signed-in applicant's case."""
    case = case_of(client)
    applicant = reply_key(app, codename).public_key
    replies = [(rid, case, sealed_reply(case, rid, REPLY, applicant, [reviewer.public_key]))
               for rid in (new_id(), new_id())]
    path = replies_bundle(where / "replies.bundle", replies, [reviewer.public_key])
    result = app.test_cli_runner().invoke(args=["import-replies", str(path)])
    assert result.exit_code == 0, result.output


def every_applicant_page(make_app: Any, code: str, reviewer: PrivateKey,
                         where: Path) -> Iterator[tuple[str, TestResponse]]:
    """(name, response) for each applicant page and state, in language `code`."""
    app: Flask = make_app(MAX_CONTENT_LENGTH=256 * 1024, MAX_FILES=2)
    client = app.test_client()
    choose(client, code)
    yield "landing", client.get("/")
    yield "apply", client.get("/apply")
    everything_wrong: dict[str, Any] = {key: "" for key in answers()}
    everything_wrong.update(profession="other", csrf_token=csrf(client, "/apply"),
                            attachments=files(*[(b"x", f"{i}.txt", "text/plain")
                                                for i in range(3)]))
    yield "apply-errors", post(client, "/apply", everything_wrong)
    yield "apply-expired", post(client, "/apply", answers())
    yield "apply-too-large", post(client, "/apply", dict(
        answers(), csrf_token=csrf(client, "/apply"),
        attachments=files((b"z" * (300 * 1024), "big.bin", "x/y"))))
    yield "signin", client.get("/signin")
    yield "signin-wrong", client.post("/signin", data={
        "csrf_token": csrf(client, "/signin"), "codename": "not a real code name at all"})
    yield "signin-expired", client.post("/signin", data={"csrf_token": "x", "codename": "y"})
    first = apply(client, attachments=files((b"pdf", "a.pdf", "application/pdf")))
    yield "codename", first
    add_replies(app, client, codename_of(first), reviewer, where)
    token = csrf(client, "/case")
    client.post("/case", data={"csrf_token": token, "message": "more"})
    yield "case", client.get("/case")  # two replies, two submissions and the "Sent" notice
    yield "case-errors", post(client, "/case", {"csrf_token": token, "message": ""})
    yield "signout", client.get("/signout")
    yield "signout-confirm", client.post("/signout")  # no token: the confirm form
    yield "signed-out", sign_out(client)
    yield "signout-not-signed-in", client.post("/signout")
    yield "case-signed-out", client.get("/case", follow_redirects=True)
    yield "not-found", client.get("/nowhere")
    yield "wrong-method", client.put("/apply")
    yield "turned-away", apply(client, data=answers(homepage="http://spam.example"))
    busy = DerivationLimiter(1, 0.0)
    busy.semaphore.acquire()
    app.extensions["intake_limiter"] = busy
    yield "busy", apply(client)
    closed: Flask = make_app(with_key=False)
    closed_client = closed.test_client()
    choose(closed_client, code)
    yield "closed", closed_client.get("/apply")
    yield "landing-closed", closed_client.get("/")


@pytest.fixture(scope="module")
def stylesheet_bytes() -> int:
    return len((ROOT / "intake" / "static" / "style.css").read_bytes())


@pytest.mark.parametrize("code", list(LANGUAGES))
@SQLITE_ONLY
def test_every_page_in_every_language(make_app: Any, code: str, stylesheet_bytes: int,
                                      reviewer_key: PrivateKey, tmp_path: Path) -> None:
    tag = code.replace("_", "-")
    direction = "rtl" if code in RTL else "ltr"
    seen = []
    for name, response in every_applicant_page(make_app, code, reviewer_key, tmp_path):
        seen.append(name)
        html = response.get_data(as_text=True)
        where = f"{code} {name} ({response.status_code})"
        page = parse(html)

        # Language and direction.
        assert page.html_attrs.get("lang") == tag and page.html_attrs.get("dir") == direction, where

        # Weight: HTML + the one stylesheet, and nothing else to fetch.
        size = len(response.get_data()) + stylesheet_bytes
        budget = FORM_BUDGET if COUNTRY_LIST.search(html) else BUDGET
        assert size <= budget, f"{where}: {size} bytes"
        stylesheets = [a for a in page.links if a.get("rel") == "stylesheet"]
        assert [a.get("href") for a in stylesheets] == ["/static/style.css"], where
        others = [a for a in page.links if a.get("rel") != "stylesheet"]
        assert [(a.get("rel"), a.get("href")) for a in others] == [("icon", "data:,")], where
        assert page.subresources == [], where
        assert "url(" not in html and "@import" not in html, where

        # The picker: every language, in its own language, this one marked current.
        pickers = [a for a in page.anchors if a.get("hreflang")]
        assert [a.get("hreflang") for a in pickers] == [c.replace("_", "-") for c in LANGUAGES]
        assert all(a.get("lang") == a.get("hreflang") for a in pickers), where
        assert [a.get("hreflang") for a in pickers if a.get("aria-current") == "true"] == [tag]
        for a in pickers:
            assert str(a.get("href")).startswith("/language/"), where

        # Structure: one h1 first, no skipped heading levels, unique ids, a skip link.
        assert page.headings and page.headings[0] == 1 and page.headings.count(1) == 1, where
        for before, after in zip(page.headings, page.headings[1:], strict=False):
            assert after <= before + 1, f"{where}: h{before} then h{after}"
        assert len(page.ids) == len(set(page.ids)), where
        assert page.anchors[0].get("href") == "#main" and "main" in page.ids, where

        # Every visible control has a label tied to it; errors are tied to their fields.
        for control in page.controls:
            if control.get("type") in ("hidden", "submit"):
                continue
            assert control.get("id") in page.label_for, f"{where}: {control}"
            if control.get("aria-invalid") == "true":
                described = str(control.get("aria-describedby")).split()
                assert f"{control['id']}-error" in described, where
                assert f"{control['id']}-error" in page.ids, where
        for a in page.anchors:
            href = str(a.get("href"))
            if href.startswith("#"):
                assert href[1:] in page.ids, f"{where}: {href}"
        assert "Traceback" not in html
        if name == "case":  # the heaviest case page: replies shown and readable
            assert html.count('<section class="reply"') == 2 and "Thank you for your" in html
    assert len(seen) == 22


@SQLITE_ONLY
def test_arabic_errors_are_in_arabic(client: FlaskClient) -> None:
    choose(client, "ar")
    data = answers(country="", acknowledge="")
    data["csrf_token"] = csrf(client, "/apply")
    response = post(client, "/apply", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    for msgid in ("Please choose the country, or another place at the end of the list.",
                  "Please confirm that you have read this.",
                  "Please check the answers marked below."):
        arabic = translate("ar", msgid)
        assert arabic != msgid and re.search("[\u0600-\u06ff]", arabic)
        assert arabic in html, msgid
        assert msgid not in html
    # The error summary links to the fields with errors.
    assert 'href="#country"' in html and 'href="#acknowledge"' in html


@SQLITE_ONLY
def test_too_long_and_too_many_messages_are_translated(make_app: Any) -> None:
    app = make_app(MAX_FILES=1)
    client = app.test_client()
    choose(client, "tr")
    response = apply(client, data=answers(name="x" * 301),
                     attachments=files((b"a", "a.txt", "text/plain"), (b"b", "b.txt", "text/plain")))
    html = response.get_data(as_text=True)
    assert translate("tr", "Please keep this under %(max)d characters.") % {"max": 300} in html
    assert translate("tr", "You can send at most %(limit)d files at once.") % {"limit": 1} in html


@SQLITE_ONLY
def test_too_large_page_is_translated(make_app: Any) -> None:
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    client = app.test_client()
    choose(client, "zh_Hans")
    response = post(client, "/apply", dict(answers(), csrf_token=csrf(client, "/apply"),
                                           attachments=files((b"z" * 100_000, "b", "x/y"))))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert '<html lang="zh-Hans" dir="ltr">' in html
    assert translate("zh_Hans", "Too large to accept") in html


def test_stylesheet_reads_both_ways_and_fits_a_phone() -> None:
    css = (ROOT / "intake" / "static" / "style.css").read_text("utf-8")
    rules = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    # Physical sides would put things on the wrong side of a right-to-left page.
    physical = re.findall(r"(?:margin|padding|border)-(?:left|right)|(?<![-\w])(?:left|right)\s*:"
                          r"|text-align\s*:\s*(?:left|right)|float\s*:", rules)
    assert physical == []
    # No fixed widths: only the 1 px honeypot box is sized in pixels.
    assert re.findall(r"(?<![-\w])(?:min-|max-)?width\s*:\s*(\d+)px", rules) == ["1"]
    assert ":focus-visible" in rules and "outline" in rules
    assert "url(" not in rules and "@import" not in rules and "@font-face" not in rules
