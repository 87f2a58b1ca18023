"""The applicant forms (Flask-WTF, CSRF on).

The questions of the application and follow-up forms (names, order, which are
required, choices, the English label of each) are not written here: they are
part of the answers document's format, shared with the reviewer tool as data
(crypto/answersform.py, crypto/data/answers-form.json), and the forms are built
from them. The English texts there are the message ids this module translates
(lazy_gettext); `extract_answers_form` is how `make translations` finds them.
What stays here is the server's own part: the widgets, the messages a
person meets when an answer is missing, and the rules that join two answers.
The honeypot field is not an answer.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable, Iterator
from typing import IO, Any

from babel import Locale
from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    Field,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from crypto import answersform, countries

APPLICATION = answersform.form("application")
FOLLOWUP = answersform.form("followup")

# WTForms' own messages are translated too (Flask-WTF's I18N, through Flask-Babel),
# but every message an applicant can meet is given here so each catalog has them all.
TOO_LONG = _l("Please keep this under %(max)d characters.")
CHOOSE = _l("Please choose one of the options in the list.")
CHOOSE_ONE = _l("Choose one")  # the empty first entry of a list

#: What a person reads when a required answer is missing, by answer name. Every
#: required question of the shared data has one (tests/intake/test_answers_form.py).
MISSING = {
    "name": _l("Please give a name or pseudonym."),
    "country": _l("Please choose the country, or another place at the end of the list."),
    "profession": _l("Please choose what you do."),
    "languages": _l("Please list the languages you work in."),
    "work": _l("Please tell us about your work."),
    "threat": _l("Please describe the threat you face."),
    "situation": _l("Please describe your situation now."),
    "urgency": _l("Please say how urgent it is."),
    "acknowledge": _l("Please confirm that you have read this."),
}


def _files_ok(form: FlaskForm, field: MultipleFileField) -> None:
    files = [f for f in (field.data or []) if f]
    limit = int(current_app.config["MAX_FILES"])
    if len(files) > limit:
        raise ValidationError(gettext("You can send at most %(limit)d files at once.", limit=limit))
    for f in files:
        if getattr(f.stream, "plaintext_size", 0) == 0:
            raise ValidationError(
                gettext("One of the files you chose is empty. Choose it again or leave it out.")
            )


def _one_of(values: frozenset[str]) -> Callable[[FlaskForm, SelectField], None]:
    """A choice's check (validate_choice=False on the fields: this says it in the applicant's words)."""

    def check(form: FlaskForm, field: SelectField) -> None:
        if field.data not in values:
            raise ValidationError(str(CHOOSE))

    return check


def _sort_key(name: str) -> str:
    """A country name as the list sorts it: accents and case set aside ("Åland" by "A").

    Babel has no collation; this is right for Latin, Cyrillic, Arabic and Persian
    letters in their alphabet's order, and orders Chinese by code point.
    """
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return bare.casefold()


@functools.cache
def country_names(locale: str) -> tuple[tuple[str, str], ...]:
    """(code, name in `locale`) for every listed code (crypto.countries), sorted by name.

    CLDR's territory names through Babel; a code CLDR does not name in that
    language gets its English name.
    """
    names = Locale.parse(locale).territories
    pairs = [(code, names.get(code) or english) for code, english in
             countries.english_names().items()]
    return tuple(sorted(pairs, key=lambda pair: (_sort_key(pair[1]), pair[0])))


def _country_choices(q: answersform.Question) -> Callable[[], list[SelectChoice]]:
    """The country list in the page's language, then the question's own choices
    ("another place"), made when a form is made (inside the request)."""

    def choices() -> list[SelectChoice]:
        locale = str(get_locale() or "en")
        return [SelectChoice("", CHOOSE_ONE),
                *(SelectChoice(code, name) for code, name in country_names(locale)),
                *(SelectChoice(c.value, _l(c.label)) for c in q.choices)]

    return choices


def _field(q: answersform.Question) -> UnboundField:
    """The form field for one question of the shared data."""
    label = _l(q.question)  # a message id from the data: found by extract_answers_form
    if q.required:
        missing = MISSING[q.key]  # a KeyError here: a required question needs its message
        needed: Any = (InputRequired(missing) if q.input in ("choice", "country")
                       else DataRequired(missing))
    else:
        needed = Optional()
    if q.input == "confirm":
        return BooleanField(label, validators=[needed])
    if q.input == "country":
        allowed = countries.codes() | {c.value for c in q.choices}
        return SelectField(label, choices=_country_choices(q), validate_choice=False,
                           validators=[needed, _one_of(frozenset(allowed))])
    if q.input == "choice":
        choices = [SelectChoice("", CHOOSE_ONE),
                   *(SelectChoice(c.value, _l(c.label)) for c in q.choices)]
        return SelectField(label, choices=choices, validate_choice=False,
                           validators=[needed, _one_of(frozenset(c.value for c in q.choices))])
    kind = StringField if q.input == "line" else TextAreaField
    return kind(label, validators=[needed, Length(max=q.max_length, message=TOO_LONG)])


def _add_questions(cls: Any, form: answersform.Form, files: UnboundField,
                   submit: UnboundField) -> None:
    """Give a form class a field per question, in the data's order.

    The files come after the questions one answers by typing or choosing and
    before the boxes to tick (the acknowledgement ends the application), and the
    button last. WTForms orders fields by when they were made: made here, in
    that order, they are iterated (and their errors summed up) as the page shows them.
    """
    placed = False
    for q in form.questions:
        if q.input == "confirm" and not placed:
            setattr(cls, "attachments", files)  # noqa: B010  # FormMeta must see it added
            placed = True
        setattr(cls, q.key, _field(q))
    if not placed:
        setattr(cls, "attachments", files)  # noqa: B010
    setattr(cls, "submit", submit)  # noqa: B010


class QuestionsMixin:
    """The fields of the shared data's questions, for a template to lay out in order."""

    questions: answersform.Form

    def question_fields(self, *inputs: str) -> Iterator[Field]:
        """The bound fields of the questions (of these inputs, if given), in the data's order."""
        for q in self.questions.questions:
            if not inputs or q.input in inputs:
                yield getattr(self, q.key)

    def answers(self) -> dict[str, Any]:
        """The answers document's `answers`: every question, "" when unanswered."""
        out: dict[str, Any] = {}
        for q in self.questions.questions:
            data = getattr(self, q.key).data
            if q.input == "confirm":
                out[q.key] = q.value if data else ""
            else:
                out[q.key] = data or ""
        return out


