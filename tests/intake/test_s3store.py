"""The bucket store (intake/s3store.py) against a real S3 endpoint: what a bucket adds.

The store protocol's ordinary paths (submission, follow-up, replies, export,
purge, recovery, the canary scan) run on both stores in the modules that mark
themselves BOTH_STORES. Here: multipart uploads and their journal, what a
refused bucket says, the bucket unreachable at start, which request bodies are
hashed into their signature, which staged files are synced, and the connection cut
in the middle of a 50 MB upload by a proxy (moto keeps its data in memory, so
stopping it would prove nothing). These run on SQLite, as the bucket does in
BOTH_STORES (tests/intake/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from bench.s3_server import S3Server
from crypto import atomic
from intake import appstate, create_app, retention, s3store, storage
from intake.config import ConfigError
from intake.s3store import UPLOAD_NOTE, S3Store
from intake.storage import INTENT_PREFIX, LOCK_NAME, StagedEnvelope, StagingArea
from tests.harness.gunicorn_intake import free_port
from tests.harness.s3_server import Bucket, CuttingProxy

from .conftest import SQLITE_ONLY
from .helpers import (
    answers,
    apply,
    codename_of,
    counts,
    csrf,
    files,
    multipart,
    opened_submissions,
    staging_files,
    store_files,
)

MIB = 1024 * 1024
DAY = dt.date(2026, 3, 14)


class RecordingSession:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def flush(self) -> None:
        self.calls.append("flush")

    def commit(self) -> None:
        self.calls.append("commit")

    def rollback(self) -> None:
        self.calls.append("rollback")


@pytest.fixture
def bucket_store(fresh_bucket: Bucket, tmp_path: Path) -> S3Store:
    return S3Store.from_config(fresh_bucket.url, {"S3_ENDPOINT_URL": fresh_bucket.endpoint},
                               StagingArea(tmp_path / "staging"))


def journal(store: S3Store) -> list[str]:
    lines: list[str] = []
    for p in store.staging.dir.iterdir():
        if p.name.startswith(INTENT_PREFIX):
            lines.extend(p.read_text("ascii").split("\n"))
    return [line for line in lines if line]


def stage(store: S3Store, size: int) -> tuple[str, Path, bytes]:
    path = store.staging.new_path()
    data = os.urandom(size)
    path.write_bytes(data)
    return secrets.token_hex(16), path, data


class PausingBody(io.RawIOBase):
    """A request body that stops at `pause_at` until `until()` holds (or 30 s), then goes on.

    With `then_end`, it ends there instead: the applicant went away mid-body.
    Lets a test see what the server does while a body is still arriving.
    """

    def __init__(self, data: bytes, pause_at: int, until: Callable[[], bool],
                 *, then_end: bool = False) -> None:
        super().__init__()
        self.data = data
        self.pos = 0
        self.pause_at = pause_at
        self.until = until
        self.then_end = then_end
        self.waited: bool | None = None  # whether `until` held before the time ran out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # the test client measures the body before sending it

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self.pos = pos if whence == os.SEEK_SET else len(self.data) + pos
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self.pos == self.pause_at and self.waited is None:
            deadline = time.monotonic() + 30
            while not (held := self.until()) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.waited = held
            if self.then_end:
                return 0
        end = len(self.data) if self.pos >= self.pause_at else self.pause_at
        n = min(len(view), end - self.pos)
        view[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def apply_pausing(client: FlaskClient, attachment: bytes, pause_after: int,
                  until: Callable[[], bool], *, then_end: bool = False
                  ) -> tuple[TestResponse, PausingBody]:
    """An application with one attachment whose body pauses `pause_after` bytes into it."""
    fields = {**answers(), "csrf_token": csrf(client, "/apply"),
              "attachments": files((attachment, "scan.pdf", "application/pdf"))}
    data, ctype = multipart(fields)
    start = data.index(attachment[:64])
    body = PausingBody(data, start + pause_after, until, then_end=then_end)
    response = client.post("/apply", input_stream=body, content_length=len(data),
                           content_type=ctype)
    return response, body


def parts_sent(bucket: Bucket) -> int:
    """How many parts the bucket holds of its unfinished uploads."""
    client = bucket.client()
    uploads = client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    return sum(len(client.list_parts(Bucket=bucket.name, Key=u["Key"], UploadId=u["UploadId"])
                   .get("Parts", [])) for u in uploads)


@pytest.fixture
def finished(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The plaintext size of each staged envelope finished (each body part received whole)."""
    seen: list[int] = []
    real = StagedEnvelope.finish

    def finish(self: StagedEnvelope) -> None:
        real(self)
        seen.append(self.plaintext_size)

    monkeypatch.setattr(StagedEnvelope, "finish", finish)
    return seen


