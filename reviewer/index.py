"""index.env: one envelope, sealed to the reviewer's own keys, summarising each case.

Name, profession, country, urgency, attachment count and verification state
per case, and the text of every readable answer (for the case list's search),
so `list` and the desk decrypt one object instead of every
case. An entry also records how many submissions and verification records it
was made from: when the state has more, the entry is stale and is rebuilt from
the envelopes. An index of an older version is rebuilt whole.

Versions: 2 added "urgency", and the answers' text as a second document. 3 added
"country_code" (the ISO 3166 code a version 2 answers document holds; "" for a
version 1 document, which holds the applicant's text, or for another place) with
"country" as its English name, and "decided" (the day of the first verification
record whose recommendation is a decision) for `reviewer stats`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from crypto import countries, envelope
from crypto.atomic import atomic_output
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import DecryptError, NoMatch
from crypto.keys import PublicKey
from reviewer.blobs import BlobStore, seal_bytes
from reviewer.keyring import Keys
from reviewer.state import Case, State

UNVERIFIED = "unverified"
#: A case's state while team records' state changes that had not seen each other
#: disagree (reviewer.teamview). Here, beside UNVERIFIED, so that the CLI can offer it
#: as a choice without importing the team modules.
CONFLICT = "conflict"
INDEX_VERSION = 3
#: The recommendations that decide a case ("more-info" does not): the day of the
#: first is the case's "decided" day.
DECISIONS = frozenset({"proceed", "refer", "decline"})


class Index:
    """index.env. Its plaintext is two compact JSON documents on two lines: the
    entries, then the answers' text by case. `load` parses the first and keeps
    the second as bytes (`text_part`), parsed only for a search (`parse_texts`):
    `list` of 10,000 cases then skips half the JSON (0.05 s -> 0.027 s of CPU).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        #: The text part of the index last loaded or saved, still JSON.
        self.text_part = b"{}"

    def load(self, keys: Keys) -> dict[str, Any]:
        self.text_part = b"{}"
        if not self.path.exists():
            return {}
        try:
            data = envelope.decrypt_bytes(self.path.read_bytes(), keys.private)
            # Compact JSON holds no raw newline: the first one ends the entries.
            head, newline, tail = data.partition(b"\n")
            doc = json.loads(head.decode("utf-8"))
            index: dict[str, Any] = doc["cases"]
            if doc["version"] != INDEX_VERSION or not newline:
                return {}  # an older index lacks fields: rebuilt whole
        except (DecryptError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            return {}  # rebuilt from the cases themselves
        self.text_part = tail
        return index

    def save(self, index: dict[str, Any], texts: dict[str, str], own: list[PublicKey]) -> None:
        head = json.dumps({"version": INDEX_VERSION, "cases": index}, ensure_ascii=False)
        tail = json.dumps(texts, ensure_ascii=False).encode("utf-8")
        with atomic_output(self.path, overwrite=True) as out:
            seal_bytes(out, head.encode("utf-8") + b"\n" + tail, own[:MAX_RECIPIENTS])
        self.text_part = tail

    def fresh(
        self,
        state: State,
        store: BlobStore,
        keys: Keys,
        own: list[PublicKey],
        known: Mapping[str, AnswersFacts] | None = None,
    ) -> dict[str, Any]:
        """The index, with stale or missing entries rebuilt (and saved if any were).

        `known`: the facts of answers documents already decrypted in this
        command (an import passes those it checked), by blob id, so they are
        not decrypted again.
        """
        index = self.load(keys)
        rebuilt: dict[str, str] = {}  # case -> its answers' text
        for case_id, case in state.cases.items():
            entry = index.get(case_id)
            if (
                entry is None
                or entry.get("subs") != len(case.submissions)
                or entry.get("verifs") != len(case.verifications)
            ):
                index[case_id], rebuilt[case_id] = entry_for(case, store, keys, known or {})
        gone = set(index) - set(state.cases)
        if rebuilt or gone:
            texts = parse_texts(self.text_part)
            texts.update(rebuilt)
            for case_id in gone:
                del index[case_id]
                texts.pop(case_id, None)
            self.save(index, texts, own)
        return index


def parse_texts(text_part: bytes) -> dict[str, str]:
    """The answers' text by case, from an index's text part (`Index.text_part`)."""
    texts = json.loads(text_part.decode("utf-8"))
    if not isinstance(texts, dict):
        raise ValueError("the index's text part is not a table")
    return texts


class AnswersFacts(NamedTuple):
    """What the index takes from one readable answers document.

    The import's checks send these back from the worker processes instead of
    the whole document (see `answers_facts`).
    """

    #: How many attachments it lists.
    attachments: int
    #: The text of every answer (for the case list's search).
    texts: tuple[str, ...]
    #: An application's name, profession, country code, country and urgency,
    #: as the case list shows them; None for a follow-up.
    application: tuple[str, str, str, str, str] | None


def answers_facts(doc: Mapping[str, Any], kind: str) -> AnswersFacts:
    """The facts of one answers document of a submission of this kind.

    What it buys, as the import uses it: the workers that check each new
    submission reduce its decrypted document to these facts and send them
    back instead of the document, so the command's own process, which reads
    the bundle meanwhile, unpickles a few strings per submission instead of
    the document (about 17 against 2 microseconds of CPU, measured on the
    10,000-case bundle's documents) and no longer walks 10,000 documents to
    build the index (docs/performance.md, 2026-12-02).
    """
    attachments = len(doc.get("attachments", []))
    answers = doc.get("answers", {})
    if not isinstance(answers, dict):
        return AnswersFacts(attachments, (), None)
    application = None
    if kind == "application":
        name, profession = (_shown(answers.get(field, "")) for field in ("name", "profession"))
        if answers.get("profession") == "other" and answers.get("profession_other"):
            profession = str(answers["profession_other"])
        code, country = country_of(doc.get("version"), answers)
        urgency = answers.get("urgency", "")
        application = (name, profession, code, country,
                       urgency if isinstance(urgency, str) else "")
    return AnswersFacts(attachments, tuple(_answer_texts(answers)), application)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else ", ".join(value)


def entry_for(
    case: Case, store: BlobStore, keys: Keys, known: Mapping[str, AnswersFacts]
) -> tuple[dict[str, Any], str]:
    """Summarise one case by decrypting its envelopes: its entry, and the text of
    every answer of every readable submission (for the search). `known`: the
    facts of answers documents already decrypted, by blob id."""
    entry: dict[str, Any] = {
        "name": "",
        "profession": "",
        "country": "",
        "country_code": "",
        "urgency": "",
        "decided": "",
        "attachments": 0,
        "state": UNVERIFIED,
        "readable": True,
        "subs": len(case.submissions),
        "verifs": len(case.verifications),
    }
    texts: list[str] = []
    for sub in case.submissions:
        if not sub.readable:
            entry["readable"] = False
            continue
        facts = known.get(sub.answers)
        if facts is None:
            try:
                facts = answers_facts(store.open_json(sub.answers, keys), sub.kind)
            except NoMatch:
                entry["readable"] = False
                continue
        entry["attachments"] += facts.attachments
        texts.extend(facts.texts)
        if facts.application is not None:
            (entry["name"], entry["profession"], entry["country_code"], entry["country"],
             entry["urgency"]) = facts.application
    for number, verification in enumerate(case.verifications, 1):
        try:
            record = store.open_json(verification.blob, keys)
        except NoMatch:
            if number == len(case.verifications):
                entry["state"] = "?"
            continue
        recommendation = str(record.get("recommendation", UNVERIFIED))
        if recommendation in DECISIONS and not entry["decided"]:
            entry["decided"] = verification.day
        if number == len(case.verifications):
            entry["state"] = recommendation
    return entry, "\n".join(texts)


def country_of(version: Any, answers: Mapping[str, Any]) -> tuple[str, str]:
    """(code, what the case list shows) for an application's answers.

    Version 2: a listed code and its English name; "other": no code, and the
    applicant's words. Version 1: no code, and the applicant's text as written.
    """
    value = answers.get("country", "")
    text = value if isinstance(value, str) else ", ".join(str(v) for v in value)
    if version == 1 or not isinstance(value, str):
        return "", text
    if value == countries.OTHER:
        words = answers.get("country_other", "")
        return "", words if isinstance(words, str) else ", ".join(str(v) for v in words)
    if value in countries.codes():
        return value, countries.english_name(value)
    return "", text


def _answer_texts(answers: Mapping[str, Any]) -> list[str]:
    """Every answer's text: strings as they are, the strings of a list answer."""
    texts: list[str] = []
    for value in answers.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(v for v in value if isinstance(v, str))
    return texts


def search_text(text: str) -> str:
    """Text as the case list's search compares it: NFC, then casefolded (ß matches ss)."""
    return unicodedata.normalize("NFC", text).casefold()
