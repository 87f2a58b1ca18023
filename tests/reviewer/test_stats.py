"""`reviewer stats`: the overview's figures over 200 generated cases, and the published counts.

Every figure is computed here from the generator's own record of what it made
(tests/harness/many_cases.py), not from reviewer.stats. The published counts are
attacked the way a reader of two annual reports would: by subtracting rows from
totals and from each other, within one table and between two `--since` periods.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reviewer import stats
from reviewer.cli import cli
from reviewer.home import Home, today
from reviewer.state import State
from tests.harness.many_cases import Made, generate, populate

from .test_cli import PASSPHRASE, Env, make_env

DECISIONS = {"proceed", "refer", "decline"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, list[Made]]:
    tmp = tmp_path_factory.mktemp("stats")
    env = make_env(tmp)
    home = Home(env.home)
    made = generate(200)
    populate(home, home.unlock(PASSPHRASE), made, tmp)
    return env, made


# --- the truth, computed from what was made ----------------------------------------------


def state_of(m: Made) -> str:
    return m.verifications[-1][1] if m.verifications else "unverified"


def decided(m: Made) -> str:
    return next((day for day, rec in m.verifications if rec in DECISIONS), "")


def days(a: str, b: str) -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def country_of(m: Made) -> str:
    if not m.readable:
        return "not known"
    return m.country_code or "not coded"


def expected(made: list[Made], since: str | None, on: str) -> dict[str, object]:
    chosen = [m for m in made if since is None or m.received[:7] >= since]
    countries = Counter(country_of(m) for m in chosen)
    coded = sorted((c for c in countries if len(c) == 2), key=lambda c: (-countries[c], c))
    undecided = sorted((m for m in chosen if not decided(m)),
                       key=lambda m: (m.received, m.applicant.case))
    replies = [days(m.received, min(m.replies)) for m in chosen if m.replies]
    decisions = [days(m.received, decided(m)) for m in chosen if decided(m)]
    return {
        "cases": len(chosen),
        "by_month": {k: v for k, v in Counter(m.received[:7] for m in chosen).items()},
        "by_state": Counter(state_of(m) for m in chosen),
        "by_profession": Counter(m.profession if m.readable else "not known" for m in chosen),
        "by_urgency": Counter(m.urgency if m.readable else "not known" for m in chosen),
        "countries": {c: countries[c] for c in coded[:15]},
        "other_countries": sum(countries[c] for c in coded[15:]),
        "not_coded": countries["not coded"],
        # A case counts as referred when a dossier was written for it (a referral team
        # record), not for its state: no dossier is written here (see test_cities_team).
        "referred": 0,
        "reply": (statistics.median(replies), len(replies)),
        "decision": (statistics.median(decisions), len(decisions)),
        "waiting": [(m.applicant.case, days(m.received, on)) for m in undecided[:10]],
    }


def rows(got: dict[str, object], name: str) -> dict[str, int]:
    table = got[name]
    assert isinstance(table, list)
    return {r["key"]: r["count"] for r in table}


@pytest.mark.parametrize("since", [None, "2025-07"])
def test_the_overview_figures_are_the_cases_figures(world: tuple[Env, list[Made]],
                                                    since: str | None) -> None:
    env, made = world
    args = ["stats", "--json"] + (["--since", since] if since else [])
    result = env.run(*args)
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    want = expected(made, since, today())
    assert got["cases"] == want["cases"] and got["since"] == since
    months = rows(got, "by_month")
    assert {k: v for k, v in months.items() if v} == want["by_month"]
    assert list(months) == sorted(months)  # every month in order, empty ones too
    assert rows(got, "by_state") == want["by_state"]
    assert rows(got, "by_profession") == want["by_profession"]
    assert rows(got, "by_urgency") == want["by_urgency"]
    country = rows(got, "by_country")
    assert {k: v for k, v in country.items() if len(k) == 2} == want["countries"]
    assert country.get("others", 0) == want["other_countries"]
    assert country.get("not coded", 0) == want["not_coded"]
    assert got["referred"] == want["referred"] and got["by_city"] == []
    assert (got["median_days_to_first_reply"]["days"],
            got["median_days_to_first_reply"]["cases"]) == want["reply"]
    assert (got["median_days_to_decision"]["days"],
            got["median_days_to_decision"]["cases"]) == want["decision"]
    assert [(w["case"], w["days"]) for w in got["waiting_longest"]] == want["waiting"]


def test_the_text_overview_and_bad_months(world: tuple[Env, list[Made]]) -> None:
    env, made = world
    result = env.run("stats")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Cases (to {today()}): {len(made)}\n")
    assert "Syria" in result.output and "Median time from arrival to a decision" in result.output
    for bad in ("2026-13", "26-01", "2026-1", "january"):
        result = env.run("stats", "--since", bad)
        assert result.exit_code != 0 and "is not a month" in result.output, bad


# --- the published counts ------------------------------------------------------------------


def published(made: list[Made], env: Env, since: str | None, threshold: int = 5
              ) -> dict[str, dict[str, int]]:
    args = ["stats", "--csv", "--threshold", str(threshold)] + (["--since", since] if since else [])
    result = env.run(*args)
    assert result.exit_code == 0, result.output
    return parse_csv(result.output)


def parse_csv(text: str) -> dict[str, dict[str, int]]:
    tables: dict[str, dict[str, int]] = {}
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == ["table", "key", "label", "cases"]
    for table, key, _label, count in reader:
        if table != "about":
            tables.setdefault(table, {})[key] = int(count)
    return tables


def every_month(made: list[Made]) -> list[str]:
    return stats.months_from(min(m.received[:7] for m in made), max(m.received[:7] for m in made))


def derivable(reports: list[dict[str, dict[str, int]]]) -> Iterator[tuple[str, int]]:
    """Every number a reader gets from these reports by subtraction: each cell; the total
    less every row of a table but one (that row, or the rows hidden in "others"); and
    every row (and total) of one period less the same row of another."""
    for report in reports:
        total = report.get("cases", {}).get("all", 0)
        for table, cells in report.items():
            yield f"{table} cell", min(cells.values(), default=0)
            for key in cells:
                rest = sum(v for k, v in cells.items() if k != key)
                yield f"{table} total less all but {key}", total - rest
    for a in reports:
        for b in reports:
            for table in set(a) | set(b):
                for key in set(a.get(table, {})) | set(b.get(table, {})):
                    diff = a.get(table, {}).get(key, 0) - b.get(table, {}).get(key, 0)
                    yield f"{table} {key} between two periods", diff


def small(found: Iterable[tuple[str, int]], threshold: int) -> list[tuple[str, int]]:
    return [(what, n) for what, n in found if 0 < abs(n) < threshold]


def test_no_published_cell_is_below_the_threshold(world: tuple[Env, list[Made]]) -> None:
    env, made = world
    for threshold in (5, 10):
        report = published(made, env, None, threshold)
        assert report["cases"]["all"] == len(made)
        for table, cells in report.items():
            assert all(v >= threshold for v in cells.values()), (threshold, table, cells)
            if table != "cases":
                assert sum(cells.values()) == len(made), table  # each table is every case
    # Names, free text and case ids never appear.
    text = env.run("stats", "--csv").output
    for m in made:
        assert m.applicant.case[:12] not in text
    for words in ("Kurdistan", "cartoons on walls", "somewhere", "Ayşe"):
        assert words not in text


def test_subtraction_recovers_no_hidden_count(world: tuple[Env, list[Made]]) -> None:
    """Totals less rows, "others", and two overlapping --since periods: nothing below 5."""
    env, made = world
    facts = stats.all_facts(*_state_and_index(env))
    reports = [parse_csv(stats.counts_csv(stats.published_counts(facts, since=s), made="x"))
               for s in [None, *every_month(made)]]
    assert len({json.dumps(r, sort_keys=True) for r in reports}) >= 2  # periods differ
    # The attack has something to find: small counts exist in the cases themselves.
    assert any(0 < n < 5 for n in Counter(country_of(m) for m in made).values())
    assert small(derivable(reports), 5) == []
    # Two periods through the command itself, too.
    two = [published(made, env, "2024-06"), published(made, env, "2025-02")]
    assert small(derivable(two), 5) == []


def test_the_attack_finds_what_primary_suppression_alone_leaves(
        world: tuple[Env, list[Made]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same attack against counts suppressed cell by cell only (a row shown when
    its count over all the cases is 5 or more) recovers small counts: it has teeth."""
    env, made = world
    facts = stats.all_facts(*_state_and_index(env))

    def primary_only(cells: dict[str, list[int]], threshold: int,
                     keep: int | None = None) -> frozenset[str]:
        return frozenset(c for c, v in cells.items() if sum(v) >= threshold)

    monkeypatch.setattr(stats, "protect", primary_only)
    reports = [parse_csv(stats.counts_csv(stats.published_counts(facts, since=s), made="x"))
               for s in [None, *every_month(made)]]
    assert small(derivable(reports), 5)


