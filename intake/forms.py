"""The applicant forms (Flask-WTF, CSRF on).

Field names are the contract with the reviewer tool: they become the keys of
`answers` in the answers envelope. The honeypot field is not an answer.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

SHORT = 300
LONG = 20_000

PROFESSIONS = [
    SelectChoice("", _l("Choose one")),
    SelectChoice("writer", _l("Writer")),
    SelectChoice("journalist", _l("Journalist")),
    SelectChoice("blogger", _l("Blogger")),
    SelectChoice("poet", _l("Poet")),
    SelectChoice("translator", _l("Translator")),
    SelectChoice("publisher", _l("Publisher")),
    SelectChoice("visual artist", _l("Visual artist")),
    SelectChoice("cartoonist", _l("Cartoonist")),
    SelectChoice("musician", _l("Musician")),
    SelectChoice("filmmaker", _l("Filmmaker")),
    SelectChoice("other", _l("Other (say which below)")),
]

URGENCY = [
    SelectChoice("", _l("Choose one")),
    SelectChoice("immediate", _l("I am in danger now (days)")),
    SelectChoice("weeks", _l("Within weeks")),
    SelectChoice("months", _l("Within months")),
    SelectChoice("not urgent", _l("Not urgent")),
]

APPLICATION_FIELDS = (
    "name", "contact", "country", "profession", "profession_other", "languages", "work",
    "threat", "situation", "urgency", "family", "references",
)  # plus "acknowledge", recorded as "yes"


# WTForms' own messages are translated too (Flask-WTF's I18N, through Flask-Babel),
# but every message an applicant can meet is given here so each catalog has them all.
TOO_LONG = _l("Please keep this under %(max)d characters.")
CHOOSE = _l("Please choose one of the options in the list.")


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


def _choice(field: SelectField, missing: str) -> None:
    # validate_choice=False on the fields: this says it in the applicant's words.
    if not field.data:
        raise ValidationError(missing)
    if field.data not in {c.value for c in field.choices if c.value}:
        raise ValidationError(str(CHOOSE))


class HoneypotMixin:
    """A field people never see or reach; naive bots fill it in."""

    homepage = StringField(_l("Leave this field empty"), validators=[Optional()])


class ApplicationForm(FlaskForm, HoneypotMixin):  # type: ignore[misc]  # flask_wtf is untyped
    name = StringField(
        _l("Your name or the pseudonym you publish under"),
        validators=[DataRequired(_l("Please give a name or pseudonym.")),
                    Length(max=SHORT, message=TOO_LONG)],
    )
    contact = TextAreaField(
        _l("A safe way to reach you (optional)"),
        validators=[Optional(), Length(max=2_000, message=TOO_LONG)],
    )
    country = StringField(
        _l("The country where you are in danger"),
        validators=[DataRequired(_l("Please name the country.")), Length(max=SHORT, message=TOO_LONG)],
    )
    profession = SelectField(
        _l("Your work"), choices=PROFESSIONS, validate_choice=False,
        validators=[InputRequired(_l("Please choose what you do."))],
    )
    profession_other = StringField(
        _l("If other: what you do"), validators=[Optional(), Length(max=SHORT, message=TOO_LONG)]
    )
    languages = StringField(
        _l("Languages of your work"),
        validators=[DataRequired(_l("Please list the languages you work in.")),
                    Length(max=SHORT, message=TOO_LONG)],
    )
    work = TextAreaField(
        _l("About your work, with links if you have them"),
        validators=[DataRequired(_l("Please tell us about your work.")),
                    Length(max=LONG, message=TOO_LONG)],
    )
    threat = TextAreaField(
        _l("The threat or persecution you face: what, since when, by whom"),
        validators=[DataRequired(_l("Please describe the threat you face.")),
                    Length(max=LONG, message=TOO_LONG)],
    )
    situation = TextAreaField(
        _l("Your situation now"),
        validators=[DataRequired(_l("Please describe your situation now.")),
                    Length(max=LONG, message=TOO_LONG)],
    )
    urgency = SelectField(
        _l("How urgent is it?"), choices=URGENCY, validate_choice=False,
        validators=[InputRequired(_l("Please say how urgent it is."))],
    )
    family = TextAreaField(
        _l("Family who would come with you (optional)"),
        validators=[Optional(), Length(max=LONG, message=TOO_LONG)],
    )
    references = TextAreaField(
        _l("References: organisations or people who know your work or situation (optional)"),
        validators=[Optional(), Length(max=LONG, message=TOO_LONG)],
    )
    attachments = MultipleFileField(
        _l("Files: samples of your work, evidence of threats (optional)"), validators=[_files_ok]
    )
    acknowledge = BooleanField(
        _l("I understand that the network has no authority over any country's laws, and that I "
           "should not rely on it as my only route to safety."),
        validators=[DataRequired(_l("Please confirm that you have read this."))],
    )
    submit = SubmitField(_l("Send my application"))

    def validate_profession(self, field: SelectField) -> None:
        _choice(field, gettext("Please choose what you do."))

    def validate_urgency(self, field: SelectField) -> None:
        _choice(field, gettext("Please say how urgent it is."))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        # Optional() ends the field's own chain when empty, so this check lives here.
        if self.profession.data == "other" and not (self.profession_other.data or "").strip():
            self.profession_other.errors = [*self.profession_other.errors,
                                            gettext("Please say what you do.")]
            return False
        return ok

    def answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {n: (getattr(self, n).data or "") for n in APPLICATION_FIELDS}
        out["acknowledge"] = "yes"
        return out


class FollowupForm(FlaskForm, HoneypotMixin):  # type: ignore[misc]  # flask_wtf is untyped
    message = TextAreaField(_l("Your message"), validators=[Optional(), Length(max=LONG, message=TOO_LONG)])
    attachments = MultipleFileField(_l("Files (optional)"), validators=[_files_ok])
    submit = SubmitField(_l("Send to my case"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        files = [f for f in (self.attachments.data or []) if f]
        if not (self.message.data or "").strip() and not files:
            need = gettext("Write a message or choose at least one file.")
            self.message.errors = [*self.message.errors, need]
            return False
        return ok

    def answers(self) -> dict[str, Any]:
        return {"message": self.message.data or ""}


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
