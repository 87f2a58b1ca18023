"""A full disk or database is named to the applicant as such, and nothing is stored.

The real-filesystem proof under gunicorn is tests/system/test_proof_limits.py; here the
database's own "full" errors (SQLite's SQLITE_FULL, PostgreSQL's disk_full) are
raised at commit, which a size-limited directory cannot easily reach first.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from intake.errors import is_disk_full

from .helpers import apply, counts, files, staging_files, store_files


class PgDiskFull(Exception):
    sqlstate = "53100"  # what psycopg's errors.DiskFull carries


def sqlite_full() -> Exception:
    e = sqlite3.OperationalError("database or disk is full")
    e.sqlite_errorcode = 13  # set by sqlite3 itself when it raises one
    return e


@pytest.mark.parametrize("orig", [sqlite_full(), PgDiskFull("could not extend file")])
def test_database_full_at_commit(make_app, monkeypatch: pytest.MonkeyPatch, orig: Exception) -> None:
    app: Flask = make_app(PROPAGATE_EXCEPTIONS=False)

    def full(self: Session) -> None:
        raise OperationalError("COMMIT", {}, orig)

    monkeypatch.setattr(Session, "commit", full)
    response = apply(app.test_client(), attachments=files((b"a" * 1000, "a", "x/y")))
    monkeypatch.undo()
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "No room to store this" in page and "Nothing was stored" in page
    assert counts(app) == (0, 0, 0)
    assert store_files(app) == [] and staging_files(app) == []


@pytest.mark.parametrize(
    ("error", "full"),
    [
        (OSError(28, "No space left on device"), True),
        (OSError(122, "Disk quota exceeded"), True),
        (OSError(13, "Permission denied"), False),
        (OperationalError("x", {}, sqlite3.OperationalError("database is locked")), False),
        (ValueError("no"), False),
    ],
)
def test_what_counts_as_full(error: Any, full: bool) -> None:
    assert is_disk_full(error) is full