class HoneypotMixin:
    """A field people never see or reach; naive bots fill it in."""

    homepage = StringField(_l("Leave this field empty"), validators=[Optional()])


class ApplicationForm(FlaskForm, HoneypotMixin, QuestionsMixin):  # type: ignore[misc]  # flask_wtf is untyped
    questions = APPLICATION

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        # Optional() ends the field's own chain when empty, so these checks live here.
        if self.profession.data == "other" and not (self.profession_other.data or "").strip():
            self.profession_other.errors = [*self.profession_other.errors,
                                            gettext("Please say what you do.")]
            ok = False
        # The place in the applicant's words goes with "another place" and nothing else:
        # with a listed country as well, which one is in danger would be a guess.
        place = (self.country_other.data or "").strip()
        if self.country.data == countries.OTHER and not place:
            self.country_other.errors = [*self.country_other.errors, gettext(
                "You chose another place: please write it here, in your own words.")]
            ok = False
        elif self.country.data in countries.codes() and place:
            self.country_other.errors = [*self.country_other.errors, gettext(
                "You chose a country from the list and also wrote a place here: leave this"
                " empty, or choose “Another place” at the end of the list to keep your words.")]
            ok = False
        return ok


_add_questions(
    ApplicationForm, APPLICATION,
    MultipleFileField(_l("Files: samples of your work, evidence of threats (optional)"),
                      validators=[_files_ok]),
    SubmitField(_l("Send my application")),
)


class FollowupForm(FlaskForm, HoneypotMixin, QuestionsMixin):  # type: ignore[misc]  # flask_wtf is untyped
    questions = FOLLOWUP

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        files = [f for f in (self.attachments.data or []) if f]
        if not (self.message.data or "").strip() and not files:
            need = gettext("Write a message or choose at least one file.")
            self.message.errors = [*self.message.errors, need]
            return False
        return ok


_add_questions(
    FollowupForm, FOLLOWUP,
    MultipleFileField(_l("Files (optional)"), validators=[_files_ok]),
    SubmitField(_l("Send to my case")),
)


class SigninForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    codename = StringField(
        _l("Your codename"),
        validators=[DataRequired(_l("Please type your codename.")), Length(max=400, message=TOO_LONG)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Sign in"))


class SignoutForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    submit = SubmitField(_l("Sign out"))


class DeleteReplyForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    """Only the CSRF token: which reply is in the form's URL."""

    submit = SubmitField(_l("Delete"))


def extract_answers_form(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                         options: Any) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extraction method for crypto/data/answers-form.json (babel.cfg).

    Yields each question and choice label, with the line it stands on, so the
    catalogues hold every English text the forms translate.
    """
    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    answersform.parse(text.encode("utf-8"))  # the same checks as the forms' own reading
    doc = json.loads(text)
    for entries in doc["documents"].values():
        for entry in entries:
            for message in [entry["question"], *(c["label"] for c in entry.get("choices", []))]:
                quoted = json.dumps(message, ensure_ascii=False)
                lineno = next((i for i, line in enumerate(lines, 1) if quoted in line), 0)
                yield lineno, "_l", message, []
