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

from intake import appstate, db, retention
from intake.models import Applicant, Blob, DeletedReply, Reply, Submission
from intake.s3store import S3Store
from intake.store import LocalStore

from .conftest import BOTH_STORES, days_ago
from .helpers import apply, codename_of, csrf, files, post, put_stored, store_files

# Every purge here runs against the local store and against a bucket.
pytestmark = BOTH_STORES



def has(app: Flask, blob_id: str) -> bool:
    return appstate.STORE.get(app).has(blob_id)


def put_old(app: Flask, name: str, data: bytes) -> None:
    """An envelope (or a stranger) in the store, placed long ago as far as the store can say.

    A file gets an old modification time (its change time stays now); a bucket
    stamps the object itself, now, and no client can set that back.
    """
    put_stored(app, name, data)
    store = appstate.STORE.get(app)
    if isinstance(store, LocalStore):
        os.utime(store.root / name, (0, 0))


def stranger_kept(app: Flask) -> bool:
    """Whether the object not named like a blob id is still there (the sweep never touches one)."""
    store = appstate.STORE.get(app)
    if isinstance(store, LocalStore):
        return (store.root / "not-a-blob").is_file()
    assert isinstance(store, S3Store)
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    return f"{store.prefix}not-a-blob" in [o["Key"] for o in listed.get("Contents", [])]


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
    put_stored(app, blob_id, b"ciphertext " + blob_id.encode())
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


def blob_files(app: Flask, submission_id: str) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(
            select(Blob.id).where(Blob.submission_id == submission_id)))


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
    exported(app, old, days_ago(15))
    exported(app, boundary, days_ago(14))
    old_files = blob_files(app, old)
    kept_files = blob_files(app, boundary) + blob_files(app, waiting)
    assert all(has(app, p) for p in old_files + kept_files)

    assert purge(app) == ("Deleted 1 submission(s), 0 reply(ies), 0 applicant(s), "
                          f"0 team record(s), {len(old_files)} file(s) and 0 orphaned file(s).")
    assert submissions_of(app, case) == sorted([boundary, waiting])
    assert not any(has(app, p) for p in old_files)
    assert all(has(app, p) for p in kept_files)
    assert purge(app).startswith("Deleted 0 submission(s)")  # nothing more to do


def test_read_replies_go_after_the_period(make_app) -> None:
    app = make_app(RETENTION_READ_REPLY_DAYS=10)
    case = new_case(app)
    gone = add_reply(app, case, days_ago(40), read=days_ago(11))
    boundary = add_reply(app, case, days_ago(40), read=days_ago(10))
    unread = add_reply(app, case, days_ago(400), read=None)
    assert "0 submission(s), 1 reply(ies), 0 applicant(s), 0 team record(s), 1 file(s)" in purge(
        app)
    with app.app_context():
        purged = db.session().scalars(select(DeletedReply.id)).all()
    assert len(purged) == 1  # a re-imported bundle will not bring it back
    assert not has(app, gone)
    assert has(app, boundary) and has(app, unread)
    assert row_counts(app) == (1, 1, 2, 2)


def test_inactive_applicants_go_with_everything_theirs(make_app) -> None:
    app = make_app()
    inactive = new_case(app, followups=1)
    for sub in submissions_of(app, inactive):
        exported(app, sub, days_ago(1))  # picked up yesterday: (a) alone would keep them
    reply_file = add_reply(app, inactive, days_ago(500), read=None)
    last_active(app, inactive, days_ago(366))
    their_files = [p for sub in submissions_of(app, inactive) for p in blob_files(app, sub)]

    waiting = new_case(app)  # inactive, but the reviewers have not exported it yet
    last_active(app, waiting, days_ago(800))
    answered = new_case(app)  # inactive, but a reply arrived within the period
    exported(app, submissions_of(app, answered)[0], days_ago(1))
    last_active(app, answered, days_ago(800))
    answered_reply = add_reply(app, answered, days_ago(364), read=None)
    boundary = new_case(app)  # active exactly 365 days ago: kept
    exported(app, submissions_of(app, boundary)[0], days_ago(1))
    last_active(app, boundary, days_ago(365))

    line = purge(app)
    assert line == (f"Deleted 2 submission(s), 1 reply(ies), 1 applicant(s), 0 team record(s), "
                    f"{len(their_files) + 1} file(s) and 0 orphaned file(s); kept 1 inactive "
                    "applicant(s) with submissions not yet exported.")
    with app.app_context():
        s = db.session()
        assert s.get(Applicant, inactive) is None
        assert {a.id for a in s.scalars(select(Applicant))} == {waiting, answered, boundary}
    assert not any(has(app, p) for p in their_files)
    assert not has(app, reply_file)
    assert has(app, answered_reply)
    assert row_counts(app) == (3, 3, 6, 1)


