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

`build_book` is the other pure step a reader needs before it can verify:
which signing key belongs to which confirmed colleague, from the
announcements and rotations received (docs/team.md, "Binding the signing key").
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crypto.errors import TeamRecordError
from crypto.keys import PublicKey
from crypto.signing import SigningPublicKey
from crypto.team import (
    UNVERIFIED,
    Announcement,
    KnownAuthor,
    TeamRecord,
    UnverifiedRecord,
    verify_record,
)

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
    order = _topological(applied)
    history = tuple(applied[rid] for rid in order)

    def heads_of(ids: Iterable[str]) -> tuple[str, ...]:
        return _heads_of(applied, order, ids)

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


def _heads_of(applied: Mapping[str, TeamRecord], order: Sequence[str],
              ids: Iterable[str]) -> tuple[str, ...]:
    """The chosen records no chosen record had seen: children before parents, each
    record marks its parents as seen when it is chosen or has seen a chosen one."""
    chosen = set(ids)
    seen_by_chosen: set[str] = set()
    for rid in reversed(order):
        if rid in chosen or rid in seen_by_chosen:
            seen_by_chosen.update(applied[rid].parents)
    return tuple(sorted(chosen - seen_by_chosen))


# --- the register of member cities -------------------------------------------------


@dataclass(frozen=True)
class RegisteredCity:
    """A city in the register as the fold leaves it: the `add` record that put it there."""

    name: str
    country: str
    key: PublicKey
    record: TeamRecord  # its author and time say who added it, and when (display only)


@dataclass(frozen=True)
class Register:
    """The team's register of member cities, folded from its `city` records."""

    cities: tuple[RegisteredCity, ...]  # by name, casefolded
    #: Names whose latest records disagree (an add and a remove, or two adds with a
    #: different key or country, neither having seen the other): each head, by id.
    conflicts: Mapping[str, tuple[TeamRecord, ...]]
    heads: tuple[str, ...]  # the ids a new city record names as parents
    held: tuple[Held, ...]
    equivocations: tuple[str, ...]


def fold_register(records: Iterable[TeamRecord]) -> Register:
    """The register from every `city` record in `records` (others are ignored).

    Like a case's state (docs/team.md, "The register"): the city records form
    their own graph of parents. For each name (casefolded), take the heads of
    its records: all `add` with the same key and country, the city is in the
    register; all `remove`, it is not; otherwise the name is in conflict (not
    usable) until a record that has seen every head adds or removes it again.
    """
    by_id: dict[str, dict[str, TeamRecord]] = {}
    for record in records:
        if record.kind == "city":
            by_id.setdefault(record.id, {})[record.digest] = record
    equivocations = tuple(sorted(rid for rid, c in by_id.items() if len(c) > 1))
    unique = {rid: next(iter(c.values())) for rid, c in by_id.items() if len(c) == 1}
    applied, held = _apply(unique)
    order = _topological(applied)
    names: dict[str, list[str]] = {}
    for rid in order:
        names.setdefault(str(applied[rid].body["name"]).casefold(), []).append(rid)
    cities: list[RegisteredCity] = []
    conflicts: dict[str, tuple[TeamRecord, ...]] = {}
    for folded, ids in sorted(names.items()):
        heads = [applied[r] for r in _heads_of(applied, order, ids)]
        outcomes = {(str(r.body["action"]), str(r.body["key"]), str(r.body["country"]))
                    for r in heads}
        if len(outcomes) > 1 and not all(o[0] == "remove" for o in outcomes):
            conflicts[folded] = tuple(heads)
        elif heads[0].body["action"] == "add":
            last = max(heads, key=lambda r: (r.time, r.id))
            cities.append(RegisteredCity(str(last.body["name"]), str(last.body["country"]),
                                         PublicKey.from_text(str(last.body["key"])), last))
    return Register(tuple(cities), conflicts, _heads_of(applied, order, applied),
                    tuple(sorted(held, key=lambda h: h.record.id)), equivocations)


