"""Member cities, referral dossiers, consent and the coordinators' answers.

The verbs behind `reviewer cities`, `refer`, `consent`, `dossier open`,
`dossier answer` and the import of an answer (docs/reviewer.md, "Member
cities"; the file formats are docs/dossier.md, crypto/dossier.py).

- The register of cities is the team's: `city` team records (add, remove;
  docs/team.md), folded by reviewer.team.fold_register, so every reviewer
  sees one list. Like a colleague's key, a coordinator's key is added only
  after a person compared its fingerprint out of band.
- A referral is recorded on the case by `record_referral` as a `referral`
  team record: which dossier, which city and coordinator key, what was
  included (answer names, file numbers and ids, whether a note and the
  verification went); its author and time say by whom and when.
- Consent: the application's `share` answer ("yes" or "ask"; missing, as in
  every application made before the question, means "ask"), and the consents
  a reviewer recorded (`reviewer consent CASE --how TEXT`, a `consent` team
  record). `refer` refuses a case whose applicant did not say yes until one is
  recorded.
- A coordinator's answer, checked on import, becomes a `dossier-answer` team
  record holding its text, so colleagues see it in the case's history.
- A dossier's files are streamed from the stored attachment envelopes into
  the dossier's envelope, chunk by chunk: no plaintext file, no temporary file,
  and the server's envelope bytes are never copied.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from crypto import dossier, envelope
from crypto.atomic import atomic_output
from crypto.errors import NoMatch
from crypto.keys import PublicKey
from reviewer.blobs import BlobStore
from reviewer.errors import NotFound, ReviewerError
from reviewer.home import Home, Keys, new_id, today
from reviewer.inert import inert
from reviewer.state import State
from reviewer.team import Register
from reviewer.teamview import EMPTY
from reviewer.trust import MAX_NAME

#: The application's question (crypto/data/answers-form.json) and its answers.
CONSENT_KEY = "share"
CONSENT_YES = "yes"
#: Answers the form marks as the most sensitive: how to reach the applicant.
SENSITIVE = ("contact",)


@dataclass(frozen=True, slots=True)
class City:
    """A member city in the team's register: its coordinator's key was compared by
    fingerprint by the colleague who added it. `added`: that colleague's day."""

    name: str
    country: str  # "" when not given
    key: PublicKey
    added: str


class ConsentMissing(ReviewerError):
    """The applicant did not say yes to sharing and no consent was recorded."""


# --- cities ---------------------------------------------------------------------------


def check_city_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or inert(name, multiline=False) != name:
        raise ReviewerError(
            f"a city's name must be 1 to {MAX_NAME} characters on one line, with nothing"
            " invisible"
        )
    return name


def check_country(country: str) -> str:
    country = country.strip().upper()
    if country and (len(country) != 2 or not country.isascii() or not country.isalpha()):
        raise ReviewerError("the country is a two-letter ISO 3166 code, e.g. NO or DE")
    return country


def _city(entry: Any) -> City:
    return City(entry.name, entry.country, entry.key, entry.record.time[:10])


def register_cities(home: Home, state: State, keys: Keys) -> tuple[City, ...]:
    """The team's register, folded: each city with the day it was added (its author's)."""
    return tuple(_city(c) for c in home.register(state, keys).cities)


def register_conflicts(home: Home, state: State, keys: Keys) -> list[str]:
    """One line per name the register is in conflict over."""
    register = home.register(state, keys)
    return [f"{register.conflicts[n][0].body['name']}: " + "; ".join(
        f"{r.body['action']} {PublicKey.from_text(str(r.body['key'])).fingerprint}"
        for r in register.conflicts[n]) for n in sorted(register.conflicts)]


def add_city(home: Home, name: str, key: PublicKey, country: str = "", *,
             keys: Keys) -> City:
    """Add a city to the team's register (the caller had a person compare the key's
    fingerprint): a `city` team record, in the outbox for the colleagues."""
    name, country = check_city_name(name), check_country(country)
    if key in home.own_public_keys():
        raise ReviewerError("that is one of this home's own keys, not a coordinator's")

    def make(register: Register) -> dict[str, Any]:
        for c in register.cities:
            if c.name.casefold() == name.casefold():
                raise ReviewerError(f"a city is already named '{c.name}'; remove it first")
            if c.key == key:
                raise ReviewerError(f"that key is already the coordinator's of '{c.name}'")
        return {"action": "add", "name": name, "country": country, "key": key.to_text()}

    home.add_register_record(keys, make)
    return City(name, country, key, today())


