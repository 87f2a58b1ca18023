"""The applicant pages: landing, apply, sign in, case (with replies), sign out.

Views stay thin: forms validate, `submit.store_submission` stores, and the
request class has already encrypted any files by the time a form is read.
The pages of a case take their applicant from `signed_in`; the two pages that
send answers and files (apply, case) share their steps in `_receive`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Concatenate, ParamSpec, TypeVar, cast

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
from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from crypto.codename import CodenameKeys, derive, generate_codename, normalise_codename
from crypto.errors import InvalidCodename, InvalidPublicKey
from crypto.keys import PublicKey
from crypto.params import Argon2Limits
from crypto.replytext import reply_html
from intake import appstate, db, sessions
from intake.forms import (
    ApplicationForm,
    DeleteReplyForm,
    FollowupForm,
    SigninForm,
    SignoutForm,
)
from intake.models import Applicant, RecipientKey
from intake.replies import delete_reply, remember_reply_key, replies_for, reply_key_from_session
from intake.security import Busy, drain_body
from intake.submit import NewApplicant, store_submission
from intake.upload import IntakeRequest

bp = Blueprint("applicant", __name__)


@bp.app_template_filter("reply_html")
def _reply_html(text: str) -> Markup:
    """A reply's text as the shared rule shows it (crypto/replytext.py): escaped there."""
    return Markup(reply_html(text))  # noqa: S704  # nosec B704  # every character escaped by reply_html