def _apply(records: Mapping[str, TeamRecord]) -> tuple[dict[str, TeamRecord], list[Held]]:
    """The records whose parents are all applied (transitively); the rest, held.

    Each record waits for its parents to be applied, and is applied when the
    last one is: linear in the records and their parents (a loop over the
    records still waiting, until none moved, was quadratic: 2,000 notes in a
    chain took seconds).
    """
    applied: dict[str, TeamRecord] = {}
    waiting_on: dict[str, int] = {}
    children: dict[str, list[str]] = {}
    ready: list[str] = []
    for rid, record in records.items():
        parents = set(record.parents)
        waiting_on[rid] = len(parents)
        for parent in parents:
            children.setdefault(parent, []).append(rid)
        if not parents:
            ready.append(rid)
    while ready:
        rid = ready.pop()
        applied[rid] = records[rid]
        for child in children.get(rid, ()):
            waiting_on[child] -= 1
            if waiting_on[child] == 0:
                ready.append(child)
    held = [Held(r, tuple(sorted(p for p in r.parents if p not in applied)))
            for rid, r in records.items() if rid not in applied]
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


# --- whose signing key is whose --------------------------------------------------


@dataclass(frozen=True)
class Colleague:
    """A colleague's X25519 key a person confirmed; `removed` is the day it was removed."""

    name: str
    key: PublicKey
    removed: str | None = None


@dataclass(frozen=True)
class Book:
    """The signing keys a reader knows (crypto.team.KnownAuthor), and what waits.

    `aside` holds one line per announcement from a key that is not confirmed
    (its X25519 fingerprint, which a person can compare), `refused` one line per
    signing key claimed by two confirmed keys.
    """

    known: tuple[KnownAuthor, ...]
    aside: tuple[str, ...]
    refused: tuple[str, ...]

    def name_of(self, key: SigningPublicKey) -> str | None:
        return next((k.name for k in self.known if k.key == key), None)


def build_book(
    own: Sequence[SigningPublicKey],
    colleagues: Sequence[Colleague],
    announcements: Iterable[Announcement],
    rotations: Iterable[UnverifiedRecord],
    *,
    day: str,
) -> Book:
    """Bind signing keys to colleagues (docs/team.md, "Binding the signing key").

    An announcement binds its signing key to the colleague whose confirmed X25519
    key sent it; one from a key not confirmed waits. A signing key announced by
    two different colleagues is refused for both (only its holder could have
    signed either binding, so one of them is lying about nothing but a copy:
    refusing both is the answer that does not depend on which came first). A
    rotation, verified under a key already bound, binds its new signing key to
    the same colleague. Pure: the same inputs in any order give the same book.
    """
    by_key = {c.key: c for c in colleagues}
    claims: dict[SigningPublicKey, set[PublicKey]] = {}
    aside: set[str] = set()
    for announcement in announcements:
        if announcement.sender in by_key:
            claims.setdefault(announcement.signing, set()).add(announcement.sender)
        else:
            aside.add(f"a signing key announced by {announcement.sender.fingerprint}, a key "
                      "that is not confirmed: compare its fingerprint, then `keys add` it")
    known: dict[SigningPublicKey, KnownAuthor] = {
        key: KnownAuthor("(this home)", key) for key in own
    }
    refused: set[str] = set()
    for signing, senders in claims.items():
        if signing in known:
            refused.add(f"{signing.fingerprint}: a colleague announced this home's own key")
        elif len(senders) > 1:
            names = ", ".join(sorted(by_key[s].name for s in senders))
            refused.add(f"{signing.fingerprint}: one signing key announced by {names}")
        else:
            colleague = by_key[next(iter(senders))]
            known[signing] = KnownAuthor(colleague.name, signing, colleague.removed)
    pending = [r for r in rotations if r.document["kind"] == "rotation"]
    progress = True
    while progress:  # a chain of rotations binds in as many rounds as it is long
        progress = False
        for unverified in list(pending):
            try:
                record = verify_record(unverified, known.values(), day=day)
            except TeamRecordError:
                continue
            pending.remove(unverified)
            new = SigningPublicKey.from_text(record.body["new_author"])
            old = known[record.author]
            if new not in known:
                known[new] = KnownAuthor(old.name, new, old.removed)
                progress = True
            elif known[new].name != old.name:
                refused.add(f"{new.fingerprint}: {old.name} rotated to a key already "
                            f"{known[new].name}'s")
    return Book(tuple(sorted(known.values(), key=lambda k: k.key.raw)), tuple(sorted(aside)),
                tuple(sorted(refused)))
