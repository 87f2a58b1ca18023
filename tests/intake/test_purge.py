"""Retention: `flask --app intake purge` deletes rows and files by the configured periods.

Days are moved by editing rows (no sleeping); the orphan grace period by
moving the purge's clock forward.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import select, update

from intake import db, retention
from intake.models import Applicant, Blob, DeletedReply, Reply, Submission
from intake.store import LocalStore

from .helpers import apply, codename_of, csrf, files, post

TODAY = dt.datetime.now(dt.UTC).date()


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def store(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"]) / "store"


def new_case(app: Flask, followups: int = 0) -> str:
    """An applicant with an application (one attachment) and follow-ups; returns the case id."""
    client = app.test_client()
    response = apply(client, attachments=files((b"evidence", "e.txt", "text/plain")))
    assert response.status_code == 200, response.status_code
    codename_of(response)
    for n in range(followups):
        reply = post(client, "/case", {"csrf_token": csrf(client, "/case"), "message": f"m{n}"})
        assert reply.status_code == 302
    with client.session_transaction() as s:
        return str(s["case"])


def add_reply(app: Flask, case: str, day: dt.date, read: dt.date | None) -> str:
    """A reply row and its (stand-in) ciphertext file, as import-replies stores them."""
    reply_id, blob_id = db.new_id(), db.new_id()
    (store(app) / blob_id).write_bytes(b"ciphertext " + blob_id.encode())
    with app.app_context():
        s = db.session()
        s.add(Reply(id=reply_id, applicant_id=case, day=day, blob_id=blob_id, size=42,
                    read_day=read))
        s.commit()
    return blob_id


def submissions_of(app: Flask, case: str) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(
            select(Submission.id).where(Submission.applicant_id == case).order_by(Submission.id)))


def blob_files(app: Flask, submission_id: str) -> list[Path]:
    with app.app_context():
        ids = db.session().scalars(select(Blob.id).where(Blob.submission_id == submission_id))
        return [store(app) / i for i in ids]


def set_rows(app: Flask, statement: object) -> None:
    with app.app_context():
        s = db.session()
        s.execute(statement)  # type: ignore[call-overload]
        s.commit()


def exported(app: Flask, submission_id: str, day: dt.date) -> None:
    set_rows(app, update(Submission).where(Submission.id == submission_id).values(exported_day=day))


def last_active(app: Flask, case: str, day: dt.date) -> None:
    set_rows(app, update(Applicant).where(Applicant.id == case).values(last_active_day=day))


def purge(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["purge", *args])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    return result.output.strip()


def row_counts(app: Flask) -> tuple[int, int, int, int]:
    with app.app_context():
        s = db.session()
        return tuple(len(s.scalars(select(m)).all())  # type: ignore[return-value]
                     for m in (Applicant, Submission, Blob, Reply))


def test_exported_submissions_go_after_the_period_with_their_files(make_app) -> None:
    app = make_app()
    case = new_case(app, followups=2)
    old, boundary, waiting = submissions_of(app, case)
    exported(app, old, ago(15))
    exported(app, boundary, ago(14))
    old_files = blob_files(app, old)
    kept_files = blob_files(app, boundary) + blob_files(app, waiting)
    assert all(p.is_file() for p in old_files + kept_files)

    assert purge(app) == ("Deleted 1 submission(s), 0 reply(ies), 0 applicant(s), "
                          f"0 team record(s), {len(old_files)} file(s) and 0 orphaned file(s).")
    assert submissions_of(app, case) == sorted([boundary, waiting])
    assert not any(p.exists() for p in old_files)
    assert all(p.is_file() for p in kept_files)
    assert purge(app).startswith("Deleted 0 submission(s)")  # nothing more to do


def test_read_replies_go_after_the_period(make_app) -> None:
    app = make_app(RETENTION_READ_REPLY_DAYS=10)
    case = new_case(app)
    gone = add_reply(app, case, ago(40), read=ago(11))
    boundary = add_reply(app, case, ago(40), read=ago(10))
    unread = add_reply(app, case, ago(400), read=None)
    assert "0 submission(s), 1 reply(ies), 0 applicant(s), 0 team record(s), 1 file(s)" in purge(
        app)
    with app.app_context():
        purged = db.session().scalars(select(DeletedReply.id)).all()
    assert len(purged) == 1  # a re-imported bundle will not bring it back
    assert not (store(app) / gone).exists()
    assert (store(app) / boundary).is_file() and (store(app) / unread).is_file()
    assert row_counts(app) == (1, 1, 2, 2)


def test_inactive_applicants_go_with_everything_theirs(make_app) -> None:
    app = make_app()
    inactive = new_case(app, followups=1)
    for sub in submissions_of(app, inactive):
        exported(app, sub, ago(1))  # picked up yesterday: (a) alone would keep them
    reply_file = add_reply(app, inactive, ago(500), read=None)
    last_active(app, inactive, ago(366))
    their_files = [p for sub in submissions_of(app, inactive) for p in blob_files(app, sub)]

    waiting = new_case(app)  # inactive, but the reviewers have not exported it yet
    last_active(app, waiting, ago(800))
    answered = new_case(app)  # inactive, but a reply arrived within the period
    exported(app, submissions_of(app, answered)[0], ago(1))
    last_active(app, answered, ago(800))
    answered_reply = add_reply(app, answered, ago(364), read=None)
    boundary = new_case(app)  # active exactly 365 days ago: kept
    exported(app, submissions_of(app, boundary)[0], ago(1))
    last_active(app, boundary, ago(365))

    line = purge(app)
    assert line == (f"Deleted 2 submission(s), 1 reply(ies), 1 applicant(s), 0 team record(s), "
                    f"{len(their_files) + 1} file(s) and 0 orphaned file(s); kept 1 inactive "
                    "applicant(s) with submissions not yet exported.")
    with app.app_context():
        s = db.session()
        assert s.get(Applicant, inactive) is None
        assert {a.id for a in s.scalars(select(Applicant))} == {waiting, answered, boundary}
    assert not any(p.exists() for p in their_files)
    assert not (store(app) / reply_file).exists()
    assert (store(app) / answered_reply).is_file()
    assert row_counts(app) == (3, 3, 6, 1)


def test_dry_run_counts_and_changes_nothing(make_app) -> None:
    app = make_app()
    case = new_case(app, followups=1)
    first, _second = submissions_of(app, case)
    exported(app, first, ago(30))
    add_reply(app, case, ago(90), read=ago(60))
    orphan = store(app) / db.new_id()
    orphan.write_bytes(b"left behind")
    os.utime(orphan, (0, 0))

    def snapshot() -> tuple[object, ...]:
        listing = sorted((p.name, p.stat().st_size, p.stat().st_mtime) for p in store(app).iterdir())
        return row_counts(app), listing

    before = snapshot()
    line = purge(app, "--dry-run")
    assert line == ("Dry run, nothing changed: would delete 1 submission(s), 1 reply(ies), "
                    f"0 applicant(s), 0 team record(s), {len(blob_files(app, first)) + 1} "
                    "file(s) and "
                    "0 orphaned file(s).")
    assert snapshot() == before
    # The orphan counts once it is past the grace period (by change time too).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(retention, "time", SimpleNamespace(time=lambda: time.time() + 3 * 86400))
        assert purge(app, "--dry-run").endswith("and 1 orphaned file(s).")
    assert snapshot() == before


def test_orphans_are_swept_only_after_the_grace_period(make_app,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    new_case(app)
    named = sorted(p.name for p in store(app).iterdir())
    orphan = store(app) / db.new_id()
    orphan.write_bytes(b"a file whose row was deleted")
    os.utime(orphan, (0, 0))  # an old modification time; its change time is now
    stranger = store(app) / "not-a-blob"
    stranger.write_bytes(b"left alone")
    os.utime(stranger, (0, 0))
    assert purge(app).endswith("and 0 orphaned file(s).")
    assert orphan.is_file()  # fresh by change time: maybe a submission being stored

    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: time.time() + 3 * 86400))
    assert purge(app).endswith("and 1 orphaned file(s).")
    assert not orphan.exists()
    assert stranger.is_file()
    assert sorted(p.name for p in store(app).iterdir()) == sorted([*named, "not-a-blob"])


def test_a_failure_never_leaves_a_row_without_its_file(make_app,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    case = new_case(app)
    (sub,) = submissions_of(app, case)
    exported(app, sub, ago(20))
    paths = blob_files(app, sub)

    # The database refuses the deletion: nothing changes, on disk either.
    real_delete = retention._delete_rows

    def failing_delete(dbs: object, plan: object) -> None:
        real_delete(dbs, plan)  # type: ignore[arg-type]
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(retention, "_delete_rows", failing_delete)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert submissions_of(app, case) == [sub] and all(p.is_file() for p in paths)
    monkeypatch.undo()

    # Removing the files fails after the rows are gone: files without rows remain,
    # never rows without files, and a later run sweeps them.
    def failing_remove(_store: object, _blob_ids: object) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(LocalStore, "remove", failing_remove)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 1
    assert result.output.strip().endswith("Input/output error")
    assert submissions_of(app, case) == [] and all(p.is_file() for p in paths)
    monkeypatch.undo()
    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: time.time() + 3 * 86400))
    assert purge(app).endswith(f"and {len(paths)} orphaned file(s).")
    assert not any(p.exists() for p in paths)


def test_retention_periods_come_from_the_environment(make_app,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_RETENTION_EXPORTED_DAYS", "3")
    app = make_app()
    assert app.config["RETENTION_EXPORTED_DAYS"] == 3
    assert app.config["RETENTION_READ_REPLY_DAYS"] == 30
    assert app.config["RETENTION_INACTIVE_DAYS"] == 365
    assert app.config["RETENTION_TEAM_DAYS"] == 365
    case = new_case(app)
    exported(app, submissions_of(app, case)[0], ago(4))
    assert purge(app).startswith("Deleted 1 submission(s)")


def test_purge_before_init_db_says_what_to_run(make_app) -> None:
    app = make_app(with_key=False, init=False)
    result = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 1 and "init-db" in result.output and "Traceback" not in result.output


def test_a_locked_database_stops_the_purge_in_one_line(make_app, data_dir: Path,
                                                       backend: str) -> None:
    """SQLite's write lock held elsewhere past the busy timeout: the purge stops with
    one line, deletes nothing, and the next run does the work."""
    if backend != "sqlite":
        pytest.skip("about SQLite's write lock")
    import sqlite3

    path = data_dir / "intake.sqlite3"
    app = make_app(DATABASE_URL=f"sqlite:///{path}?timeout=0.2")
    case = new_case(app)
    exported(app, submissions_of(app, case)[0], ago(20))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        result = app.test_cli_runner().invoke(args=["purge"])
    finally:
        other.rollback()
        other.close()
    assert result.exit_code == 1, result.output
    assert result.output == ("Error: the database refused the purge, nothing was deleted: "
                             "database is locked\n")
    assert submissions_of(app, case) != []
    assert purge(app).startswith("Deleted 1 submission(s)")
