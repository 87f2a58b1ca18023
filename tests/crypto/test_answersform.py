"""The answers form as shared data (crypto/answersform.py): the shipped file and its reader's rules."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from crypto import answersform, countries, documents


def shipped() -> dict[str, Any]:
    raw = resources.files("crypto").joinpath(answersform.DATA).read_bytes()
    doc: dict[str, Any] = json.loads(raw)
    return doc


def test_the_shipped_forms() -> None:
    application = answersform.form("application")
    assert application.keys == (
        "name", "contact", "country", "country_other", "profession", "profession_other",
        "languages", "work", "threat", "situation", "urgency", "family", "references",
        "share", "acknowledge",
    )
    assert answersform.form("followup").keys == ("message",)
    assert set(answersform.forms()) == set(documents.SUBMISSION_KINDS)
    urgency = application.get("urgency")
    assert urgency is not None and urgency.input == "choice" and urgency.required
    assert [c.value for c in urgency.choices] == ["immediate", "weeks", "months", "not urgent"]
    assert urgency.label_of("immediate") == "I am in danger now (days)"
    assert urgency.label_of("high") == "high"  # not a choice: shown as it is
    share = application.get("share")  # consent to share with member cities
    assert share is not None and share.input == "choice" and not share.required
    assert [c.value for c in share.choices] == ["yes", "ask"]
    acknowledge = application.get("acknowledge")
    assert acknowledge is not None and acknowledge.input == "confirm"
    assert acknowledge.value == "yes"
    assert application.get("nothing") is None
    country = application.get("country")
    assert country is not None and country.input == "country" and country.required
    # The last choice is the applicant's own words; its value is crypto.countries.OTHER.
    assert [c.value for c in country.choices] == [countries.OTHER]
    assert country.label_of("SY") == "Syria" and country.label_of("other") == (
        "Another place / I prefer to write it")
    assert country.label_of("Syrie") == "Syrie"  # a version 1 answer: shown as written
    assert country.label_of("QQ") == "QQ"  # a code this copy does not list


def test_the_country_table_is_what_the_tool_writes_from_cldr() -> None:
    """crypto/data/countries.json is generated (tools/countries.py); a hand edit fails here."""
    pytest.importorskip("babel")
    spec = importlib.util.spec_from_file_location(
        "countries_tool", Path(__file__).resolve().parents[2] / "tools" / "countries.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert json.loads(tool.table())["countries"] == countries.english_names()
    names = countries.english_names()
    assert len(names) == 250 and names["XK"] == "Kosovo" and "EU" not in names
    assert list(names) == sorted(names)


def test_english_texts_are_every_question_and_label() -> None:
    texts = list(answersform.english_texts())
    assert texts[0] == "Your name or the pseudonym you publish under"
    assert "Other (say which below)" in texts and "Your message" in texts
    expected = [text for kind in answersform.KINDS for q in shipped()["documents"][kind]
                for text in [q["question"], *(c["label"] for c in q.get("choices", []))]]
    assert texts == expected


def _with(change: dict[str, Any], kind: str = "application", at: int = 0) -> bytes:
    doc = shipped()
    doc["documents"][kind][at] = {**doc["documents"][kind][at], **change}
    doc["documents"][kind][at] = {k: v for k, v in doc["documents"][kind][at].items()
                                  if v is not None}
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("change", "found"), [
    ({"key": "Name"}, "key is not"),
    ({"key": "contact"}, "appears twice"),
    ({"input": "slider"}, "input is not"),
    ({"required": 1}, "required is not"),
    ({"question": " padded"}, "question is not"),
    ({"question": ""}, "question is not"),
    ({"max_length": None}, "max_length"),
    ({"max_length": 0}, "max_length is not"),
    ({"choices": [{"value": "a", "label": "A"}]}, "choices are for a choice"),
    ({"hint": "x"}, "unknown fields"),
    ({"value": "yes"}, "value is for a confirm"),
])
def test_a_broken_question_is_refused(change: dict[str, Any], found: str) -> None:
    with pytest.raises(answersform.FormDataError, match=found):
        answersform.parse(_with(change))


@pytest.mark.parametrize(("change", "found"), [
    ({"choices": []}, "at least one"),
    ({"choices": [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]}, "twice"),
    ({"choices": [{"value": "a"}]}, "exactly value and label"),
    ({"choices": None}, "a choice needs them"),
])
def test_a_broken_choice_is_refused(change: dict[str, Any], found: str) -> None:
    at = answersform.form("application").keys.index("profession")
    with pytest.raises(answersform.FormDataError, match=found):
        answersform.parse(_with(change, at=at))


def test_a_broken_file_is_refused() -> None:
    for data in (b"\xff", b"[]", b'{"format": "x", "version": 1, "documents": {}}'):
        with pytest.raises(answersform.FormDataError):
            answersform.parse(data)
    doc = shipped()
    doc["documents"].pop("followup")
    with pytest.raises(answersform.FormDataError, match="exactly application, followup"):
        answersform.parse(json.dumps(doc).encode())


def test_the_shipped_data_parses_as_the_documents_expect() -> None:
    # Every name the forms write is one the answers document accepts.
    for form in answersform.forms().values():
        answers = {key: "x" for key in form.keys}
        doc = {"format": documents.SUBMISSION_FORMAT, "version": 1, "case": "0" * 32,
               "submission": "1" * 32, "kind": form.kind, "day": "2026-11-20",
               "answers": answers, "attachments": []}
        assert documents.parse_submission(documents.encode(doc))["answers"] == answers


def test_the_format_spec_lists_the_shipped_questions() -> None:
    # docs/format.md, "The questions": one table row per question, in order.
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[2] / "docs" / "format.md").read_text("utf-8")
    section = spec[spec.index("#### The questions"):spec.index("An attachment object")]
    for kind in answersform.KINDS:
        table = section[section.index(f"`{kind}`:"):]
        rows = [[cell.strip() for cell in line.strip("|").split("|")]
                for line in table.splitlines() if line.startswith("| `")]
        rows = rows[: len(answersform.form(kind).questions)]
        assert [r[0].strip("`") for r in rows] == list(answersform.form(kind).keys)
        for row, q in zip(rows, answersform.form(kind).questions, strict=True):
            assert row[1] == q.input and row[2].startswith("yes" if q.required else "no"), q.key
            assert row[4] == q.question, q.key
            if q.choices:
                assert row[5] == ", ".join(f"`{c.value}` {c.label}" for c in q.choices)
