"""Error pages: readable, with what to do next, and never a traceback.

A 413 first reads (and throws away) the rest of the upload, within a bound,
because a browser that is answered before it has finished sending shows a
connection reset instead of the page.
"""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from intake.security import drain_body

MESSAGES = {
    400: ("The request could not be understood",
          "Something in what your browser sent was incomplete or damaged, so nothing was "
          "stored. Go back and try again; if a file upload was interrupted, send it again."),
    403: ("Not allowed", "This page cannot be used this way."),
    404: ("Page not found", "There is no page at this address. Start again from the home page."),
    405: ("Not allowed", "This page cannot be used this way. Start again from the home page."),
    500: ("Something went wrong",
          "The server failed while handling your request. Nothing from it was kept. "
          "Please try again in a few minutes."),
    503: ("Not available right now",
          "The server cannot take this request right now. Nothing was stored. "
          "Please try again later."),
}


def _page(code: int, title: str, text: str) -> ResponseReturnValue:
    return render_template("error.html", code=code, title=title, text=text), code


def handle_http(e: HTTPException) -> ResponseReturnValue:
    code = e.code or 500
    if code == 413:
        return too_large(e)
    title, text = MESSAGES.get(code, (e.name, "Start again from the home page."))
    return _page(code, title, text)


def too_large(_e: HTTPException) -> ResponseReturnValue:
    config = current_app.config
    drained = drain_body(int(config["DRAIN_LIMIT"]))
    total_mb = int(config["MAX_CONTENT_LENGTH"]) // (1024 * 1024)
    answer_kb = int(config["MAX_FORM_MEMORY_SIZE"]) // 1024
    text = (
        f"What you sent is larger than this server accepts: at most {total_mb} MB in one "
        f"submission (all files together), at most {answer_kb} KB of text in one answer, "
        f"and at most {int(config['MAX_FILES'])} files. "
        "Nothing was stored. Go back, choose fewer or smaller files (you can send more "
        "files later from your case page, after you sign in), and send again."
    )
    body = render_template("error.html", code=413, title="Too large to accept", text=text)
    headers = {} if drained else {"Connection": "close"}
    return body, 413, headers



def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_http)
