"""Team records carried blind: `import-replies` stores a replies bundle's team members,
`export` passes them on once (`--all` again), `purge` applies their retention.

The server never opens them; what it keeps of one is the envelope, a random id,
the day it arrived and the day it was first exported (intake.models.TeamBlob).
Every test that stores one runs on both stores, `store/` and a bucket (BOTH_STORES).
"""

from __future__ import annotations

import base64
import copy
import functools
import io
import json
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import inspect, select, update

from crypto import bundle, team
from crypto.atomic import atomic_output
from crypto.bundle import BundleWriter
from crypto.keys import PrivateKey, PublicKey
from crypto.signing import SigningKey
from intake import appstate, db, retention
from intake.config import ConfigError, defaults_from_env
from intake.db import new_id
from intake.models import Base, TeamBlob
from tests.harness.bundles import read_members

from .conftest import BOTH_STORES, days_ago
from .helpers import put_stored, staging_files, store_files
from .transfer_helpers import new_applicant, reply_key, reply_rows, sealed_reply

CASE = "c" * 32  # the case the records are about: on the reviewers' side only


class Colleague:
    def __init__(self) -> None:
        self.key = PrivateKey.generate()
        self.signing = SigningKey.generate()

    @property
    def known(self) -> team.KnownAuthor:
        return team.KnownAuthor("colleague", self.signing.public_key)


def note(author: Colleague, text: str, to: list[Colleague]) -> bytes:
    """A real team record, a note, signed by `author` and sealed to `to`."""
    doc = team.new_record(kind="note", case=CASE, author=author.signing.public_key,
                          parents=(), body={"text": text}, time="2026-12-01T18:00:00Z")
    recipients = [c.key.public_key for c in to]
    return team.seal_record(team.sign_record(doc, author.signing, recipients), recipients)


def outbox(path: Path, reviewers: list[PublicKey], *, team_members: list[bytes],
           replies: Sequence[tuple[str, bytes]] = ()) -> Path:
    """A replies bundle as the reviewer's outbox makes it: (case, reply envelope) and
    team members."""
    day = db.today().isoformat()
    with atomic_output(path) as out:
        w = BundleWriter(out, "replies", created=day, recipients=reviewers)
        for case, envelope in replies:
            blob = new_id()
            w.add_member(blob, functools.partial(io.BytesIO, envelope))
            w.add_reply(new_id(), case, day, blob)
        for envelope in team_members:
            w.add_team(functools.partial(io.BytesIO, envelope))
        w.close()
    return path


def team_rows(app: Flask) -> list[TeamBlob]:
    with app.app_context():
        return list(db.session().scalars(select(TeamBlob).order_by(TeamBlob.id)).all())


def stored(app: Flask, blob_id: str) -> bytes:
    return appstate.STORE.get(app).read(blob_id)


def one_line_failure(output: str) -> None:
    assert output.startswith("Error: ")
    assert output.strip().count("\n") == 0 and "Traceback" not in output


@pytest.fixture
def pair() -> tuple[Colleague, Colleague]:
    return Colleague(), Colleague()