def test_dry_run_counts_and_changes_nothing(make_app) -> None:
    app = make_app()
    case = new_case(app, followups=1)
    first, _second = submissions_of(app, case)
    exported(app, first, days_ago(30))
    add_reply(app, case, days_ago(90), read=days_ago(60))
    put_old(app, db.new_id(), b"left behind")

    def snapshot() -> tuple[object, ...]:
        return row_counts(app), store_files(app)

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
    named = store_files(app)
    orphan = db.new_id()
    put_old(app, orphan, b"a file whose row was deleted")  # its change time (or stamp) is now
    put_old(app, "not-a-blob", b"left alone")
    assert purge(app).endswith("and 0 orphaned file(s).")
    assert has(app, orphan)  # fresh by change time: maybe a submission being stored

    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: time.time() + 3 * 86400))
    assert purge(app).endswith("and 1 orphaned file(s).")
    assert not has(app, orphan)
    assert stranger_kept(app)
    assert [n for n in store_files(app) if n != "not-a-blob"] == named


def test_a_failure_never_leaves_a_row_without_its_file(make_app,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    case = new_case(app)
    (sub,) = submissions_of(app, case)
    exported(app, sub, days_ago(20))
    paths = blob_files(app, sub)

    # The database refuses the deletion: nothing changes, on disk either.
    real_delete = retention._delete_rows

    def failing_delete(dbs: object, plan: object) -> None:
        real_delete(dbs, plan)  # type: ignore[arg-type]
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(retention, "_delete_rows", failing_delete)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert submissions_of(app, case) == [sub] and all(has(app, p) for p in paths)
    monkeypatch.setattr(retention, "_delete_rows", real_delete)  # not undo(): a bucket's variables stay

    # Removing the files fails after the rows are gone: files without rows remain,
    # never rows without files, and a later run sweeps them.
    def failing_remove(_store: object, _blob_ids: object) -> int:
        raise OSError(5, "Input/output error")

    kind = type(appstate.STORE.get(app))
    real_remove = kind.remove
    monkeypatch.setattr(kind, "remove", failing_remove)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 1
    assert result.output.strip().endswith("Input/output error")
    assert submissions_of(app, case) == [] and all(has(app, p) for p in paths)
    monkeypatch.setattr(kind, "remove", real_remove)
    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: time.time() + 3 * 86400))
    assert purge(app).endswith(f"and {len(paths)} orphaned file(s).")
    assert not any(has(app, p) for p in paths)


def test_retention_periods_come_from_the_environment(make_app,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_RETENTION_EXPORTED_DAYS", "3")
    app = make_app()
    assert app.config["RETENTION_EXPORTED_DAYS"] == 3
    assert app.config["RETENTION_READ_REPLY_DAYS"] == 30
    assert app.config["RETENTION_INACTIVE_DAYS"] == 365
    assert app.config["RETENTION_TEAM_DAYS"] == 365
    case = new_case(app)
    exported(app, submissions_of(app, case)[0], days_ago(4))
    assert purge(app).startswith("Deleted 1 submission(s)")


def test_purge_before_init_db_says_what_to_run(make_app) -> None:
    app = make_app(with_key=False, init=False)
    result = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 1 and "init-db" in result.output and "Traceback" not in result.output


def test_a_locked_database_stops_the_purge_in_one_line(make_app, data_dir: Path,
                                                       backend: str, store_kind: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's write lock held elsewhere past the busy timeout: the purge stops with
    one line, deletes nothing, and the next run does the work."""
    if backend != "sqlite" or store_kind != "local":
        pytest.skip("about SQLite's write lock")
    import sqlite3

    import intake.db

    # The engine's busy timeout (30 s in service) cut short, so the test does not wait it out.
    monkeypatch.setattr(intake.db, "SQLITE_BUSY_SECONDS", 0.2)
    path = data_dir / "intake.sqlite3"
    app = make_app(DATABASE_URL=f"sqlite:///{path}")
    case = new_case(app)
    exported(app, submissions_of(app, case)[0], days_ago(20))
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
