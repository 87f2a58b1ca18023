"""Fixtures for the intake server: an app on a fresh data directory with one reviewer key.

Every test that uses `make_app` (and so `app`, `client`, `runner`) runs twice:
on SQLite in the data directory, and on a fresh database on a real PostgreSQL
server (tests/harness/postgres_server.py; skipped locally without PostgreSQL, a
failure under CI); except the tests marked `SQLITE_ONLY`, about what the
database plays no part in.

A database that `make_app` initialises starts as a copy of one migrated once per
session (`sqlite_at_head`, `postgres_at_head`), then goes through `create_schema`
as before, which finds it at the newest revision: migrating afresh took ~0.3 s
per PostgreSQL test and ~0.05 s per SQLite one. `make_app(init=False)` still starts on an empty
database, and the migrations themselves are tested from empty databases in
test_migrations.py and test_cli.py.

The envelopes go to `store/` in the data directory, unless a test module asks
for both stores with `pytestmark = BOTH_STORES`: then each of its tests also runs
(on SQLite) with a fresh bucket on a real S3 endpoint (tests/harness/s3_server.py)
as the store.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app, db
from intake.config import DATABASE_FILE
from tests.harness.postgres_server import PostgresServer

from .spooling import SpoolWatch, install

#: The day this run began. Every server call in this process reads its day from
#: `intake.db.today`, pinned to this one by `one_day` for every test, so a test that
#: dates rows from it (`days_ago`) and then asks the server to act on them sees one
#: day, even when the run crosses midnight UTC.
RUN_DAY = db.today()


def days_ago(days: int) -> dt.date:
    return RUN_DAY - dt.timedelta(days=days)


@pytest.fixture(autouse=True)
def one_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "today", lambda: RUN_DAY)


@pytest.fixture(scope="session")
def reviewer_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def sqlite_at_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file at the newest revision, to copy."""
    path = tmp_path_factory.mktemp("at-head") / DATABASE_FILE
    migrated(f"sqlite:///{path}")
    return path


def migrated(url: str) -> None:
    engine = db.make_engine(url)
    try:
        db.create_schema(engine)
    finally:
        engine.dispose()  # a template must have no connection while it is copied


@pytest.fixture(scope="session")
def postgres_at_head(postgres_server: PostgresServer) -> str:
    """The name of a PostgreSQL database at the newest revision, to copy."""
    name = "intake_at_head"
    migrated(postgres_server.create_database(name))
    return name


class FreshDatabase:
    """The test's own database, made when the first app is: a copy of the migrated
    template if that app initialises it, else empty. SQLite is the default file in
    the data directory (url None); PostgreSQL a database of its own, dropped afterwards."""

    def __init__(self, request: pytest.FixtureRequest, backend: str, data_dir: Path) -> None:
        self.request = request
        self.data_dir = data_dir
        self.server: PostgresServer | None = None
        self.name = "t_" + secrets.token_hex(8)
        self.made = False
        self.url: str | None = None
        if backend == "postgresql":
            self.server = request.getfixturevalue("postgres_server")
            self.url = self.server.url(self.name)

    def before_app(self, at_head: bool) -> None:
        """Called before the first app on this database is created."""
        if self.made or self.server is None:
            return
        template = self.request.getfixturevalue("postgres_at_head") if at_head else None
        self.server.create_database(self.name, template)
        self.made = True

    def after_app(self, app: Flask, at_head: bool) -> None:
        """SQLite: the app made the (empty) file with its own mode; fill it from the template."""
        if self.made or self.server is not None:
            return
        self.made = True
        db_file = self.data_dir / DATABASE_FILE
        if not at_head or db_file.stat().st_size or db_file.with_name(db_file.name + "-wal").exists():
            return
        app.extensions["intake_engine"].dispose()
        template: Path = self.request.getfixturevalue("sqlite_at_head")
        with open(db_file, "r+b") as out:  # the same file: its mode stays the app's
            out.write(template.read_bytes())

    def drop(self) -> None:
        if self.server is not None and self.made:
            self.server.drop_database(self.name)


@pytest.fixture
def fresh_database(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> Iterator[FreshDatabase]:
    database = FreshDatabase(request, backend, data_dir)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def database_url(fresh_database: FreshDatabase) -> str | None:
    """None for SQLite (the default file in the data directory), else a fresh PostgreSQL database."""
    return fresh_database.url


#: For a test about something the database plays no part in (a page's language, a
#: reply document's format): it runs on SQLite only. What it stores is stored the same
#: way by the tests that run on both databases.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

#: For a module's `pytestmark`: every test runs on the local store and on a bucket,
#: the local store on both databases and the bucket on SQLite. The store holds the
#: envelopes and the database the rows, through the same calls whichever the other
#: is; PostgreSQL with a bucket is proved end to end by tests/system/test_proof_hosts.py.
BOTH_STORES = pytest.mark.parametrize(
    ("backend", "store_kind"),
    [("sqlite", "local"), ("postgresql", "local"), ("sqlite", "s3")],
    indirect=True,
)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """"local" (the default) or "s3", as BOTH_STORES asks."""
    return str(getattr(request, "param", "local"))


@pytest.fixture
def store_config(store_kind: str, request: pytest.FixtureRequest) -> dict[str, object]:
    """The settings that make the app use that store."""
    if store_kind == "local":
        return {}
    return dict(request.getfixturevalue("fresh_bucket").config())


@pytest.fixture
def make_app(data_dir: Path, reviewer_key: PrivateKey, fresh_database: FreshDatabase,
             store_config: dict[str, object]):
    made: list[Flask] = []

    def make(with_key: bool = True, init: bool = True, **config: object) -> Flask:
        settings: dict[str, object] = {
            "TESTING": True,
            "DATA_DIR": data_dir,
            "DATABASE_URL": fresh_database.url,
            "ARGON2_LIMITS": TEST_LIMITS,
            "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
            "DRAIN_LIMIT": 32 * 1024 * 1024,
            **store_config,
        }
        settings.update(config)
        own_database = settings["DATABASE_URL"] == fresh_database.url \
            and settings["DATA_DIR"] == data_dir
        if own_database:
            fresh_database.before_app(at_head=init)
        app = create_app(settings)
        made.append(app)
        if own_database:
            fresh_database.after_app(app, at_head=init)
        if init:
            with app.app_context():
                db.create_schema(db.engine())
        if with_key:
            result = app.test_cli_runner().invoke(
                args=["keys", "add", reviewer_key.public_key.to_text(), "--name", "reviewer one"]
            )
            assert result.exit_code == 0, result.output
        return app

    yield make
    # Close pooled connections before the PostgreSQL database is dropped.
    for app in made:
        app.extensions["intake_engine"].dispose()


@pytest.fixture
def app(make_app) -> Iterator[Flask]:
    yield make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def spooling(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[SpoolWatch]:
    """Refuses and records any temporary file made during a watched app's requests
    (tests/intake/spooling.py): `spooling.watch(app)`."""
    watch = install(monkeypatch, data_dir)
    yield watch
    assert watch.seen == [], f"temporary files while answering requests: {watch.seen}"
