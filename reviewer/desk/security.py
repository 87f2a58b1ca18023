"""The desk's front door: who may ask, what every answer carries, where bodies live.

- `FrontDoor` (WSGI, outside Flask, so it covers every response, errors included):
  only Host 127.0.0.1:PORT or localhost:PORT is answered (a page loaded from
  another name that resolves to 127.0.0.1, DNS rebinding, gets 421), and every
  response carries the headers in `HEADERS`.
- `guard` (Flask, before each request): the printed one-time token becomes an
  HttpOnly SameSite=Strict cookie and a redirect drops it from the address
  bar; without that cookie, 403; every POST carries the CSRF token.
- `InMemoryRequest`: Werkzeug would spool a file part over 500 KB to a
  temporary file, which here would be plaintext; this keeps it in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from flask import Request, Response, abort, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from reviewer.desk.session import Desk

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The largest request the desk takes: an imported bundle, held in memory. A
#: larger bundle is imported with `reviewer import` (docs/reviewer.md).
MAX_REQUEST_BYTES = 512 * 1024 * 1024

HEADERS = (
    ("Content-Security-Policy",
     "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
     " frame-ancestors 'none'; base-uri 'none'"),
    # A browser's disk cache would otherwise hold plaintext pages and files.
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)

CSRF_FIELD = "csrf"


class InMemoryRequest(Request):
    """A request whose uploaded files stay in memory (never a temporary file)."""

    max_content_length = MAX_REQUEST_BYTES
    # Text fields: a reply or notes, far below this; a file part is not counted here.
    max_form_memory_size = 8 * 1024 * 1024
    max_form_parts = 200

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


def plain(status: int, text: str) -> list[tuple[str, str]]:
    """Headers of a plain-text refusal (the body is `text`)."""
    return [("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(text.encode())))]


class FrontDoor:
    """WSGI middleware: the Host check, and the headers on every response."""

    def __init__(self, app: WSGIApplication, desk: Desk) -> None:
        self.app = app
        self.desk = desk

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.desk.port}", f"localhost:{self.desk.port}"}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {h.lower() for h, _ in HEADERS}
            kept = [(h, v) for h, v in headers if h.lower() not in names]
            return start_response(status, [*kept, *HEADERS], exc_info)

        host = environ.get("HTTP_HOST", "")
        if host not in self.allowed_hosts():
            text = ("This desk answers only at the address `reviewer desk` printed"
                    " (127.0.0.1 or localhost, with its port).\n")
            with_headers("421 Misdirected Request", plain(421, text))
            return [text.encode()]
        return self.app(environ, with_headers)


FORBIDDEN = (
    "This desk opens only from the address `reviewer desk` printed in its terminal.\n"
    "Open that address in this browser. It works once: if it was used already (or this"
    " browser forgot the desk), stop the desk with Ctrl-C and start it again for a new one.\n"
)


def refuse(status: int, text: str) -> WerkzeugResponse:
    return Response(text, status=status, mimetype="text/plain")


def guard(desk: Desk) -> WerkzeugResponse | None:
    """Before each request: token to cookie, the cookie, the CSRF token (in that order)."""
    token = request.args.get("token")
    if token is not None:
        if not desk.take_token(token):
            return refuse(403, FORBIDDEN)
        response = redirect(request.path, code=303)
        response.set_cookie(desk.cookie_name, desk.cookie, httponly=True, samesite="Strict",
                            path="/")
        return response
    if not desk.cookie_ok(request.cookies.get(desk.cookie_name)):
        return refuse(403, FORBIDDEN)
    if request.method == "POST" and not desk.csrf_ok(request.form.get(CSRF_FIELD)):
        return refuse(400, "This form is out of date or did not come from the desk; go back,"
                           " reload the page and send it again.\n")
    if request.method not in ("GET", "HEAD", "POST"):
        abort(405)
    return None
