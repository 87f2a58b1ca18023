"""Fixtures for the intake server: an app on a fresh data directory with one reviewer key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app, db


@pytest.fixture(scope="session")
def reviewer_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_app(data_dir: Path, reviewer_key: PrivateKey):
    def make(with_key: bool = True, init: bool = True, **config: object) -> Flask:
        settings: dict[str, object] = {
            "TESTING": True,
            "DATA_DIR": data_dir,
            "ARGON2_LIMITS": TEST_LIMITS,
            "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
            "DRAIN_LIMIT": 32 * 1024 * 1024,
        }
        settings.update(config)
        app = create_app(settings)
        if init:
            with app.app_context():
                db.create_schema(db.engine())
        if with_key:
            result = app.test_cli_runner().invoke(
                args=["keys", "add", reviewer_key.public_key.to_text(), "--name", "reviewer one"]
            )
            assert result.exit_code == 0, result.output
        return app

    return make


@pytest.fixture
def app(make_app) -> Iterator[Flask]:
    yield make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