def remove_city(home: Home, name: str, *, keys: Keys) -> City:
    """Remove a city from the team's register (a `city` record); also settles a conflict."""
    removed: list[City] = []

    def make(register: Register) -> dict[str, Any]:
        wanted = name.strip().casefold()
        heads = register.conflicts.get(wanted)
        if heads is not None:
            entry = heads[0].body
            city = City(str(entry["name"]), str(entry["country"]),
                        PublicKey.from_text(str(entry["key"])), heads[0].time[:10])
        else:
            city = find_city(register, name)
        removed.append(city)
        return {"action": "remove", "name": city.name, "country": city.country,
                "key": city.key.to_text()}

    home.add_register_record(keys, make)
    return removed[0]


def find_city(register: Register, name: str) -> City:
    wanted = name.strip().casefold()
    for c in register.cities:
        if c.name.casefold() == wanted:
            return _city(c)
    if wanted in register.conflicts:
        raise ReviewerError(
            f"colleagues changed the city {name!r} in the register without seeing each"
            " other's change; add it again (or remove it) to settle which holds")
    names = ", ".join(f"'{c.name}'" for c in register.cities) or (
        "none yet (`reviewer cities add`)")
    raise NotFound(f"no city is named {name!r} in the register; the cities are: {names}")


# --- what a case holds --------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFileRef:
    """One file of a case, numbered as `reviewer show` numbers it (1 for the first)."""

    number: int
    submission: str
    name: str  # as the applicant sent it (hostile)
    type: str
    size: int
    blob: str


@dataclass(frozen=True)
class CaseContent:
    answers: Mapping[str, tuple[str, str]]  # name -> (question, value), the application's
    files: tuple[CaseFileRef, ...]
    consent: str  # "yes" or "ask"
    consents: tuple[str, ...]  # how consent was recorded, each (reviewer text)


def case_content(home: Home, state: State, keys: Keys, case_id: str) -> CaseContent:
    """The application's answers, every file of the case, and its consent (decrypted in memory)."""
    from reviewer.casefile import answers_in_order  # here: it brings the file type checks

    case = state.case(case_id)
    store = home.store(state)
    answers: dict[str, tuple[str, str]] = {}
    files: list[CaseFileRef] = []
    consent = "ask"
    for sub in case.submissions:
        try:
            if not sub.readable:
                raise NoMatch()
            doc = store.open_json(sub.answers, keys)
        except NoMatch:
            continue
        raw = doc.get("answers", {})
        raw = raw if isinstance(raw, dict) else {}
        if sub.kind == "application":
            for a in answers_in_order(sub.kind, raw):
                answers.setdefault(a.key, (a.question, a.value))
            if raw.get(CONSENT_KEY) == CONSENT_YES:
                consent = CONSENT_YES
        for entry in doc.get("attachments", []):
            files.append(CaseFileRef(len(files) + 1, sub.id, str(entry["name"]),
                                     str(entry["type"]), int(entry["size"]), str(entry["blob"])))
    team = home.team_views_of(state, keys).get(case_id, EMPTY)
    recorded = [e.text for e in team.history if e.kind == "consent"]
    return CaseContent(answers, tuple(files), consent, tuple(recorded))


def record_consent(home: Home, keys: Keys, case_id: str, how: str) -> State:
    """Record how the applicant's consent to share with cities was given: a `consent`
    team record, in the outbox for the colleagues; the state saved."""
    how = how.strip()
    if not how:
        raise ReviewerError("say how consent was given (--how); nothing was recorded")
    return home.add_records(case_id, [("consent", {"how": how})], keys)


# --- refer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Referred:
    dossier: str
    city: City
    answers: tuple[str, ...]
    files: tuple[CaseFileRef, ...]
    note: bool
    verification: bool
    recipients: int
    consent: str  # "yes", or "recorded"


def _stream(store: BlobStore, keys: Keys, blob: str) -> Iterator[bytes]:
    """An attachment's content, chunk by chunk, each authenticated before it is handed out."""
    with store.open_blob(blob) as src:
        yield from envelope.decrypt_stream(src, keys.private)


def _latest_verification(store: BlobStore, keys: Keys, state: State,
                         case_id: str) -> dict[str, Any] | None:
    for v in reversed(state.case(case_id).verifications):
        with contextlib.suppress(NoMatch):
            doc = store.open_json(v.blob, keys)
            return {name: str(doc.get(name, "")) for name in
                    ("identity", "work", "persecution", "notes", "risk", "recommendation",
                     "day")}
    return None


@contextlib.contextmanager
def _output(out: Path | BinaryIO) -> Iterator[BinaryIO]:
    """A path written atomically (never overwritten), or a stream as it is."""
    if isinstance(out, Path):
        with atomic_output(out) as dst:
            yield dst
    else:
        yield out


@contextlib.contextmanager
def _input(src: Path | BinaryIO) -> Iterator[BinaryIO]:
    """A path opened for reading, or a seekable stream from its start."""
    if isinstance(src, Path):
        with open(src, "rb") as f:
            yield f
    else:
        src.seek(0)
        yield src


