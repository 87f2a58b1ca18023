"""Team records kept in a reviewer home (reviewer.home's team verbs, reviewer.teamstore):
made, stored as ciphertext, carried between homes, verified and folded on read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reviewer import teamstore
from reviewer.caselist import Casebook, Filters
from reviewer.errors import BlankText, NotFound, ReviewerError
from reviewer.home import Home, Keys
from reviewer.teamstore import Received, TeamRead

from .test_cli import PASSPHRASE, Env, bundle_two, make_env

CANARY_NOTE = "CANARY-TEAM-NOTE-41d7"


@dataclass
class Member:
    env: Env
    home: Home
    keys: Keys


def member(tmp_path: Path, name: str) -> Member:
    (tmp_path / name).mkdir()
    env = make_env(tmp_path / name)
    home = Home(env.home)
    return Member(env, home, home.unlock(PASSPHRASE))


def carry(src: Member, dst: Member) -> Received:
    """Everything in src's outbox, handed to dst as a bundle's team members would be."""
    state = src.home.load_state()
    store = src.home.store(state)
    return dst.home.receive_team([(b, store.read_blob(b)) for b in state.team_outbox],
                                 dst.keys)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Member, Member, str]:
    """Two homes with the same two cases, each confirming the other; a case id."""
    a, b = member(tmp_path, "a"), member(tmp_path, "b")
    path, x, _ = bundle_two(a.env, tmp_path, [b.env.public])
    for m in (a, b):
        assert m.env.run("import", str(path)).exit_code == 0
    a.home.confirm_key(b.env.public, "Bea", a.keys)
    b.home.confirm_key(a.env.public, "Ana", b.keys)
    return a, b, x.case


def test_records_fold_the_same_in_both_homes(pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    a.home.add_note(case, CANARY_NOTE + "\nsecond line", a.keys)
    a.home.assign(case, "me", a.keys)
    a.home.set_state(case, "proceed", "documents check out", a.keys)
    mine = a.home.case_team(case, a.keys)
    assert (mine.state, mine.assignee) == ("proceed", "you")
    assert [e.kind for e in mine.history] == ["note", "assignment", "state"]
    assert mine.history[0].text == CANARY_NOTE + "\nsecond line"
    received = carry(a, b)
    assert (received.applied, received.announcements, received.refused) == (3, 1, [])
    theirs = b.home.case_team(case, b.keys)
    assert (theirs.state, theirs.assignee) == ("proceed", "Ana")
    assert [(e.author, e.summary) for e in theirs.history] == [
        ("Ana", "wrote a note"), ("Ana", "assigned Ana"),
        ("Ana", "set the state to proceed")]
    # Bea can now assign Ana by name, and Ana sees herself.
    b.home.assign(case, "Ana", b.keys)
    carry(b, a)
    assert a.home.case_team(case, a.keys).assignee == "you"


def test_concurrent_state_changes_conflict_until_a_decision(
        pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    carry(a, b)
    carry(b, a)
    a.home.set_state(case, "refer", "another city fits", a.keys)
    b.home.set_state(case, "decline", "out of scope", b.keys)
    carry(a, b)
    carry(b, a)
    for m, other in ((a, "Bea"), (b, "Ana")):
        team = m.home.case_team(case, m.keys)
        assert team.state == "conflict"
        assert {(c.author, c.value) for c in team.state_conflict} == {
            ("you", "refer" if m is a else "decline"), (other, "decline" if m is a else "refer")}
        rows = Casebook(m.home, m.keys).rows(Filters(conflict=True))
        assert [r.case for r in rows] == [case] and rows[0].state == "conflict"
    a.home.add_note(case, "let us talk", a.keys)  # a note does not resolve it
    assert a.home.case_team(case, a.keys).state == "conflict"
    a.home.set_state(case, "decline", "agreed with Bea", a.keys)
    carry(a, b)
    for m in (a, b):
        team = m.home.case_team(case, m.keys)
        assert (team.state, team.state_conflict) == ("decline", ())
        assert Casebook(m.home, m.keys).rows(Filters(conflict=True)) == []


def test_state_json_holds_only_ids_and_days(pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    a.home.add_note(case, CANARY_NOTE, a.keys)
    carry(a, b)
    for m in (a, b):
        raw = (m.env.home / "state.json").read_bytes()
        doc = json.loads(raw)
        assert doc["version"] == 4
        assert set(doc["team"].values()) <= {d for d in doc["team"].values() if len(d) == 10}
        team_ids = set(doc["team"])
        record_ids = {e.id for e in m.home.case_team(case, m.keys).history}
        assert record_ids and not record_ids & set(json.dumps(doc).split('"'))
        assert CANARY_NOTE.encode() not in raw
        for blob in team_ids:  # stored as ciphertext, loose in blobs/
            assert CANARY_NOTE.encode() not in (m.env.home / "blobs" / blob).read_bytes()


def test_verification_makes_a_team_record(pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    result = a.env.run("verify", case, "--identity", "i", "--work", "w", "--persecution", "p",
                       "--risk", "high", "--recommendation", "more-info", "--notes", "n")
    assert result.exit_code == 0, result.output
    a.home._team_cache = None
    assert carry(a, b).applied == 1
    team = b.home.case_team(case, b.keys)
    assert team.state == "more-info" and team.history[0].kind == "verification"
    assert [r.state for r in Casebook(b.home, b.keys).rows() if r.case == case] == ["more-info"]


def test_unconfirmed_author_is_kept_aside_then_applied(tmp_path: Path) -> None:
    a, b = member(tmp_path, "a"), member(tmp_path, "b")
    path, x, _ = bundle_two(a.env, tmp_path, [b.env.public])
    for m in (a, b):
        assert m.env.run("import", str(path)).exit_code == 0
    a.home.confirm_key(b.env.public, "Bea", a.keys)  # Bea has not confirmed Ana yet
    a.home.add_note(x.case, "first", a.keys)
    received = carry(a, b)
    assert received.applied == 0 and len(received.aside) == 1
    assert a.keys.signing[0].public_key.fingerprint in received.aside[0]
    assert b.home.case_team(x.case, b.keys).history == ()
    b.home.confirm_key(a.env.public, "Ana", b.keys)
    assert [e.author for e in b.home.case_team(x.case, b.keys).history] == ["Ana"]


def test_removed_colleague_keeps_old_records_and_new_ones_are_refused(
        pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    a.home.add_note(case, "before", a.keys)
    carry(a, b)
    # Received the day before (docs/team.md A2: removed on or before the day of receipt).
    state = b.home.load_state()
    b.home.save_state(state.with_team({blob: "2026-01-01" for blob in state.team}))
    gone = b.home.unconfirm_key("Ana")
    assert gone[0].removed
    assert "Ana" not in b.home.colleague_names()
    a.home.add_note(case, "after", a.keys)
    received = carry(a, b)
    assert len(received.refused) == 1 and "removed colleague" in received.refused[0]
    assert [e.text for e in b.home.case_team(case, b.keys).history] == ["before"]
    # nothing new is sealed to her
    assert a.env.public not in b.home.reviewer_recipients(b.home.load_state())


def test_copies_count_once(pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    a.home.add_note(case, "once", a.keys)
    first = carry(a, b)
    again = carry(a, b)
    assert (first.applied, again.applied, again.copies) == (1, 0, 2)
    assert len(b.home.case_team(case, b.keys).history) == 1


def test_errors_are_sentences(pair: tuple[Member, Member, str]) -> None:
    a, _, case = pair
    with pytest.raises(BlankText):
        a.home.add_note(case, "  \n", a.keys)
    with pytest.raises(BlankText):
        a.home.set_state(case, "proceed", " ", a.keys)
    with pytest.raises(NotFound, match="no case"):
        a.home.add_note("ab" * 16, "x", a.keys)
    with pytest.raises(NotFound, match="me, Bea, or nobody"):
        a.home.assign(case, "Zed", a.keys)
    with pytest.raises(ReviewerError, match="signing key has not reached"):
        a.home.assign(case, "Bea", a.keys)
    assert a.home.colleague_names() == ["Bea"]


def test_list_filters_assignee_and_mine(pair: tuple[Member, Member, str]) -> None:
    a, b, case = pair
    carry(b, a)
    a.home.assign(case, "Bea", a.keys)
    book = Casebook(a.home, a.keys)
    assert [r.case for r in book.rows(Filters(assignee="Bea"))] == [case]
    assert book.rows(Filters(mine=True)) == []
    carry(a, b)
    assert [r.case for r in Casebook(b.home, b.keys).rows(Filters(mine=True))] == [case]


def test_a_home_without_team_records_decrypts_nothing_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = member(tmp_path, "a")
    path, _, _ = bundle_two(a.env, tmp_path)
    assert a.env.run("import", str(path)).exit_code == 0

    def no(*_args: object, **_kw: object) -> None:
        raise AssertionError("team envelopes read in a home that has none")

    monkeypatch.setattr("reviewer.teamstore.read_team", no)
    assert len(Casebook(a.home, a.keys).rows()) == 2
    listed = a.env.run("list")
    assert listed.exit_code == 0 and "assignee" not in listed.output
    assert json.loads((a.env.home / "state.json").read_bytes())["version"] == 3


def test_the_folded_views_are_kept_sealed_and_made_again_on_change(
        pair: tuple[Member, Member, str], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, case = pair
    carry(a, b)
    a.home.add_note(case, CANARY_NOTE, a.keys)
    first = Home(a.env.home).team_views(a.keys)
    assert first[case].history[0].text == CANARY_NOTE
    assert CANARY_NOTE.encode() not in (a.env.home / "team.env").read_bytes()
    real = teamstore.read_team
    calls: list[int] = []

    def counted(*args: Any, **kw: Any) -> TeamRead:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr("reviewer.teamstore.read_team", counted)
    assert Home(a.env.home).team_views(a.keys) == first  # from team.env: nothing else read
    assert calls == []
    a.home.set_state(case, "refer", "a better fit elsewhere", a.keys)
    assert Home(a.env.home).team_views(a.keys)[case].state == "refer"  # brought up to date
    assert calls == []
    b.home.add_note(case, "from Bea", b.keys)
    carry(b, a)  # a record received: the views are made again from every record
    history = Home(a.env.home).team_views(a.keys)[case].history
    assert ("Bea", "from Bea") in [(e.author, e.text) for e in history]
    assert calls


def test_own_records_update_the_kept_views_as_a_full_fold_would(
        pair: tuple[Member, Member, str], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, case = pair
    carry(b, a)
    b.home.set_state(case, "decline", "no", b.keys)
    a.home.set_state(case, "refer", "maybe", a.keys)
    carry(b, a)  # a conflict, in team.env once listed
    assert Home(a.env.home).team_views(a.keys)[case].state == "conflict"
    real = teamstore.read_team
    calls: list[int] = []

    def counted(*args: Any, **kw: Any) -> TeamRead:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr("reviewer.teamstore.read_team", counted)
    fresh = Home(a.env.home)
    fresh.add_note(case, "one more look", a.keys)
    fresh.assign(case, "me", a.keys)
    fresh.set_state(case, "decline", "agreed", a.keys)
    kept = Home(a.env.home).team_views(a.keys)
    assert calls == []  # neither the new records nor the views read the others again
    fresh.assign(case, "Bea", a.keys)  # her signing key comes from the book: one read
    assert len(calls) == 1
    kept = Home(a.env.home).team_views(a.keys)
    (a.env.home / "team.env").unlink()
    folded = Home(a.env.home).team_views(a.keys)
    assert len(calls) == 2 and kept == folded
    assert (folded[case].state, folded[case].assignee) == ("decline", "Bea")
    assert [e.summary for e in folded[case].history[-4:]] == [
        "wrote a note", "assigned you", "set the state to decline", "assigned Bea"]
