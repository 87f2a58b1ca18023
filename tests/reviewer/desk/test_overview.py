"""The desk's Overview page and its counts download, through Flask's test client.

The page's figures are reviewer.stats' (checked against 200 generated cases in
tests/reviewer/test_stats.py); here: that each chart is SVG with presentation
attributes only (the desk's CSP forbids style elements and attributes), that each
has a table of the same numbers, and that the CSV download is the published counts.
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

from reviewer import stats
from reviewer.desk import Desk, create_app
from reviewer.home import Home, today
from tests.harness.many_cases import generate, populate
from tests.reviewer.desk.conftest import BASE, PASSPHRASE, PORT, Clock, page
from tests.reviewer.test_cli import make_env

#: The presentation attributes a chart may carry, and its elements.
SVG_ELEMENTS = {"svg", "rect", "text"}
SVG_ATTRIBUTES = {"xmlns", "width", "height", "viewbox", "aria-hidden", "focusable",
                  "font-family", "font-size", "x", "y", "text-anchor", "fill"}


class Charts(HTMLParser):
    """Every SVG element and attribute; each chart's bars and each table's numbers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.svg_depth = 0
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.bar_counts: list[list[str]] = []  # per chart, the number after each bar
        self.table_counts: list[list[str]] = []
        self._in_table = False
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._text: list[str] | None = None
        self._chart_texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg_depth += 1
            self._chart_texts = []
        if self.svg_depth:
            self.elements.append((tag, dict(attrs)))
            if tag == "text":
                self._text = []
        if tag == "table" and ("class", "figures") in attrs:
            self._in_table = True
            self.table_counts.append([])
        if self._in_table and tag == "td":
            self._cell = []
        if self._in_table and tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "text" and self._text is not None:
            self._chart_texts.append("".join(self._text))
            self._text = None
        if tag == "svg":
            self.svg_depth -= 1
            # label, count, label, count, …
            self.bar_counts.append(self._chart_texts[1::2])
        if self._in_table and tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if self._in_table and tag == "tr" and len(self._row) == 2:
            self.table_counts[-1].append(self._row[1])
        if tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, list[stats.CaseFacts]]:
    tmp = tmp_path_factory.mktemp("overview")
    env = make_env(tmp)
    home = Home(env.home)
    keys = home.unlock(PASSPHRASE)
    populate(home, keys, generate(200), tmp)
    state = home.load_state()
    return home, stats.all_facts(state, home.fresh_index(state, keys),
                                 home.team_views_of(state, keys))


@pytest.fixture
def browser(many: tuple[Home, list[stats.CaseFacts]]) -> FlaskClient:
    home, _ = many
    desk = Desk(home, home.unlock(PASSPHRASE), port=PORT, idle_seconds=60, clock=Clock())
    client = create_app(desk, {"TESTING": True}).test_client()
    assert client.get(f"/cases?token={desk.token}", base_url=BASE).status_code == 303
    return client


def test_every_chart_is_svg_with_its_table_and_no_style(
        browser: FlaskClient, many: tuple[Home, list[stats.CaseFacts]]) -> None:
    _, facts = many
    html = page(browser, "/overview")
    assert "<style" not in html and " style=" not in html and "<script" not in html
    charts = Charts()
    charts.feed(html)
    assert {tag for tag, _ in charts.elements} == SVG_ELEMENTS
    for tag, attrs in charts.elements:
        assert set(attrs) <= SVG_ATTRIBUTES, (tag, attrs)
    figures = stats.overview(facts, today=today())
    tables = [figures.by_month, figures.by_state, figures.by_profession, figures.by_country,
              figures.by_urgency]
    want = [[str(r.count) for r in rows] for rows in tables]
    assert charts.bar_counts == want  # each bar's number, chart by chart
    assert charts.table_counts == want  # … and the same numbers as a table
    assert f"{figures.total} cases" in html
    # The longest bar is the largest count, drawn at the full width.
    widths = [float(a["width"] or 0) for t, a in charts.elements if t == "rect"]
    assert max(widths) == 360.0
    for w in figures.waiting:
        assert f'href="/cases/{w.case}"' in html


def test_the_overview_since_a_month_and_a_bad_month(browser: FlaskClient) -> None:
    html = page(browser, "/overview?since=2026-01")
    assert "from 2026-01" in html and 'value="2026-01"' in html
    r = browser.get("/overview?since=2026-13", base_url=BASE)
    assert r.status_code == 400
    assert "is not a month" in r.get_data(as_text=True)


def test_download_counts_is_the_published_csv(
        browser: FlaskClient, many: tuple[Home, list[stats.CaseFacts]]) -> None:
    _, facts = many
    html = page(browser, "/overview")
    assert re.search(r'<form method="get" action="/overview/counts.csv"', html)
    assert "Download counts (CSV)" in html
    r = browser.get("/overview/counts.csv?since=2025-03&threshold=7", base_url=BASE)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["Cache-Control"] == "no-store"
    text = r.get_data(as_text=True)
    assert text == stats.counts_csv(stats.published_counts(facts, since="2025-03", threshold=7),
                                    made=today())
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        if row[0] != "about":
            assert int(row[3]) >= 7, row
    for bad in ("0", "-1", "x", "99999"):
        r = browser.get(f"/overview/counts.csv?threshold={bad}", base_url=BASE)
        assert r.status_code == 400, bad
        assert "No counts: the threshold" in r.get_data(as_text=True)


def test_the_nav_links_the_overview(browser: FlaskClient) -> None:
    assert 'href="/overview">Overview</a>' in page(browser, "/cases")


