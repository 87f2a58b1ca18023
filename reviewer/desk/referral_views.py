"""The desk's side of member cities: refer a case, record consent, open a dossier.

Thin over reviewer.referrals, the functions `reviewer refer`, `reviewer consent`
and `reviewer dossier open` call: the desk decides nothing of its own about
what goes into a dossier or who may sign one.

- "Refer to a member city" (on a case's page): the city by its position in the
  register, the answers by name and the files by the number `reviewer show`
  gives them (nothing is chosen beforehand), a cover note, and whether the
  verification summary goes. The dossier is written into memory and handed to
  the browser as a download; `refer` records the referral on the case.
- "How consent was given": `reviewer consent` from a form.
- "Open a dossier": the uploaded dossier is checked completely before anything
  is shown; it is kept (ciphertext) in the desk's memory under a handle of the
  desk's own, so that its files can be saved one at a time, and forgotten on lock.
  Each file is shown as a case's is (reviewer.casefile.file_view: the type seen in it,
  the metadata found) and saved as one is (reviewer.saving.safe_copy, without_metadata).
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound

from crypto.dossier import Verified
from crypto.errors import DecryptError, DossierError, NoMatch
from reviewer.casefile import file_view
from reviewer.desk.views import _case_id, _case_page, bp, desk, download
from reviewer.errors import ReviewerError
from reviewer.referrals import (
    CONSENT_YES,
    SENSITIVE,
    CaseContent,
    City,
    ConsentMissing,
    case_content,
    dossier_files,
    open_dossier,
    record_consent,
    refer,
    referral_views,
    register_cities,
    signer_name,
)
from reviewer.saving import CannotStrip, safe_copy, without_metadata

#: How many uploaded dossiers the desk keeps in memory at once (the oldest goes first).
MAX_HELD = 8
_HANDLE_BYTES = 16


@dataclass(frozen=True)
class ReferForm:
    """What the reviewer chose in the refer form (kept when the form is refused)."""

    city: str = ""
    answers: frozenset[str] = frozenset()
    files: frozenset[int] = frozenset()
    note: str = ""
    verification: bool = False


def register_stamp(cities: Sequence[City]) -> str:
    """Which register a refer form was made from: a city is chosen by its position in
    the menu, and the register may change (`reviewer cities`) before the form is sent."""
    joined = "\n".join(f"{c.name}\t{c.key.to_text()}" for c in cities)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def refer_context(case_id: str) -> dict[str, Any]:
    """What the case page needs for its referral section (decrypted in memory)."""
    d = desk()
    state = d.state()
    content = case_content(d.home, state, d.keys, case_id)
    numbers: dict[tuple[str, int], int] = {}
    per_submission: dict[str, int] = {}
    for f in content.files:
        per_submission[f.submission] = per_submission.get(f.submission, 0) + 1
        numbers[(f.submission, per_submission[f.submission])] = f.number
    cities = register_cities(d.home, state, d.keys)
    return {"content": content, "cities": list(cities), "sensitive": SENSITIVE,
            "register": register_stamp(cities),
            "consent_yes": CONSENT_YES, "file_numbers": numbers,
            "referrals": referral_views(d.home, state, d.keys, case_id)}


def _consented(content: CaseContent) -> bool:
    return content.consent == CONSENT_YES or bool(content.consents)


@bp.post("/cases/<case_id>/refer")
def refer_case(case_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    form = ReferForm(
        city=request.form.get("city", ""),
        answers=frozenset(request.form.getlist("answer")),
        files=frozenset(int(n) for n in request.form.getlist("file")
                        if n.isdigit() and len(n) < 7),
        note=request.form.get("note", ""),
        verification=request.form.get("verification") == "1",
    )

    def refused(sentence: str, status: int = 400) -> Any:
        return _case_page(case_id, status=status, refer_error=f"No dossier written: {sentence}",
                          refer_form=form)

    cities = register_cities(d.home, d.state(), d.keys)
    if not form.city.isdigit() or int(form.city) >= len(cities):
        return refused("choose the city to refer the case to.")
    if any(not n.isdigit() or len(n) >= 7 for n in request.form.getlist("file")):
        return refused("a file is chosen by its number.")
    if request.form.get("register", "") != register_stamp(cities):
        return refused("the register of cities changed since this page was loaded; choose"
                       " the city again.", status=409)
    city = cities[int(form.city)]
    buffer = io.BytesIO()
    try:
        # The answers in the order the page lists them (the application's).
        done = refer(d.home, d.keys, case_id, city_name=city.name, out=buffer,
                     answers=list(dict.fromkeys(request.form.getlist("answer"))),
                     files=sorted(form.files), note=form.note,
                     with_verification=form.verification)
    except ConsentMissing:
        return refused("the applicant chose \"ask me first\" (or applied before the question"
                       " existed). Ask them, then record below how they agreed.", status=409)
    except ReviewerError as e:
        d.changed()
        return refused(f"{e}.")
    d.changed()
    return download(buffer.getvalue(), f"dossier-{done.dossier[:12]}.refuge")


@bp.post("/cases/<case_id>/consent")
def consent(case_id: str) -> Any:
    d = desk()
    case_id = _case_id(case_id)
    how = request.form.get("how", "")
    if not how.strip():
        return _case_page(case_id, status=400, consent_error="Say how the applicant agreed;"
                          " nothing was recorded.")
    try:
        record_consent(d.home, d.keys, case_id, how)
    except ReviewerError as e:
        d.changed()
        return _case_page(case_id, status=400, consent_error=f"Not recorded: {e}.",
                          consent_text=how)
    d.changed()
    return redirect(url_for("desk.case", case_id=case_id, done="consent"), code=303)


# --- open a dossier (the coordinator's desk) ---------------------------------------------------


def _opened(data: bytes) -> Any:
    """The dossier checked completely, or the sentence saying why not."""
    d = desk()
    try:
        return open_dossier(d.home, d.keys, io.BytesIO(data))
    except NoMatch:
        raise ReviewerError("this dossier is not addressed to your key") from None
    except (DecryptError, DossierError) as e:  # damaged, altered, or an unknown signer
        raise ReviewerError(e.public_message) from None


@bp.route("/dossiers/open", methods=["GET", "POST"])
def open_dossier_page() -> Any:
    d = desk()
    if request.method == "GET":
        return render_template("dossier_open.html")
    upload = request.files.get("dossier")
    if upload is None or not upload.filename:
        return render_template("dossier_open.html", error="Choose a dossier file first."), 400
    try:
        data = upload.stream.read()
    finally:
        upload.close()
    try:
        verified = _opened(data)
    except ReviewerError as e:
        return render_template("dossier_open.html", error=f"Not opened: {e}."), 400
    handle = secrets.token_hex(_HANDLE_BYTES)
    while len(d.dossiers) >= MAX_HELD:
        d.dossiers.pop(next(iter(d.dossiers)))
    d.dossiers[handle] = data
    return _dossier_page(handle, data, verified)


def _dossier_page(handle: str, data: bytes, verified: Verified, problem: str = "") -> str:
    """The held dossier shown: each file decrypted in memory to say what it really is."""
    d = desk()
    who = signer_name(d.home, d.state(), verified.signer)
    files = [file_view("", n, entry, content) for n, (entry, content)
             in enumerate(dossier_files(d.keys, io.BytesIO(data), verified), 1)]
    return render_template("dossier.html", dossier=verified, doc=verified.document,
                           signer=who, handle=handle, files=files, problem=problem)


def _dossier_copy(handle: str, number: int, *, strip: bool) -> Any:
    """File `number` of a held dossier, as the desk hands a case's file: a download under a
    safe name (`strip`: the copy without metadata), nothing written to disk."""
    d = desk()
    data = d.dossiers.get(handle)
    if data is None:
        raise NotFound("This dossier is no longer open (the desk was locked, or many were"
                       " opened since): open it again.")
    try:
        verified = _opened(data)
    except ReviewerError as e:  # the bytes held are the ones checked: a bug if it fails
        return render_template("dossier_open.html", error=f"Not opened: {e}."), 400
    if not 1 <= number <= len(verified.document.get("files", [])):
        raise NotFound("This dossier has no such file.")
    for n, (entry, content) in enumerate(dossier_files(d.keys, io.BytesIO(data), verified), 1):
        if n == number:
            copy = safe_copy(str(entry["name"]), str(entry["type"]), content,
                             int(entry["size"]))
            if strip:
                try:
                    copy = without_metadata(copy)
                except CannotStrip as e:
                    return _dossier_page(handle, data, verified, f"Not saved: {e}."), 400
            return download(copy.data, copy.safe_name)
    raise NotFound("This dossier has no such file.")


@bp.post("/dossiers/<handle>/files/<int:number>")
def save_dossier_file(handle: str, number: int) -> Any:
    """One file of an opened dossier, handed to the browser as the desk hands a case's."""
    return _dossier_copy(handle, number, strip=False)


@bp.post("/dossiers/<handle>/files/<int:number>/stripped")
def save_dossier_file_stripped(handle: str, number: int) -> Any:
    """The same file without its metadata (JPEG and PNG: reviewer.saving.without_metadata)."""
    return _dossier_copy(handle, number, strip=True)


__all__ = ["refer_context"]
