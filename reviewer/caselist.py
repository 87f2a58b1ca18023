"""The case list: one row per case, sorted for triage, filtered, searched, marked.

`reviewer list` and the desk's Cases page both read the cases through a
`Casebook`, so the two can never sort, filter or mark differently. A row comes
from three places, none of them plaintext on disk:

- the state (reviewer.state): days, counts, and so the last activity (the latest
  day of any submission, verification record or reply), with nothing decrypted;
- the encrypted index (reviewer.index): name, country, profession, urgency,
  verification state, and the answers' text for the search, decrypted once;
- the "seen" envelope (`seen.env`, sealed to the reviewer's own keys): which
  cases this reviewer opened, when, and how many submissions the case had then.
  It says what a reviewer read and when, so it is never in state.json.

A case is *new* until this reviewer opens it, and *updated* when a submission
arrived after the last time they opened it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from crypto import answersform, envelope
from crypto.atomic import atomic_output
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import DecryptError
from crypto.keys import PublicKey
from reviewer.blobs import seal_bytes
from reviewer.collector import collector_paused
from reviewer.errors import HomeBusy
from reviewer.home import Home
from reviewer.index import parse_texts, search_text
from reviewer.keyring import Keys
from reviewer.state import Case, State

if TYPE_CHECKING:  # a home without team records needs no reviewer.teamview
    from reviewer.teamview import CaseTeam

Mark = Literal["new", "updated", ""]
MARKS: tuple[Mark, ...] = ("new", "updated")

def _urgency_choices() -> tuple[tuple[str, str], ...]:
    """The application form's urgency choices as (value, English label), in the form's
    order, which is most urgent first (crypto/data/answers-form.json)."""
    question = answersform.form("application").get("urgency")
    if question is None or not question.choices:
        raise RuntimeError("the application form has no urgency choices")
    return tuple((c.value, c.label) for c in question.choices)


URGENCY: tuple[tuple[str, str], ...] = _urgency_choices()
URGENCY_LABELS: dict[str, str] = dict(URGENCY)
URGENCY_RANKS: dict[str, int] = {value: rank for rank, (value, _) in enumerate(URGENCY)}
#: The rank of an urgency that is missing or not one of the form's: after all others.
UNKNOWN_RANK = len(URGENCY)
#: value -> (value, rank, label), for the rows.
_URGENCIES = {value: (value, rank, label) for rank, (value, label) in enumerate(URGENCY)}


class CaseRow(NamedTuple):
    """One case as the case list shows it.

    A NamedTuple rather than a frozen dataclass, for speed only: a list of
    10,000 cases makes 10,000 of them each time it is read, and a frozen
    dataclass's __init__ sets each of the 17 fields through object.__setattr__
    (10,000 rows, the collector paused as the list has it: 29 ms against
    5.3 ms, best of 9; docs/performance.md, 2026-12-02). Immutable either way;
    `_replace` makes a changed copy.
    """

    case: str  # the full case id
    name: str  # "" when unreadable
    country: str
    profession: str  # profession_other when the choice is "other"
    urgency: str  # the applicant's choice (the form's value), "" if unknown
    urgency_label: str  # the form's English label for it ("I am in danger now (days)")
    urgency_rank: int  # 0 = most urgent; unknown sorts last
    #: From the fold of the case's team records (reviewer.teamview: "conflict" while
    #: state changes disagree); for a case without any, the index's: "unverified"
    #: or the latest recommendation.
    state: str
    received: str  # day of the application
    last_activity: str  # latest day of any submission, verification or reply
    files: int
    followups: int
    readable: bool
    mark: Mark  # new: never opened by this reviewer; updated: a submission
    # arrived since this reviewer last opened it
    assignee: str = ""  # "" nobody (or assignments in conflict), "you", or a colleague's name
    conflict: bool = False  # the state or the assignee is in conflict (reviewer.teamview)
    referred: int = 0  # dossiers written for member cities (`referral` team records)


@dataclass(frozen=True, slots=True)
class Filters:
    state: str | None = None
    urgency: str | None = None
    country: str | None = None  # compared without regard to case
    profession: str | None = None  # compared without regard to case
    mark: Mark | None = None  # "new", "updated", or None for all
    #: Searched over every answer of every readable submission (follow-ups too):
    #: each word, casefolded (reviewer.index.search_text), must appear.
    text: str = ""
    #: Only cases assigned to this ("you", a colleague's name; "" for nobody).
    assignee: str | None = None
    #: Only cases in conflict.
    conflict: bool = False
    #: Only the cases assigned to this reviewer (as assignee="you").
    mine: bool = False


def _folded(value: str) -> str:
    """A country or profession as the filters compare it: without regard to case."""
    return search_text(value.strip())


def last_activity(case: Case) -> str:
    """The latest day of any submission, verification record or reply (from the state)."""
    latest = case.received
    for records in (case.submissions, case.verifications, case.replies):
        for record in records:
            if record.day > latest:
                latest = record.day
    return latest


# --- what this reviewer opened (seen.env) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """When this reviewer last opened a case, and how many submissions it had then."""

    at: str  # UTC, ISO 8601 to the second
    submissions: int


class Seen:
    """seen.env: one envelope sealed to the reviewer's own keys, {case: Opened}.

    Bookkeeping of one reviewer's reading, so it is never in state.json. A
    missing or unreadable file reads as nothing opened (every case new).
    """

    VERSION = 1

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, keys: Keys) -> dict[str, Opened]:
        try:
            data = envelope.decrypt_bytes(self.path.read_bytes(), keys.private)
            doc = json.loads(data.decode("utf-8"))
            if doc["version"] != self.VERSION:
                return {}
            return {
                case: Opened(str(at), int(subs))
                for case, (at, subs) in doc["opened"].items()
            }
        except FileNotFoundError:
            return {}
        except (DecryptError, ValueError, KeyError, TypeError, AttributeError,
                UnicodeDecodeError):
            return {}

    def save(self, opened: Mapping[str, Opened], own: list[PublicKey]) -> None:
        doc = {
            "version": self.VERSION,
            "opened": {case: [o.at, o.submissions] for case, o in opened.items()},
        }
        payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        with atomic_output(self.path, overwrite=True) as out:
            seal_bytes(out, payload, own[:MAX_RECIPIENTS])


def seen_file(home: Home) -> Seen:
    return Seen(home.path / "seen.env")


def note_opened(home: Home, keys: Keys, case_id: str, submissions: int,
                at: datetime | None = None) -> None:
    """Record that this reviewer opened a case that has `submissions` submissions.

    For a command that shows a case without a Casebook (`reviewer show`).
    Raises HomeBusy when another command holds the home.
    """
    _record(home, keys, {case_id: Opened(_moment(at or datetime.now(UTC)), submissions)})


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(home: Home, keys: Keys, openings: Mapping[str, Opened]) -> None:
    """Add openings to seen.env: a read-modify-write under the home's lock, so a
    desk and a command used one after the other keep each other's marks."""
    seen = seen_file(home)
    with home.lock():
        table = seen.load(keys)
        table.update(openings)
        seen.save(table, home.own_public_keys())