@SQLITE_ONLY
def test_parts_go_up_while_the_body_arrives(
        make_app, fresh_bucket: Bucket, reviewer_key: Any, finished: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each full part is in the bucket before the body has ended; `place` sends the last."""
    monkeypatch.setattr(s3store, "PART_SIZE", 5 * MIB)
    monkeypatch.setattr(storage, "WRITEBACK_STEP", MIB)
    app = make_app(MAX_CONTENT_LENGTH=64 * MIB, **fresh_bucket.config())
    bodies: list[object] = []
    store = appstate.STORE.get(app)
    assert isinstance(store, S3Store)
    real_upload_part = store.client.upload_part

    def upload_part(**kwargs: Any) -> Any:
        bodies.append(kwargs["Body"])
        return real_upload_part(**kwargs)

    monkeypatch.setattr(store.client, "upload_part", upload_part)
    big = os.urandom(23 * MIB)
    # Paused 16 MiB in: three full parts are written, and they go up now.
    response, body = apply_pausing(app.test_client(), big, 16 * MIB,
                                   lambda: parts_sent(fresh_bucket) >= 3)
    assert body.waited is True
    assert response.status_code == 200
    assert len(finished) == 2 and finished[0] == len(big)  # the attachment, then the answers
    assert len(bodies) == 5  # 23 MiB and a little: four full parts, then the last
    assert not any(isinstance(b, bytes | bytearray) for b in bodies)  # read from the file
    (doc,) = opened_submissions(app, reviewer_key)
    assert list(doc["_files"].values()) == [big]
    assert fresh_bucket.uploads() == [] and staging_files(app) == []
    assert len(fresh_bucket.keys()) == 2


@SQLITE_ONLY
def test_a_body_abandoned_mid_way_leaves_no_object_and_no_upload(
        make_app, fresh_bucket: Bucket, finished: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3store, "PART_SIZE", 5 * MIB)
    monkeypatch.setattr(storage, "WRITEBACK_STEP", MIB)
    app = make_app(MAX_CONTENT_LENGTH=64 * MIB, **fresh_bucket.config())
    # The applicant goes away 12 MiB into 30 MiB, once the bucket holds parts of it.
    response, body = apply_pausing(app.test_client(), os.urandom(30 * MIB), 12 * MIB,
                                   lambda: parts_sent(fresh_bucket) >= 2, then_end=True)
    assert body.waited is True
    assert response.status_code == 400 and finished == []
    assert counts(app) == (0, 0, 0)
    assert fresh_bucket.uploads() == [] and fresh_bucket.keys() == []
    assert staging_files(app) == []  # the staged file, and the upload's note, gone


def test_a_large_envelope_goes_in_parts_journalled_until_complete(
        bucket_store: S3Store, fresh_bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3store, "PART_SIZE", 5 * MIB)  # S3's smallest part
    small = stage(bucket_store, 1000)
    large = stage(bucket_store, 12 * MIB + 7)
    seen: list[list[str]] = []
    real_upload_part = bucket_store.client.upload_part

    def upload_part(**kwargs: Any) -> Any:
        seen.append(journal(bucket_store))
        # The part is read from the staged file as it is sent, never given whole.
        assert not isinstance(kwargs["Body"], bytes | bytearray)
        return real_upload_part(**kwargs)

    monkeypatch.setattr(bucket_store.client, "upload_part", upload_part)
    session = RecordingSession()
    with bucket_store.committing(cast(Session, session), [small[:2], large[:2]], DAY):
        pass
    assert session.calls == ["flush", "commit"]
    assert len(seen) == 3  # three parts
    upload_ids = {line for lines in seen for line in lines if line.startswith(UPLOAD_NOTE)}
    assert len(upload_ids) == 1 and f"{UPLOAD_NOTE} {large[0]} " in upload_ids.pop()
    assert all(small[0] in lines and large[0] in lines for lines in seen)  # the intent too
    assert fresh_bucket.keys() == sorted(f"envelopes/{b}" for b in (small[0], large[0]))
    assert fresh_bucket.read(f"envelopes/{large[0]}") == large[2]
    assert bucket_store.read(small[0]) == small[2]
    assert fresh_bucket.uploads() == []
    assert journal(bucket_store) == []  # intent and note cleared
    assert [p.name for p in bucket_store.staging.dir.iterdir()] == [LOCK_NAME]  # staged files gone
    # Object names carry the blob id only; no metadata.
    head = fresh_bucket.client().head_object(Bucket=fresh_bucket.name, Key=f"envelopes/{small[0]}")
    assert head.get("Metadata") == {}


def test_recovery_aborts_journalled_uploads_and_removes_uncommitted_objects(
        bucket_store: S3Store, fresh_bucket: Bucket, tmp_path: Path) -> None:
    client = fresh_bucket.client()
    half, whole, kept = (secrets.token_hex(16) for _ in range(3))
    upload = client.create_multipart_upload(Bucket=fresh_bucket.name, Key=f"envelopes/{half}")
    client.upload_part(Bucket=fresh_bucket.name, Key=f"envelopes/{half}", PartNumber=1,
                       UploadId=upload["UploadId"], Body=b"x" * 1000)
    for blob_id in (whole, kept):
        client.put_object(Bucket=fresh_bucket.name, Key=f"envelopes/{blob_id}", Body=b"c")
    dead = tmp_path / "staging" / "p999999-dead"
    dead.mkdir()
    (dead / LOCK_NAME).touch()
    (dead / f"{INTENT_PREFIX}0").write_text(f"{half}\n{whole}\n{kept}\n")
    (dead / f"{INTENT_PREFIX}1").write_text(f"{UPLOAD_NOTE} {half} {upload['UploadId']}\n")
    assert fresh_bucket.uploads() == [f"envelopes/{half}"]

    bucket_store.recover(lambda ids: {kept})

    assert fresh_bucket.uploads() == []
    assert fresh_bucket.keys() == [f"envelopes/{kept}"]
    assert not dead.exists()


@SQLITE_ONLY
def test_purge_aborts_only_uploads_older_than_the_grace_period(
        make_app, fresh_bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(**fresh_bucket.config())
    stray = secrets.token_hex(16)
    client = fresh_bucket.client()
    client.create_multipart_upload(Bucket=fresh_bucket.name, Key=f"envelopes/{stray}")
    # moto dates every upload 2010-11-10T20:48:33Z whenever it began; the purge goes
    # by the date the bucket gives, so its clock is set from that date.
    (listed,) = client.list_multipart_uploads(Bucket=fresh_bucket.name)["Uploads"]
    initiated = listed["Initiated"].timestamp()
    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: initiated + 3600))
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0 and "unfinished" not in result.output
    assert fresh_bucket.uploads() == [f"envelopes/{stray}"]  # perhaps being uploaded now

    monkeypatch.setattr(retention, "time", SimpleNamespace(time=lambda: initiated + 3 * 86400))
    result = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
    assert "would abort 1 unfinished upload(s)" in result.output
    assert fresh_bucket.uploads() == [f"envelopes/{stray}"]
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0 and "aborted 1 unfinished upload(s)" in result.output
    assert fresh_bucket.uploads() == []


@pytest.mark.parametrize("refusal", ["versioning", "suspended", "object lock"])
def test_a_bucket_that_keeps_old_versions_is_refused_in_one_line(
        fresh_bucket: Bucket, s3_server: S3Server, data_dir: Path, refusal: str) -> None:
    client = fresh_bucket.client()
    name = fresh_bucket.name
    if refusal == "object lock":
        name = "t-locked-" + secrets.token_hex(4)
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if refusal == "suspended":
            client.put_bucket_versioning(Bucket=name,
                                         VersioningConfiguration={"Status": "Suspended"})
    with pytest.raises(ConfigError) as refused:
        create_app({"DATA_DIR": data_dir, "STORE_URL": f"s3://{name}/envelopes",
                    "S3_ENDPOINT_URL": fresh_bucket.endpoint})
    line = str(refused.value)
    assert "\n" not in line and name in line and refusal.split()[-1] in line
    assert "purge" in line


def test_missing_credentials_name_the_variables(
        fresh_bucket: Bucket, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        create_app({"DATA_DIR": data_dir, **fresh_bucket.config()})


def test_a_missing_bucket_is_named(fresh_bucket: Bucket, data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="there is no bucket 'no-such-bucket'"):
        create_app({"DATA_DIR": data_dir, "STORE_URL": "s3://no-such-bucket/x",
                    "S3_ENDPOINT_URL": fresh_bucket.endpoint})


@SQLITE_ONLY
def test_unreachable_at_start_closes_intake_until_it_answers(
        make_app, fresh_bucket: Bucket, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nobody listens there during the first start
    caplog.set_level(logging.ERROR, "intake")
    app = make_app(STORE_URL=fresh_bucket.url, S3_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    assert "cannot be reached" in caplog.text and "intake is closed" in caplog.text
    client = app.test_client()
    for response in (client.get("/apply"), client.post("/apply", data={"name": "x"})):
        assert response.status_code == 503
        assert "Applications are closed" in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0)

    # The bucket answers again: the next request after the retry interval opens intake.
    proxy = CuttingProxy(fresh_bucket.server.port, 1 << 40, port=port)
    try:
        store = appstate.STORE.get(app)
        assert isinstance(store, S3Store)
        store._next_check = 0.0
        response = apply(client, attachments=files((b"evidence", "e.txt", "text/plain")))
        assert response.status_code == 200
        codename_of(response)
        assert counts(app)[1] == 1 and len(store_files(app)) == 2
    finally:
        proxy.close()


@SQLITE_ONLY
def test_the_store_cut_mid_upload(make_app, fresh_bucket: Bucket, reviewer_key: Any,
                                  finished: list[int], caplog: pytest.LogCaptureFixture) -> None:
    """50 MB through a proxy that resets each connection 10 MB in (a part is 16 MiB), then refuses all.

    The first part goes up while the body arrives, so the cut comes mid-body:
    the request stops there (no envelope is finished) and the applicant gets
    the full-disk "please try again" page; no row; the staged envelope is
    gone (only the upload's note is left in the journal, the bucket being
    unreachable); the next start aborts the upload. Then the same upload,
    with the bucket reachable, is stored whole.
    """
    proxy = CuttingProxy(fresh_bucket.server.port, 10 * MIB, down_after_cut=True)
    try:
        app = make_app(STORE_URL=fresh_bucket.url, S3_ENDPOINT_URL=proxy.endpoint,
                       MAX_CONTENT_LENGTH=64 * MIB, DRAIN_LIMIT=128 * MIB)
        store = appstate.STORE.get(app)
        assert isinstance(store, S3Store)
        big = os.urandom(50 * 1000 * 1000)

        def failed() -> bool:  # the bucket's failure is known to the upload under way
            return any(a._error is not None for a in list(store._ahead.values()))

        # The body waits 40 MB in until the part upload has failed, then goes on.
        response, body = apply_pausing(app.test_client(), big, 40 * MIB, failed)
        assert proxy.cuts == 1 and body.waited is True
    finally:
        proxy.close()
    assert finished == []  # stopped mid-body: the envelope was never finished
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "No room to store this right now" in page and "Please try again" in page
    assert "Traceback" not in page and "s3" not in page.lower()
    assert "the object store failed" in caplog.text
    assert counts(app) == (0, 0, 0)
    assert staging_files(app) != [] and all(p.name.startswith(INTENT_PREFIX)
                                            for p in staging_files(app))
    assert fresh_bucket.uploads() != []  # the bucket holds the upload begun

    # The worker dies (its staging lock goes with it); the next one starts, reaching the bucket.
    staging = appstate.STAGING.get(app)
    os.close(staging._lock_fd)
    again = make_app(with_key=False, MAX_CONTENT_LENGTH=64 * MIB, DRAIN_LIMIT=128 * MIB,
                     **fresh_bucket.config())
    assert fresh_bucket.keys() == [] and fresh_bucket.uploads() == []
    assert staging_files(again) == []

    response = apply(again.test_client(), attachments=files((big, "scan.pdf", "application/pdf")))
    assert response.status_code == 200
    (doc,) = opened_submissions(again, reviewer_key)
    assert list(doc["_files"].values()) == [big]
    assert fresh_bucket.uploads() == []


@SQLITE_ONLY
def test_the_store_failing_then_recovering_leaves_nothing(
        make_app, fresh_bucket: Bucket) -> None:
    """A reset mid-upload with the bucket still reachable: undone at once, no restart needed."""
    proxy = CuttingProxy(fresh_bucket.server.port, 10 * MIB)
    try:
        app: Flask = make_app(STORE_URL=fresh_bucket.url, S3_ENDPOINT_URL=proxy.endpoint,
                              MAX_CONTENT_LENGTH=64 * MIB, DRAIN_LIMIT=128 * MIB)
        big = os.urandom(50 * 1000 * 1000)
        response = apply(app.test_client(), attachments=files((big, "a.bin", "x/y")))
    finally:
        proxy.close()
    assert proxy.cuts >= 1 and response.status_code == 503
    assert counts(app) == (0, 0, 0)
    assert staging_files(app) == []
    assert fresh_bucket.keys() == [] and fresh_bucket.uploads() == []


@SQLITE_ONLY
def test_migrating_store_into_a_bucket_is_resumable_and_removes_only_when_asked(
        make_app, fresh_bucket: Bucket, reviewer_key: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A single host on store/, its environment already naming the endpoint.
    local = make_app(S3_ENDPOINT_URL=fresh_bucket.endpoint)
    for _ in range(2):
        apply(local.test_client(), attachments=files((os.urandom(3000), "a.bin", "x/y")))
    ids = store_files(local)
    assert len(ids) == 4
    runner = local.test_cli_runner()
    url = fresh_bucket.url

    first = runner.invoke(args=["store", "migrate", "--to", url])
    assert first.exit_code == 0, first.output
    assert "Copied 4 envelope(s)" in first.output and "Nothing was removed" in first.output
    assert fresh_bucket.keys() == [f"envelopes/{b}" for b in ids]
    # A copy cut short (different bytes) is found by its digest and copied again.
    fresh_bucket.client().put_object(Bucket=fresh_bucket.name, Key=f"envelopes/{ids[0]}",
                                     Body=b"half")
    again = runner.invoke(args=["store", "migrate", "--to", url])
    assert "Copied 1 envelope(s)" in again.output and "3 already there" in again.output
    assert store_files(local) == ids  # nothing removed

    # Removing local copies only once this server's store is the bucket.
    refused = runner.invoke(args=["store", "remove-local", "--to", url])
    assert refused.exit_code == 1 and "nothing was removed" in refused.output
    assert store_files(local) == ids

    moved = make_app(with_key=False, init=False, **fresh_bucket.config())
    done = moved.test_cli_runner().invoke(args=["store", "remove-local", "--to", url])
    assert done.exit_code == 0, done.output
    assert "Removed 4 local envelope(s)" in done.output
    assert list((Path(moved.config["DATA_DIR"]) / "store").iterdir()) == []
    docs = opened_submissions(moved, reviewer_key)
    assert len(docs) == 2 and all(len(d["_files"]) == 1 for d in docs)


def test_refused_credentials_name_the_variables(
        fresh_bucket: Bucket, data_dir: Path, tmp_path: Path) -> None:
    # A second moto_server that checks every request's key (none is known to it).
    checking = S3Server(tmp_path / "moto-auth.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    checking.start()
    try:
        with pytest.raises(ConfigError) as refused:
            create_app({"DATA_DIR": data_dir, "STORE_URL": "s3://any-bucket/x",
                        "S3_ENDPOINT_URL": checking.endpoint})
    finally:
        checking.stop()
    line = str(refused.value)
    assert "refused the credentials" in line and "AWS_ACCESS_KEY_ID" in line
    assert "AWS_SECRET_ACCESS_KEY" in line and "\n" not in line


@SQLITE_ONLY
def test_export_with_the_bucket_unreachable_is_one_line(
        make_app, fresh_bucket: Bucket, tmp_path: Path) -> None:
    proxy = CuttingProxy(fresh_bucket.server.port, 1 << 40)
    try:
        app = make_app(STORE_URL=fresh_bucket.url, S3_ENDPOINT_URL=proxy.endpoint)
        assert apply(app.test_client()).status_code == 200
    finally:
        proxy.close()
    result = app.test_cli_runner().invoke(args=["export", str(tmp_path / "x.bundle")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the object store failed")
    assert result.output.strip().count("\n") == 0 and "no bundle was written" in result.output
    assert not (tmp_path / "x.bundle").exists()


@pytest.mark.parametrize(("endpoint", "signed"), [
    (None, False),  # AWS's own endpoint, over HTTPS
    ("https://minio.internal:9000", False),
    ("http://127.0.0.1:9000", False),
    ("http://[::1]:9000", False),
    ("http://localhost:9000", False),
    ("http://minio.internal:9000", True),
    ("http://10.0.0.7:3900", True),
])
def test_a_body_is_hashed_into_its_signature_only_on_a_bare_wire(
        endpoint: str | None, signed: bool) -> None:
    assert s3store.payload_signing(endpoint) is signed


def test_bodies_go_unsigned_to_a_bucket_on_loopback(
        make_app, fresh_bucket: Bucket, reviewer_key: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over loopback no SHA-256 of the body is computed: the requests are signed, their bodies not."""
    monkeypatch.setattr(s3store, "PART_SIZE", 5 * MIB)
    monkeypatch.setattr(storage, "WRITEBACK_STEP", MIB)
    app = make_app(MAX_CONTENT_LENGTH=64 * MIB, **fresh_bucket.config())
    store = appstate.STORE.get(app)
    assert isinstance(store, S3Store)
    sent: list[tuple[str, str, bool]] = []

    def record(request: Any, **kwargs: Any) -> None:
        sent.append((kwargs["event_name"].rsplit(".", 1)[-1],
                     request.headers.get("x-amz-content-sha256", b"").decode(),
                     "Authorization" in request.headers))

    store.client.meta.events.register("before-send.s3", record)
    big = os.urandom(12 * MIB)
    response = apply(app.test_client(), attachments=files((big, "scan.pdf", "application/pdf")))
    assert response.status_code == 200
    bodies = [(op, payload) for op, payload, _signed in sent if op in ("UploadPart", "PutObject")]
    assert [op for op, _payload in bodies].count("UploadPart") == 3  # 12 MiB in 5 MiB parts
    assert bodies and all(payload == "UNSIGNED-PAYLOAD" for _op, payload in bodies)
    assert all(signed for _op, _payload, signed in sent)
    (doc,) = opened_submissions(app, reviewer_key)
    assert list(doc["_files"].values()) == [big]


@pytest.mark.parametrize("kind", ["local", "bucket"])
def test_staged_envelopes_are_synced_only_where_they_become_the_stored_file(
        make_app, request: pytest.FixtureRequest, reviewer_key: Any, kind: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The local store renames staged files into place: synced first. A bucket copies them:
    the object it confirmed is the durable copy, so only the journal is synced."""
    monkeypatch.setattr(s3store, "PART_SIZE", 5 * MIB)
    monkeypatch.setattr(storage, "WRITEBACK_STEP", MIB)
    config = request.getfixturevalue("fresh_bucket").config() if kind == "bucket" else {}
    app = make_app(MAX_CONTENT_LENGTH=64 * MIB, **config)
    synced: list[str] = []
    written_back: list[int] = []
    real_fsync = os.fsync
    real_writeback = atomic.start_writeback

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def start_writeback(fd: int, offset: int, length: int) -> None:
        written_back.append(length)
        real_writeback(fd, offset, length)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(storage, "start_writeback", start_writeback)
    big = os.urandom(12 * MIB)
    response = apply(app.test_client(), attachments=files((big, "scan.pdf", "application/pdf")))
    assert response.status_code == 200
    staging = str(appstate.STAGING.get(app).dir)
    staged = [p for p in synced if p.startswith(staging + "/")
              and not Path(p).name.startswith((INTENT_PREFIX, LOCK_NAME))]
    journal_synced = [p for p in synced if Path(p).name.startswith(INTENT_PREFIX)]
    assert journal_synced  # the intent (and a bucket's upload note) stay durable
    if kind == "local":
        assert len(staged) == 2 and written_back  # the attachment and the answers
    else:
        assert staged == [] and written_back == []
        assert len(journal_synced) == 2  # the intent, and the multipart upload's note
    (doc,) = opened_submissions(app, reviewer_key)
    assert list(doc["_files"].values()) == [big]
