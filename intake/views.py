"""The applicant pages: landing, apply, sign in, case (with replies), sign out.

Views stay thin: forms validate, `submit.store_submission` stores, and the
request class has already encrypted any files by the time a form is read.
"""

from __future__ import annotations

from typing import cast

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crypto.codename import CodenameKeys, derive, generate_codename, normalise_codename
from crypto.errors import InvalidCodename, InvalidPublicKey
from crypto.keys import PublicKey
from crypto.params import Argon2Limits
from intake import db, sessions
from intake.forms import (
    ApplicationForm,
    DeleteReplyForm,
    FollowupForm,
    SigninForm,
    SignoutForm,
)
from intake.models import Applicant, RecipientKey
from intake.replies import delete_reply, remember_reply_key, replies_for, reply_key_from_session
from intake.security import Busy, DerivationLimiter, drain_body
from intake.store import current_store
from intake.submit import NewApplicant, store_submission
from intake.upload import IntakeRequest

bp = Blueprint("applicant", __name__)

WRONG_CODENAME = _l(
    "That codename does not open any case. Check each of the seven words and try again."
)
STALE_FORM = _l(
    "This page was open for a long time, or your browser did not send back the security "
    "token, so nothing was sent. What you typed is kept below; please choose your files "
    "again and send it once more."
)
SMALL_BODY = 16 * 1024
SIGNOUT_CONFIRM = _l(
    "You are still signed in: the sign-out form had expired. Press “Sign out” to sign out."
)
BUSY = _l(
    "The server is busy right now. Nothing was stored. Please wait a minute and send it "
    "again; if you had chosen files, choose them again."
)


def _request() -> IntakeRequest:
    return cast(IntakeRequest, request)


def active_recipients() -> list[PublicKey]:
    """The active reviewer keys, less any whose text is no longer accepted.

    A key installed before non-canonical texts were refused (docs/format.md)
    names a key id its holder does not have: sealing to it would lose the
    submission for them, so it is left out (`keys list` marks it); with no
    key left, intake is closed.
    """
    rows = db.session().scalars(select(RecipientKey).where(RecipientKey.active)).all()
    keys = []
    for r in rows:
        try:
            keys.append(PublicKey.from_text(r.public_key))
        except InvalidPublicKey:
            continue
    return keys


def _limiter() -> DerivationLimiter:
    return cast(DerivationLimiter, current_app.extensions["intake_limiter"])


def _derive(codename: str) -> CodenameKeys:
    limits = cast(Argon2Limits, current_app.config["ARGON2_LIMITS"])
    salt = cast(bytes, current_app.extensions["intake_salt"])
    with _limiter():
        return derive(codename, salt, limits=limits)


def _closed() -> ResponseReturnValue:
    if request.method == "POST":
        db.end_read()  # not while the body arrives
        drain_body(int(current_app.config["DRAIN_LIMIT"]))
    return render_template("closed.html"), 503


def _turned_away() -> ResponseReturnValue:
    # The honeypot was filled: say nothing useful to a bot, store nothing.
    return render_template("turned_away.html"), 200


def current_applicant() -> Applicant | None:
    """The signed-in applicant, whose session `sessions.check_session` has checked."""
    return sessions.signed_in_applicant()


@bp.route("/")
def landing() -> ResponseReturnValue:
    return render_template("landing.html", open=bool(active_recipients()))


@bp.route("/apply", methods=["GET", "POST"])
def apply() -> ResponseReturnValue:
    recipients = active_recipients()
    if not recipients:
        return _closed()
    if request.method == "POST":
        _request().accept_uploads(recipients)
        db.end_read()  # not while the body arrives
    form = ApplicationForm()
    notice = None
    status = 200
    if request.method == "POST":
        if form.homepage.data:
            return _turned_away()
        if form.validate():
            codename = generate_codename()
            try:
                keys = _derive(codename)
            except Busy:
                return render_template("apply.html", form=form, notice=BUSY), 503
            applicant = store_submission(
                db.session(),
                store=current_store(),
                recipients=recipients,
                kind="application",
                day=db.today(),
                answers=form.answers(),
                files=form.attachments.data or [],
                new_applicant=NewApplicant(keys.lookup_id, keys.reply_public_key),
            )
            sessions.begin(applicant)
            remember_reply_key(applicant.id, keys.reply_key)
            return render_template("codename.html", codename=codename)
        status = 400
        if "csrf_token" in form.errors:
            notice = STALE_FORM
    return render_template("apply.html", form=form, notice=notice), status


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> ResponseReturnValue:
    # A codename is a few hundred bytes: no reason to read a large body here.
    request.max_content_length = SMALL_BODY
    form = SigninForm()
    notice = None
    if request.method == "POST":
        if not form.validate():
            if "csrf_token" in form.errors:
                notice = gettext("Your sign-in page had expired. Please type your codename again.")
            return render_template("signin.html", form=form, notice=notice), 400
        try:
            normal = normalise_codename(form.codename.data or "")
        except InvalidCodename:
            form.codename.errors = [WRONG_CODENAME]
            form.codename.data = ""
            return render_template("signin.html", form=form), 400
        try:
            keys = _derive(normal)
        except Busy:
            return render_template("signin.html", form=form, notice=BUSY), 503
        dbs = db.session()
        applicant = dbs.scalar(select(Applicant).where(Applicant.lookup_id == keys.lookup_id))
        form.codename.data = ""  # never echo a codename back into a page
        if applicant is None:
            form.codename.errors = [WRONG_CODENAME]
            return render_template("signin.html", form=form), 400
        applicant.last_active_day = db.today()
        sessions.ensure_epoch(applicant)
        dbs.commit()
        sessions.begin(applicant)
        remember_reply_key(applicant.id, keys.reply_key)
        return redirect(url_for("applicant.case"))
    return render_template("signin.html", form=form, notice=notice)


