"""Member cities, referral dossiers, consent and the coordinators' answers.

The verbs behind `reviewer cities`, `refer`, `consent`, `dossier open`,
`dossier answer` and the import of an answer (docs/reviewer.md, "Member
cities"; the file formats are docs/dossier.md, crypto/dossier.py).

- The register of cities is kept in state.json (reviewer.state.City): a name,
  a country code, the coordinator's key, the day added. Like a colleague's
  key, a coordinator's key is added only after a person compared its
  fingerprint out of band.
- A referral is recorded on the case by `record_referral`: which dossier,
  which city, the day, what was included (answer names, file numbers, whether
  a note and the verification went), by whom. The record is a small JSON
  document sealed to the trusted keys (state.json names only its envelope
  and day), as a verification record is; one function, so that a later
  change can make it a team record.
- Consent: the application's `share` answer ("yes" or "ask"; missing, as in
  every application made before the question, means "ask"), and the consents
  a reviewer recorded (`reviewer consent CASE --how TEXT`, sealed likewise).
  `refer` refuses a case whose applicant did not say yes until one is recorded.
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
from reviewer.state import City, Consent, DossierAnswer, Referral, State
from reviewer.trust import MAX_NAME

#: The application's question (crypto/data/answers-form.json) and its answers.
CONSENT_KEY = "share"
CONSENT_YES = "yes"
#: Answers the form marks as the most sensitive: how to reach the applicant.
SENSITIVE = ("contact",)
REFERRAL_FORMAT = "refuge-intake referral record"
CONSENT_FORMAT = "refuge-intake consent record"


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


def add_city(home: Home, name: str, key: PublicKey, country: str = "") -> City:
    """Add a city to the register (the caller had a person compare the key's fingerprint)."""
    name, country = check_city_name(name), check_country(country)
    with home.lock():
        state = home.load_state()
        for c in state.cities:
            if c.name.casefold() == name.casefold():
                raise ReviewerError(f"a city is already named '{c.name}'; remove it first")
            if c.key == key:
                raise ReviewerError(f"that key is already the coordinator's of '{c.name}'")
        if key in home.own_public_keys():
            raise ReviewerError("that is one of this home's own keys, not a coordinator's")
        city = City(name, country, key, today())
        home.save_state(state.with_cities([*state.cities, city]))
        return city


def remove_city(home: Home, name: str) -> City:
    with home.lock():
        state = home.load_state()
        city = find_city(state, name)
        home.save_state(state.with_cities(c for c in state.cities if c is not city))
        return city


def find_city(state: State, name: str) -> City:
    wanted = name.strip().casefold()
    for c in state.cities:
        if c.name.casefold() == wanted:
            return c
    names = ", ".join(f"'{c.name}'" for c in state.cities) or "none yet (`reviewer cities add`)"
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
    recorded = []
    for c in case.consents:
        with contextlib.suppress(NoMatch):
            recorded.append(str(store.open_json(c.blob, keys).get("how", "")))
    return CaseContent(answers, tuple(files), consent, tuple(recorded))


def record_consent(home: Home, keys: Keys, case_id: str, how: str) -> State:
    """Record how the applicant's consent to share with cities was given (sealed)."""
    how = how.strip()
    if not how:
        raise ReviewerError("say how consent was given (--how); nothing was recorded")
    doc = {"format": CONSENT_FORMAT, "version": 1, "case": case_id, "day": today(),
           "reviewer": keys.private[0].public_key.fingerprint, "how": how}
    with home.lock():
        state = home.load_state()
        state.case(case_id)
        blob = home.store(state).seal_json(doc, home.reviewer_recipients(state))
        state = state.with_consent(case_id, Consent(today(), blob))
        home.save_state(state)
    return state


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
    city = find_city(state, city_name)
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
    """Record on the case which city got which dossier, when, with what, from whom.

    Sealed to the trusted keys (state.json names the envelope and the day
    only). The one place a later change makes a team record of it.
    """
    doc = {"format": REFERRAL_FORMAT, "version": 1, "case": case_id,
           "dossier": referred.dossier, "day": today(), "city": referred.city.name,
           "country": referred.city.country, "coordinator": referred.city.key.fingerprint,
           "answers": list(referred.answers),
           "files": [{"number": f.number, "submission": f.submission} for f in referred.files],
           "note": referred.note, "verification": referred.verification,
           "consent": referred.consent,
           "reviewer": keys.private[0].public_key.fingerprint}
    with home.lock():
        state = home.load_state()
        blob = home.store(state).seal_json(doc, home.reviewer_recipients(state))
        state = state.with_referral(case_id, Referral(referred.dossier, today(), blob))
        home.save_state(state)
    return state


@dataclass(frozen=True)
class ReferralView:
    dossier: str
    day: str
    city: str
    country: str
    answers: tuple[str, ...]
    files: tuple[int, ...]
    note: bool
    verification: bool
    reviewer: str
    readable: bool
    replies: tuple[tuple[str, str], ...]  # (day, text) of each coordinator's answer


def referral_views(home: Home, state: State, keys: Keys, case_id: str) -> list[ReferralView]:
    """The case's referrals and the answers to them, decrypted in memory, for `show`."""
    store = home.store(state)
    out = []
    for r in state.case(case_id).referrals:
        replies = []
        for a in r.answers:
            try:
                # Its signer was checked on import; the city may have left the register since.
                verified = dossier.read_bytes(store.read_blob(a.blob), keys.private, None,
                                              kind=dossier.ANSWER)
                replies.append((a.day, str(verified.document["text"])))
            except NoMatch:
                replies.append((a.day, "(not addressed to your key)"))
        try:
            doc = store.open_json(r.blob, keys)
        except NoMatch:
            out.append(ReferralView(r.dossier, r.day, "", "", (), (), False, False, "", False,
                                    tuple(replies)))
            continue
        out.append(ReferralView(
            r.dossier, r.day, str(doc.get("city", "")), str(doc.get("country", "")),
            tuple(str(a) for a in doc.get("answers", [])),
            tuple(int(f["number"]) for f in doc.get("files", [])),
            bool(doc.get("note")), bool(doc.get("verification")), str(doc.get("reviewer", "")),
            True, tuple(replies)))
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


def is_dossier_answer(path: Path) -> bool:
    """Whether a file given to `reviewer import` is an envelope rather than a bundle."""
    with open(path, "rb") as f:
        return f.read(len(envelope.MAGIC_PREFIX)) == envelope.MAGIC_PREFIX


@dataclass(frozen=True)
class ImportedAnswer:
    case: str
    city: str
    day: str
    already: bool


def import_answer(home: Home, keys: Keys, path: Path) -> ImportedAnswer:
    """Check a coordinator's answer and put it in its case's history (the envelope kept)."""
    data = path.read_bytes()
    with home.lock():
        state = home.load_state()
        verified = dossier.read_bytes(data, keys.private, [c.key for c in state.cities],
                                      kind=dossier.ANSWER)
        city = next(c.name for c in state.cities if c.key == verified.signer)
        target = str(verified.document["dossier"])
        for case_id, case in state.cases.items():
            for r in case.referrals:
                if r.dossier != target:
                    continue
                if any(a.id == verified.id for a in r.answers):
                    return ImportedAnswer(case_id, city, str(verified.document["day"]), True)
                store = home.store(state)
                sent_to = str(store.open_json(r.blob, keys).get("coordinator", ""))
                if sent_to != verified.signer.fingerprint:
                    raise ReviewerError(
                        f"this answer is signed by the coordinator of {city}, but dossier"
                        f" {target} was sent to another city's coordinator ({sent_to});"
                        " nothing was imported")
                blob = store.put_loose(data)
                home.save_state(state.with_dossier_answer(
                    target, DossierAnswer(verified.id, today(), blob)))
                return ImportedAnswer(case_id, city, str(verified.document["day"]), False)
        raise NotFound(f"this answer is about dossier {target}, which no case of this home"
                       " was referred with")
