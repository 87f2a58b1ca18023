"""The applicant forms (Flask-WTF, CSRF on).

Field names are the contract with the reviewer tool: they become the keys of
`answers` in the answers envelope. The honeypot field is not an answer.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
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
    SelectChoice("", "Choose one"),
    SelectChoice("writer", "Writer"),
    SelectChoice("journalist", "Journalist"),
    SelectChoice("blogger", "Blogger"),
    SelectChoice("poet", "Poet"),
    SelectChoice("translator", "Translator"),
    SelectChoice("publisher", "Publisher"),
    SelectChoice("visual artist", "Visual artist"),
    SelectChoice("cartoonist", "Cartoonist"),
    SelectChoice("musician", "Musician"),
    SelectChoice("filmmaker", "Filmmaker"),
    SelectChoice("other", "Other (say which below)"),
]

URGENCY = [
    SelectChoice("", "Choose one"),
    SelectChoice("immediate", "I am in danger now (days)"),
    SelectChoice("weeks", "Within weeks"),
    SelectChoice("months", "Within months"),
    SelectChoice("not urgent", "Not urgent"),
]

APPLICATION_FIELDS = (
    "name", "contact", "country", "profession", "profession_other", "languages", "work",
    "threat", "situation", "urgency", "family", "references",
)  # plus "acknowledge", recorded as "yes"


def _files_ok(form: FlaskForm, field: MultipleFileField) -> None:
    files = [f for f in (field.data or []) if f]
    limit = int(current_app.config["MAX_FILES"])
    if len(files) > limit:
        raise ValidationError(f"You can send at most {limit} files at once.")
    for f in files:
        if getattr(f.stream, "plaintext_size", 0) == 0:
            raise ValidationError(
                "One of the files you chose is empty. Choose it again or leave it out."
            )


class HoneypotMixin:
    """A field people never see or reach; naive bots fill it in."""

    homepage = StringField("Leave this field empty", validators=[Optional()])


class ApplicationForm(FlaskForm, HoneypotMixin):  # type: ignore[misc]  # flask_wtf is untyped
    name = StringField(
        "Your name or the pseudonym you publish under",
        validators=[DataRequired("Please give a name or pseudonym."), Length(max=SHORT)],
    )
    contact = TextAreaField(
        "A safe way to reach you (optional)",
        validators=[Optional(), Length(max=2_000)],
    )
    country = StringField(
        "The country where you are in danger",
        validators=[DataRequired("Please name the country."), Length(max=SHORT)],
    )
    profession = SelectField(
        "Your work", choices=PROFESSIONS,
        validators=[InputRequired("Please choose what you do.")],
    )
    profession_other = StringField(
        "If other: what you do", validators=[Optional(), Length(max=SHORT)]
    )
    languages = StringField(
        "Languages of your work",
        validators=[DataRequired("Please list the languages you work in."), Length(max=SHORT)],
    )
    work = TextAreaField(
        "About your work, with links if you have them",
        validators=[DataRequired("Please tell us about your work."), Length(max=LONG)],
    )
    threat = TextAreaField(
        "The threat or persecution you face: what, since when, by whom",
        validators=[DataRequired("Please describe the threat you face."), Length(max=LONG)],
    )
    situation = TextAreaField(
        "Your situation now",
        validators=[DataRequired("Please describe your situation now."), Length(max=LONG)],
    )
    urgency = SelectField(
        "How urgent is it?", choices=URGENCY,
        validators=[InputRequired("Please say how urgent it is.")],
    )
    family = TextAreaField(
        "Family who would come with you (optional)", validators=[Optional(), Length(max=LONG)]
    )
    references = TextAreaField(
        "References: organisations or people who know your work or situation (optional)",
        validators=[Optional(), Length(max=LONG)],
    )
    attachments = MultipleFileField(
        "Files: samples of your work, evidence of threats (optional)", validators=[_files_ok]
    )
    acknowledge = BooleanField(
        "I understand that the network has no authority over any country's laws, and that I "
        "should not rely on it as my only route to safety.",
        validators=[DataRequired("Please confirm that you have read this.")],
    )
    submit = SubmitField("Send my application")

    def validate_profession(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError("Please choose what you do.")

    def validate_urgency(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError("Please say how urgent it is.")

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        # Optional() ends the field's own chain when empty, so this check lives here.
        if self.profession.data == "other" and not (self.profession_other.data or "").strip():
            self.profession_other.errors = [*self.profession_other.errors,
                                            "Please say what you do."]
            return False
        return ok

    def answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {n: (getattr(self, n).data or "") for n in APPLICATION_FIELDS}
        out["acknowledge"] = "yes"
        return out


class FollowupForm(FlaskForm, HoneypotMixin):  # type: ignore[misc]  # flask_wtf is untyped
    message = TextAreaField("Your message", validators=[Optional(), Length(max=LONG)])
    attachments = MultipleFileField("Files (optional)", validators=[_files_ok])
    submit = SubmitField("Send to my case")

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        files = [f for f in (self.attachments.data or []) if f]
        if not (self.message.data or "").strip() and not files:
            need = "Write a message or choose at least one file."
            self.message.errors = [*self.message.errors, need]
            return False
        return ok

    def answers(self) -> dict[str, Any]:
        return {"message": self.message.data or ""}


class SigninForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    codename = StringField(
        "Your codename",
        validators=[DataRequired("Please type your codename."), Length(max=400)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField("Sign in")


class SignoutForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    submit = SubmitField("Sign out")


class DeleteReplyForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    """Only the CSRF token: which reply is in the form's URL."""

    submit = SubmitField("Delete")
