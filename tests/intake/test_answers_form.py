"""The server's forms and the shared answers-form data can never drift apart.

The application and follow-up forms are built from crypto/data/answers-form.json
(intake/forms.py); the reviewer labels answers from the same file. These tests
read the pages as an applicant's browser gets them and compare every question's
name, order, kind, requiredness, label and choices with the data, and check that
every English text in the data is a message id of every catalogue.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from crypto import answersform, countries
from intake import forms
from intake.i18n import LANGUAGES

from .conftest import SQLITE_ONLY
from .helpers import answers, apply, counts, opened_submissions
from .test_i18n import CATALOGS, choose, translate

NOT_ANSWERS = {"csrf_token", "homepage", "attachments", "submit"}
WIDGET = {"line": ("input", "text"), "text": ("textarea", None), "choice": ("select", None),
          "country": ("select", None), "confirm": ("input", "checkbox")}


class FormPage(HTMLParser):
    """The controls of a page's form in order, their labels, and each list's options."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self._label: str | None = None
        self._option: list[str] | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag in ("input", "select", "textarea"):
            self.controls.append({"tag": tag, "options": [], **attrs})
        elif tag == "label":
            self._label = str(attrs.get("for"))
            self.labels[self._label] = ""
        elif tag == "option":
            self._option = [str(attrs.get("value")), ""]
            self.controls[-1]["options"].append(self._option)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None
        elif tag == "option":
            self._option = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data
        if self._option is not None:
            self._option[1] += data


def questions_on(html: str) -> list[dict[str, Any]]:
    page = FormPage()
    page.feed(html)
    return [dict(c, label=" ".join(page.labels.get(str(c.get("id")), "").split()))
            for c in page.controls if c.get("name") not in NOT_ANSWERS]


def check_page(html: str, form: answersform.Form, code: str = "en") -> None:
    shown = questions_on(html)
    assert [c["name"] for c in shown] == list(form.keys)
    for control, q in zip(shown, form.questions, strict=True):
        where = f"{code}: {q.key}"
        tag, kind = WIDGET[q.input]
        assert control["tag"] == tag and control.get("type") == kind, where
        assert ("required" in control) == q.required, where
        assert control["label"] == translate(code, q.question), where
        if q.input == "choice":
            assert control["options"][0] == ["", translate(code, "Choose one")], where
            assert control["options"][1:] == [[c.value, translate(code, c.label)]
                                              for c in q.choices], where
        if q.input == "country":
            options = control["options"]
            assert options[0] == ["", translate(code, "Choose one")], where
            assert options[-len(q.choices):] == [[c.value, translate(code, c.label)]
                                                for c in q.choices], where
            listed = options[1:-len(q.choices)]
            # Every listed code, once, named in the page's language by CLDR (Babel).
            assert sorted(v for v, _ in listed) == sorted(countries.codes()), where
            names = Locale.parse(code).territories
            assert all(name == names[value] for value, name in listed), where
        if q.input == "confirm":
            assert control.get("value") == "y", where  # WTForms' box; the document says q.value


@SQLITE_ONLY
def test_the_application_form_is_the_shared_data(client: FlaskClient) -> None:
    for code in ("en", "ar", "zh_Hans"):
        choose(client, code)
        check_page(client.get("/apply").get_data(as_text=True), answersform.form("application"),
                   code)


@SQLITE_ONLY
def test_the_followup_form_is_the_shared_data(client: FlaskClient) -> None:
    apply(client)
    check_page(client.get("/case").get_data(as_text=True), answersform.form("followup"))


def test_the_page_check_can_fail() -> None:
    html_of = {"line": '<input name="{k}" id="{k}" type="text" required>',
               "text": '<textarea name="{k}" id="{k}" required></textarea>'}
    form = answersform.form("followup")
    page = '<label for="message">Your message</label><textarea name="message" id="message">'
    check_page(page, form)
    for wrong in (page.replace("Your message", "Your note"), page.replace('"message"', '"note"'),
                  page + html_of["line"].format(k="extra"), page.replace("<textarea", "<textarea required")):
        try:
            check_page(wrong, form)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {wrong}")


@SQLITE_ONLY
def test_the_document_holds_the_shared_questions_in_order(app: Any, client: FlaskClient,
                                                         reviewer_key: Any) -> None:
    apply(client, data=answers(urgency="weeks"))
    document = opened_submissions(app, reviewer_key)[0]
    assert list(document["answers"]) == list(answersform.form("application").keys)
    assert document["answers"]["acknowledge"] == "yes"
    assert document["answers"]["urgency"] == "weeks"


def test_every_required_question_has_its_message() -> None:
    required = {q.key for f in answersform.forms().values() for q in f.questions if q.required}
    assert set(forms.MISSING) == required


