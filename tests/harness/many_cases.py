"""A reviewer home with many generated cases whose every fact is known: for the statistics.

`generate(n, seed)` draws the cases (day of arrival, country, profession, urgency,
document version, verification records with their days and recommendations,
replies with their days) and returns them as `Made` records: the truth a test
computes its expected figures from, independently of reviewer.stats.
`populate(home, keys, made)` puts them in a home the way the server and the
reviewer would (answers documents in a bundle, imported; records and replies
sealed into the state).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench.server_sim import APPLICATION, Applicant, submit, write_bundle
from crypto.keys import PrivateKey, PublicKey
from reviewer.home import Home, Keys
from reviewer.records import reply_document
from reviewer.state import Reply, Verification

#: Countries drawn, most often first: a long tail, so that "others" and the
#: threshold both matter.
COUNTRIES = ("SY", "IR", "TR", "AF", "RU", "BY", "SD", "ER", "CN", "VE", "NI", "EG", "SA",
             "MM", "CU", "ET", "YE", "IQ", "BD", "PK", "UG", "ZW", "AZ", "TJ", "KH")
PROFESSIONS = ("writer", "journalist", "blogger", "poet", "translator", "publisher",
               "visual artist", "cartoonist", "musician", "filmmaker", "other")
URGENCIES = ("immediate", "weeks", "months", "not urgent")
RECOMMENDATIONS = ("proceed", "more-info", "refer", "decline")
FIRST_DAY = date(2024, 3, 1)
LAST_DAY = date(2026, 11, 20)


@dataclass
class Made:
    applicant: Applicant
    received: str
    version: int
    country: str  # what the document holds: a code, "other", or (version 1) text
    country_code: str  # the code the statistics should count; "" if none
    profession: str  # the choice made
    urgency: str
    readable: bool
    verifications: list[tuple[str, str]] = field(default_factory=list)  # (day, recommendation)
    replies: list[str] = field(default_factory=list)  # days


def _day(d: date) -> str:
    return d.isoformat()


def generate(n: int, seed: int = 18) -> list[Made]:
    rng = random.Random(seed)
    span = (LAST_DAY - FIRST_DAY).days
    weights = [1 / (i + 1) ** 1.1 for i in range(len(COUNTRIES))]
    made: list[Made] = []
    for i in range(n):
        received = FIRST_DAY + timedelta(days=rng.randrange(span + 1))
        version = 1 if rng.random() < 0.1 else 2
        kind = rng.random()
        if version == 1:
            country, code = rng.choice(["Syria", "Iran", "Türkiye", "somewhere"]), ""
        elif kind < 0.08:
            country, code = "other", ""
        else:
            country = rng.choices(COUNTRIES, weights)[0]
            code = country
        m = Made(Applicant(), _day(received), version, country, code, rng.choice(PROFESSIONS),
                 rng.choice(URGENCIES), readable=i % 67 != 5)
        if m.readable and rng.random() < 0.65:
            day = received
            for _ in range(rng.choice((1, 1, 2))):
                day += timedelta(days=rng.randrange(1, 90))
                m.verifications.append((_day(day), rng.choice(RECOMMENDATIONS)))
        if rng.random() < 0.7:
            day = received
            for _ in range(rng.choice((1, 2))):
                day += timedelta(days=rng.randrange(0, 40))
                m.replies.append(_day(day))
        made.append(m)
    return made


def populate(home: Home, keys: Keys, made: list[Made], tmp: Path) -> None:
    """Import the cases' applications, then add their verification records and replies."""
    own = keys.private[0].public_key
    stranger: list[PublicKey] = [PrivateKey.generate().public_key]
    for m in made:
        answers = {**APPLICATION, "country": m.country, "profession": m.profession,
                   "profession_other": "cartoons on walls" if m.profession == "other" else "",
                   "urgency": m.urgency}
        if m.version == 2:
            answers["country_other"] = "Kurdistan" if m.country == "other" else ""
        submit(m.applicant, [own] if m.readable else stranger, day=m.received, answers=answers,
               doc_override={"version": m.version})
    bundle = write_bundle(tmp / "many.bundle", [(m.applicant, m.applicant.submissions)
                                                for m in made], [own, *stranger])
    with bundle.open("rb") as f:
        home.import_bundle(f, keys)
    with home.lock():
        state = home.load_state()
        store = home.store(state)
        to = home.reviewer_recipients(state)
        for m in made:
            case = m.applicant.case
            for day, recommendation in m.verifications:
                record = {"format": "refuge-intake verification", "version": 1, "case": case,
                          "day": day, "reviewer": "test", "identity": "seen", "work": "read",
                          "persecution": "checked", "risk": "high",
                          "recommendation": recommendation, "notes": ""}
                state = state.with_verification(case, Verification(store.seal_json(record, to),
                                                                   day))
            for day in m.replies:
                doc = reply_document(case, "We have your application.", day=day)
                state = state.with_reply(case, Reply(doc["reply"], day, store.seal_json(doc, to),
                                                     exported=False))
        home.save_state(state)