def refer(home: Home, keys: Keys, case_id: str, *, city_name: str, out: Path | BinaryIO,
          answers: Sequence[str] = (), files: Sequence[int] = (), note: str = "",
          with_verification: bool = False) -> Referred:
    """Write the dossier for `case_id` to `out` and record the referral on the case.

    `out` is a path (never overwritten) or a stream held in memory (the desk
    hands the dossier to the browser without writing it to disk).

    Nothing goes that was not chosen. Refused (nothing written) for a case
    whose applicant did not say yes to sharing and for which no consent was
    recorded, for an unknown city, answer name or file number, or when no
    signing key is unlocked.
    """
    state = home.load_state()
    case_id = home.resolve_case(state, case_id)
    city = find_city(home.register(state, keys), city_name)
    content = case_content(home, state, keys, case_id)
    if content.consent != CONSENT_YES and not content.consents:
        raise ConsentMissing(
            f"the applicant of case {case_id} chose \"ask me first\" (or applied before the"
            " question existed); no dossier was written. Ask them, then record how they"
            f" agreed: reviewer consent {case_id[:8]} --how TEXT"
        )
    chosen_answers = []
    for name in dict.fromkeys(answers):
        if name not in content.answers:
            have = ", ".join(content.answers) or "none"
            raise NotFound(f"the application has no answer named {name!r}; it has: {have}")
        question, value = content.answers[name]
        chosen_answers.append({"name": name, "question": question, "value": value})
    chosen_files = []
    for n in dict.fromkeys(files):
        if not 1 <= n <= len(content.files):
            raise NotFound(f"case {case_id} has no file number {n}; it has"
                           f" {len(content.files)} (numbered as `reviewer show` numbers them)")
        chosen_files.append(content.files[n - 1])
    store = home.store(state)
    verification = None
    if with_verification:
        verification = _latest_verification(store, keys, state, case_id)
        if verification is None:
            raise NotFound(f"case {case_id} has no verification record you can read")
    if not keys.signing:
        raise ReviewerError("no signing key is unlocked; nothing was written")
    recipients = [city.key, *home.reviewer_recipients(state)]
    if len({k.raw for k in recipients}) > dossier.MAX_RECIPIENTS:
        raise ReviewerError(f"a dossier is sealed to at most {dossier.MAX_RECIPIENTS} keys")
    doc: dict[str, Any] = {
        "id": new_id(), "day": today(), "city": city.name,
        "coordinator": city.key.to_text(), "answers": chosen_answers, "note": note,
        "verification": verification,
    }
    sources = [dossier.FileSource(f.name, f.type, f.size,
                                  functools.partial(_stream, store, keys, f.blob))
               for f in chosen_files]
    try:
        with _output(out) as dst:
            written = dossier.write(dst, dossier.DOSSIER, doc, signer=keys.private[0],
                                    signing_key=keys.signing[0], recipients=recipients,
                                    files=sources)
    except NoMatch:
        raise ReviewerError("a chosen file is not addressed to your key; nothing was"
                            " written") from None
    referred = Referred(str(written["id"]), city, tuple(a["name"] for a in chosen_answers),
                        tuple(chosen_files), bool(note.strip()), verification is not None,
                        len({k.raw for k in recipients}),
                        CONSENT_YES if content.consent == CONSENT_YES else "recorded")
    record_referral(home, keys, case_id, referred)
    return referred


def record_referral(home: Home, keys: Keys, case_id: str, referred: Referred) -> State:
    """Record on the case which city got which dossier, with what: a `referral` team
    record (its author and time say by whom and when), in the outbox; the state saved."""
    body = {"dossier": referred.dossier, "city": referred.city.name,
            "coordinator": referred.city.key.to_text(), "answers": list(referred.answers),
            "files": [{"number": f.number, "blob": f.blob} for f in referred.files],
            "note": referred.note, "verification": referred.verification,
            "consent": referred.consent}
    return home.add_records(case_id, [("referral", body)], keys)


@dataclass(frozen=True)
class ReferralView:
    dossier: str
    day: str  # the referring reviewer's day
    city: str
    country: str  # from the register ("" if the city is no longer in it)
    answers: tuple[str, ...]
    files: tuple[int, ...]
    note: bool
    verification: bool
    reviewer: str  # who referred: "you" or the colleague's name
    readable: bool
    replies: tuple[tuple[str, str], ...]  # (day written, text) of each coordinator's answer


