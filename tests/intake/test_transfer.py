"""`flask --app intake export` and `import-replies`: marks, refusals, several reviewers."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crypto.envelope import decrypt_bytes, recipient_key_ids
from crypto.errors import NoMatch
from crypto.keys import PrivateKey
from intake import appstate, db
from intake.db import new_id
from intake.models import Submission
from intake.storage import INTENT_PREFIX, LOCK_NAME
from tests.harness.bundles import read_members

from .conftest import BOTH_STORES
from .helpers import csrf, drop_stored, files, post, staging_files, store_files
from .transfer_helpers import (
    new_applicant,
    replies_bundle,
    reply_key,
    reply_rows,
    sealed_reply,
)

# Every export and import here runs against the local store and against a bucket.
pytestmark = BOTH_STORES


def exported_days(app: Flask) -> list[dt.date | None]:
    with app.app_context():
        return [s.exported_day for s in
                db.session().scalars(select(Submission).order_by(Submission.day)).all()]


def one_line_failure(output: str) -> None:
    assert output.startswith("Error: ")
    assert output.strip().count("\n") == 0
    assert "Traceback" not in output


def test_export_marks_and_only_new_ones_go_next_time(app: Flask, runner: FlaskCliRunner,
                                                     tmp_path: Path) -> None:
    nothing = runner.invoke(args=["export", str(tmp_path / "empty.bundle")])
    assert nothing.exit_code == 0
    assert nothing.output.count("\n") == 1 and "Nothing to export" in nothing.output
    assert not (tmp_path / "empty.bundle").exists()

    client = app.test_client()
    case, _ = new_applicant(client)
    assert exported_days(app) == [None]
    first = tmp_path / "1.bundle"
    assert runner.invoke(args=["export", str(first)]).exit_code == 0
    assert exported_days(app) == [db.today()]
    manifest, members = read_members(first, "submissions")
    assert [c.case for c in manifest.cases] == [case]
    assert len(members) == 1  # the answers envelope; no files

    # Already exported: nothing, and no file.
    again = runner.invoke(args=["export", str(tmp_path / "2.bundle")])
    assert "Nothing to export" in again.output and not (tmp_path / "2.bundle").exists()

    # A follow-up with a file is the only thing in the next bundle.
    token = csrf(client, "/case")
    post(client, "/case", {"csrf_token": token, "message": "more",
                           "attachments": files((b"data", "a.txt", "text/plain"))})
    third = tmp_path / "3.bundle"
    result = runner.invoke(args=["export", str(third)])
    assert "1 case(s), 1 submission(s)" in result.output
    manifest, members = read_members(third, "submissions")
    (sub,) = manifest.cases[0].submissions
    assert sub.kind == "followup" and len(sub.attachments) == 1 and len(members) == 2

    # --all: everything again; the marks keep their first day.
    everything = tmp_path / "all.bundle"
    result = runner.invoke(args=["export", "--all", str(everything)])
    assert result.exit_code == 0 and "1 case(s), 2 submission(s)" in result.output
    manifest, members = read_members(everything, "submissions")
    assert sorted(s.kind for s in manifest.cases[0].submissions) == ["application", "followup"]
    assert len(members) == 3

    # An existing file is never overwritten.
    before = first.read_bytes()
    refused = runner.invoke(args=["export", "--all", str(first)])
    assert refused.exit_code != 0 and "not overwriting" in refused.output
    one_line_failure(refused.output)
    assert first.read_bytes() == before


def test_export_with_a_missing_envelope_writes_nothing(app: Flask, runner: FlaskCliRunner,
                                                       tmp_path: Path) -> None:
    new_applicant(app.test_client())
    drop_stored(app, store_files(app)[0])
    result = runner.invoke(args=["export", str(tmp_path / "x.bundle")])
    assert result.exit_code != 0 and "is missing from" in result.output
    one_line_failure(result.output)
    assert not (tmp_path / "x.bundle").exists()
    assert list(tmp_path.glob(".x.bundle*")) == []
    assert exported_days(app) == [None]


def test_several_reviewers(app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey,
                           tmp_path: Path) -> None:
    first, later = reviewer_key, PrivateKey.generate()

    def export_one(name: str) -> list[bytes]:
        new_applicant(app.test_client())
        path = tmp_path / name
        assert runner.invoke(args=["export", str(path)]).exit_code == 0
        manifest, members = read_members(path, "submissions")
        (member,) = members.values()
        return [k.key_id for k in manifest.recipients] + [b"--"] + \
            recipient_key_ids(io.BytesIO(member)) + [member]

    before = export_one("1.bundle")
    assert before[:3] == [first.public_key.key_id, b"--", first.public_key.key_id]
    runner.invoke(args=["keys", "add", later.public_key.to_text(), "--name", "later"])
    both = export_one("2.bundle")
    assert both[:5] == [first.public_key.key_id, later.public_key.key_id, b"--",
                        first.public_key.key_id, later.public_key.key_id]
    runner.invoke(args=["keys", "remove", "reviewer one"])
    after = export_one("3.bundle")
    assert after[:3] == [later.public_key.key_id, b"--", later.public_key.key_id]

    # The later key reads only what arrived after it; the removed key nothing new.
    assert json.loads(decrypt_bytes(both[-1], [later]))["kind"] == "application"
    assert json.loads(decrypt_bytes(both[-1], [first]))["kind"] == "application"
    assert json.loads(decrypt_bytes(after[-1], [later]))["kind"] == "application"
    for member, key in ((before[-1], later), (after[-1], first)):
        try:
            decrypt_bytes(member, [key])
        except NoMatch:
            pass
        else:
            raise AssertionError("a key read what was not sealed to it")


def test_manifest_recipients_are_the_keys_the_envelopes_name(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path) -> None:
    # One submission sealed before a key change, one after, exported together:
    # the manifest lists exactly the keys their stanzas name, the removed one
    # included, and not the active keys of the day (docs/bundle.md, recipients).
    first, later = reviewer_key, PrivateKey.generate()
    new_applicant(app.test_client())
    runner.invoke(args=["keys", "add", later.public_key.to_text(), "--name", "later"])
    runner.invoke(args=["keys", "remove", "reviewer one"])
    new_applicant(app.test_client())
    path = tmp_path / "both.bundle"
    result = runner.invoke(args=["export", str(path)])
    assert result.exit_code == 0, result.output
    manifest, members = read_members(path, "submissions")
    assert [k.key_id for k in manifest.recipients] == [first.public_key.key_id,
                                                       later.public_key.key_id]
    named = {recipient_key_ids(io.BytesIO(m))[0] for m in members.values()}
    assert named == {first.public_key.key_id, later.public_key.key_id}


def test_export_refuses_without_an_active_key(app: Flask, runner: FlaskCliRunner,
                                              tmp_path: Path) -> None:
    new_applicant(app.test_client())
    runner.invoke(args=["keys", "remove", "reviewer one"])
    result = runner.invoke(args=["export", str(tmp_path / "x.bundle")])
    assert result.exit_code != 0 and "no active reviewer key" in result.output
    one_line_failure(result.output)
    assert exported_days(app) == [None]


# --- import-replies ---------------------------------------------------------------


def _setup(app: Flask, reviewer_key: PrivateKey, tmp_path: Path, text: str = "hello"
           ) -> tuple[str, Path]:
    client = app.test_client()
    case, codename = new_applicant(client)
    key = reply_key(app, codename)
    envelope = sealed_reply(case, new_id(), text, key.public_key, [reviewer_key.public_key])
    path = replies_bundle(tmp_path / "replies.bundle", [(new_id(), case, envelope)],
                          [reviewer_key.public_key])
    return case, path


def _nothing_stored(app: Flask, store_before: list[str]) -> None:
    assert reply_rows(app) == []
    assert store_files(app) == store_before
    assert staging_files(app) == []


def test_import_replies_twice_changes_nothing(app: Flask, runner: FlaskCliRunner,
                                             reviewer_key: PrivateKey, tmp_path: Path) -> None:
    _case, path = _setup(app, reviewer_key, tmp_path)
    store_before = store_files(app)
    assert "Imported 1 new reply." in runner.invoke(args=["import-replies", str(path)]).output
    stored = store_files(app)
    assert len(stored) == len(store_before) + 1
    assert staging_files(app) == []
    second = runner.invoke(args=["import-replies", str(path)])
    assert second.exit_code == 0 and "0 new" in second.output
    assert store_files(app) == stored and len(reply_rows(app)) == 1


def test_staged_reply_members_are_synced_only_where_they_become_the_stored_file(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The local store renames a staged member into place: synced first. A bucket copies
    # it, and the object it confirmed is the durable copy.
    _case, path = _setup(app, reviewer_key, tmp_path)
    staging = str(appstate.STAGING.get(app).dir)
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert "Imported 1 new reply." in runner.invoke(args=["import-replies", str(path)]).output
    staged = [p for p in synced if p.startswith(staging + "/")
              and not Path(p).name.startswith((INTENT_PREFIX, LOCK_NAME))]
    if appstate.STORE.get(app).staging_must_be_durable():
        assert len(staged) == 1  # the reply's envelope
    else:
        assert staged == []


def test_damaged_replies_bundles_import_nothing(app: Flask, runner: FlaskCliRunner,
                                               reviewer_key: PrivateKey, tmp_path: Path) -> None:
    _case, path = _setup(app, reviewer_key, tmp_path)
    store_before = store_files(app)
    good = path.read_bytes()
    flipped = bytearray(good)
    flipped[-5] ^= 0x01
    variants = {
        "tampered": (bytes(flipped), "damaged or has been tampered with"),
        "truncated": (good[:-10], "truncated"),
        "trailing": (good + b"x", "extra bytes"),
        "foreign": (b"PK\x03\x04 not a bundle at all" * 4, "not a refuge-intake bundle"),
    }
    for name, (data, message) in variants.items():
        bad = tmp_path / f"{name}.bundle"
        bad.write_bytes(data)
        result = runner.invoke(args=["import-replies", str(bad)])
        assert result.exit_code != 0, name
        assert message in result.output, (name, result.output)
        one_line_failure(result.output)
        _nothing_stored(app, store_before)
    missing = runner.invoke(args=["import-replies", str(tmp_path / "nope.bundle")])
    assert missing.exit_code != 0
    one_line_failure(missing.output)


def test_a_submissions_bundle_is_not_replies(app: Flask, runner: FlaskCliRunner,
                                            tmp_path: Path) -> None:
    new_applicant(app.test_client())
    runner.invoke(args=["export", str(tmp_path / "s.bundle")])
    store_before = store_files(app)
    result = runner.invoke(args=["import-replies", str(tmp_path / "s.bundle")])
    assert result.exit_code != 0 and "not of replies" in result.output
    _nothing_stored(app, store_before)


def test_reply_for_unknown_case_refuses_the_bundle(app: Flask, runner: FlaskCliRunner,
                                                   reviewer_key: PrivateKey,
                                                   tmp_path: Path) -> None:
    client = app.test_client()
    case, codename = new_applicant(client)
    key = reply_key(app, codename).public_key
    reviewers = [reviewer_key.public_key]
    stranger = new_id()
    path = replies_bundle(tmp_path / "r.bundle", [
        (new_id(), case, sealed_reply(case, new_id(), "fine", key, reviewers)),
        (new_id(), stranger, sealed_reply(stranger, new_id(), "lost", key, reviewers)),
    ], reviewers)
    store_before = store_files(app)
    result = runner.invoke(args=["import-replies", str(path)])
    assert result.exit_code != 0 and stranger in result.output
    one_line_failure(result.output)
    _nothing_stored(app, store_before)


def test_reply_not_sealed_to_the_applicant_is_refused(app: Flask, runner: FlaskCliRunner,
                                                      reviewer_key: PrivateKey,
                                                      tmp_path: Path) -> None:
    case, _ = new_applicant(app.test_client())
    reviewers = [reviewer_key.public_key]
    wrong = PrivateKey.generate().public_key  # not this applicant's reply key
    path = replies_bundle(tmp_path / "r.bundle", [
        (new_id(), case, sealed_reply(case, new_id(), "x", wrong, reviewers))], reviewers)
    store_before = store_files(app)
    result = runner.invoke(args=["import-replies", str(path)])
    assert result.exit_code != 0 and "reply key" in result.output
    one_line_failure(result.output)
    _nothing_stored(app, store_before)


def test_export_into_a_missing_directory(app: Flask, runner: FlaskCliRunner,
                                         tmp_path: Path) -> None:
    new_applicant(app.test_client())
    result = runner.invoke(args=["export", str(tmp_path / "nowhere" / "x.bundle")])
    assert result.exit_code != 0 and "cannot write" in result.output
    one_line_failure(result.output)
    assert exported_days(app) == [None]


def test_a_database_failure_while_importing_stores_nothing(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _case, path = _setup(app, reviewer_key, tmp_path)
    store_before = store_files(app)

    def fail(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", fail)
    result = runner.invoke(args=["import-replies", str(path)])
    monkeypatch.undo()
    assert result.exit_code != 0 and "nothing was imported" in result.output
    one_line_failure(result.output)
    _nothing_stored(app, store_before)
    # and a later import works
    assert "Imported 1 new reply" in runner.invoke(args=["import-replies", str(path)]).output


@pytest.mark.parametrize(("offset", "message"), [
    (None, "dated 9999-12-31, after tomorrow"),  # would keep the applicant from the purge
    (2, "after tomorrow"),
    (-1, "before its case began"),
])
def test_reply_dated_after_tomorrow_or_before_the_case_is_refused(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        offset: int | None, message: str) -> None:
    client = app.test_client()
    case, codename = new_applicant(client)  # its first day is today
    key = reply_key(app, codename).public_key
    reviewers = [reviewer_key.public_key]
    today = db.today()
    day = "9999-12-31" if offset is None else (today + dt.timedelta(days=offset)).isoformat()
    path = replies_bundle(tmp_path / "r.bundle", [
        (new_id(), case, sealed_reply(case, new_id(), "dated badly", key, reviewers))],
        reviewers, day=day)
    store_before = store_files(app)
    result = runner.invoke(args=["import-replies", str(path)])
    assert result.exit_code != 0 and message in result.output, result.output
    assert "nothing was imported" in result.output
    one_line_failure(result.output)
    _nothing_stored(app, store_before)


@pytest.mark.parametrize("offset", [0, 1])
def test_reply_dated_today_or_tomorrow_is_imported(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        offset: int) -> None:
    # Tomorrow: a reviewer east of UTC is a day ahead for some hours.
    case, codename = new_applicant(app.test_client())
    key = reply_key(app, codename).public_key
    reviewers = [reviewer_key.public_key]
    day = db.today() + dt.timedelta(days=offset)
    path = replies_bundle(tmp_path / "r.bundle", [
        (new_id(), case, sealed_reply(case, new_id(), "ok", key, reviewers))],
        reviewers, day=day.isoformat())
    assert "Imported 1 new reply." in runner.invoke(args=["import-replies", str(path)]).output
    assert [r.day for r in reply_rows(app)] == [day]
