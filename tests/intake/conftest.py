"""Fixtures for the intake server: an app on a fresh data directory with one reviewer key.

Every test that uses `make_app` (and so `app`, `client`, `runner`) runs twice:
on SQLite in the data directory, and on a fresh database on a real PostgreSQL
server (tests/harness/postgres_server.py; skipped locally without PostgreSQL, a
failure under CI).

The envelopes go to `store/` in the data directory, unless a test module asks
for both stores with `pytestmark = BOTH_STORES`: then each of its tests also runs
with a fresh bucket on a real S3 endpoint (tests/harness/s3_server.py) as the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app, db

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


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """None for SQLite (the default file in the data directory), else a fresh PostgreSQL database."""
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("fresh_postgres_url"))


#: For a module's `pytestmark`: every test runs on the local store and on a bucket.
BOTH_STORES = pytest.mark.parametrize("store_kind", ["local", "s3"], indirect=True)


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
def make_app(data_dir: Path, reviewer_key: PrivateKey, database_url: str | None,
             store_config: dict[str, object]):
    made: list[Flask] = []

    def make(with_key: bool = True, init: bool = True, **config: object) -> Flask:
        settings: dict[str, object] = {
            "TESTING": True,
            "DATA_DIR": data_dir,
            "DATABASE_URL": database_url,
            "ARGON2_LIMITS": TEST_LIMITS,
            "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
            "DRAIN_LIMIT": 32 * 1024 * 1024,
            **store_config,
        }
        settings.update(config)
        app = create_app(settings)
        made.append(app)
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