def referral_views(home: Home, state: State, keys: Keys, case_id: str) -> list[ReferralView]:
    """The case's referrals and the answers to them, from its team records, for `show`."""
    # The kept views say whether there is any: only then is every team record read.
    team = home.team_views_of(state, keys).get(case_id, EMPTY)
    if not any(e.kind == "referral" for e in team.history):
        return []
    views, name = home.case_records(state, keys)
    view = views.get(case_id)
    if view is None:
        return []
    countries = {c.key: c.country for c in home.register(state, keys).cities}
    out = []
    for r in view.history:
        if r.kind != "referral":
            continue
        body = r.body
        replies = tuple((str(a.body["day"]), str(a.body["text"])) for a in view.history
                        if a.kind == "dossier-answer" and a.body["dossier"] == body["dossier"])
        out.append(ReferralView(
            str(body["dossier"]), r.time[:10], str(body["city"]),
            countries.get(PublicKey.from_text(str(body["coordinator"])), ""),
            tuple(str(a) for a in body["answers"]),
            tuple(int(f["number"]) for f in body["files"]),
            bool(body["note"]), bool(body["verification"]), name(r.author.to_text()), True,
            replies))
    return out


# --- the coordinator's side -------------------------------------------------------------------


def dossier_signers(home: Home, state: State) -> list[PublicKey]:
    """Whose dossiers this home opens: its own keys and its confirmed colleagues'."""
    return home.trusted_keys(state)


def signer_name(home: Home, state: State, key: PublicKey) -> str:
    if key in home.own_public_keys():
        return "you"
    for c in state.reviewers:
        if c.key == key:
            return c.name
    return key.fingerprint


def open_dossier(home: Home, keys: Keys, path: Path | BinaryIO) -> dossier.Verified:
    """Check a dossier completely (docs/dossier.md); nothing is written.

    `path` is a file, or a seekable stream held in memory (the desk's upload)."""
    state = home.load_state()
    with _input(path) as src:
        return dossier.read_dossier(src, keys.private, dossier_signers(home, state))


def dossier_files(keys: Keys, path: Path | BinaryIO, verified: dossier.Verified
                  ) -> Iterator[tuple[Mapping[str, Any], bytes]]:
    with _input(path) as src:
        yield from dossier.dossier_files(src, keys.private, verified)


def write_answer(home: Home, keys: Keys, dossier_path: Path, text: str, out: Path
                 ) -> tuple[dossier.Verified, int]:
    """Seal a signed answer to the keys the dossier was sealed to; (the dossier, how many keys)."""
    if not text.strip():
        raise ReviewerError("the answer is empty; nothing was written")
    verified = open_dossier(home, keys, dossier_path)
    if not keys.signing:
        raise ReviewerError("no signing key is unlocked; nothing was written")
    me = next(k for k in keys.private if k.public_key in verified.recipients)
    signing = keys.signing[keys.private.index(me)] if len(keys.signing) == len(
        keys.private) else keys.signing[0]
    doc = {"id": new_id(), "dossier": verified.id, "day": today(), "text": text}
    with atomic_output(out) as dst:
        dossier.write(dst, dossier.ANSWER, doc, signer=me, signing_key=signing,
                      recipients=verified.recipients)
    return verified, len(verified.recipients)


@dataclass(frozen=True)
class ImportedAnswer:
    case: str
    city: str
    day: str
    already: bool


def import_answer(home: Home, keys: Keys, path: Path) -> ImportedAnswer:
    """Check a coordinator's answer and put it in its case's history: a `dossier-answer`
    team record holding its text, so the colleagues see it too.

    The answer must be signed by a coordinator key of the register, the one the
    dossier was referred to (as the `referral` record names it).
    """
    data = path.read_bytes()
    state = home.load_state()
    views, _name = home.case_records(state, keys)
    referrals = {str(r.body["dossier"]): (case_id, r) for case_id, view in views.items()
                 for r in view.history if r.kind == "referral"}
    # Only the coordinators of the register: a city removed from it is trusted no more.
    signers = [c.key for c in home.register(state, keys).cities]
    verified = dossier.read_bytes(data, keys.private, signers, kind=dossier.ANSWER)
    target = str(verified.document["dossier"])
    if target not in referrals:
        raise NotFound(f"this answer is about dossier {target}, which no case of this home"
                       " was referred with")
    case_id, referral = referrals[target]
    city = str(referral.body["city"])
    day = str(verified.document["day"])
    if PublicKey.from_text(str(referral.body["coordinator"])) != verified.signer:
        raise ReviewerError(
            f"this answer is signed by {verified.signer.fingerprint}, but dossier {target} was"
            f" sent to another city's coordinator, {city}'s"
            f" ({PublicKey.from_text(str(referral.body['coordinator'])).fingerprint});"
            " nothing was imported")
    if any(r.kind == "dossier-answer" and r.body["answer"] == verified.id
           for r in views[case_id].history):
        return ImportedAnswer(case_id, city, day, True)
    home.add_records(case_id, [("dossier-answer", {
        "dossier": target, "answer": verified.id, "city": city, "day": day,
        "text": str(verified.document["text"])})], keys)
    return ImportedAnswer(case_id, city, day, False)