def _state_and_index(env: Env) -> tuple[State, dict[str, Any]]:
    home = Home(env.home)
    keys = home.unlock(PASSPHRASE)
    state = home.load_state()
    return state, home.fresh_index(state, keys)


# --- the suppression rule on its own ----------------------------------------------------------


def test_protect_groups_what_a_subtraction_would_reveal() -> None:
    # Two blocks. "a" is clean; "b" has 2 in the second block (a period difference
    # would show it); "c" and "d" are 3 each: together "others" is 5 and 3... not clean,
    # so the smallest shown row joins them.
    cells = {"a": [9, 7], "b": [6, 2], "c": [3, 0], "d": [0, 3], "e": [5, 5]}
    shown = stats.protect(cells, 5)
    others = [sum(cells[c][i] for c in cells if c not in shown) for i in range(2)]
    assert all(n == 0 or n >= 5 for n in others)
    assert "b" not in shown and "a" in shown
    assert stats.protect(cells, 1) == frozenset(cells)  # threshold 1: everything shown
    assert stats.protect({"a": [3, 4]}, 5) == frozenset()
    assert stats.protect(cells, 5, keep=1) <= {"a"}


def test_time_blocks_are_years_of_at_least_the_threshold() -> None:
    # 2024 has 3 cases: too few alone, it grows into 2025; 2026's 3 join the year before.
    months = {"2024-03": 2, "2024-11": 1, "2025-01": 7, "2026-02": 3}
    assert stats.time_blocks(months, 5) == [("2024-01", "2026-12")]
    assert stats.time_blocks({"2024-05": 6, "2025-01": 5, "2026-03": 2}, 5) == [
        ("2024-01", "2024-12"), ("2025-01", "2026-12")]
    assert stats.time_blocks({"2026-01": 4}, 5) == []
    ranges = stats.month_ranges({"2025-01": 2, "2025-02": 0, "2025-03": 4, "2025-07": 6},
                                ("2025-01", "2025-12"), 5)
    assert ranges == [("2025-01", "2025-03", 6), ("2025-04", "2025-07", 6)]