def mark_of(case: Case, opened: Opened | None) -> Mark:
    if opened is None:
        return "new"
    return "updated" if len(case.submissions) > opened.submissions else ""


# --- the casebook ---------------------------------------------------------------------------


class Casebook:
    """An unlocked home's cases, for one session (the CLI command, or the desk while unlocked).

    Holds the keys and any decrypted text (the index, with the answers' text
    for the search) in memory only. `state`: a state the caller has already
    loaded (the CLI's, after its upgrade of an older home); `clock`: the time
    `opened` records (tests pass a fixed one).
    """

    _state: State
    _opened: dict[str, Opened]
    _text_part: bytes  # the index's answers' text, still JSON (parsed on the first search)
    _search: dict[str, str] | None  # case -> its answers' text as the search compares it
    _rows: list[CaseRow]  # every case, sorted
    #: The cases with team records, folded (reviewer.teamview), for the same state.
    teams: Mapping[str, CaseTeam]

    def __init__(self, home: Home, keys: Keys, *, state: State | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.home = home
        self.keys = keys
        self._clock = clock or (lambda: datetime.now(UTC))
        #: Openings not yet written because another command held the home.
        self._unsaved: dict[str, Opened] = {}
        with collector_paused():  # 10^5 objects for 10,000 cases (reviewer.collector)
            self._load(state if state is not None else home.load_state())

    # --- reading ------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The state the rows were made from."""
        return self._state

    def rows(self, filters: Filters = Filters()) -> list[CaseRow]:
        """The cases that pass `filters`: urgency first, then the latest activity, then id."""
        rows = self._rows
        f = filters
        if f.state is not None:
            rows = [r for r in rows if r.state == f.state]
        if f.urgency is not None:
            rows = [r for r in rows if r.urgency == f.urgency]
        if f.country is not None:
            country = _folded(f.country)
            rows = [r for r in rows if _folded(r.country) == country]
        if f.profession is not None:
            profession = _folded(f.profession)
            rows = [r for r in rows if _folded(r.profession) == profession]
        if f.mark is not None:
            rows = [r for r in rows if r.mark == f.mark]
        if f.assignee is not None:
            rows = [r for r in rows if r.assignee == f.assignee]
        if f.mine:
            rows = [r for r in rows if r.assignee == "you"]
        if f.conflict:
            rows = [r for r in rows if r.conflict]
        terms = search_text(f.text).split()
        if terms:
            text = self._searchable()
            rows = [r for r in rows if all(t in text.get(r.case, "") for t in terms)]
        return list(rows)

    def choices(self) -> dict[str, list[str]]:
        """The values present, for the filter menus: state, urgency, country, profession, mark."""
        rows = self._rows
        urgencies = {r.urgency for r in rows if r.urgency}
        return {
            "state": sorted({r.state for r in rows}),
            "urgency": [value for value, _ in URGENCY if value in urgencies],
            "country": _distinct(r.country for r in rows),
            "profession": _distinct(r.profession for r in rows),
            "mark": [m for m in MARKS if any(r.mark == m for r in rows)],
            "assignee": sorted({r.assignee for r in rows if r.assignee}),
        }

    def _searchable(self) -> dict[str, str]:
        """Every case's answers' text as the search compares it, made on the first search
        and kept in memory (never written) for this Casebook's life."""
        if self._search is None:
            self._search = {case: search_text(text)
                            for case, text in parse_texts(self._text_part).items()}
        return self._search

    # --- changes --------------------------------------------------------------------

    def opened(self, case_id: str) -> None:
        """This reviewer opened the case now: its mark goes (recorded in seen.env).

        If another command holds the home, the opening is kept in memory and
        written with the next one (or the next refresh).
        """
        case = self._state.case(case_id)
        opening = Opened(_moment(self._clock()), len(case.submissions))
        self._unsaved[case_id] = opening
        self._write_unsaved()
        self._opened[case_id] = opening
        self._rows = [r._replace(mark="") if r.case == case_id else r for r in self._rows]

    def refresh(self) -> None:
        """Read the state, index and seen marks again (after an import, a verification, a reply)."""
        with collector_paused():
            self._load(self.home.load_state())

    # --- inside ---------------------------------------------------------------------

    def _write_unsaved(self) -> None:
        if not self._unsaved:
            return
        try:
            _record(self.home, self.keys, self._unsaved)
        except HomeBusy:
            return  # kept in memory; written next time
        self._unsaved = {}

    def _load(self, state: State) -> None:
        self._write_unsaved()
        index = self.home.fresh_index(state, self.keys)
        opened = seen_file(self.home).load(self.keys)
        opened.update(self._unsaved)
        self._state = state
        self._opened = opened
        # Nothing is decrypted for this when the home holds no team envelope.
        teams = self.home.team_views_of(state, self.keys)
        self.teams = teams
        rows: list[CaseRow] = []
        unknown = ("", UNKNOWN_RANK, "")
        for case_id, case in state.cases.items():
            entry: dict[str, Any] = index[case_id]
            urgency, rank, label = _URGENCIES.get(entry["urgency"], unknown)
            seen = opened.get(case_id)
            team = teams.get(case_id)
            rows.append(CaseRow(
                case_id,
                entry["name"],
                entry["country"],
                entry["profession"],
                urgency,
                label,
                rank,
                entry["state"] if team is None else team.state,
                case.received,
                last_activity(case),
                entry["attachments"],
                case.followups,
                entry["readable"],
                "new" if seen is None else mark_of(case, seen),
                *((team.assignee or "", team.conflict) if team is not None else ("", False)),
                len(team.referred) if team is not None else 0,
            ))
        self._text_part = self.home.index.text_part
        self._search = None
        # Stable sorts: by id, then by urgency (rank ascending, negated under
        # reverse) and latest activity (newest first); a reversed sort stays stable.
        rows.sort(key=lambda r: r.case)
        rows.sort(key=lambda r: (-r.urgency_rank, r.last_activity), reverse=True)
        self._rows = rows


def _distinct(values: Any) -> list[str]:
    """Distinct non-empty values, one per casefolded spelling, sorted without regard to case."""
    found: dict[str, str] = {}
    for value in values:
        value = value.strip()
        if value:
            found.setdefault(search_text(value), value)
    return [found[k] for k in sorted(found)]
