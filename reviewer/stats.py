"""The Secretariat's picture of its work: `reviewer stats` and the desk's Overview page.

Two products from the same per-case facts (`case_facts`), both computed in memory
from the state (days, replies) and the encrypted index (country code, profession,
urgency, state, the day of the first decision), with nothing decrypted beyond the
index:

- `overview`: the reviewers' own figures, exact (cases by month of arrival, state,
  profession, country, urgency; how many referred; median days to the first reply
  and to a decision; the cases waiting longest). Shown on the desk and by
  `reviewer stats [--json]`; they name case ids and are for the team only.
- `counts_csv`: non-identifying counts for publication (an annual report): one-way
  tables of whole numbers, no names, free text or case ids, and no published cell
  below a threshold, with secondary suppression so that no hidden count can be
  recovered by subtraction (`protect`, and docs/reviewer.md, "Statistics").
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from crypto import answersform, countries
from reviewer.errors import ReviewerError
from reviewer.home import TEAM_STATES
from reviewer.index import CONFLICT, UNVERIFIED
from reviewer.state import Case, State
from reviewer.teamview import CaseTeam

#: Months are YYYY-MM; `--since` takes one.
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
#: The states in the order the figures list them; "conflict" is a case whose
#: colleagues set different states without seeing each other's (reviewer.teamview);
#: "?" is a case whose latest verification record is not sealed to this home's keys.
STATES = (*TEAM_STATES, CONFLICT, "?")
#: How many countries the figures name; the rest are counted as "others".
TOP_COUNTRIES = 15
#: How many of the cases waiting longest without a decision the overview lists.
WAITING = 10
#: The categories that stand for "no answer we can count".
NOT_KNOWN = "not known"
#: A country that is no listed code: "another place" in the applicant's words, or
#: text from a version 1 answers document.
NOT_CODED = "not coded"
OTHERS = "others"
DEFAULT_THRESHOLD = 5


def _choices(key: str) -> tuple[tuple[str, str], ...]:
    question = answersform.form("application").get(key)
    return tuple((c.value, c.label) for c in question.choices) if question else ()


PROFESSIONS = _choices("profession")
URGENCIES = _choices("urgency")
_PROFESSION_VALUES = frozenset(value for value, _ in PROFESSIONS)
_URGENCY_VALUES = frozenset(value for value, _ in URGENCIES)


def parse_month(text: str) -> str:
    """A month "YYYY-MM", checked; ReviewerError with the sentence a person reads."""
    if not _MONTH.fullmatch(text.strip()):
        raise ReviewerError(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2026-01")
    return text.strip()


def month_of(day: str) -> str:
    return day[:7]


def days_between(first: str, then: str) -> int:
    return (date.fromisoformat(then) - date.fromisoformat(first)).days


# --- one case -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the statistics count of one case; nothing here is the applicant's text."""

    case: str
    received: str  # YYYY-MM-DD, the first submission's day
    state: str  # one of STATES
    referred: bool
    cities: tuple[str, ...]  # the member cities it was referred to, each once
    profession: str  # a choice's value, "other" (their own words), or NOT_KNOWN
    country: str  # an ISO 3166 code, NOT_CODED, or NOT_KNOWN
    urgency: str  # a choice's value, or NOT_KNOWN
    first_reply: str  # the day the first reply was written; "" if none
    decided: str  # the day of the first deciding verification record; "" if none

    @property
    def month(self) -> str:
        return month_of(self.received)


def is_referred(team: CaseTeam | None) -> bool:
    """Whether a case counts as referred to a member city: a dossier was written for
    it (a `referral` team record), whatever its state says."""
    return team is not None and bool(team.referred)