@bp.route("/case", methods=["GET", "POST"])
def case() -> ResponseReturnValue:
    applicant = current_applicant()
    if applicant is None:
        if request.method == "POST":
            db.end_read()  # not while the body arrives
            drain_body(int(current_app.config["DRAIN_LIMIT"]))
        if request.method == "POST":
            flash(gettext("Your session had ended, so what you were sending was not stored. "
                          "Sign in with your codename and send it again."))
        else:
            flash(gettext("You are not signed in, or your session ended after a while without "
                          "activity. Sign in with your codename to continue."))
        return redirect(url_for("applicant.signin"))
    recipients = active_recipients()
    if request.method == "POST":
        if not recipients:
            return _closed()
        _request().accept_uploads(recipients)
        db.end_read()  # not while the body arrives
    form = FollowupForm()
    notice = None
    status = 200
    if request.method == "POST":
        if form.homepage.data:
            return _turned_away()
        if form.validate():
            store_submission(
                db.session(),
                store=current_store(),
                recipients=recipients,
                kind="followup",
                day=db.today(),
                answers=form.answers(),
                files=form.attachments.data or [],
                applicant=applicant,
            )
            flash(gettext("Sent. Your message was added to your case."))
            return redirect(url_for("applicant.case"))
        status = 400
        if "csrf_token" in form.errors:
            notice = STALE_FORM
    key = reply_key_from_session(applicant.id)
    replies = replies_for(db.session(), current_store(), applicant, key, db.today())
    return render_template(
        "case.html",
        applicant=applicant,
        submissions=applicant.submissions,
        replies=replies,
        reply_key_missing=key is None,
        delete_form=DeleteReplyForm(),
        form=form,
        signout=SignoutForm(),
        open=bool(recipients),
        notice=notice,
    ), status


@bp.route("/case/replies/<reply_id>/delete", methods=["POST"])
def delete(reply_id: str) -> ResponseReturnValue:
    request.max_content_length = SMALL_BODY
    applicant = current_applicant()
    if applicant is None:
        db.end_read()  # not while the body arrives
        drain_body(int(current_app.config["DRAIN_LIMIT"]))
        flash(gettext("You are not signed in, or your session ended after a while without "
                      "activity. Sign in with your codename to continue."))
        return redirect(url_for("applicant.signin"))
    db.end_read()  # not while the body arrives
    form = DeleteReplyForm()
    if not form.validate():
        flash(gettext("Nothing was deleted: the page had expired. Please press Delete again."))
        return redirect(url_for("applicant.case"))
    if delete_reply(db.session(), current_store(), applicant, reply_id):
        flash(gettext("The reply was deleted for good."))
    else:
        flash(gettext("That reply does not exist any more."))
    return redirect(url_for("applicant.case"))


@bp.route("/signout", methods=["GET", "POST"])
def signout() -> ResponseReturnValue:
    request.max_content_length = SMALL_BODY
    applicant = current_applicant()
    if applicant is None:
        # Nothing to sign out, and no form: making one would start a session, and
        # a request from another site arrives without the session cookie
        # (SameSite=Strict), so that new cookie would replace the real one.
        if request.method == "POST":
            drain_body(int(current_app.config["DRAIN_LIMIT"]))
        return render_template("signout.html", signed_in=False)
    form = SignoutForm()
    if request.method == "POST":
        if form.validate():
            sessions.end_everywhere(db.session(), applicant)
            return render_template("signed_out.html")
        # A stale page, or a request forged elsewhere: ask, with a fresh token.
        return render_template("signout.html", signout=form, signed_in=True,
                               notice=SIGNOUT_CONFIRM), 400
    return render_template("signout.html", signout=form, signed_in=True)
