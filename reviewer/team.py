"""The fold: a case's state, assignee and history from its team records.

Pure functions over verified records (crypto.team.TeamRecord), by the graph
of their parents and never by clocks (docs/team.md, "The fold"): the result
depends only on the set of records, so any order of delivery, and any number
of copies of a record, folds to the same view. The author's clock only orders
concurrent records in the history, for display.

What the view reports besides the state: records held for a parent not (yet)
seen, ids under which an author signed two different records (none of them
applied), and conflicts: state changes (or assignments) neither of which had
seen the other, named until a decision has seen them all.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crypto.team import UNVERIFIED, TeamRecord

#: The kinds that set a case's state, and the body field holding the state each sets.
STATE_FIELDS: Mapping[str, str] = {"state": "state", "verification": "recommendation"}


@dataclass(frozen=True)
class Held:
    """A record waiting for parents this home has not (yet) applied."""

    record: TeamRecord
    missing: tuple[str, ...]  # the parent ids not applied, sorted


@dataclass(frozen=True)
class CaseView:
    """What a case's records say, folded."""

    case: str
    state: str | None  # None while in conflict
    state_heads: tuple[TeamRecord, ...]  # the latest state-setting records, by id
    assignee: str | None  # a signing key text, or None: nobody (or in conflict)
    assignment_heads: tuple[TeamRecord, ...]
    heads: tuple[str, ...]  # the ids a new record on the case names as parents
    history: tuple[TeamRecord, ...]  # applied records, parents first
    held: tuple[Held, ...]
    equivocations: tuple[str, ...]  # ids signed twice with different content
    copies: int  # copies of records already counted, dropped

    @property
    def conflict(self) -> tuple[TeamRecord, ...]:
        """The state changes in conflict (empty when there is none)."""
        return self.state_heads if self.state is None else ()

    @property
    def assignment_conflict(self) -> tuple[TeamRecord, ...]:
        if len({_assignee(r) for r in self.assignment_heads}) > 1:
            return self.assignment_heads
        return ()


def _state(record: TeamRecord) -> str:
    return str(record.body[STATE_FIELDS[record.kind]])


def _assignee(record: TeamRecord) -> str | None:
    value = record.body["assignee"]
    return None if value is None else str(value)


def fold(case: str, records: Iterable[TeamRecord]) -> CaseView:
    """Fold every record of `case` in `records` (others, and rotations, are ignored)."""
    by_id: dict[str, dict[str, TeamRecord]] = {}
    total = 0
    for record in records:
        if record.case != case:
            continue
        total += 1
        by_id.setdefault(record.id, {})[record.digest] = record
    equivocations = tuple(sorted(rid for rid, copies in by_id.items() if len(copies) > 1))
    unique = {rid: next(iter(copies.values()))
              for rid, copies in by_id.items() if len(copies) == 1}
    copies = total - sum(len(c) for c in by_id.values())

    applied, held = _apply(unique)
    seen = _ancestors(applied)
    history = tuple(applied[rid] for rid in _topological(applied))

    def heads_of(ids: Iterable[str]) -> tuple[str, ...]:
        chosen = set(ids)
        return tuple(sorted(r for r in chosen if not any(r in seen[o] for o in chosen if o != r)))

    heads = heads_of(applied)
    state_heads = tuple(applied[r] for r in heads_of(
        r for r, rec in applied.items() if rec.kind in STATE_FIELDS))
    states = {_state(r) for r in state_heads}
    state = UNVERIFIED if not states else (states.pop() if len(states) == 1 else None)
    assignment_heads = tuple(applied[r] for r in heads_of(
        r for r, rec in applied.items() if rec.kind == "assignment"))
    assignees = {_assignee(r) for r in assignment_heads}
    assignee = assignees.pop() if len(assignees) == 1 else None
    return CaseView(
        case=case, state=state, state_heads=state_heads, assignee=assignee,
        assignment_heads=assignment_heads, heads=heads, history=history,
        held=tuple(sorted(held, key=lambda h: h.record.id)), equivocations=equivocations,
        copies=copies,
    )


def _apply(records: Mapping[str, TeamRecord]) -> tuple[dict[str, TeamRecord], list[Held]]:
    """The records whose parents are all applied (transitively); the rest, held."""
    applied: dict[str, TeamRecord] = {}
    waiting = dict(records)
    progress = True
    while progress:
        progress = False
        for rid, record in list(waiting.items()):
            if all(p in applied for p in record.parents):
                applied[rid] = record
                del waiting[rid]
                progress = True
    held = [Held(r, tuple(sorted(p for p in r.parents if p not in applied)))
            for r in waiting.values()]
    return applied, held


def _topological(records: Mapping[str, TeamRecord]) -> list[str]:
    """Parents first; among records ready together, by the author's time, then id."""
    children: dict[str, list[str]] = {rid: [] for rid in records}
    pending = {rid: len(r.parents) for rid, r in records.items()}
    for rid, record in records.items():
        for parent in record.parents:
            children[parent].append(rid)
    ready = [(records[r].time, r) for r, n in pending.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _time, rid = heapq.heappop(ready)
        order.append(rid)
        for child in children[rid]:
            pending[child] -= 1
            if pending[child] == 0:
                heapq.heappush(ready, (records[child].time, child))
    return order


def _ancestors(records: Mapping[str, TeamRecord]) -> dict[str, frozenset[str]]:
    """For each applied record, every record it had seen."""
    seen: dict[str, frozenset[str]] = {}
    for rid in _topological(records):
        parents = records[rid].parents
        acc: set[str] = set(parents)
        for parent in parents:
            acc |= seen[parent]
        seen[rid] = frozenset(acc)
    return seen
