"""Response headers, cookies, logging hygiene and bounds on expensive work.

Every response carries the same strict headers (no script source at all: no
page needs JavaScript). Exceptions are logged by type and code location
only, never by message, because a message can quote what an applicant sent.
Argon2id derivations are capped per process so a flood of sign-ins cannot
exhaust memory: a request that cannot get a slot quickly gets a "busy" page.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Any

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


class IntakeSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, with Secure added whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        forced = bool(app.config["SESSION_COOKIE_SECURE"])
        return forced or (has_request_context() and request.is_secure)


class Busy(Exception):
    """No Argon2 slot became free in time."""


class DerivationLimiter:
    """At most `slots` codename derivations at once in this process."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self.semaphore = threading.BoundedSemaphore(slots)
        self.wait_seconds = wait_seconds

    def __enter__(self) -> DerivationLimiter:
        if not self.semaphore.acquire(timeout=self.wait_seconds):
            raise Busy()
        return self

    def __exit__(self, *_: object) -> None:
        self.semaphore.release()


def log_exception_safely(
    app: Flask, exc_info: tuple[type[BaseException], BaseException, TracebackType | None]
) -> None:
    """Log where an error happened and its type, never its message or local values."""
    exc_type, _exc, tb = exc_info
    frames = traceback.extract_tb(tb)
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )
    path = request.path if has_request_context() else "-"
    method = request.method if has_request_context() else "-"
    app.logger.error("unhandled %s on %s %s at %s", exc_type.__name__, method, path, where or "?")


class CountingInput:
    """Wraps wsgi.input to know how much of the body has been read (for draining)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._raw.readline(size)
        self.consumed += len(data)
        return data

    def __iter__(self) -> Iterable[bytes]:
        return iter(self.readline, b"")

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()


class CountingMiddleware:
    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "wsgi.input" in environ:
            environ["wsgi.input"] = CountingInput(environ["wsgi.input"])
        return self.wsgi_app(environ, start_response)


def drain_body(limit: int) -> bool:
    """Read and discard the rest of the request body, up to `limit` bytes.

    A browser only shows an error page if the server has read what it sent;
    answering early makes it report a connection reset. Returns False when the
    body is too large to drain: the caller then closes the connection.
    """
    stream = request.environ.get("wsgi.input")
    if not isinstance(stream, CountingInput):
        return True
    length = request.content_length
    if length is not None:
        remaining = length - stream.consumed
        if remaining > limit:
            return False
    elif request.environ.get("wsgi.input_terminated"):
        remaining = limit
    else:
        return True  # nothing safe to read
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 64 * 1024))
            if not chunk:
                return True
            remaining -= len(chunk)
        # Chunked input may go on past the limit: check without storing.
        return length is not None or not stream.read(1)
    except OSError:
        return False