P = ParamSpec("P")
F = TypeVar("F", ApplicationForm, FollowupForm)

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
NOT_SIGNED_IN = _l(
    "You are not signed in, or your session ended after a while without activity. "
    "Sign in with your codename to continue."
)
UNSENT = _l(
    "Your session had ended, so what you were sending was not stored. "
    "Sign in with your codename and send it again."
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


def _derive(codename: str) -> CodenameKeys:
    limits = cast(Argon2Limits, current_app.config["ARGON2_LIMITS"])
    salt = appstate.SALT.get()
    with appstate.LIMITER.get():
        return derive(codename, salt, limits=limits)


def _drain_if_posted() -> None:
    """Before answering a POST without reading its form: read its body, storing nothing.

    A browser shows the answer only if the server has read what it sent.
    """
    if request.method == "POST":
        db.end_read()  # not while the body arrives
        drain_body(int(current_app.config["DRAIN_LIMIT"]))


def _closed() -> ResponseReturnValue:
    _drain_if_posted()
    return render_template("closed.html"), 503


def _turned_away() -> ResponseReturnValue:
    # The honeypot was filled: say nothing useful to a bot, store nothing.
    return render_template("turned_away.html"), 200


def _small_body(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """For a view whose forms are a few hundred bytes: refuse a large body, unread."""

    @functools.wraps(view)
    def limited(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        request.max_content_length = SMALL_BODY
        return view(*args, **kwargs)

    return limited


def signed_in(
    otherwise: Callable[[], ResponseReturnValue],
) -> Callable[[Callable[Concatenate[Applicant, P], ResponseReturnValue]],
              Callable[P, ResponseReturnValue]]:
    """Run the view with the signed-in applicant as its first argument.

    The applicant is the one whose session `sessions.check_session` found
    still valid before this request (epoch, absolute and idle lifetimes). For
    a visitor who is not signed in, the view does not run: the body of a POST
    is drained and `otherwise()` answers.
    """

    def decorate(
        view: Callable[Concatenate[Applicant, P], ResponseReturnValue],
    ) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            applicant = sessions.signed_in_applicant()
            if applicant is None:
                _drain_if_posted()
                return otherwise()
            return view(applicant, *args, **kwargs)

        return guarded

    return decorate


def _sign_in_first(message: LazyString = NOT_SIGNED_IN) -> ResponseReturnValue:
    flash(str(message))
    return redirect(url_for("applicant.signin"))


def _sign_in_to_send() -> ResponseReturnValue:
    # A POST to the case page carried a message, drained and not stored: say so.
    return _sign_in_first(UNSENT if request.method == "POST" else NOT_SIGNED_IN)


def _nothing_to_sign_out() -> ResponseReturnValue:
    # No form: making one would start a session, and a request from another
    # site arrives without the session cookie (SameSite=Strict), so that new
    # cookie would replace the real one.
    return render_template("signout.html", signed_in=False)


def _receive(
    make_form: Callable[[], F],
    recipients: Sequence[PublicKey],
    store: Callable[[F], ResponseReturnValue],
    page: Callable[[F, LazyString | None], str],
) -> ResponseReturnValue:
    """The steps of a page that sends answers and files: show its form, or take what it sent.

    A GET shows `page`. A POST with no reviewer key to seal to, or while the
    store cannot be reached (`Store.available`, which logs why), is closed;
    otherwise its files are encrypted to `recipients` as the form is read, a
    filled honeypot is turned away, and a valid form goes to `store`, which
    answers. An invalid one shows `page` again with status 400, and a notice
    when the security token had gone stale.
    """
    if request.method != "POST":
        return page(make_form(), None), 200
    if not recipients or not appstate.STORE.get().available():
        return _closed()
    _request().accept_uploads(recipients)
    db.end_read()  # not while the body arrives
    form = make_form()
    if form.homepage.data:
        return _turned_away()
    if form.validate():
        return store(form)
    return page(form, STALE_FORM if "csrf_token" in form.errors else None), 400


@bp.route("/")
def landing() -> ResponseReturnValue:
    return render_template("landing.html", open=bool(active_recipients()))


@bp.route("/apply", methods=["GET", "POST"])
def apply() -> ResponseReturnValue:
    recipients = active_recipients()
    if not recipients or not appstate.STORE.get().available():
        return _closed()
    return _receive(
        ApplicationForm,
        recipients,
        store=lambda form: _store_application(form, recipients),
        page=lambda form, notice: render_template("apply.html", form=form, notice=notice),
    )


def _store_form(
    form: ApplicationForm | FollowupForm, recipients: Sequence[PublicKey],
    owner: Applicant | NewApplicant,
) -> Applicant:
    """Store a valid form's answers and files, sealed to `recipients`, for `owner`."""
    return store_submission(
        db.session(),
        store=appstate.STORE.get(),
        recipients=recipients,
        day=db.today(),
        answers=form.answers(),
        files=form.attachments.data or [],
        owner=owner,
    )


def _store_application(form: ApplicationForm, recipients: Sequence[PublicKey]) -> ResponseReturnValue:
    """Open a case: a new codename, its keys, the first submission, a signed-in session."""
    codename = generate_codename()
    try:
        keys = _derive(codename)
    except Busy:
        return render_template("apply.html", form=form, notice=BUSY), 503
    applicant = _store_form(form, recipients, NewApplicant(keys.lookup_id, keys.reply_public_key))
    sessions.begin(applicant)
    remember_reply_key(applicant.id, keys.reply_key)
    return render_template("codename.html", codename=codename)


@bp.route("/signin", methods=["GET", "POST"])
@_small_body  # a codename is a few hundred bytes
def signin() -> ResponseReturnValue:
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
@signed_in(otherwise=_sign_in_to_send)
def case(applicant: Applicant) -> ResponseReturnValue:
    recipients = active_recipients()
    return _receive(
        FollowupForm,
        recipients,
        store=lambda form: _store_followup(applicant, form, recipients),
        page=lambda form, notice: _case_page(applicant, form, notice, open=bool(recipients)),
    )


def _store_followup(
    applicant: Applicant, form: FollowupForm, recipients: Sequence[PublicKey]
) -> ResponseReturnValue:
    _store_form(form, recipients, applicant)
    flash(gettext("Sent. Your message was added to your case."))
    return redirect(url_for("applicant.case"))


def _case_page(
    applicant: Applicant, form: FollowupForm, notice: LazyString | None, *, open: bool
) -> str:
    """The case: its submissions, the replies this session can open, the follow-up form."""
    key = reply_key_from_session(applicant.id)
    replies = replies_for(db.session(), appstate.STORE.get(), applicant, key, db.today())
    return render_template(
        "case.html",
        applicant=applicant,
        submissions=applicant.submissions,
        replies=replies,
        reply_key_missing=key is None,
        delete_form=DeleteReplyForm(),
        form=form,
        signout=SignoutForm(),
        open=open,
        notice=notice,
    )


@bp.route("/case/replies/<reply_id>/delete", methods=["POST"])
@_small_body
@signed_in(otherwise=_sign_in_first)
def delete(applicant: Applicant, reply_id: str) -> ResponseReturnValue:
    db.end_read()  # not while the body arrives
    form = DeleteReplyForm()
    if not form.validate():
        flash(gettext("Nothing was deleted: the page had expired. Please press Delete again."))
        return redirect(url_for("applicant.case"))
    if delete_reply(db.session(), appstate.STORE.get(), applicant, reply_id):
        flash(gettext("The reply was deleted for good."))
    else:
        flash(gettext("That reply does not exist any more."))
    return redirect(url_for("applicant.case"))


@bp.route("/signout", methods=["GET", "POST"])
@_small_body
@signed_in(otherwise=_nothing_to_sign_out)
def signout(applicant: Applicant) -> ResponseReturnValue:
    form = SignoutForm()
    if request.method == "POST":
        if form.validate():
            sessions.end_everywhere(db.session(), applicant)
            return render_template("signed_out.html")
        # A stale page, or a request forged elsewhere: ask, with a fresh token.
        return render_template("signout.html", signout=form, signed_in=True,
                               notice=SIGNOUT_CONFIRM), 400
    return render_template("signout.html", signout=form, signed_in=True)
