"""Error pages: readable, with what to do next, and never a traceback.

A 413 first reads (and throws away) the rest of the upload, within a bound,
because a browser that is answered before it has finished sending shows a
connection reset instead of the page.
"""

from __future__ import annotations

import errno
import logging

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from intake.pacing import TooSlow
from intake.security import drain_body
from intake.store import StoreFailed

logger = logging.getLogger("intake")

# Errors meaning "the disk (or the quota) is full": from a file write, from
# SQLite (SQLITE_FULL) and from PostgreSQL (SQLSTATE 53100 disk_full).
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"

NO_ROOM = (
    _l("No room to store this right now"),
    _l("The server has run out of room to store what you sent. Nothing was stored, and "
       "nothing of what you sent was kept. Please try again in a few hours; if you had "
       "chosen files, choose them again."),
)

MESSAGES = {
    400: (_l("The request could not be understood"),
          _l("Something in what your browser sent was incomplete or damaged, so nothing was "
             "stored. Go back and try again; if a file upload was interrupted, send it again.")),
    403: (_l("Not allowed"), _l("This page cannot be used this way.")),
    404: (_l("Page not found"),
          _l("There is no page at this address. Start again from the home page.")),
    405: (_l("Not allowed"),
          _l("This page cannot be used this way. Start again from the home page.")),
    500: (_l("Something went wrong"),
          _l("The server failed while handling your request. Nothing from it was kept. "
             "Please try again in a few minutes.")),
    503: (_l("Not available right now"),
          _l("The server cannot take this request right now. Nothing was stored. "
             "Please try again later.")),
}
OTHER = (_l("This request cannot be answered"), _l("Start again from the home page."))


def _page(code: int, title: object, text: object) -> ResponseReturnValue:
    return render_template("error.html", code=code, title=title, text=text), code


def _drain_posted_body() -> bool:
    # Answering before the body is read makes Tor Browser show "connection reset"
    # instead of the page (see the module docstring).
    if request.method != "POST":
        return True
    return drain_body(int(current_app.config["DRAIN_LIMIT"]))


def handle_http(e: HTTPException) -> ResponseReturnValue:
    code = e.code or 500
    if fell_behind(e):
        return too_slow(e)
    if code == 413:
        return too_large(e)
    if code == 500:
        original = getattr(e, "original_exception", None)
        if original is not None and is_disk_full(original):
            return disk_full(original)
        if isinstance(original, StoreFailed):
            return store_failed(original)
        if not _drain_posted_body():
            title, text = MESSAGES[500]
            return render_template("error.html", code=500, title=title, text=text), 500, {
                "Connection": "close"}
    title, text = MESSAGES.get(code, OTHER)
    return _page(code, title, text)


def too_large(_e: HTTPException) -> ResponseReturnValue:
    config = current_app.config
    drained = drain_body(int(config["DRAIN_LIMIT"]))
    total_mb = int(config["MAX_CONTENT_LENGTH"]) // (1024 * 1024)
    answer_kb = int(config["MAX_FORM_MEMORY_SIZE"]) // 1024
    text = gettext(
        "What you sent is larger than this server accepts: at most %(total_mb)d MB in one "
        "submission (all files together), at most %(answer_kb)d KB of text in one answer, "
        "and at most %(max_files)d files. "
        "Nothing was stored. Go back, choose fewer or smaller files (you can send more "
        "files later from your case page, after you sign in), and send again.",
        total_mb=total_mb, answer_kb=answer_kb, max_files=int(config["MAX_FILES"]),
    )
    body = render_template("error.html", code=413, title=gettext("Too large to accept"), text=text)
    headers = {} if drained else {"Connection": "close"}
    return body, 413, headers



def fell_behind(e: BaseException) -> bool:
    """Whether `e` comes from a body read that failed with TooSlow.

    Werkzeug turns a failed body read into ClientDisconnected (a 400) and keeps
    the original only as the context it was raised in.
    """
    seen: BaseException | None = e
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, TooSlow):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def too_slow(_e: BaseException) -> ResponseReturnValue:
    """The request fell behind the minimum rate (intake/pacing.py): answer, close, keep nothing.

    Nothing more is read (the socket refuses to), the staged files go at
    teardown like any failed request's, and the connection is closed. The
    page may never reach a client this slow; it says what happened if it does.
    """
    title, text = MESSAGES[400]
    body = render_template("error.html", code=408, title=title, text=text)
    return body, 408, {"Connection": "close"}


def is_disk_full(e: BaseException) -> bool:
    if isinstance(e, OSError):
        return e.errno in _FULL_ERRNOS
    if isinstance(e, OperationalError):
        orig = e.orig
        return (getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL
                or getattr(orig, "sqlstate", None) == _PG_DISK_FULL)
    return False


def disk_full(_e: BaseException) -> ResponseReturnValue:
    """The data directory or the database is full: say so, store nothing, tell the operator."""
    logger.error("no space left for the data directory or the database: applicants are "
                 "being turned away until room is made")
    drained = _drain_posted_body()
    title, text = NO_ROOM
    body = render_template("error.html", code=503, title=title, text=text)
    return body, 503, {} if drained else {"Connection": "close"}


def store_failed(e: StoreFailed) -> ResponseReturnValue:
    """The store (a bucket) refused or failed mid-upload: the full-disk page, and why, logged.

    Nothing was stored (intake.store): the applicant may simply send again.
    """
    logger.error("%s; an applicant was asked to send again, nothing was stored", e)
    drained = _drain_posted_body()
    title, text = NO_ROOM
    body = render_template("error.html", code=503, title=title, text=text)
    return body, 503, {} if drained else {"Connection": "close"}


def register(app: Flask) -> None:
    app.register_error_handler(TooSlow, too_slow)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_http)
