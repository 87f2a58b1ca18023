"""Member cities as the team's: the register, referrals, consents and a coordinator's
answer travel as team records, through the real commands.

Two reviewers (Ana, Bea: each has confirmed the other's key and holds her
announcement) and a city coordinator with her own home. What one reviewer
records about cities reaches the other with her outbox.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result

from reviewer.cli import cli
from reviewer.desk import Desk, create_app
from tests.reviewer.desk.conftest import BASE, PASSPHRASE, PORT, Clock, page

from .test_cli import Env, make_env
from .test_team_cli import Reviewer, reviewer, team  # noqa: F401 (the fixture)

GROUPS = ("keys", "cities", "dossier")
HOW = "CONSENT-CANARY-e41b said yes on the phone"
ANSWER = "CITY-ANSWER-CANARY-0c3d we can host her"


def run(env: Env, *args: str) -> Result:
    n = 2 if args[0] in GROUPS else 1
    return env.runner.invoke(cli, [*args[:n], "--home", str(env.home), "--passphrase-file",
                                   str(env.pass_file), *args[n:]])


def ok(env: Env, *args: str) -> str:
    result = run(env, *args)
    assert result.exit_code == 0, result.output
    return result.output


def exchange(sender: Reviewer, receiver: Reviewer, path: Path) -> str:
    """The sender's outbox, imported by the receiver from a stick: the import's report."""
    sender.export(path)
    return ok(receiver.env, "import", str(path))


def flat(text: str) -> str:
    return " ".join(text.split())  # wrapped to the terminal's width


def oslo_added_by(who: Reviewer, tmp_path: Path) -> Env:
    """A member city's home (Oslo, Norway), added to `who`'s register."""
    (tmp_path / "city").mkdir()
    city = make_env(tmp_path / "city")
    ok(who.env, "cities", "add", "Oslo", city.public.to_text(), "--country", "NO", "--yes")
    return city


def test_the_register_referrals_consents_and_answers_reach_colleagues(
        team: tuple[Reviewer, Reviewer, str, str], tmp_path: Path) -> None:  # noqa: F811
    ana, bea, x, y = team

    # Ana adds a city, records consent on x and refers it.
    city = oslo_added_by(ana, tmp_path)
    ok(ana.env, "consent", x, "--how", HOW)
    dossier = tmp_path / "x.dossier"
    ok(ana.env, "refer", x, "--city", "Oslo", "--out", str(dossier), "--answer", "work",
       "--file", "1")
    # Ana's own kept views follow her records (reviewer.teamview.after_own).
    rows = {r["case"]: r for r in json.loads(ok(ana.env, "list", "--json"))}
    assert rows[x]["referred"] == 1 and rows[y]["referred"] == 0
    report = exchange(ana, bea, tmp_path / "ana1.bundle")
    assert "Team records: 3 applied" in report, report

    # Bea has the city in her register, the referral and the consent in x's history.
    listed = ok(bea.env, "cities", "list")
    assert listed.startswith("Oslo\tNO\t" + city.public.fingerprint), listed
    history = flat(ok(bea.env, "history", x))
    assert "Ana referred the case to Oslo (dossier" in history, history
    assert "answers: work; files: 1;" in history
    assert f"Ana recorded the applicant's consent to share with member cities {HOW}" in history
    rows = {r["case"]: r for r in json.loads(ok(bea.env, "list", "--json"))}
    assert rows[x]["referred"] == 1 and rows[y]["referred"] == 0
    assert "referred" in ok(bea.env, "list")
    # The consent Ana recorded lets Bea refer x too.
    assert "Consent recorded" in flat(ok(bea.env, "show", x))

    # Bea records consent on y; Ana sees it.
    ok(bea.env, "consent", y, "--how", "by letter")
    exchange(bea, ana, tmp_path / "bea1.bundle")
    assert "Bea recorded the applicant's consent to share with member cities by letter" in flat(
        ok(ana.env, "history", y))
    assert "Consent recorded: by letter" in flat(ok(ana.env, "show", y))

    # The coordinator answers; Ana imports the answer; Bea sees it after the next exchange.
    ok(city, "keys", "add", ana.env.public.to_text(), "--name", "Ana", "--yes")
    note = tmp_path / "answer.txt"
    note.write_text(ANSWER + "\n")
    answer = tmp_path / "answer.env"
    ok(city, "dossier", "answer", str(dossier), "--note-file", str(note), "--out", str(answer))
    assert "Imported the answer from Oslo" in ok(ana.env, "import", str(answer))
    exchange(ana, bea, tmp_path / "ana2.bundle")
    history = flat(ok(bea.env, "history", x))
    assert "Ana imported the answer of Oslo to dossier" in history and ANSWER in history
    assert ANSWER in flat(ok(bea.env, "show", x))

    # Bea's figures count the referral and the city.
    figures = json.loads(ok(bea.env, "stats", "--json"))
    assert figures["referred"] == 1
    assert [(r["key"], r["count"]) for r in figures["by_city"]] == [("Oslo", 1)]
    assert "Oslo" in ok(bea.env, "stats")
    desk = Desk(bea.home, bea.home.unlock(PASSPHRASE), port=PORT, idle_seconds=60,
                clock=Clock())
    browser = create_app(desk, {"TESTING": True}).test_client()
    assert browser.get(f"/cases?token={desk.token}", base_url=BASE).status_code == 303
    html = page(browser, "/overview")
    section = html[html.index('id="city-title"'):]
    assert "Oslo</text>" in section and "<td>Oslo</td>" in section

    # Bea removes the city: Ana's register follows.
    ok(bea.env, "cities", "remove", "Oslo")
    exchange(bea, ana, tmp_path / "bea2.bundle")
    assert "No cities yet" in ok(ana.env, "cities", "list")


def test_two_colleagues_adding_one_name_differently_is_a_conflict_until_settled(
        team: tuple[Reviewer, Reviewer, str, str], tmp_path: Path) -> None:  # noqa: F811
    ana, bea, x, _ = team
    envs = []
    for name in ("c1", "c2"):
        (tmp_path / name).mkdir()
        envs.append(make_env(tmp_path / name))
    ok(ana.env, "cities", "add", "Oslo", envs[0].public.to_text(), "--yes")
    ok(bea.env, "cities", "add", "Oslo", envs[1].public.to_text(), "--yes")
    exchange(ana, bea, tmp_path / "a.bundle")
    exchange(bea, ana, tmp_path / "b.bundle")
    for r in (ana, bea):
        listed = ok(r.env, "cities", "list")
        assert listed.startswith("In conflict"), listed
        result = run(r.env, "refer", x, "--city", "Oslo", "--out", str(tmp_path / "d"))
        assert result.exit_code != 0 and "add it again" in result.output
    ok(ana.env, "cities", "remove", "Oslo")
    ok(ana.env, "cities", "add", "Oslo", envs[0].public.to_text(), "--yes")
    exchange(ana, bea, tmp_path / "a2.bundle")
    for r in (ana, bea):
        assert ok(r.env, "cities", "list").startswith(
            "Oslo\t-\t" + envs[0].public.fingerprint)


def test_the_figures_count_the_teams_state_and_decision_day(
        team: tuple[Reviewer, Reviewer, str, str], tmp_path: Path) -> None:  # noqa: F811
    ana, bea, x, y = team
    ok(ana.env, "state", x, "proceed", "--reason", "verified by phone")
    exchange(ana, bea, tmp_path / "a.bundle")
    figures = json.loads(ok(bea.env, "stats", "--json"))
    # Bea verified nothing herself: the state and the day of the decision are Ana's record's.
    assert {r["key"]: r["count"] for r in figures["by_state"]} == {"unverified": 1,
                                                                    "proceed": 1}
    assert figures["median_days_to_decision"]["cases"] == 1
    ok(ana.env, "state", y, "decline", "--reason", "not eligible")
    ok(bea.env, "state", y, "more-info", "--reason", "we need papers")
    exchange(ana, bea, tmp_path / "a2.bundle")
    figures = json.loads(ok(bea.env, "stats", "--json"))
    assert {r["key"]: r["count"] for r in figures["by_state"]} == {"proceed": 1, "conflict": 1}
    assert "conflict" in ok(bea.env, "stats")


def test_a_colleague_confirmed_later_gets_the_register_by_share(
        team: tuple[Reviewer, Reviewer, str, str], tmp_path: Path) -> None:  # noqa: F811
    ana, _bea, _x, _y = team
    city = oslo_added_by(ana, tmp_path)
    cleo = reviewer(tmp_path, "Cleo")
    ana.confirm(cleo)
    cleo.confirm(ana)
    exchange(cleo, ana, tmp_path / "cleo0.bundle")
    report = exchange(ana, cleo, tmp_path / "ana1.bundle")
    assert "Not for this home: 1 team envelope" in report, report
    assert "No cities yet" in ok(cleo.env, "cities", "list")
    ok(ana.env, "share", "--with", "Cleo")
    exchange(ana, cleo, tmp_path / "ana2.bundle")
    assert ok(cleo.env, "cities", "list").startswith("Oslo\tNO\t" + city.public.fingerprint)