def case_facts(case_id: str, case: Case, entry: Mapping[str, Any],
               team: CaseTeam | None = None) -> CaseFacts:
    """One case's facts from the state, its index entry (reviewer.index) and the fold of
    its team records (reviewer.teamview), as `list` shows it.

    The state is the fold's ("conflict" counted as such) for a case with team
    records, else the index's. The day of the decision is the earliest of the
    index's (the first deciding verification record this home holds) and the
    fold's (the author's day of the first deciding state or verification record:
    the same for every reviewer of the team, whenever each received it).
    """
    state = str(entry.get("state", UNVERIFIED)) if team is None else team.state
    profession = str(entry.get("profession", ""))
    if not entry.get("readable", True) and not profession:
        profession = NOT_KNOWN
    elif profession not in _PROFESSION_VALUES:
        # The index holds the applicant's words for "other": counted, never shown.
        profession = "other" if profession.strip() else NOT_KNOWN
    code = str(entry.get("country_code", ""))
    country = code if code in countries.codes() else (
        NOT_CODED if str(entry.get("country", "")).strip() else NOT_KNOWN)
    urgency = str(entry.get("urgency", ""))
    if urgency not in _URGENCY_VALUES:
        urgency = NOT_KNOWN
    first_reply = min((r.day for r in case.replies), default="")
    return CaseFacts(
        case=case_id,
        received=case.received,
        state=state if state in STATES else "?",
        referred=is_referred(team),
        cities=tuple(dict.fromkeys(team.referred)) if team is not None else (),
        profession=profession,
        country=country,
        urgency=urgency,
        first_reply=first_reply,
        decided=min((d for d in (str(entry.get("decided", "")),
                                 team.decided if team is not None else "") if d), default=""),
    )


def all_facts(state: State, index: Mapping[str, Mapping[str, Any]],
              teams: Mapping[str, CaseTeam] | None = None) -> list[CaseFacts]:
    """Every case's facts, oldest first (then by id); `teams`: the case views
    (Home.team_views_of), the same the case list shows."""
    teams = teams or {}
    facts = [case_facts(case_id, case, index[case_id], teams.get(case_id))
             for case_id, case in state.cases.items()]
    facts.sort(key=lambda f: (f.received, f.case))
    return facts


def since_month(facts: Iterable[CaseFacts], since: str | None) -> list[CaseFacts]:
    return [f for f in facts if since is None or f.month >= since]


# --- the overview (exact, for the team) --------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    key: str  # the value counted (a code, a choice's value, a month)
    label: str  # what a person reads
    count: int


@dataclass(frozen=True, slots=True)
class Waiting:
    case: str
    received: str
    days: int  # days since arrival, up to today
    state: str
    urgency: str


@dataclass(frozen=True, slots=True)
class Median:
    days: float | None  # None when no case has got there yet
    cases: int  # how many cases it is the median of


@dataclass(frozen=True)
class Overview:
    since: str | None
    today: str
    total: int
    by_month: tuple[Row, ...]
    by_state: tuple[Row, ...]
    by_profession: tuple[Row, ...]
    by_country: tuple[Row, ...]
    by_urgency: tuple[Row, ...]
    referred: int
    by_city: tuple[Row, ...]  # cases referred to each city (a case once per city)
    to_first_reply: Median
    to_decision: Median
    waiting: tuple[Waiting, ...]

    def as_json(self) -> dict[str, Any]:
        def rows(rs: Sequence[Row]) -> list[dict[str, Any]]:
            return [{"key": r.key, "label": r.label, "count": r.count} for r in rs]

        return {
            "since": self.since, "today": self.today, "cases": self.total,
            "by_month": rows(self.by_month), "by_state": rows(self.by_state),
            "by_profession": rows(self.by_profession), "by_country": rows(self.by_country),
            "by_urgency": rows(self.by_urgency), "referred": self.referred,
            "by_city": rows(self.by_city),
            "median_days_to_first_reply": {"days": self.to_first_reply.days,
                                           "cases": self.to_first_reply.cases},
            "median_days_to_decision": {"days": self.to_decision.days,
                                        "cases": self.to_decision.cases},
            "waiting_longest": [{"case": w.case, "received": w.received, "days": w.days,
                                 "state": w.state, "urgency": w.urgency}
                                for w in self.waiting],
        }