def test_a_bad_threshold_is_refused(world: tuple[Env, list[Made]]) -> None:
    env, _ = world
    result = env.run("stats", "--csv", "--threshold", "0")
    assert result.exit_code != 0
    assert env.run("stats", "--csv", "--json").exit_code != 0


def test_the_csv_names_the_period_it_really_covers(world: tuple[Env, list[Made]]) -> None:
    env, _ = world
    text = env.run("stats", "--csv", "--since", "2025-07").output
    about = {row[1]: row[2] for row in csv.reader(io.StringIO(text)) if row[0] == "about"}
    assert about["from"] == "2025-01"  # the year block holding July 2025
    assert about["threshold"] == "5"


def test_other_commands_do_not_load_the_statistics_or_the_referrals() -> None:
    """`reviewer stats` and the member-city commands import their modules when run: the
    others (every `list`, `import`) do not pay for statistics, csv or crypto.dossier."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, reviewer.cli; print(sorted(m for m in sys.modules"
         " if m in ('reviewer.stats', 'reviewer.referrals', 'crypto.dossier', 'statistics')))"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2],
    ).stdout
    assert loaded.strip() == "[]"


def test_the_threshold_default_in_the_help_is_the_one_used() -> None:
    help_text = CliRunner().invoke(cli, ["stats", "--help"]).output
    assert f"(default {stats.DEFAULT_THRESHOLD})" in " ".join(help_text.split())