@BOTH_STORES
def test_import_stores_team_members_as_bare_envelopes(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    case, codename = new_applicant(app.test_client())
    reply = sealed_reply(case, new_id(), "hello", reply_key(app, codename).public_key,
                         [reviewer_key.public_key])
    records = [note(alice, "first", [alice, bob]), note(alice, "second", [alice, bob])]
    path = outbox(tmp_path / "out.bundle", [reviewer_key.public_key], team_members=records,
                  replies=[(case, reply)])
    manifest, _ = read_members(path, "replies")

    result = runner.invoke(args=["import-replies", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == ("Imported 1 new reply. Stored 2 team record(s) for the next "
                             "export.\n")

    rows = team_rows(app)
    assert len(rows) == 2
    # A row is its random id, the day received and the export mark: nothing else.
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine()).get_columns("team_blobs")}
    assert columns == {"id", "day", "exported_day"}
    assert all(r.day == db.today() and r.exported_day is None for r in rows)
    ids = {r.id for r in rows}
    assert not ids & set(manifest.team)  # fresh ids, not the bundle's member ids
    (reply_row,) = reply_rows(app)
    assert not ids & {reply_row.id, reply_row.blob_id, reply_row.applicant_id}
    # The stored bytes are exactly the envelopes.
    assert sorted(stored(app, i) for i in ids) == sorted(records)
    assert staging_files(app) == []


@BOTH_STORES
def test_an_envelope_already_stored_is_not_stored_again(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    one, two = note(alice, "one", [bob]), note(alice, "two", [bob])
    path = outbox(tmp_path / "a.bundle", [reviewer_key.public_key], team_members=[one, two])
    runner.invoke(args=["import-replies", str(path)])
    stored_ids = {r.id for r in team_rows(app)}
    again = runner.invoke(args=["import-replies", str(path)])
    assert again.output == ("Imported 0 new replies. Stored 0 team record(s) for the next "
                            "export (2 already stored).\n")
    assert {r.id for r in team_rows(app)} == stored_ids
    # Exported since, and a whole outbox again with one new envelope, one given twice.
    assert runner.invoke(args=["export", str(tmp_path / "x.bundle")]).exit_code == 0
    three = note(bob, "three", [alice])
    path = outbox(tmp_path / "b.bundle", [reviewer_key.public_key],
                  team_members=[one, two, three, three])
    result = runner.invoke(args=["import-replies", str(path)])
    assert "Stored 1 team record(s) for the next export (3 already stored)." in result.output
    rows = team_rows(app)
    assert len(rows) == 3 and len(store_files(app)) == 3
    (new,) = [r for r in rows if r.id not in stored_ids]
    assert stored(app, new.id) == three and new.exported_day is None


@BOTH_STORES
def test_a_bundle_of_team_members_only_is_imported(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    path = outbox(tmp_path / "out.bundle", [reviewer_key.public_key],
                  team_members=[note(bob, "only this", [alice])])
    result = runner.invoke(args=["import-replies", str(path)])
    assert result.output == "Imported 0 new replies. Stored 1 team record(s) for the next export.\n"
    assert len(team_rows(app)) == 1


@BOTH_STORES
def test_export_passes_team_records_on_once_and_all_of_them_again(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    case, _ = new_applicant(app.test_client())
    first = [note(alice, "one", [alice, bob]), note(alice, "two", [alice, bob])]
    runner.invoke(args=["import-replies", str(outbox(
        tmp_path / "a.bundle", [reviewer_key.public_key], team_members=first))])

    out1 = tmp_path / "1.bundle"
    result = runner.invoke(args=["export", str(out1)])
    assert result.exit_code == 0, result.output
    assert "1 case(s), 1 submission(s), 2 team record(s)" in result.output
    manifest, members = read_members(out1, "submissions")
    assert [c.case for c in manifest.cases] == [case]
    assert sorted(members[m] for m in manifest.team) == sorted(first)
    assert manifest.recipients == (reviewer_key.public_key,)
    # What bob receives opens and verifies as alice's note.
    opened = [team.open_record(members[m], [bob.key], [alice.known], day="2026-12-01",
                               cases={CASE}) for m in manifest.team]
    assert sorted(r.body["text"] for r in opened) == ["one", "two"]
    assert all(r.exported_day == db.today() for r in team_rows(app))

    nothing = runner.invoke(args=["export", str(tmp_path / "none.bundle")])
    assert "Nothing to export" in nothing.output and not (tmp_path / "none.bundle").exists()

    # A later record and no new submission: a bundle of that record alone.
    later = note(bob, "three", [alice, bob])
    runner.invoke(args=["import-replies", str(outbox(
        tmp_path / "b.bundle", [reviewer_key.public_key], team_members=[later]))])
    out2 = tmp_path / "2.bundle"
    result = runner.invoke(args=["export", str(out2)])
    assert result.exit_code == 0, result.output
    assert "0 case(s), 0 submission(s), 1 team record(s)" in result.output
    manifest, members = read_members(out2, "submissions")
    assert manifest.cases == () and [members[m] for m in manifest.team] == [later]
    # Nothing in it is sealed to the listed keys: they are the server's active keys.
    assert manifest.recipients == (reviewer_key.public_key,)

    everything = tmp_path / "all.bundle"
    result = runner.invoke(args=["export", "--all", str(everything)])
    assert "1 case(s), 1 submission(s), 3 team record(s)" in result.output
    manifest, members = read_members(everything, "submissions")
    assert sorted(members[m] for m in manifest.team) == sorted([*first, later])
    # --all keeps the first export's day.
    assert all(r.exported_day == db.today() for r in team_rows(app))


@BOTH_STORES
def test_purge_deletes_exported_team_records_after_their_retention(
        make_app, reviewer_key: PrivateKey, tmp_path: Path,
        pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    app = make_app(RETENTION_TEAM_DAYS=30)
    runner = app.test_cli_runner()
    records = [note(alice, str(n), [bob]) for n in range(4)]
    runner.invoke(args=["import-replies", str(outbox(
        tmp_path / "a.bundle", [reviewer_key.public_key], team_members=records))])
    assert runner.invoke(args=["export", str(tmp_path / "x.bundle")]).exit_code == 0
    old, boundary, fresh, waiting = (r.id for r in team_rows(app))
    with app.app_context():
        s = db.session()
        for blob_id, days in ((old, 31), (boundary, 30), (fresh, 1), (waiting, 400)):
            s.execute(update(TeamBlob).where(TeamBlob.id == blob_id)
                      .values(day=days_ago(days)))
        # Never exported: kept whatever its age, as submissions are.
        s.execute(update(TeamBlob).where(TeamBlob.id == waiting).values(exported_day=None))
        s.commit()

    line = runner.invoke(args=["purge"]).output
    assert line == ("Deleted 0 submission(s), 0 reply(ies), 0 applicant(s), 1 team record(s), "
                    "1 file(s) and 0 orphaned file(s).\n")
    assert {r.id for r in team_rows(app)} == {boundary, fresh, waiting}
    names = set(store_files(app))
    assert old not in names and {boundary, fresh, waiting} <= names
    assert runner.invoke(args=["purge"]).output.startswith(
        "Deleted 0 submission(s), 0 reply(ies), 0 applicant(s), 0 team record(s)")


@BOTH_STORES
def test_team_records_are_not_orphans_and_journal_recovery_keeps_them(
        make_app, reviewer_key: PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    app = make_app()
    runner = app.test_cli_runner()
    runner.invoke(args=["import-replies", str(outbox(
        tmp_path / "a.bundle", [reviewer_key.public_key],
        team_members=[note(alice, "kept", [bob])]))])
    (row,) = team_rows(app)
    store = appstate.STORE.get(app)
    # A dead worker's journal naming the committed team record and one it never committed.
    uncommitted = secrets.token_hex(16)
    put_stored(app, uncommitted, b"ciphertext no row names")
    dead = Path(app.config["DATA_DIR"]) / "staging" / "p999999-dead"
    dead.mkdir()
    (dead / ".intent-0123456789abcdef").write_text(f"{row.id}\n{uncommitted}\n")
    make_app(with_key=False)  # the next worker starting
    assert not dead.exists()
    assert store.has(row.id) and not store.has(uncommitted)

    # Past the orphan sweep's grace period, a team record with its row stays.
    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: time.time() + 3 * 86400))
    assert runner.invoke(args=["purge"]).output.endswith("and 0 orphaned file(s).\n")
    assert store.has(row.id)


def _with_team_member(data: bytes, index: int, member: bytes) -> bytes:
    """The bundle with its team member `index` replaced by `member` (manifest digests
    recomputed): what a writer that skipped the checks would make."""
    head = len(bundle.MAGIC)
    length = bundle.LENGTH.unpack(data[head:head + 4])[0]
    manifest = json.loads(data[head + 4:head + 4 + length])
    body = data[head + 4 + length + bundle.DIGEST_BYTES:]
    members: list[bytes] = []
    for entry in manifest["members"]:
        members.append(body[:entry["length"]])
        body = body[entry["length"]:]
    changed = copy.deepcopy(manifest)
    target = manifest["team"][index]
    for i, entry in enumerate(changed["members"]):
        if entry["id"] == target:
            members[i] = member
            entry["length"] = len(member)
            digest = bundle.speed.member_hash()
            digest.update(member)
            entry["blake2b"] = digest.hexdigest()
    text = bundle.canonical_json(changed)
    prefix = bundle.MAGIC + bundle.LENGTH.pack(len(text)) + text
    return prefix + bundle.manifest_digest(prefix) + b"".join(members)


@BOTH_STORES
@pytest.mark.parametrize("bad", [
    b"RFGENV\x00\x01\x00" + bytes(300),           # a recipient count of 0
    b"RFGENV\x00\x01\x01" + bytes(40),            # ends inside its one stanza
    b"RFGENV\x00\x02\x01" + bytes(300),           # another envelope version
], ids=["no-stanza", "cut-header", "version-2"])
def test_a_bad_team_member_refuses_the_whole_bundle(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        pair: tuple[Colleague, Colleague], bad: bytes) -> None:
    alice, bob = pair
    case, codename = new_applicant(app.test_client())
    reply = sealed_reply(case, new_id(), "hello", reply_key(app, codename).public_key,
                         [reviewer_key.public_key])
    good = outbox(tmp_path / "good.bundle", [reviewer_key.public_key],
                  team_members=[note(alice, "a", [bob]), note(alice, "b", [bob])],
                  replies=[(case, reply)]).read_bytes()
    path = tmp_path / "bad.bundle"
    path.write_bytes(_with_team_member(good, 1, bad))
    store_before = store_files(app)

    result = runner.invoke(args=["import-replies", str(path)])
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    one_line_failure(result.output)
    assert team_rows(app) == [] and reply_rows(app) == []
    assert store_files(app) == store_before and staging_files(app) == []


@BOTH_STORES
def test_a_team_member_is_checked_by_the_server_itself(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, pair: tuple[Colleague, Colleague]) -> None:
    """Not on the bundle reader's word alone: with its header check switched off, the
    server's own reading of the stanzas still refuses a bad team member."""
    alice, bob = pair
    good = outbox(tmp_path / "good.bundle", [reviewer_key.public_key],
                  team_members=[note(alice, "a", [bob])]).read_bytes()
    path = tmp_path / "bad.bundle"
    path.write_bytes(_with_team_member(good, 0, b"RFGENV\x00\x01\x00" + bytes(300)))
    monkeypatch.setattr(bundle.members.Recipients, "member",
                        lambda self, member_id, head, team=False: None)
    store_before = store_files(app)
    result = runner.invoke(args=["import-replies", str(path)])
    assert result.exit_code == 1 and "is not a readable envelope" in result.output
    one_line_failure(result.output)
    assert team_rows(app) == [] and store_files(app) == store_before


def _forms(canary: str) -> list[bytes]:
    """The canary as bytes in the encodings a careless store or log might use."""
    raw = canary.encode()
    # Base64 of the canary at each of the three alignments it could start at,
    # without the characters its neighbours would change.
    b64 = [base64.b64encode(bytes(k) + raw)[4 if k else 0:-4] for k in range(3)]
    return [raw, raw.lower(), canary.encode("utf-16-le"), canary.encode("utf-16-be"),
            *b64, raw.hex().encode()]


@BOTH_STORES
def test_a_canary_in_a_note_reaches_no_file_of_the_server(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        backend: str, store_kind: str, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str], pair: tuple[Colleague, Colleague]) -> None:
    alice, bob = pair
    canary = "CANARY-NOTE-" + secrets.token_hex(8)
    case, codename = new_applicant(app.test_client())
    reply = sealed_reply(case, new_id(), "hello", reply_key(app, codename).public_key,
                         [reviewer_key.public_key])
    record = note(alice, f"Called the PEN centre about {canary}.\nThey know her.", [alice, bob])
    # The canary is really in the record: bob opens it.
    opened = team.open_record(record, [bob.key], [alice.known], day="2026-12-01", cases={CASE})
    assert canary in opened.body["text"]

    path = outbox(tmp_path / "out.bundle", [reviewer_key.public_key], team_members=[record],
                  replies=[(case, reply)])
    results = [runner.invoke(args=["import-replies", str(path)]),
               runner.invoke(args=["export", str(tmp_path / "1.bundle")]),
               runner.invoke(args=["export", "--all", str(tmp_path / "2.bundle")])]
    assert all(r.exit_code == 0 for r in results), [r.output for r in results]
    manifest, members = read_members(tmp_path / "2.bundle", "submissions")
    assert [members[m] for m in manifest.team] == [record]

    data_dir = Path(app.config["DATA_DIR"])
    scanned = 0
    for file in data_dir.rglob("*"):
        if not file.is_file():
            continue
        try:
            content = file.read_bytes()
        except FileNotFoundError:
            continue  # gone since the listing (SQLite's -wal/-shm as a pool closes)
        scanned += 1
        for form in _forms(canary):
            assert form not in content, (file, form)
    for blob_id in store_files(app):  # in store/ (scanned above) or in the bucket
        content = appstate.STORE.get(app).read(blob_id)
        scanned += store_kind == "s3"
        for form in _forms(canary):
            assert form not in content, (blob_id, form)
    assert scanned >= 5  # stored envelopes (answers, reply, team record), secret, salt
    if backend == "sqlite":
        assert (data_dir / "intake.sqlite3").is_file()
    with app.app_context(), db.engine().connect() as conn:
        for table in Base.metadata.sorted_tables:
            dumped = repr(conn.execute(table.select()).all())
            assert canary not in dumped, table.name
    assert canary not in caplog.text
    assert all(canary not in r.output for r in results)
    out, err = capfd.readouterr()
    assert canary not in out and canary not in err


@BOTH_STORES
def test_a_failed_commit_stores_no_team_record(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, pair: tuple[Colleague, Colleague]) -> None:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    alice, bob = pair
    path = outbox(tmp_path / "out.bundle", [reviewer_key.public_key],
                  team_members=[note(alice, "a", [bob])])
    store_before = store_files(app)

    def fail(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", fail)
    result = runner.invoke(args=["import-replies", str(path)])
    monkeypatch.undo()
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert team_rows(app) == [] and store_files(app) == store_before
    assert staging_files(app) == []


@pytest.mark.parametrize("value", ["0", "-3", "a year"])
def test_the_team_retention_is_validated(value: str) -> None:
    with pytest.raises(ConfigError, match="INTAKE_RETENTION_TEAM_DAYS"):
        defaults_from_env({"INTAKE_RETENTION_TEAM_DAYS": value})


def test_the_team_retention_comes_from_the_environment() -> None:
    assert defaults_from_env({})["RETENTION_TEAM_DAYS"] == 365
    assert defaults_from_env({"INTAKE_RETENTION_TEAM_DAYS": "30"})["RETENTION_TEAM_DAYS"] == 30


def test_rows_name_nothing_but_themselves() -> None:
    """The model holds no foreign key, no case, no reply, no size: nothing to join on."""
    table = TeamBlob.__table__
    assert {c.name for c in table.columns} == {"id", "day", "exported_day"}
    assert not table.foreign_keys