def test_every_english_text_of_the_data_is_in_every_catalogue() -> None:
    texts = set(answersform.english_texts())
    with (CATALOGS / "messages.pot").open("rb") as f:
        pot = list(read_po(f))
    assert texts <= {m.id for m in pot}
    # ... and what the catalogue says comes from the data is exactly the data's texts.
    from_data = {m.id for m in pot
                 if any(Path(where).name == "answers-form.json" for where, _ in m.locations)}
    assert from_data == texts
    for code in LANGUAGES:
        for text in texts:
            assert translate(code, text) != text or code == "en", (code, text)


# --- the country: a code from the list, or "another place" in the applicant's words -------


@SQLITE_ONLY
def test_the_country_list_is_in_the_pages_language_and_sorted_by_name(client: FlaskClient) -> None:
    for code, syria in (("en", "Syria"), ("ar", "سوريا"), ("fa", "سوریه"), ("ru", "Сирия"),
                        ("zh_Hans", "叙利亚"), ("tr", "Suriye"), ("fr", "Syrie"),
                        ("es", "Siria")):
        choose(client, code)
        shown = {c["name"]: c for c in questions_on(client.get("/apply").get_data(as_text=True))}
        options = shown["country"]["options"]
        assert ["SY", syria] in options, code
        assert options[-1][0] == "other" and options[0][0] == ""
        # Sorted by name, accents aside: Åland Islands sits among the A's in English.
        if code == "en":
            names = [name for _, name in options[1:-1]]
            assert names.index("Åland Islands") < names.index("Albania")
            assert names == sorted(names, key=forms._sort_key)


@SQLITE_ONLY
def test_a_listed_country_is_stored_as_its_code(app: Any, client: FlaskClient,
                                               reviewer_key: Any) -> None:
    response = apply(client, data=answers(country="IR", country_other=""))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    document = opened_submissions(app, reviewer_key)[0]
    assert document["version"] == 2
    assert document["answers"]["country"] == "IR" and document["answers"]["country_other"] == ""


@SQLITE_ONLY
def test_another_place_keeps_the_applicants_words(app: Any, client: FlaskClient,
                                                  reviewer_key: Any) -> None:
    words = "Kurdistan — northern Iraq"
    apply(client, data=answers(country="other", country_other=words))
    document = opened_submissions(app, reviewer_key)[0]
    assert document["answers"]["country"] == "other"
    assert document["answers"]["country_other"] == words


@pytest.mark.parametrize(("country", "place", "field", "message"), [
    ("", "", "country", "Please choose the country, or another place at the end of the list."),
    ("Syria", "", "country", "Please choose one of the options in the list."),
    ("sy", "", "country", "Please choose one of the options in the list."),
    ("EU", "", "country", "Please choose one of the options in the list."),
    ("other", "   ", "country_other",
     "You chose another place: please write it here, in your own words."),
    ("SY", "Aleppo", "country_other",
     "You chose a country from the list and also wrote a place here"),
])
@SQLITE_ONLY
def test_every_country_mistake_has_its_message_and_stores_nothing(
        app: Any, client: FlaskClient, country: str, place: str, field: str,
        message: str) -> None:
    response = apply(client, data=answers(country=country, country_other=place))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 or "Please check the answers" in html
    assert counts(app) == (0, 0, 0)
    assert f'id="{field}-error"' in html and message in html.replace("&#34;", '"')
    # What the applicant wrote comes back to be corrected, not lost.
    if place.strip():
        assert f'value="{place}"' in html


@SQLITE_ONLY
def test_country_messages_are_translated(client: FlaskClient) -> None:
    choose(client, "ar")
    html = apply(client, data=answers(country="other", country_other="")).get_data(as_text=True)
    assert translate("ar", "You chose another place: please write it here, in your own words.") \
        in html


@pytest.mark.parametrize(("given", "stored"), [("yes", "yes"), ("ask", "ask"), ("", "")])
@SQLITE_ONLY
def test_the_consent_to_share_with_cities_is_stored_as_chosen(
        app: Any, client: FlaskClient, reviewer_key: Any, given: str, stored: str) -> None:
    """Optional: left unanswered it is stored empty, which the reviewer reads as "ask me
    first" (reviewer/referrals.py), as every application made before the question."""
    apply(client, data=answers(share=given))
    document = opened_submissions(app, reviewer_key)[0]
    assert document["answers"]["share"] == stored


@SQLITE_ONLY
def test_a_consent_answer_that_is_not_a_choice_is_refused(
        app: Any, client: FlaskClient, reviewer_key: Any) -> None:
    response = apply(client, data=answers(share="maybe"))
    assert b"Please choose one of the options in the list." in response.data
    assert opened_submissions(app, reviewer_key) == []
