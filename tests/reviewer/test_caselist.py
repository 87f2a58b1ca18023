"""The case list (reviewer.caselist) and `reviewer list` / `import` on top of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import wcwidth

from bench.server_sim import APPLICATION, Applicant, submit, write_bundle
from crypto import envelope
from reviewer.caselist import Casebook, Filters, last_activity
from reviewer.cli import LIST_COLUMNS, list_lines
from reviewer.columns import display_width, fit
from reviewer.home import Home
from reviewer.index import INDEX_VERSION
from tests.reviewer.test_cli import PASSPHRASE, Env, make_env

CANARY_FOLLOWUP = "Kanarienvogel-FOLLOWUP-5e1d"
WHEN = datetime(2031, 7, 4, 5, 6, 7, tzinfo=UTC)
WHEN_TEXT = "2031-07-04T05:06:07"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def applicant(env: Env, *, day: str = "2026-11-20", **answers: Any) -> Applicant:
    a = Applicant()
    submit(a, [env.public], day=day, answers={**APPLICATION, **answers})
    return a


def import_(env: Env, tmp_path: Path, people: list[tuple[Applicant, list[Any]]],
            name: str = "b.bundle") -> str:
    path = write_bundle(tmp_path / name, people, [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output
    return result.output


def book(env: Env, **kw: Any) -> Casebook:
    home = Home(env.home)
    return Casebook(home, home.unlock(PASSPHRASE), **kw)


@pytest.fixture
def five(env: Env, tmp_path: Path) -> dict[str, Applicant]:
    """Five cases of every urgency, with days that make the order testable."""
    people = {
        "weeks-old": applicant(env, urgency="weeks", day="2026-11-01", name="Old Weeks",
                               country="Iran", profession="poet"),
        "immediate": applicant(env, urgency="immediate", day="2026-10-01", name="Now",
                               country="Syria", profession="other",
                               profession_other="Calligrapher"),
        "weeks-new": applicant(env, urgency="weeks", day="2026-11-15", name="New Weeks",
                               country="iran", profession="journalist"),
        "unknown": applicant(env, urgency="", day="2026-11-30", name="Unknown"),
        "not urgent": applicant(env, urgency="not urgent", day="2026-11-29", name="Later",
                                country="China", profession="Poet"),
    }
    import_(env, tmp_path, [(a, a.submissions) for a in people.values()])
    return people


# --- order and filters ----------------------------------------------------------------


def test_sorted_by_urgency_then_latest_activity(env: Env, five: dict[str, Applicant]) -> None:
    rows = book(env).rows()
    assert [r.case for r in rows] == [five[k].case for k in
                                      ("immediate", "weeks-new", "weeks-old", "not urgent",
                                       "unknown")]
    now = rows[0]
    assert (now.urgency, now.urgency_label, now.urgency_rank) == (
        "immediate", "I am in danger now (days)", 0)
    assert now.profession == "Calligrapher" and now.country == "Syria"
    assert rows[-1].urgency == "" and rows[-1].urgency_label == "" and rows[-1].urgency_rank == 4


def test_a_verification_is_activity(env: Env, five: dict[str, Applicant]) -> None:
    old = five["weeks-old"].case
    verified = env.run("verify", old, "--identity", "i", "--work", "w", "--persecution", "p",
                       "--risk", "low", "--recommendation", "proceed", "--notes", "")
    assert verified.exit_code == 0, verified.output
    rows = book(env).rows(Filters(urgency="weeks"))
    assert [r.case for r in rows] == [old, five["weeks-new"].case]
    assert rows[0].last_activity > "2026-11-15" and rows[0].received == "2026-11-01"
    assert rows[0].state == "proceed"


def test_each_filter(env: Env, five: dict[str, Applicant]) -> None:
    env.run("verify", five["unknown"].case, "--identity", "i", "--work", "w",
            "--persecution", "p", "--risk", "low", "--recommendation", "refer", "--notes", "")
    b = book(env)

    def cases(**kw: Any) -> set[str]:
        return {r.case for r in b.rows(Filters(**kw))}

    assert cases(state="refer") == {five["unknown"].case}
    assert len(cases(state="unverified")) == 4
    assert cases(urgency="weeks") == {five["weeks-old"].case, five["weeks-new"].case}
    assert cases(country="IRAN") == {five["weeks-old"].case, five["weeks-new"].case}
    assert cases(profession="poet") == {five["weeks-old"].case, five["not urgent"].case}
    assert cases(profession="calligrapher") == {five["immediate"].case}
    assert cases(urgency="weeks", country="Iran", profession="journalist") == {
        five["weeks-new"].case}
    assert len(cases(mark="new")) == 5 and cases(mark="updated") == set()
    b.opened(five["immediate"].case)
    assert five["immediate"].case not in cases(mark="new")
    assert cases(text="new weeks") == {five["weeks-new"].case}
    assert cases(text="") == cases()
    choices = b.choices()
    assert choices["urgency"] == ["immediate", "weeks", "not urgent"]
    assert [c.casefold() for c in choices["country"]] == ["china", "iran", "syria", "türkiye"]
    assert choices["state"] == ["refer", "unverified"]
    assert choices["mark"] == ["new"]


def test_search_reaches_a_followup_and_ignores_case(env: Env, tmp_path: Path) -> None:
    a = applicant(env)
    b = applicant(env, name="Other")
    submit(a, [env.public], kind="followup", day="2026-11-25",
           answers={"message": f"New threat: {CANARY_FOLLOWUP} Straße"})
    import_(env, tmp_path, [(a, a.submissions), (b, b.submissions)])
    casebook = book(env)
    for query in (CANARY_FOLLOWUP, CANARY_FOLLOWUP.upper(), "kanarienVOGEL", "STRASSE",
                  "threat straße"):
        assert [r.case for r in casebook.rows(Filters(text=query))] == [a.case], query
    # Every answer of the application too (a list answer, a long text).
    assert len(casebook.rows(Filters(text="kurdish"))) == 2
    assert casebook.rows(Filters(text="nowhere-to-be-found")) == []
    listed = json.loads(env.run("list", "--json", "--search", "kanarienvogel").output)
    assert [r["case"] for r in listed] == [a.case]
    # A later import rebuilds b's index entry; a's text stays searchable.
    later = submit(b, [env.public], kind="followup", day="2026-11-27",
                   answers={"message": "Ein zweiter Brief"})
    import_(env, tmp_path, [(b, [later])], "later.bundle")
    casebook.refresh()
    assert [r.case for r in casebook.rows(Filters(text=CANARY_FOLLOWUP))] == [a.case]
    assert [r.case for r in casebook.rows(Filters(text="zweiter brief"))] == [b.case]


# --- marks ------------------------------------------------------------------------------


def test_marks_new_opened_updated(env: Env, tmp_path: Path) -> None:
    a = applicant(env)
    import_(env, tmp_path, [(a, a.submissions)])
    first = book(env)
    assert first.rows()[0].mark == "new"
    first.opened(a.case)
    assert first.rows()[0].mark == ""
    assert book(env).rows()[0].mark == ""  # remembered, in seen.env
    assert json.loads(env.run("list", "--json").output)[0]["mark"] == ""

    followup = submit(a, [env.public], kind="followup", day="2026-11-26")
    output = import_(env, tmp_path, [(a, [followup])], "followup.bundle")
    assert f"{a.case[:8]}  updated  Ayşe Yılmaz" in output
    assert first.rows()[0].mark == ""  # until refreshed
    first.refresh()
    assert first.rows()[0].mark == "updated"
    assert first.rows()[0].last_activity == "2026-11-26"
    assert [r.case for r in first.rows(Filters(mark="updated"))] == [a.case]
    listed = env.run("list", "--mark", "updated").output
    assert listed.splitlines()[1].startswith(f"U {a.case[:8]} ")
    first.opened(a.case)
    assert book(env).rows()[0].mark == ""


def test_seen_marker_is_never_plaintext(env: Env, tmp_path: Path) -> None:
    a = applicant(env)
    import_(env, tmp_path, [(a, a.submissions)])
    state_before = (env.home / "state.json").read_bytes()
    casebook = book(env, clock=lambda: WHEN)
    casebook.opened(a.case)
    assert (env.home / "state.json").read_bytes() == state_before
    seen = env.home / "seen.env"
    assert seen.exists()
    home = Home(env.home)
    opened = json.loads(envelope.decrypt_bytes(seen.read_bytes(),
                                               home.unlock(PASSPHRASE).private))
    assert opened["opened"] == {a.case: [WHEN_TEXT + "Z", 1]}
    for p in env.home.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert WHEN_TEXT.encode() not in data, p
            assert b"opened" not in data, p
            if p != env.home / "state.json":
                assert a.case.encode() not in data, p


def test_an_older_index_is_rebuilt(env: Env, tmp_path: Path) -> None:
    a = applicant(env, urgency="immediate")
    import_(env, tmp_path, [(a, a.submissions)])
    home = Home(env.home)
    keys = home.unlock(PASSPHRASE)
    index = home.index.load(keys)
    entry = {k: v for k, v in index[a.case].items() if k != "urgency"}
    # What a version 1 index held: no urgency, no text.
    payload = json.dumps({"version": 1, "cases": {a.case: entry}}).encode()
    (env.home / "index.env").write_bytes(envelope.encrypt_bytes(payload, [env.public]))
    row = Casebook(home, keys).rows(Filters(text="press freedom"))[0]
    assert row.urgency == "immediate"
    plain = envelope.decrypt_bytes((env.home / "index.env").read_bytes(), keys.private)
    head, _, text_part = plain.partition(b"\n")
    doc = json.loads(head)
    assert doc["version"] == INDEX_VERSION and doc["cases"][a.case]["urgency"] == "immediate"
    assert "press freedom" in json.loads(text_part)[a.case]


def test_last_activity_counts_replies(env: Env, five: dict[str, Applicant],
                                      tmp_path: Path) -> None:
    case = five["immediate"].case
    reply = tmp_path / "r.txt"
    reply.write_text("Thank you.")
    assert env.run("reply", case, "--file", str(reply)).exit_code == 0
    state = Home(env.home).load_state()
    assert last_activity(state.cases[case]) == state.cases[case].replies[0].day


# --- the table --------------------------------------------------------------------------


def test_wide_characters_are_padded_by_display_width(env: Env, tmp_path: Path) -> None:
    cjk = applicant(env, name="李小龙李小龙李小龙", country="中华人民共和国",
                    profession="other", profession_other="書法家")
    latin = applicant(env, name="Ayşe")
    import_(env, tmp_path, [(cjk, cjk.submissions), (latin, latin.submissions)])
    width = 1 + sum(w + 1 for _, w in LIST_COLUMNS)
    assert width == 80
    output = env.run("list").output
    lines = output.splitlines()
    rows = [line for line in lines if cjk.case[:8] in line or latin.case[:8] in line]
    assert len(rows) == 2
    for line in rows:
        assert wcwidth.wcswidth(line) == width, line
    cjk_line = next(line for line in rows if cjk.case[:8] in line)
    assert "李小龙李小龙…  " in cjk_line  # 13 columns of room: no half character
    assert "中华人民… " in cjk_line  # 9 columns of room: four characters, then one space
    for line in list_lines(book(env).rows()):
        assert display_width(line) <= 80


@pytest.mark.parametrize("text", ["李小龙", "李小龙李小龙李小龙", "Ayşe Yılmaz", "محمد رضا",
                                  "e\u0301te", "x\x1b[2J", "\u202egnp.exe", ""])
@pytest.mark.parametrize("width", [5, 8, 14])
def test_fit_is_exactly_the_width_asked(text: str, width: int) -> None:
    cell = fit(text, width)
    assert wcwidth.wcswidth(cell) == width
    assert "\x1b" not in cell and "\u202e" not in cell


def test_fit_never_splits_a_wide_character() -> None:
    assert fit("李小龙", 5) == "李小…"
    assert fit("李小龙", 4) == "李… "


def test_import_names_new_and_updated_cases(env: Env, tmp_path: Path) -> None:
    a = applicant(env, name="Ayşe \x1b[2J")
    output = import_(env, tmp_path, [(a, a.submissions)])
    assert f"  {a.case[:8]}  new      Ayşe \\x1b[2J" in output
    assert "\x1b" not in output
    b = applicant(env, name="李小龙")
    followup = submit(a, [env.public], kind="followup", day="2026-11-26")
    output = import_(env, tmp_path, [(a, [followup]), (b, b.submissions)], "second.bundle")
    assert f"  {a.case[:8]}  updated  Ayşe" in output
    assert f"  {b.case[:8]}  new      李小龙" in output


def test_the_narrow_range_is_one_column_wide() -> None:
    # columns.display_width counts text below NARROW_BELOW without wcwidth.
    from reviewer.columns import NARROW_BELOW
    from reviewer.inert import inert

    shown = [chr(c) for c in range(ord(NARROW_BELOW)) if inert(chr(c), multiline=False) == chr(c)]
    assert len(shown) > 600
    assert all(wcwidth.wcwidth(ch) == 1 for ch in shown)
    assert wcwidth.wcwidth(NARROW_BELOW) == 0  # a combining mark: the range ends there


def test_an_opening_while_another_command_holds_the_home_is_kept(env: Env,
                                                                  five: dict[str, Applicant]
                                                                  ) -> None:
    casebook = book(env)
    first, second = five["immediate"].case, five["weeks-new"].case
    with Home(env.home).lock():  # as an import in another process would
        casebook.opened(first)
        assert not (env.home / "seen.env").exists()
    assert casebook.rows(Filters(urgency="immediate"))[0].mark == ""
    casebook.opened(second)  # written now, with the one kept in memory
    marks = {r.case: r.mark for r in book(env).rows()}
    assert marks[first] == "" and marks[second] == ""
    assert sorted(m for m in marks.values()) == ["", "", "new", "new", "new"]


def test_list_options_are_the_filters(env: Env, five: dict[str, Applicant]) -> None:
    def listed(*options: str) -> list[str]:
        result = env.run("list", "--json", *options)
        assert result.exit_code == 0, result.output
        return [r["case"] for r in json.loads(result.output)]

    assert listed("--urgency", "weeks") == [five["weeks-new"].case, five["weeks-old"].case]
    assert listed("--country", "IRAN", "--profession", "Poet") == [five["weeks-old"].case]
    assert listed("--search", "calligrapher") == [five["immediate"].case]  # an answer too
    assert listed("--profession", "calligrapher") == [five["immediate"].case]
    assert listed("--mark", "updated") == []
    assert env.run("list", "--urgency", "soon").exit_code == 2
    assert env.run("list", "--country", "Atlantis").output == "No cases match.\n"
    rows = json.loads(env.run("list", "--json").output)
    assert rows[0]["urgency_label"] == "I am in danger now (days)"
    assert rows[0]["last_activity"] == "2026-10-01" and rows[0]["mark"] == "new"


def test_opening_an_unknown_case_is_not_found(env: Env, five: dict[str, Applicant]) -> None:
    from reviewer.errors import NotFound

    with pytest.raises(NotFound):
        book(env).opened("0" * 32)
    assert not (env.home / "seen.env").exists()


def test_show_clears_the_mark(env: Env, tmp_path: Path) -> None:
    a = applicant(env, name="Shown Once")
    import_(env, tmp_path, [(a, a.submissions)])

    def mark() -> str:
        result = env.run("list", "--json")
        assert result.exit_code == 0, result.output
        return str(json.loads(result.output)[0]["mark"])

    assert mark() == "new"
    assert env.run("show", a.case[:10]).exit_code == 0
    assert mark() == ""
