"""The fold of a case's team records (reviewer/team.py, docs/team.md "The fold")."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import team
from crypto.keys import PrivateKey
from crypto.signing import SigningKey
from reviewer.team import CaseView, fold

CASE = "a" * 32
OTHER = "b" * 32
READER = PrivateKey(bytes(range(1, 33)))
AUTHORS = {name: SigningKey(bytes([i]) * 32) for i, name in enumerate("ABC", start=1)}
BOOK = [team.KnownAuthor(name, key.public_key) for name, key in AUTHORS.items()]
_ids = itertools.count(1)


def make(author: str, kind: str, parents: tuple[str, ...] = (), *, case: str = CASE,
         record_id: str | None = None, time: str = "2026-12-01T10:00:00Z",
         **body: Any) -> team.TeamRecord:
    if kind == "state":
        body = {"state": body.get("state", "proceed"), "reason": "because"}
    elif kind == "note":
        body = {"text": body.get("text", "a note")}
    elif kind == "assignment":
        who = body.get("assignee")
        body = {"assignee": None if who is None else AUTHORS[who].public_key.to_text()}
    elif kind == "verification":
        body = {"identity": "", "work": "", "persecution": "", "notes": "", "risk": "high",
                "recommendation": body.get("recommendation", "refer")}
    signing = AUTHORS[author]
    doc = team.new_record(kind=kind, case=case, author=signing.public_key, parents=parents,
                          body=body, time=time,
                          record_id=record_id or f"{next(_ids):032x}")
    frame = team.sign_record(doc, signing, [READER.public_key])
    return team.verify_record(team.read_record(frame), BOOK, day="2026-12-01")


def test_no_records_is_unverified_and_unassigned() -> None:
    view = fold(CASE, [])
    assert view.state == "unverified" and view.assignee is None and view.history == ()
    assert view.conflict == () and view.heads == ()


def test_a_later_state_change_replaces_the_one_it_had_seen() -> None:
    a = make("A", "state", state="proceed")
    b = make("B", "state", (a.id,), state="decline")
    view = fold(CASE, [b, a])
    assert view.state == "decline" and view.conflict == ()
    assert [r.id for r in view.history] == [a.id, b.id]
    assert view.heads == (b.id,)


def test_a_verification_sets_the_state_by_its_recommendation() -> None:
    v = make("A", "verification", recommendation="more-info")
    assert fold(CASE, [v]).state == "more-info"


def test_two_state_changes_neither_had_seen_are_a_conflict_until_a_decision_sees_both() -> None:
    a = make("A", "state", state="more-info")
    b = make("B", "state", (a.id,), state="proceed")
    c = make("C", "state", (a.id,), state="decline")
    view = fold(CASE, [a, b, c])
    assert view.state is None
    assert {r.id for r in view.conflict} == {b.id, c.id}
    assert {r.author for r in view.conflict} == {AUTHORS["B"].public_key, AUTHORS["C"].public_key}
    # A note that has seen both does not decide.
    note = make("A", "note", (b.id, c.id))
    view = fold(CASE, [a, b, c, note])
    assert view.state is None and len(view.conflict) == 2 and view.heads == (note.id,)
    # A decision whose parents include both does.
    decision = make("A", "state", (note.id,), state="refer")
    view = fold(CASE, [a, b, c, note, decision])
    assert view.state == "refer" and view.conflict == ()
    # A decision that has seen only one of them leaves the conflict.
    partial = make("A", "state", (b.id,), state="refer")
    view = fold(CASE, [a, b, c, partial])
    assert view.state is None and {r.id for r in view.conflict} == {partial.id, c.id}


def test_concurrent_changes_to_the_same_state_are_no_conflict() -> None:
    a = make("A", "state", state="proceed")
    b = make("B", "state", state="proceed")
    view = fold(CASE, [a, b])
    assert view.state == "proceed" and view.conflict == () and len(view.state_heads) == 2


def test_assignment_and_its_conflict() -> None:
    a = make("A", "assignment", assignee="A")
    assert fold(CASE, [a]).assignee == AUTHORS["A"].public_key.to_text()
    b = make("B", "assignment", (a.id,), assignee=None)
    assert fold(CASE, [a, b]).assignee is None
    c = make("C", "assignment", (a.id,), assignee="C")
    view = fold(CASE, [a, b, c])
    assert view.assignee is None and {r.id for r in view.assignment_conflict} == {b.id, c.id}


def test_a_record_seen_twice_counts_once() -> None:
    a = make("A", "note")
    b = make("B", "note", (a.id,))
    view = fold(CASE, [a, b, a, b, a])
    assert [r.id for r in view.history] == [a.id, b.id] and view.copies == 3


def test_a_record_whose_parent_is_missing_is_held_then_applied() -> None:
    a = make("A", "state", state="proceed")
    b = make("B", "state", (a.id,), state="decline")
    c = make("C", "note", (b.id,))
    view = fold(CASE, [c, b])
    assert view.history == () and view.state == "unverified"
    assert [(h.record.id, h.missing) for h in view.held] == [(b.id, (a.id,)), (c.id, (b.id,))]
    view = fold(CASE, [c, b, a])
    assert view.held == () and view.state == "decline" and len(view.history) == 3


def test_two_records_under_one_id_are_both_set_aside() -> None:
    a = make("A", "state", record_id="1" * 32, state="proceed")
    a2 = make("A", "state", record_id="1" * 32, state="decline")
    kept = make("B", "note")
    view = fold(CASE, [a, a2, kept])
    assert view.equivocations == ("1" * 32,)
    assert [r.id for r in view.history] == [kept.id] and view.state == "unverified"


def test_records_of_other_cases_and_rotations_are_not_folded() -> None:
    other = make("A", "state", case=OTHER, state="decline")
    assert fold(CASE, [other]).history == ()


def test_concurrent_records_are_shown_by_time_then_id_after_their_parents() -> None:
    a = make("A", "note", time="2026-12-05T00:00:00Z")
    late = make("B", "note", (a.id,), time="2026-12-01T00:00:00Z")  # a drifting clock
    early = make("C", "note", time="2026-12-02T00:00:00Z")
    view = fold(CASE, [late, early, a])
    assert [r.id for r in view.history] == [early.id, a.id, late.id]


# --- any delivery order folds to the same view ------------------------------------


def _summary(view: CaseView) -> tuple[Any, ...]:
    return (view.state, tuple(r.id for r in view.state_heads), view.assignee,
            tuple(r.id for r in view.assignment_heads), view.heads,
            tuple(r.id for r in view.history), tuple((h.record.id, h.missing) for h in view.held),
            view.equivocations)


@st.composite
def histories(draw: Any) -> list[team.TeamRecord]:
    """Three reviewers making records on one case and syncing now and then."""
    seen: dict[str, list[team.TeamRecord]] = {name: [] for name in AUTHORS}
    made: list[team.TeamRecord] = []
    for _ in range(draw(st.integers(1, 12))):
        who = draw(st.sampled_from(sorted(AUTHORS)))
        if made and draw(st.booleans()):
            # `who` receives some records (any subset closed under parents is not
            # required: the fold holds what lacks a parent).
            got = draw(st.lists(st.sampled_from(made), max_size=4))
            seen[who].extend(r for r in got if r not in seen[who])
            continue
        mine = fold(CASE, seen[who])
        kind = draw(st.sampled_from(["state", "note", "assignment", "verification"]))
        record = make(who, kind, mine.heads,
                      state=draw(st.sampled_from(team.STATES)),
                      recommendation=draw(st.sampled_from(team.RECOMMENDATIONS)),
                      assignee=draw(st.sampled_from([None, *AUTHORS])),
                      time=f"2026-12-{draw(st.integers(1, 28)):02d}T00:00:00Z")
        made.append(record)
        seen[who].append(record)
    return made


@settings(max_examples=60, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_any_delivery_order_and_any_copies_fold_to_the_same_view(
    records: list[team.TeamRecord], rnd: Any, data: st.DataObject,
) -> None:
    expected = _summary(fold(CASE, records))
    shuffled = records + data.draw(st.lists(st.sampled_from(records), max_size=5))
    rnd.shuffle(shuffled)
    assert _summary(fold(CASE, shuffled)) == expected
    # Delivered in two parts: the first part alone holds what lacks a parent,
    # and the whole folds to the same view whatever came first.
    cut = data.draw(st.integers(0, len(shuffled)))
    first = fold(CASE, shuffled[:cut])
    applied_first = {r.id for r in first.history}
    for held in first.held:
        assert held.missing and not set(held.missing) & applied_first
    assert _summary(fold(CASE, shuffled[cut:] + shuffled[:cut])) == expected
    # Everything made was delivered: nothing is held, and every record shows.
    assert not fold(CASE, records).held
    assert {r.id for r in fold(CASE, records).history} == {r.id for r in records}
