"""The desk's Flask application, for one `Desk` (reviewer.desk.session)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from reviewer.desk import referral_views, views  # noqa: F401  # its routes join views.bp
from reviewer.desk.security import CSRF_FIELD, MAX_REQUEST_BYTES, FrontDoor, InMemoryRequest, guard
from reviewer.desk.session import Desk

HERE = Path(__file__).parent


def create_app(desk: Desk, config: dict[str, Any] | None = None) -> Flask:
    app = Flask("reviewer.desk", root_path=str(HERE), static_folder="static",
                template_folder="templates")
    app.request_class = InMemoryRequest
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=InMemoryRequest.max_form_memory_size,
        MAX_FORM_PARTS=InMemoryRequest.max_form_parts,
        # The desk keeps no Flask session: its one cookie is set by security.guard.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SEND_FILE_MAX_AGE_DEFAULT=0,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(config or {})
    app.extensions["desk"] = desk

    @app.before_request
    def front() -> WerkzeugResponse | tuple[str, int] | None:
        refused = guard(desk)
        if refused is not None:
            return refused
        desk.mutex.acquire()
        g.holds_mutex = True
        desk.touch()
        if not desk.unlocked and request.endpoint not in views.OPEN_WHEN_LOCKED:
            return views.unlock_page(
                next_path=request.path if request.method == "GET" else "/cases",
                lost=request.method == "POST",
            )
        return None

    @app.teardown_request
    def release(_: BaseException | None) -> None:
        if g.pop("holds_mutex", False):
            desk.mutex.release()

    @app.context_processor
    def common() -> dict[str, Any]:
        def csrf() -> Markup:
            return Markup('<input type="hidden" name="{}" value="{}">').format(
                CSRF_FIELD, desk.csrf_token())

        return {"csrf": csrf, "unlocked": desk.unlocked}

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[str, int]:
        code = e.code or 500
        return render_template("error.html", code=code, message=e.description or e.name), code

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        # Nothing of the exception (it could hold applicant text) reaches the page or
        # the terminal: only its kind, for whoever reports the bug.
        print(f"reviewer desk: unexpected {type(e).__name__}", file=sys.stderr)
        return Response("Something went wrong in the desk. Nothing was changed by this page;"
                        " the terminal running `reviewer desk` may say more.\n", status=500,
                        mimetype="text/plain")

    app.register_blueprint(views.bp)  # with reviewer.desk.referral_views' routes
    app.wsgi_app = FrontDoor(app.wsgi_app, desk)  # type: ignore[method-assign]
    return app
