"""The desk's pages: thin over the same functions the CLI uses.

Cases (reviewer.caselist), a case (reviewer.casefile), saving a file
(reviewer.metadata.saved_copy), verification and replies (reviewer.records,
reviewer.home), the team's side of a case (Home.add_note, assign, set_state;
reviewer.teamview), import (Home.import_bundle, reviewer.outcome), export of
the outbox. Every form posts; the searched text travels only in a POST body and
is rendered straight into the answer, never into a URL. A team form answers with
a redirect to the case page carrying one fixed word (`done`), so a reload makes
no record twice and nothing written reaches an address.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import NotFound

from crypto import replytext
from crypto.errors import CryptoError, TeamRecordError
from reviewer import stats
from reviewer.casefile import case_file
from reviewer.caselist import Casebook, CaseRow, Filters, Mark
from reviewer.desk.session import Desk
from reviewer.errors import KeyProblem, ReplyFinal, ReviewerError
from reviewer.errors import NotFound as ReviewerNotFound
from reviewer.home import RECOMMENDATIONS, RISKS, TEAM_STATES, UNVERIFIED, new_id, today
from reviewer.outcome import import_sentence, team_lines, unconfirmed_sentence, unreadable_note
from reviewer.records import VERIFICATION_QUESTIONS, reply_document, verification_record
from reviewer.saving import CannotStrip, NotForYourKey, saved_copy
from reviewer.teamview import EMPTY, CaseTeam, Conflict

bp = Blueprint("desk", __name__)

PAGE_SIZE = 50
#: What may be asked while the desk is locked.
OPEN_WHEN_LOCKED = frozenset({"desk.unlock", "desk.lock", "static"})
_ID = re.compile(r"[0-9a-f]{1,64}")
#: Where unlocking may return to: a path of this desk. Not "//…", which a
#: browser reads as another host.
_NEXT = re.compile(r"/(?!/)[a-z0-9/]*")
MARKS: dict[str, str] = {"new": "New", "updated": "Updated"}


def reply_html(text: str) -> Markup:
    """A reply as the applicant's case page shows it: crypto.replytext's rule, which
    escapes every character itself (so the preview is what the applicant will see)."""
    return Markup(replytext.reply_html(text))  # noqa: S704  # nosec B704  # escaped by the rule


def desk() -> Desk:
    found: Desk = current_app.extensions["desk"]
    return found


def download(data: bytes, name: str, *, mimetype: str = "application/octet-stream") -> Any:
    """`data` handed to the browser as a file to save under `name`: nothing written to
    disk, and no validator or lifetime that would let the browser keep or re-ask for it."""
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=name, conditional=False, etag=False, max_age=0)


def _case_id(case_id: str) -> str:
    if not _ID.fullmatch(case_id) or case_id not in desk().state().cases:
        raise NotFound("There is no case with this id in this home.")
    return case_id


def _reply_id(case_id: str, reply_id: str) -> str:
    if not any(r.id == reply_id for r in desk().state().cases[case_id].replies):
        raise NotFound("There is no such reply in this case.")
    return reply_id


# --- lock and unlock ---------------------------------------------------------------


def unlock_page(*, next_path: str = "/cases", error: str = "", lost: bool = False,
                status: int = 200) -> tuple[str, int]:
    if not _NEXT.fullmatch(next_path):
        next_path = "/cases"
    return render_template("unlock.html", next_path=next_path, error=error, lost=lost), status


@bp.route("/unlock", methods=["GET", "POST"])
def unlock() -> Any:
    d = desk()
    next_path = request.values.get("next", "/cases")
    if request.method == "GET":
        return redirect(next_path if _NEXT.fullmatch(next_path) else "/cases")
    try:
        d.unlock(request.form.get("passphrase", ""))
    except KeyProblem as e:
        return unlock_page(next_path=next_path, error=f"Not unlocked: {e}.", status=403)
    return redirect(next_path if _NEXT.fullmatch(next_path) else "/cases", code=303)


@bp.post("/lock")
def lock() -> Any:
    desk().lock()
    return redirect(url_for("desk.cases"), code=303)


# --- cases ----------------------------------------------------------------------------


@bp.get("/")
def index() -> Any:
    return redirect(url_for("desk.cases"))


#: Filters whose values came from applicants: their URLs carry the value's position in
#: the menu, never the value (a free-text profession can say who someone is). The
#: assignee (a colleague's name) travels the same way.
BY_POSITION = ("country", "profession", "assignee")
#: The assignee filter's one fixed value besides the positions of colleagues' names.
NOBODY = "nobody"


def _colleagues() -> list[str]:
    """The confirmed colleagues' names (Home.colleague_names, from the desk's state)."""
    return [c.name for c in desk().state().active_reviewers()]


def _choices(book: Casebook) -> dict[str, list[str]]:
    """The menus: the Casebook's, and the assignees (colleagues' names, and any name a
    case is assigned to), sorted."""
    choices = book.choices()
    names = {r.assignee for r in book.rows()} | set(_colleagues())
    choices["assignee"] = sorted(names - {"", "you"}, key=lambda n: (n.casefold(), n))
    return choices


def _filters(values: Any, choices: dict[str, list[str]], text: str = "") -> Filters:
    def one(name: str) -> str | None:
        value = str(values.get(name, ""))
        if name in BY_POSITION:
            menu = choices.get(name, [])
            return menu[int(value)] if value.isdigit() and int(value) < len(menu) else None
        return value or None

    mark_value = values.get("mark", "")
    mark: Mark | None = "new" if mark_value == "new" else (
        "updated" if mark_value == "updated" else None)
    assignee = "" if values.get("assignee", "") == NOBODY else one("assignee")
    return Filters(state=one("state"), urgency=one("urgency"), country=one("country"),
                   profession=one("profession"), mark=mark, text=text, assignee=assignee,
                   conflict=values.get("conflict", "") == "1",
                   mine=values.get("mine", "") == "1")


def _query(filters: Filters, choices: dict[str, list[str]]) -> dict[str, str]:
    """The filters as they go into a URL (positions for applicants' values and names)."""
    query: dict[str, str] = {}
    for name in ("state", "urgency", "country", "profession", "mark", "assignee"):
        value = getattr(filters, name)
        if value:
            query[name] = str(choices[name].index(value)) if name in BY_POSITION else value
    if filters.assignee == "":
        query["assignee"] = NOBODY
    if filters.conflict:
        query["conflict"] = "1"
    if filters.mine:
        query["mine"] = "1"
    return query


@dataclass(frozen=True)
class Page:
    rows: list[CaseRow]
    number: int
    pages: int
    total: int


def _page(rows: list[CaseRow], number: int) -> Page:
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    number = min(max(1, number), pages)
    return Page(rows[(number - 1) * PAGE_SIZE: number * PAGE_SIZE], number, pages, len(rows))


def _number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 7 else 1


def _cases_page(values: Any, text: str, number: int) -> str:
    book = desk().casebook()
    choices = _choices(book)
    filters = _filters(values, choices, text)
    page = _page(book.rows(filters), number)
    return render_template("cases.html", page=page, filters=filters, choices=choices,
                           query=_query(filters, choices), marks=MARKS,
                           by_position=BY_POSITION, nobody=NOBODY)


@bp.get("/cases")
def cases() -> str:
    return _cases_page(request.args, "", _number(request.args.get("page")))


@bp.post("/cases/search")
def search() -> str:
    text = request.form.get("text", "").strip()
    return _cases_page(request.form, text, _number(request.form.get("page")))


# --- one case ------------------------------------------------------------------------


def _case_page(case_id: str, *, status: int = 200, **extra: Any) -> tuple[str, int]:
    d = desk()
    view = case_file(d.home, d.state(), d.keys, case_id)
    # The Casebook's fold of the same state (state.json is not read again for it).
    team = d.casebook().teams.get(case_id, EMPTY)
    d.casebook().opened(case_id)
    # Member cities (reviewer.desk.referral_views, which registers its routes on bp).
    from reviewer.desk.referral_views import refer_context

    return render_template("case.html", case=view, reply_html=reply_html, team=team,
                           colleagues=_colleagues(), states=TEAM_STATES,
                           conflicts=conflict_sentences(team),
                           **{**refer_context(case_id), **extra}), status


@bp.get("/cases/<case_id>")
def case(case_id: str) -> Any:
    done = DONE.get(request.args.get("done", ""))
    return _case_page(_case_id(case_id), notice=done)


@bp.post("/cases/<case_id>/files/<submission_id>/<int:number>")
def save_file(case_id: str, submission_id: str, number: int) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    if not _ID.fullmatch(submission_id):
        raise NotFound()
    strip = request.form.get("strip") == "1"
    try:
        saved = saved_copy(d.home, d.state(), d.keys, case_id, submission_id, number,
                           strip=strip)
    except ReviewerNotFound:
        raise NotFound("There is no such file in this case.") from None
    except (NotForYourKey, CannotStrip) as e:
        return _case_page(case_id, problem=f"Not saved: {e}.")
    # Who saved which file of the case: a team record, made as the file is handed to
    # the browser (as `extract` makes one for each file it writes). No record, no file.
    sub = next(s for s in d.state().cases[case_id].submissions if s.id == submission_id)
    if saved.blob in sub.attachments:
        try:
            d.home.add_records(case_id, [("file-saved", {"blob": saved.blob,
                                                         "name": saved.safe_name})], d.keys)
        except ReviewerError as e:
            return _case_page(case_id, status=503, problem=f"Not saved: {e}.")
        d.changed()
    return download(saved.data, saved.safe_name)


# --- team: notes, assignment, state ------------------------------------------------------

#: What a team form did, by the fixed word its redirect carries (never what was written).
DONE: dict[str, str] = {
    "note": "Note added; it goes to your colleagues with the next export.",
    "assigned": "Assignment recorded; it goes to your colleagues with the next export.",
    "state": "State change recorded; it goes to your colleagues with the next export.",
    "consent": "Consent recorded: a dossier can now be written for this case.",
}


def _names(values: list[str]) -> str:
    if len(values) <= 2:
        return " and ".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def conflict_sentences(team: CaseTeam) -> list[str]:
    """The conflicts of a case, as sentences: who set what, and how to resolve it."""
    def sentence(heads: tuple[Conflict, ...], verb: str, resolve: str) -> str:
        said = ", ".join(f"{c.author} {verb} {c.value}" for c in heads)
        if said.startswith("you "):  # a colleague's name is shown as she spells it
            said = "Y" + said[1:]
        nobody = ("neither had seen the other" if len(heads) == 2
                  else "none had seen the others")
        return f"{said}, {nobody}; {resolve}."

    found = []
    if team.state_conflict:
        found.append(sentence(team.state_conflict, "set",
                              "record a decision to resolve"))
    if team.assignee_conflict:
        found.append(sentence(team.assignee_conflict, "assigned",
                              "assign the case again to resolve"))
    return found


def _sentence(error: ReviewerError | TeamRecordError) -> str:
    """The home's sentence for a refusal, as a sentence of the page."""
    said = str(error)
    return f"{said[:1].upper()}{said[1:]}."


def _after(case_id: str, done: str) -> Any:
    """Post/redirect/get: a reload does not make the record twice."""
    desk().changed()
    return redirect(url_for("desk.case", case_id=case_id, done=done), code=303)


@bp.post("/cases/<case_id>/notes")
def add_note(case_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    text = request.form.get("text", "")
    if not text.strip():
        return _case_page(case_id, status=400, note_text=text,
                          note_error="Nothing was saved: the note is empty.")
    try:
        d.home.add_note(case_id, text, d.keys)
    except (ReviewerError, TeamRecordError) as e:
        return _case_page(case_id, status=400, note_text=text, note_error=_sentence(e))
    return _after(case_id, "note")


@bp.post("/cases/<case_id>/assign")
def assign(case_id: str) -> Any:
    """`who`: "me", "nobody", or "colleague" with `colleague` a confirmed colleague's name."""
    d = desk()
    case_id = _case_id(case_id)
    who = request.form.get("who", "")
    target: str | None
    if who == "me":
        target = "me"
    elif who == "nobody":
        target = None
    elif who.startswith("colleague:") and who[len("colleague:"):] in _colleagues():
        target = who[len("colleague:"):]
    else:
        return _case_page(case_id, status=400,
                          assign_error="Nothing was saved: choose who is on this case.")
    try:
        d.home.assign(case_id, target, d.keys)
    except ReviewerError as e:
        return _case_page(case_id, status=400, assign_error=_sentence(e))
    return _after(case_id, "assigned")


@bp.post("/cases/<case_id>/state")
def set_state(case_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    state = request.form.get("state", "")
    reason = request.form.get("reason", "")
    error = ""
    if state not in TEAM_STATES:
        error = "Nothing was saved: choose a state."
    elif not reason.strip():
        error = "Nothing was saved: say why (the reason is empty)."
    if not error:
        try:
            d.home.set_state(case_id, state, reason, d.keys)
        except (ReviewerError, TeamRecordError) as e:
            error = _sentence(e)
    if error:
        return _case_page(case_id, status=400, state_value=state, reason_text=reason,
                          state_error=error)
    return _after(case_id, "state")


# --- verification -----------------------------------------------------------------------


@bp.route("/cases/<case_id>/verify", methods=["GET", "POST"])
def verify(case_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    values = {name: request.form.get(name, "") for name, _ in VERIFICATION_QUESTIONS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        for name in ("identity", "work", "persecution"):
            values[name] = values[name].strip()
            if not values[name]:
                errors[name] = "Please fill this in."
        if values["risk"] not in RISKS:
            errors["risk"] = "Please choose a risk level."
        if values["recommendation"] not in RECOMMENDATIONS:
            errors["recommendation"] = "Please choose a recommendation."
        if not errors:
            record = verification_record(case_id, d.keys, values)
            state = d.home.add_verification(case_id, record, d.keys)
            d.changed()
            n = len(state.cases[case_id].verifications)
            return _case_page(case_id, notice=f"Verification record {n} saved for this case:"
                              f" {record['recommendation']}.")
    view = case_file(d.home, d.state(), d.keys, case_id)
    return render_template("verify.html", case=view, values=values, errors=errors,
                           questions=dict(VERIFICATION_QUESTIONS), risks=RISKS,
                           recommendations=RECOMMENDATIONS), 400 if errors else 200


# --- replies -------------------------------------------------------------------------------


@bp.route("/cases/<case_id>/replies/compose", methods=["GET", "POST"])
def compose(case_id: str) -> Any:
    """The reply form (POST: back from a preview, with the text kept)."""
    case_id = _case_id(case_id)
    reply_id = request.form.get("reply", "")
    if reply_id and not _ID.fullmatch(reply_id):
        raise NotFound()
    return render_template("compose.html", case_id=case_id, reply_id=reply_id,
                           text=request.form.get("text", ""))


@bp.post("/cases/<case_id>/replies/preview")
def preview(case_id: str) -> Any:
    case_id = _case_id(case_id)
    text = request.form.get("text", "")
    reply_id = request.form.get("reply", "")
    if reply_id and not _ID.fullmatch(reply_id):
        raise NotFound()
    try:
        doc = reply_document(case_id, text)
    except ReviewerError as e:
        return render_template("compose.html", case_id=case_id, reply_id=reply_id, text=text,
                               error=str(e)), 400
    return render_template("preview.html", case_id=case_id, reply_id=reply_id,
                           text=doc["text"], shown=reply_html(doc["text"]))


@bp.post("/cases/<case_id>/replies")
def save_reply(case_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    text = request.form.get("text", "")
    reply_id = request.form.get("reply", "")
    try:
        if reply_id:
            reply_id = _reply_id(case_id, reply_id)
            reply_document(case_id, text, reply_id=reply_id)  # the same checks
            d.home.edit_reply(case_id, reply_id, text.strip())
            notice = "Reply changed; it goes out with the next export."
        else:
            d.home.add_reply(case_id, reply_document(case_id, text))
            notice = "Reply saved to the outbox; it goes out with the next export."
    except ReplyFinal as e:
        d.changed()
        return _case_page(case_id, problem=str(e))
    except ReviewerError as e:
        return render_template("compose.html", case_id=case_id, reply_id=reply_id, text=text,
                               error=str(e)), 400
    d.changed()
    return _case_page(case_id, notice=notice)


@bp.get("/cases/<case_id>/replies/<reply_id>/edit")
def edit(case_id: str, reply_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    view = case_file(d.home, d.state(), d.keys, case_id)
    found = next((r for r in view.replies if r.id == reply_id), None)
    if found is None:
        raise NotFound("There is no such reply in this case.")
    if found.exported:
        return _case_page(case_id, problem="This reply was exported already; it is final.")
    return render_template("compose.html", case_id=case_id, reply_id=reply_id, text=found.text)


@bp.post("/cases/<case_id>/replies/<reply_id>/withdraw")
def withdraw(case_id: str, reply_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    reply_id = _reply_id(case_id, reply_id)
    try:
        d.home.withdraw_reply(case_id, reply_id)
    except ReplyFinal as e:
        return _case_page(case_id, problem=str(e))
    d.changed()
    return _case_page(case_id, notice="Reply withdrawn: it will not be exported.")


@bp.post("/replies/export")
def export() -> Any:
    """The outbox bundle, as `reviewer export-replies` writes it: replies for the
    applicants and team records and announcements for the colleagues."""
    d = desk()
    everything = request.form.get("everything") == "1"
    d.home.tmp.mkdir(mode=0o700, exist_ok=True)
    # The bundle is ciphertext (sealed replies and team envelopes, a signed manifest);
    # it passes through the home's own staging directory and is gone once read.
    path = d.home.tmp / f"export-{new_id()}.bundle"
    try:
        sent = d.home.export_outbox(path, everything=everything, keys=d.keys)
        d.changed()
        if not sent.replies and not sent.team:
            return render_template("message.html", title="Export the outbox",
                                   message="Nothing to send: no replies and no team records"
                                           " waiting; no bundle written.")
        data = path.read_bytes()
    finally:
        path.unlink(missing_ok=True)
    return download(data, f"outbox-{today()}.bundle")


# --- overview -------------------------------------------------------------------------------


def _facts() -> list[stats.CaseFacts]:
    d = desk()
    state = d.state()
    return stats.all_facts(state, d.home.fresh_index(state, d.keys),
                           d.home.team_views_of(state, d.keys))


def _since(value: str) -> str | None:
    return stats.parse_month(value) if value.strip() else None


#: The width of the longest bar of a chart, in SVG user units (overview.html).
BAR_WIDTH = 360


@bp.get("/overview")
def overview() -> Any:
    """The team's figures, each chart drawn as SVG with its table (reviewer.stats)."""
    since_text = request.args.get("since", "")
    try:
        since = _since(since_text)
    except ReviewerError as e:
        return render_template("overview.html", figures=None, since=since_text,
                               threshold=stats.DEFAULT_THRESHOLD, error=str(e),
                               bar_width=BAR_WIDTH), 400
    figures = stats.overview(_facts(), today=today(), since=since)
    return render_template("overview.html", figures=figures, since=since or "",
                           threshold=stats.DEFAULT_THRESHOLD, error="", bar_width=BAR_WIDTH)


@bp.get("/overview/counts.csv")
def counts() -> Any:
    """Counts to publish (reviewer.stats.published_counts): no cell below the threshold."""
    since_text = request.args.get("since", "")
    threshold_text = request.args.get("threshold", str(stats.DEFAULT_THRESHOLD)).strip()
    try:
        since = _since(since_text)
        if not threshold_text.isdigit() or not 1 <= int(threshold_text) <= 10_000:
            raise ReviewerError("the threshold must be a whole number from 1 to 10000")
    except ReviewerError as e:
        return render_template("overview.html", figures=None, since=since_text,
                               threshold=threshold_text, error=f"No counts: {e}.",
                               bar_width=BAR_WIDTH), 400
    published = stats.published_counts(_facts(), since=since, threshold=int(threshold_text))
    text = stats.counts_csv(published, made=today())
    return download(text.encode("utf-8"), f"counts-{today()}.csv", mimetype="text/csv")


# --- import -------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
def import_() -> Any:
    d = desk()
    if request.method == "GET":
        return render_template("import.html")
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return render_template("import.html", error="Choose a bundle file first."), 400
    from reviewer.cli import failure  # the CLI's own sentence for each refusal

    try:
        result = d.home.import_bundle(upload.stream, d.keys)  # type: ignore[arg-type]
    except (ReviewerError, CryptoError, OSError) as e:
        shown = failure(e)
        if shown is None:
            raise
        d.changed()
        return render_template("import.html", error=f"Not imported: {shown.message}"), 400
    finally:
        upload.close()
    d.changed()
    new = sorted(c.case for c in result.cases if c.new)
    updated = sorted(c.case for c in result.cases if not c.new)
    lines = [import_sentence(result), *team_lines(result)]
    note = unreadable_note(result)
    if note:
        lines.append(note)
    lines += [unconfirmed_sentence(k, "named by an earlier bundle")
              for k in result.earlier_unconfirmed]
    lines += [unconfirmed_sentence(k, "named by this bundle") for k in result.unconfirmed]
    book = d.casebook()
    rows = {r.case: r for r in book.rows()}
    return render_template("imported.html", lines=lines,
                           new=[rows[c] for c in new if c in rows],
                           updated=[rows[c] for c in updated if c in rows], marks=MARKS)


__all__ = ["OPEN_WHEN_LOCKED", "UNVERIFIED", "bp", "unlock_page"]
