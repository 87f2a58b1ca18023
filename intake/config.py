"""Configuration: environment variables, defaults, and the data directory.

Every security-relevant parameter is set here explicitly rather than left to a
library default, so that one file says what the server accepts. The data
directory holds everything the server keeps: the database (SQLite by default),
the ciphertext store, the staging area for uploads in flight, the generated
session secret and the per-installation codename salt.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from crypto.atomic import OutputExists, atomic_output
from crypto.codename import SALT_BYTES
from crypto.params import CODENAME_LIMITS

MB = 1024 * 1024

SECRET_KEY_FILE = "secret_key"  # noqa: S105  # nosec B105  # a file name, not a secret
SALT_FILE = "codename_salt"
DATABASE_FILE = "intake.sqlite3"


class ConfigError(Exception):
    """A configuration value an operator must fix; the message says which.

    When `flask --app intake ...` loads the app, intake.cli turns it into one
    line and exit status 1 (`loading_errors`); gunicorn logs it.
    """


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero")
    return value


def defaults_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The configuration an operator controls through INTAKE_* variables."""
    data_dir = Path(env.get("INTAKE_DATA_DIR") or "intake-data").resolve()
    max_upload_mb = _int_env(env, "INTAKE_MAX_UPLOAD_MB", 25)
    session_minutes = _int_env(env, "INTAKE_SESSION_MINUTES", 60)
    session_max_hours = _int_env(env, "INTAKE_SESSION_MAX_HOURS", 4)
    config: dict[str, Any] = {
        "DATA_DIR": data_dir,
        "DATABASE_URL": env.get("INTAKE_DATABASE_URL") or None,
        # Where envelopes rest (intake.store): None for `store/` in the data directory,
        # or s3://BUCKET/PREFIX for an S3-compatible bucket (intake.s3store), reached at
        # S3_ENDPOINT_URL if set (a MinIO or Garage of your own), else AWS's own; the
        # region and credentials come from the standard AWS variables.
        "STORE_URL": env.get("INTAKE_STORE_URL") or None,
        "S3_ENDPOINT_URL": env.get("INTAKE_S3_ENDPOINT_URL") or None,
        # The whole request body: text answers plus every file, after multipart framing.
        "MAX_CONTENT_LENGTH": max_upload_mb * MB,
        # One text answer in a multipart body (UTF-8 bytes). Longer answers are refused
        # with the 413 page rather than held in memory.
        "MAX_FORM_MEMORY_SIZE": 256 * 1024,
        # Fields plus files: the application form has about 16 parts.
        "MAX_FORM_PARTS": 64,
        "MAX_FILES": _int_env(env, "INTAKE_MAX_FILES", 10),
        # After a 413, read and discard at most this much of the body so the browser
        # shows the page; beyond it the connection is closed.
        "DRAIN_LIMIT": 4 * max_upload_mb * MB,
        "SESSION_COOKIE_NAME": "intake_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        # Secure is added per request when the request came over HTTPS (an onion
        # service is plain HTTP inside Tor); True here forces it always.
        "SESSION_COOKIE_SECURE": env.get("INTAKE_FORCE_SECURE_COOKIES", "") == "1",
        "SESSION_REFRESH_EACH_REQUEST": True,
        # The longest a signed-in session may go without a request (intake/sessions.py;
        # also the signed cookie's own maximum age, checked by Flask).
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=session_minutes),
        # The longest a signed-in session lasts however busy it is (intake/sessions.py).
        "SESSION_MAX_AGE": timedelta(hours=session_max_hours),
        # Seconds since the Unix epoch, for the session times carried in the cookie;
        # tests pass their own clock.
        "CLOCK": time.time,
        "LANGUAGE_COOKIE_NAME": "intake_lang",
        "WTF_CSRF_ENABLED": True,
        # The token lives as long as the session; a stale one is answered with the
        # form as typed and a fresh token.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": False,
        "ARGON2_LIMITS": CODENAME_LIMITS,
        "ARGON2_CONCURRENCY": _int_env(env, "INTAKE_ARGON2_CONCURRENCY", 2),
        "ARGON2_WAIT_SECONDS": float(_int_env(env, "INTAKE_ARGON2_WAIT_SECONDS", 3)),
        # Retention (`flask --app intake purge`, SECURITY.md): days after which what
        # the reviewers have exported, replies the applicant has read,
        # applicants with no activity, and team records (counted from the day
        # they arrived, once exported) are deleted, rows and files.
        "RETENTION_EXPORTED_DAYS": _int_env(env, "INTAKE_RETENTION_EXPORTED_DAYS", 14),
        "RETENTION_READ_REPLY_DAYS": _int_env(env, "INTAKE_RETENTION_READ_REPLY_DAYS", 30),
        "RETENTION_INACTIVE_DAYS": _int_env(env, "INTAKE_RETENTION_INACTIVE_DAYS", 365),
        "RETENTION_TEAM_DAYS": _int_env(env, "INTAKE_RETENTION_TEAM_DAYS", 365),
        "TEMPLATES_AUTO_RELOAD": False,
        # Errors are answered with our own page, never re-raised to a debugger.
        "PROPAGATE_EXCEPTIONS": False,
        "PREFERRED_URL_SCHEME": "http",
    }
    if env.get("INTAKE_SECRET_KEY"):
        # It also keys the session box that holds the reply key (crypto/sessionbox.py).
        if len(env["INTAKE_SECRET_KEY"].encode("utf-8")) < 16:
            raise ConfigError("INTAKE_SECRET_KEY must be at least 16 bytes; 32 random bytes "
                              "written as hex are best")
        config["SECRET_KEY"] = env["INTAKE_SECRET_KEY"]
    return config


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data directory and its parts, owner-only (the store makes its own)."""
    for path in (data_dir, data_dir / "staging"):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _read_or_create(path: Path, size: int) -> bytes:
    """A random secret kept in one 0600 file; created once, never replaced."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        try:
            with atomic_output(path, mode=0o600) as out:
                out.write(secrets.token_bytes(size))
        except OutputExists:
            pass  # another worker created it first; use theirs
        data = path.read_bytes()
    if len(data) != size:
        raise ConfigError(f"{path} is damaged: expected {size} bytes, found {len(data)}")
    return data


def secret_key(data_dir: Path) -> bytes:
    return _read_or_create(data_dir / SECRET_KEY_FILE, 32)


def codename_salt(data_dir: Path) -> bytes:
    """The per-installation salt for codename derivation. Losing it loses every case."""
    return _read_or_create(data_dir / SALT_FILE, SALT_BYTES)


def database_url(config: Mapping[str, Any]) -> str:
    url = config.get("DATABASE_URL")
    if url:
        return str(url)
    return f"sqlite:///{Path(config['DATA_DIR']) / DATABASE_FILE}"


def environment() -> Mapping[str, str]:
    return os.environ
