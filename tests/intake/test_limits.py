"""Argon2 work is capped per process; configuration and data-directory files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask

from crypto.params import CODENAME_LIMITS
from intake import create_app
from intake.config import ConfigError, defaults_from_env
from intake.security import DerivationLimiter

from .helpers import answers, apply, codename_of, counts, csrf, post, sign_out, staging_files


def test_argon2_cap_gives_a_busy_page(make_app) -> None:
    app = make_app(ARGON2_CONCURRENCY=1, ARGON2_WAIT_SECONDS=0.05)
    client = app.test_client()
    codename = codename_of(apply(client))
    sign_out(client)
    limiter: DerivationLimiter = app.extensions["intake_limiter"]
    assert limiter.semaphore.acquire(timeout=1)  # someone else is deriving
    try:
        response = client.post("/signin", data={"csrf_token": csrf(client, "/signin"),
                                                "codename": codename})
        assert response.status_code == 503
        assert "busy" in response.get_data(as_text=True)
        data = dict(answers(), csrf_token=csrf(client, "/apply"))
        response = post(client, "/apply", data)
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        assert "busy" in html and "Poems about rivers." in html  # what was typed is kept
        assert counts(app) == (1, 1, 1) and staging_files(app) == []
    finally:
        limiter.semaphore.release()
    response = client.post("/signin", data={"csrf_token": csrf(client, "/signin"),
                                            "codename": codename})
    assert response.status_code == 302


def test_limiter_is_bounded() -> None:
    limiter = DerivationLimiter(2, 0.01)
    with limiter, limiter:
        from intake.security import Busy

        with pytest.raises(Busy), limiter:
            pass
    with pytest.raises(ValueError):
        limiter.semaphore.release()  # BoundedSemaphore: never more slots than configured


def test_secret_files_are_private_and_stable(make_app, data_dir: Path, backend: str) -> None:
    app = make_app()
    names = ["secret_key", "codename_salt"] + (["intake.sqlite3"] if backend == "sqlite" else [])
    for name in names:
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert mode == 0o600, name
    assert len((data_dir / "codename_salt").read_bytes()) == 16
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    salt = app.extensions["intake_salt"]
    again = make_app(with_key=False, init=False)
    assert again.extensions["intake_salt"] == salt
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_security_parameters_are_explicit(app: Flask) -> None:
    c = app.config
    assert c["SESSION_COOKIE_HTTPONLY"] is True
    assert c["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert c["MAX_FORM_MEMORY_SIZE"] and c["MAX_FORM_PARTS"] and c["MAX_CONTENT_LENGTH"]
    assert c["WTF_CSRF_ENABLED"] is True
    assert defaults_from_env({})["ARGON2_LIMITS"] == CODENAME_LIMITS


def test_environment_configuration(tmp_path: Path) -> None:
    config = defaults_from_env({"INTAKE_DATA_DIR": str(tmp_path / "d"),
                                "INTAKE_MAX_UPLOAD_MB": "3",
                                "INTAKE_SECRET_KEY": "k" * 40,
                                "INTAKE_DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db")})
    assert config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert config["DATA_DIR"] == tmp_path / "d"
    assert config["SECRET_KEY"] == "k" * 40
    app = create_app(config)
    assert not (tmp_path / "d" / "secret_key").exists()  # given, so not generated
    assert str(app.extensions["intake_engine"].url).endswith("x.db")
    with pytest.raises(ConfigError, match="INTAKE_MAX_UPLOAD_MB"):
        defaults_from_env({"INTAKE_MAX_UPLOAD_MB": "lots"})


def test_bad_configuration_is_one_line_from_the_cli(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for env in ({"INTAKE_MAX_UPLOAD_MB": "lots", "INTAKE_DATA_DIR": str(tmp_path / "d")},
                {"INTAKE_DATA_DIR": str(blocker / "data")}):
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "intake", "keys", "list"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert result.stderr.startswith("Error: ")
