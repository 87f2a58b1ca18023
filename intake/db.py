"""The database engine and a session per request.

Plain SQLAlchemy 2, no Flask extension: one engine per app, one session per
request, closed at teardown. `init-db` migrates the database to the newest
schema revision (`intake.migrate`); until it has, every page says which
command the operator needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask, g
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from crypto.ids import new_id as new_id
from intake import appstate, migrate
from intake.models import Blob, Reply, TeamBlob

INIT_COMMAND = "flask --app intake init-db"


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# How long a SQLite writer waits for another's transaction to end before failing.
SQLITE_BUSY_SECONDS = 30


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    # In the default rollback-journal mode a commit must wait for every reader,
    # and a writer holding a read lock while another commits is refused at
    # once ("database is locked") to avoid deadlock: with 20 applicants sending
    # at the same time some got an error page (tests/system/test_proof_load.py). In
    # write-ahead-log mode readers never block the writer and writers queue on
    # the busy timeout. The mode is stored in the database file; its -wal and
    # -shm files are created with the database file's permissions.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_foreign_keys)
        if url not in ("sqlite://", "sqlite:///:memory:"):
            event.listen(engine, "connect", _sqlite_wal)
        return engine
    return create_engine(url)


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    appstate.ENGINE.set(app, engine)
    appstate.SESSIONMAKER.set(app, sessionmaker(engine, expire_on_commit=False))
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return appstate.ENGINE.get()


def session() -> Session:
    """The session for this request or command, created on first use."""
    if "db_session" not in g:
        g.db_session = appstate.SESSIONMAKER.get()()
    return g.db_session  # type: ignore[no-any-return]


def end_read() -> None:
    """End this request's read transaction, handing its connection back to the pool.

    Called before a request body is read: a slow upload must not hold one of
    the pool's connections while it arrives (fifteen slow uploads in one
    process, SQLAlchemy's default pool of 5 + 10, left none for anyone else's
    page). Loaded objects stay usable (expire_on_commit=False); the next query
    takes a connection again.
    """
    db_session = g.get("db_session")
    if db_session is not None:
        db_session.commit()


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


def schema_ready(db_engine: Engine) -> bool:
    """True when the database is at the newest revision: older code's schema is not enough."""
    return migrate.at_head(db_engine)


def create_schema(db_engine: Engine) -> str:
    """Bring the database to the newest revision; returns what was done, in one line."""
    return migrate.upgrade(db_engine)


def committed_blob_ids(db_engine: Engine) -> Callable[[Sequence[str]], set[str]]:
    """For start-up recovery: which of some blob ids a committed row names."""

    def committed(ids: Sequence[str]) -> set[str]:
        named: set[str] = set()
        with Session(db_engine) as dbs:
            for column in (Blob.id, Reply.blob_id, TeamBlob.id):
                named.update(dbs.scalars(select(column).where(column.in_(ids))))
        return named

    return committed


def today() -> dt.date:
    """Days are UTC dates; the server never records a time of day."""
    return dt.datetime.now(dt.UTC).date()