def months_from(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` (YYYY-MM), both included."""
    year, month = int(first[:4]), int(first[5:7])
    out: list[str] = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _label(table: str, key: str) -> str:
    if key == NOT_KNOWN:
        return "not known"
    if key == OTHERS:
        return "other countries" if table == "country" else "others"
    if table == "country":
        if key == NOT_CODED:
            return "another place, or written by the applicant"
        return countries.english_name(key)
    if table == "profession":
        return dict(PROFESSIONS).get(key, key)
    if table == "urgency":
        return dict(URGENCIES).get(key, key)
    return key


def _in_order(table: str, counts: Counter[str], order: Sequence[str]) -> tuple[Row, ...]:
    keys = [k for k in order if counts.get(k)] + sorted(
        k for k in counts if k not in order and counts[k])
    return tuple(Row(k, _label(table, k), counts[k]) for k in keys)


def _median(values: list[int]) -> Median:
    return Median(float(statistics.median(values)) if values else None, len(values))


def overview(facts: Sequence[CaseFacts], *, today: str, since: str | None = None) -> Overview:
    """The team's figures over the cases that arrived from `since` (a month) on."""
    chosen = since_month(facts, since)
    months = [f.month for f in chosen]
    by_month: tuple[Row, ...] = ()
    if months:
        per = Counter(months)
        by_month = tuple(Row(m, m, per[m]) for m in months_from(min(months), max(months)))
    country = Counter(f.country for f in chosen)
    coded = sorted((c for c in country if c not in (NOT_CODED, NOT_KNOWN)),
                   key=lambda c: (-country[c], c))
    shown = coded[:TOP_COUNTRIES]
    rest = sum(country[c] for c in coded[TOP_COUNTRIES:])
    by_country = [Row(c, _label("country", c), country[c]) for c in shown]
    if rest:
        by_country.append(Row(OTHERS, _label("country", OTHERS), rest))
    for key in (NOT_CODED, NOT_KNOWN):
        if country.get(key):
            by_country.append(Row(key, _label("country", key), country[key]))
    undecided = sorted((f for f in chosen if not f.decided), key=lambda f: (f.received, f.case))
    return Overview(
        since=since,
        today=today,
        total=len(chosen),
        by_month=by_month,
        by_state=_in_order("state", Counter(f.state for f in chosen), STATES),
        by_profession=_in_order("profession", Counter(f.profession for f in chosen),
                                [v for v, _ in PROFESSIONS] + [NOT_KNOWN]),
        by_country=tuple(by_country),
        by_urgency=_in_order("urgency", Counter(f.urgency for f in chosen),
                             [v for v, _ in URGENCIES] + [NOT_KNOWN]),
        referred=sum(1 for f in chosen if f.referred),
        by_city=_in_order("city", Counter(c for f in chosen for c in f.cities), ()),
        to_first_reply=_median([days_between(f.received, f.first_reply)
                                for f in chosen if f.first_reply]),
        to_decision=_median([days_between(f.received, f.decided)
                             for f in chosen if f.decided]),
        waiting=tuple(Waiting(f.case, f.received, days_between(f.received, today), f.state,
                              f.urgency) for f in undecided[:WAITING]),
    )


# --- counts for publication --------------------------------------------------------------


def time_blocks(months: Mapping[str, int], threshold: int) -> list[tuple[str, str]]:
    """The periods every published count is built from: calendar years, each with at
    least `threshold` cases (a year with fewer joins the year before it, or the year
    after it when it is the first). [] when all the cases together are fewer.

    `months`: cases by month of arrival, over every case (never only a `--since`
    period), so that every period is the same whole blocks whoever asks.
    """
    if not months or sum(months.values()) < threshold:
        return []
    years: dict[str, int] = Counter()
    for month, n in months.items():
        years[month[:4]] += n
    ordered = sorted(years)
    blocks: list[list[str]] = []
    for year in ordered:
        if blocks and sum(years[y] for y in blocks[-1]) < threshold:
            blocks[-1].append(year)  # the first block still too small: grow it
        elif years[year] >= threshold or not blocks:
            blocks.append([year])
        else:
            blocks[-1].append(year)  # too few this year: with the year before
    if len(blocks) > 1 and sum(years[y] for y in blocks[-1]) < threshold:
        blocks[-2].extend(blocks.pop())
    return [(f"{b[0]}-01", f"{b[-1]}-12") for b in blocks]


def month_ranges(months: Mapping[str, int], block: tuple[str, str],
                 threshold: int) -> list[tuple[str, str, int]]:
    """The by-month table inside one block: months joined into ranges of at least
    `threshold` cases, from the block's first month with a case ("months or coarser")."""
    inside = sorted(m for m in months if block[0] <= m <= block[1] and months[m])
    if not inside:
        return []
    ranges: list[list[Any]] = []
    current: list[Any] = [inside[0], inside[0], 0]
    for m in months_from(inside[0], inside[-1]):
        if current[2] >= threshold:
            ranges.append(current)
            current = [m, m, 0]
        current[1] = m
        current[2] += months.get(m, 0)
    if current[2] >= threshold or not ranges:
        ranges.append(current)
    else:
        ranges[-1][1], ranges[-1][2] = current[1], ranges[-1][2] + current[2]
    return [(str(a), str(b), int(n)) for a, b, n in ranges]


def protect(cells: Mapping[str, Sequence[int]], threshold: int,
            keep: int | None = None) -> frozenset[str]:
    """Which categories of a one-way table may be published on their own row.

    `cells`: category -> its count in each time block (the same blocks, in the same
    order, for every category; every case in exactly one category). Returns the
    categories shown; all others are published together as one "others" row.

    The rule, in two steps:

    1. *Primary*: a category is shown only if its count in every block is 0 or at
       least `threshold`. Any period published is a run of whole blocks up to the
       latest, so a shown category's counts in two periods differ by whole blocks,
       each 0 or at least `threshold`: subtraction recovers nothing smaller. At
       most `keep` categories are shown (the largest; ties by name).
    2. *Secondary*: the "others" row is itself a count, and the table's total
       minus the shown rows equals it. So "others" must obey step 1 too: while
       its count in some block is between 1 and `threshold` - 1, the smallest
       shown category (ties by name) joins it. Since each block holds at least
       `threshold` cases (`time_blocks`), this ends at the latest when everything
       is "others".

    Every number published is then a sum of (category group, block) counts each
    0 or at least `threshold`, and so is every difference of two of them from the
    same table, between two periods or against the total: no count between 1 and
    `threshold` - 1 can be recovered. Pure: no IO, deterministic.
    """

    def clean(counts: Iterable[int]) -> bool:
        return all(n == 0 or n >= threshold for n in counts)

    total = {c: sum(v) for c, v in cells.items()}
    shown = sorted((c for c, v in cells.items() if total[c] > 0 and clean(v)),
                   key=lambda c: (-total[c], c))
    if keep is not None:
        shown = shown[:keep]
    blocks = len(next(iter(cells.values()), ()))
    while shown:
        others = [sum(cells[c][b] for c in cells if c not in shown) for b in range(blocks)]
        if clean(others):
            break
        shown.remove(min(shown, key=lambda c: (total[c], c)))
    return frozenset(shown)


#: The one-way tables published: (name, the category of a case).
TABLES: tuple[tuple[str, Callable[[CaseFacts], str]], ...] = (
    ("state", lambda f: f.state),
    ("profession", lambda f: f.profession),
    ("country", lambda f: f.country),
    ("urgency", lambda f: f.urgency),
    ("referred", lambda f: "referred" if f.referred else "not referred"),
)


@dataclass(frozen=True)
class PublishedCounts:
    """What `counts_csv` writes: the period really covered, and the rows."""

    since: str  # the first month covered (a block's first month), "" if nothing
    until: str  # the last month of the data
    threshold: int
    rows: tuple[tuple[str, str, str, int], ...]  # (table, key, label, count)


def published_counts(facts: Sequence[CaseFacts], *, since: str | None,
                     threshold: int = DEFAULT_THRESHOLD) -> PublishedCounts:
    """The counts that may be published for the period from `since` on.

    The period starts at the first month of the time block (`time_blocks`)
    holding `since`, which the result states; the grouping of each table is made
    over all blocks, so it is the same for every `since`.
    """
    if threshold < 1:
        raise ReviewerError("the threshold must be a whole number of at least 1")
    months = Counter(f.month for f in facts)
    blocks = time_blocks(months, threshold)
    if not blocks:
        return PublishedCounts("", "", threshold, ())
    first = 0
    if since is not None:
        first = next((i for i, (_, end) in enumerate(blocks) if since <= end), len(blocks))
    chosen = blocks[first:]
    if not chosen:
        return PublishedCounts("", "", threshold, ())

    block_of = {m: i for i, (a, b) in enumerate(blocks) for m in months if a <= m <= b}
    which = [block_of[f.month] for f in facts]
    inside = [f for f, number in zip(facts, which, strict=True) if number >= first]
    rows: list[tuple[str, str, str, int]] = [("cases", "all", "all cases", len(inside))]
    for block in chosen:
        for a, b, n in month_ranges(months, block, threshold):
            rows.append(("month", a if a == b else f"{a}..{b}",
                         a if a == b else f"{a} to {b}", n))
    for name, category in TABLES:
        cells: dict[str, list[int]] = {}
        for f, number in zip(facts, which, strict=True):
            cells.setdefault(category(f), [0] * len(blocks))[number] += 1
        shown = protect(cells, threshold, TOP_COUNTRIES if name == "country" else None)
        counts = Counter(c if c in shown else OTHERS for c in map(category, inside))
        for key in [*sorted(shown, key=lambda c: (-counts[c], c)), OTHERS]:
            if counts.get(key):
                rows.append((name, key, _label(name, key), counts[key]))
    return PublishedCounts(chosen[0][0], max(months), threshold, tuple(rows))


def counts_csv(published: PublishedCounts, *, made: str) -> str:
    """The CSV text: a few `about` rows, then `table,key,label,cases` rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "label", "cases"])
    writer.writerow(["about", "from", published.since or "(nothing: fewer cases than the"
                     " threshold, or none from that month on)", ""])
    writer.writerow(["about", "to", published.until, ""])
    writer.writerow(["about", "threshold", str(published.threshold), ""])
    writer.writerow(["about", "made", made, ""])
    for table, key, label, count in published.rows:
        writer.writerow([table, key, label, str(count)])
    return out.getvalue()


def overview_lines(o: Overview) -> list[str]:
    """`reviewer stats` as text: one figure or table row a line."""
    period = f"from {o.since} " if o.since else ""
    lines = [f"Cases {period}(to {o.today}): {o.total}"]

    def table(title: str, rows: Sequence[Row]) -> None:
        lines.append(f"{title}:")
        width = max((len(r.label) for r in rows), default=0)
        lines.extend(f"  {r.label:<{width}}  {r.count:>6}" for r in rows)
        if not rows:
            lines.append("  (none)")

    table("By month of arrival", o.by_month)
    table("By state (the latest recommendation)", o.by_state)
    table("By profession", o.by_profession)
    table(f"By country (the {TOP_COUNTRIES} largest, then the others)", o.by_country)
    table("By urgency (the applicant's choice)", o.by_urgency)
    lines.append(f"Referred: {o.referred}")
    table("Referred, by member city (a case once per city)", o.by_city)
    for title, median in (("the first reply", o.to_first_reply),
                          ("a decision", o.to_decision)):
        shown = "none yet" if median.days is None else (
            f"{median.days:g} days (of {median.cases} case{'s' * (median.cases != 1)})")
        lines.append(f"Median time from arrival to {title}: {shown}")
    lines.append(f"Waiting longest without a decision ({len(o.waiting)}):")
    lines.extend(f"  {w.case[:8]}  {w.received}  {w.days:>5} days  {w.state:<10}  {w.urgency}"
                 for w in o.waiting)
    return lines
