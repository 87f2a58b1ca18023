"""The intake server: applicant pages, encrypted storage, operator commands.

`create_app(config=None)` builds the Flask app. Configuration comes from
INTAKE_* environment variables (see `intake.config`), overridden by `config`
(tests pass their own data directory and cheap Argon2 limits).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask, current_app, render_template
from flask.typing import ResponseReturnValue

from intake import appstate, cli, db, errors, i18n, sessions, views
from intake import config as config_mod
from intake.security import (
    CountingMiddleware,
    DerivationLimiter,
    IntakeSessionInterface,
    add_security_headers,
    log_exception_safely,
)
from intake.storage import StagingArea
from intake.store import open_store
from intake.upload import IntakeRequest

logger = logging.getLogger("intake")


def templates_dir() -> Path:
    """`templates/` beside the package in a checkout, or the installed data files."""
    here = Path(__file__).resolve().parent
    installed = Path(sys.prefix) / "share" / "refuge-intake" / "templates"
    for candidate in (here.parent / "templates", installed):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("the intake templates are missing from this installation")


class IntakeFlask(Flask):
    request_class = IntakeRequest
    session_interface = IntakeSessionInterface()

    def log_exception(
        self, exc_info: tuple[type[BaseException], BaseException, TracebackType]
        | tuple[None, None, None],
    ) -> None:
        if exc_info[0] is None or exc_info[1] is None:
            return
        log_exception_safely(self, (exc_info[0], exc_info[1], exc_info[2]))


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app, or intake.config.ConfigError saying what the operator must fix."""
    with cli.loading_errors():
        return _build_app(config)


def _build_app(config: dict[str, Any] | None) -> Flask:
    app = IntakeFlask(
        __name__,
        template_folder=str(templates_dir()),
        static_folder="static",
    )
    app.config.update(config_mod.defaults_from_env(config_mod.environment()))
    if config:
        app.config.update(config)
    if app.debug:
        # The interactive debugger shows local variables: applicant plaintext.
        logger.warning("debug mode is not allowed for the intake server; running without it")
        app.debug = False
    data_dir = Path(app.config["DATA_DIR"])
    app.config["DATA_DIR"] = data_dir
    try:
        config_mod.prepare_data_dir(data_dir)
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = config_mod.secret_key(data_dir)
        appstate.SALT.set(app, config_mod.codename_salt(data_dir))
    except OSError as e:
        raise config_mod.ConfigError(
            f"cannot use the data directory {data_dir}: {e.strerror or e}"
        ) from None
    appstate.LIMITER.set(app, DerivationLimiter(
        int(app.config["ARGON2_CONCURRENCY"]), float(app.config["ARGON2_WAIT_SECONDS"])
    ))

    if not app.config.get("DATABASE_URL"):
        # SQLite creates its file (and journals, with the same mode) world-readable
        # under the default umask; an empty file is a valid empty database.
        db_file = data_dir / config_mod.DATABASE_FILE
        try:
            os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as e:
            raise config_mod.ConfigError(f"cannot use {db_file}: {e.strerror or e}") from None
    db.init_app(app, config_mod.database_url(app.config))
    try:
        staging = StagingArea(data_dir / "staging")
        store = open_store(app.config, staging)
        # Uploads abandoned by a dead process are removed before this one takes
        # any; envelopes it had placed in the store without committing them too.
        # This process's own staging directory is locked, so it is passed by.
        store.recover(db.committed_blob_ids(appstate.ENGINE.get(app)))
        appstate.STAGING.set(app, staging)
        appstate.STORE.set(app, store)
    except OSError as e:
        raise config_mod.ConfigError(
            f"cannot use the data directory {data_dir}: {e.strerror or e}"
        ) from None
    appstate.SCHEMA_READY.set(app, False)
    appstate.SCHEMA_WARNED.set(app, False)

    i18n.init_app(app)
    app.register_blueprint(views.bp)
    errors.register(app)
    cli.register(app)
    app.before_request(_check_schema)
    app.before_request(sessions.check_session)
    app.after_request(add_security_headers)
    app.teardown_request(_discard_staged)
    app.wsgi_app = CountingMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _check_schema() -> ResponseReturnValue | None:
    app = current_app
    if appstate.SCHEMA_READY.get(app):
        return None
    if db.schema_ready(db.engine()):
        appstate.SCHEMA_READY.set(app, True)
        return None
    if not appstate.SCHEMA_WARNED.get(app):
        appstate.SCHEMA_WARNED.set(app, True)
        logger.error("the database is not initialised: run `%s`", db.INIT_COMMAND)
    return render_template("not_ready.html", command=db.INIT_COMMAND), 503


def _discard_staged(_exc: BaseException | None) -> None:
    from flask import request

    discard = getattr(request, "discard_staged", None)
    if discard is not None:
        discard()
