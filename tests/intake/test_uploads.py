"""The upload path: plaintext never at rest, all-or-nothing storage, oversize bodies."""

from __future__ import annotations

import gc
import io
import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Request
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server

from crypto.keys import PrivateKey
from intake import create_app, db
from intake.models import Base
from intake.storage import StagedEnvelope
from intake.upload import IntakeRequest

from .conftest import BOTH_STORES
from .helpers import (
    Clock,
    answers,
    apply,
    codename_of,
    counts,
    csrf,
    files,
    multipart,
    opened_submissions,
    post,
    put_stored,
    staging_files,
    store_files,
)
from .spooling import Spooled, SpoolWatch

MB = 1024 * 1024


def no_leftovers(app: Flask) -> None:
    assert counts(app) == (0, 0, 0)
    assert store_files(app) == []
    assert staging_files(app) == []


@BOTH_STORES
def test_canary_never_reaches_disk_logs_or_temp(
    make_app, reviewer_key: PrivateKey, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str], backend: str, spooling: SpoolWatch,
    store_kind: str, request: pytest.FixtureRequest,
) -> None:
    caplog.set_level("DEBUG")
    canary = "CANARY" + secrets.token_hex(8)
    app = make_app(MAX_CONTENT_LENGTH=16 * MB, PROPAGATE_EXCEPTIONS=False)
    # A temporary file on Linux may have no name (O_TMPFILE), so no scan of the
    # temp directory could find one afterwards: the watch refuses it as it is made.
    client = spooling.watch(app).test_client()
    data = {k: f"{canary} {v}" for k, v in answers().items() if k not in
            ("country", "profession", "urgency", "acknowledge")}
    # The place in the applicant's own words carries the canary too.
    data.update(country="other", country_other=f"{canary} Kurdistan", profession="other",
                urgency="weeks", acknowledge="y")
    big = (canary.encode() + b"\x00" * 1000) * 5300  # ~5 MB
    attachments = [
        (big, f"{canary}-big.bin", f"application/x-{canary}"),
        (canary.encode() * 10, f"{canary}.txt", "text/plain"),
    ]

    # 1. Invalid: files streamed, then the form is refused.
    invalid = dict(data, country="")
    response = apply(client, data=invalid, attachments=files(*attachments))
    assert response.status_code == 400

    # 2. Aborted: the body stops in the middle of the big file.
    body, ctype = multipart(dict(data, csrf_token=csrf(client, "/apply"),
                                 attachments=files(*attachments)))
    cut = body[: len(body) // 2]
    response = client.post("/apply", input_stream=io.BytesIO(cut), content_type=ctype,
                           content_length=len(body))
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0) and staging_files(app) == []

    # 3. Successful, then a follow-up.
    response = apply(client, data=data, attachments=files(*attachments))
    assert response.status_code == 200
    codename = codename_of(response)
    response = post(client, "/case", {
        "csrf_token": csrf(client, "/case"), "message": f"{canary} follow-up",
        "attachments": files((big, f"{canary}-again.bin", f"text/{canary}"))})
    assert response.status_code == 302
    assert counts(app) == (1, 2, 5)

    needle = canary.encode()
    data_dir = Path(app.config["DATA_DIR"])
    scanned = 0
    for path in data_dir.rglob("*"):
        if path.is_file():
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                continue  # gone since the listing (SQLite's -wal/-shm as a pool closes)
            scanned += 1
            assert needle not in content, f"canary in {path}"
            assert needle.lower() not in content.lower()
            assert codename.encode() not in content
    if store_kind == "s3":
        # The envelopes are in the bucket: read every object back, its name too.
        bucket = request.getfixturevalue("fresh_bucket")
        keys = bucket.keys()
        assert len(keys) == 5
        for key in keys:
            content = key.encode() + bucket.read(key)
            assert needle not in content and needle.lower() not in content.lower(), key
            assert codename.encode() not in content
        scanned += len(keys)
    if backend == "sqlite":
        assert scanned >= 6  # store files, database, secret, salt
        assert (data_dir / "intake.sqlite3").is_file()
    else:
        # The database is on the server: read every row of every table back.
        assert scanned >= 5  # store files, secret, salt
        with app.app_context(), db.engine().connect() as conn:
            for table in Base.metadata.sorted_tables:
                dumped = repr(conn.execute(table.select()).all())
                assert canary not in dumped and codename not in dumped, table.name

    assert spooling.seen == []
    assert canary not in caplog.text and codename not in caplog.text
    out, err = capfd.readouterr()
    assert canary not in out and canary not in err

    # And the reviewer can read all of it.
    docs = opened_submissions(app, reviewer_key)
    application = next(d for d in docs if d["kind"] == "application")
    assert application["answers"]["name"].startswith(canary)
    assert [a["name"] for a in application["attachments"]] == [f"{canary}-big.bin",
                                                                 f"{canary}.txt"]
    assert application["attachments"][0]["type"] == f"application/x-{canary}"
    assert application["_files"][application["attachments"][0]["blob"]] == big


def nameless(content: bytes) -> list[FileStorage]:
    """A file part with filename="" (what a browser sends for an empty file input)."""
    return [FileStorage(io.BytesIO(content), filename="", content_type="x/y")]


# Each way a file part can reach the parser: 1.2 MB is past Werkzeug's 500 KB
# spooling threshold; /signin reads at most 16 KB, so its part is smaller.
# Functions, since a file part can be read only once.
SPOOL_CASES: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
    "named file": lambda: ("/apply", {
        "attachments": files((b"y" * (2 * MB), "big.bin", "x/y"))}),
    "nameless part": lambda: ("/apply", {"attachments": nameless(b"n" * (1200 * 1024))}),
    "unexpected field": lambda: ("/apply", {
        "extra": files((b"e" * (1200 * 1024), "e.bin", "x/y"))}),
    "nameless unexpected field": lambda: ("/apply", {"extra": nameless(b"u" * (1200 * 1024))}),
    "route that takes no files": lambda: ("/signin", {
        "codename": "a b c d e f g", "f": files((b"z" * 15_000, "x.bin", "x/y"))}),
}


@pytest.mark.parametrize("case", SPOOL_CASES)
def test_default_spooling_is_never_used(app: Flask, spooling: SpoolWatch, case: str) -> None:
    client = spooling.watch(app).test_client()
    path, fields = SPOOL_CASES[case]()
    body = dict(answers() if path == "/apply" else {}, csrf_token=csrf(client, path), **fields)
    response = post(client, path, body)
    assert response.status_code == (200 if path == "/apply" else 400)
    assert spooling.seen == []
    kept = 1 if case == "named file" else 0  # only a named part under "attachments"
    if path == "/apply":
        assert counts(app) == (1, 1, 1 + kept)
    else:
        assert counts(app) == (0, 0, 0)
    assert staging_files(app) == []


def test_a_reply_delete_takes_no_files(app: Flask, spooling: SpoolWatch) -> None:
    client = spooling.watch(app).test_client()
    apply(client)
    response = post(client, "/case/replies/nothing/delete", {
        "csrf_token": csrf(client, "/case"), "f": files((b"d" * 15_000, "d.bin", "x/y"))})
    assert response.status_code == 302
    assert spooling.seen == [] and staging_files(app) == []


# Refused half way through its rollover, the spooled file is collected unclosed.
@pytest.mark.filterwarnings("ignore:Exception ignored in.*SpooledTemporaryFile.__del__"
                            ":pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("layer", ["stream factory", "audit hook"])
def test_the_spooling_watch_sees_werkzeugs_default(
        app: Flask, spooling: SpoolWatch, monkeypatch: pytest.MonkeyPatch, layer: str) -> None:
    # The watch above can fail: with Werkzeug's own stream for every part, a
    # nameless 1.2 MB part is caught as it is handed to Werkzeug's factory, and,
    # with the factories left alone, as the spooled file rolls over to disk.
    if layer == "audit hook":
        monkeypatch.undo()  # the real factories: only the audit hook is left
    monkeypatch.setattr(IntakeRequest, "_get_file_stream", Request._get_file_stream)
    client = spooling.watch(app).test_client()
    body = dict(answers(), csrf_token=csrf(client, "/apply"),
                attachments=nameless(b"n" * (1200 * 1024)))
    assert post(client, "/apply", body).status_code == 500  # the refusal, as an error page
    expected = "default_stream_factory" if layer == "stream factory" else "O_TMPFILE"
    if layer == "audit hook" and not hasattr(os, "O_TMPFILE"):
        expected = "mkstemp"  # TemporaryFile falls back to a named file and unlinks it
    assert len(spooling.seen) == 1 and expected in spooling.seen[0], spooling.seen
    assert counts(app) == (0, 0, 0)
    spooling.seen.clear()
    gc.collect()  # the half-rolled-over file goes now, under this test's filter


def test_the_spooling_watch_sees_an_unnamed_temporary_file(
        app: Flask, spooling: SpoolWatch, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    # Below every Python wrapper: an O_TMPFILE open (what TemporaryFile does on
    # Linux), a named temporary file, and a plain file written in the temp
    # directory are each seen, while the data directory stays allowed.
    monkeypatch.undo()  # the real tempfile functions, so only the audit hook is left
    made: list[str] = []

    def unnamed() -> None:
        with tempfile.TemporaryFile():
            pass

    def named() -> None:
        fd, _name = tempfile.mkstemp()
        os.close(fd)

    def plain() -> None:
        with open(os.path.join(tempfile.gettempdir(), f"spool-{os.getpid()}"), "wb"):
            pass

    def view() -> str:
        for make in (unnamed, named, plain):
            try:
                make()
            except Spooled as e:
                made.append(str(e))
        (Path(app.config["DATA_DIR"]) / "allowed").write_bytes(b"ciphertext")
        return "done"

    app.add_url_rule("/tmp-probe", view_func=view)
    assert spooling.watch(app).test_client().get("/tmp-probe").status_code == 200
    assert len(made) == 3 and len(spooling.seen) == 3, spooling.seen
    if hasattr(os, "O_TMPFILE"):
        assert "O_TMPFILE" in spooling.seen[0]
    assert "mkstemp" in spooling.seen[1]
    spooling.seen.clear()


def test_staged_files_are_ciphertext_while_streaming(app: Flask, client: FlaskClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    original = StagedEnvelope.finish

    def spy(self: StagedEnvelope) -> None:
        original(self)
        seen.append(self.path.read_bytes())

    monkeypatch.setattr(StagedEnvelope, "finish", spy)
    apply(client, attachments=files((b"PLAINTEXT-MARKER" * 50000, "a.bin", "x/y")))
    assert seen and all(b"PLAINTEXT-MARKER" not in s for s in seen)
    assert all(s.startswith(b"RFGENV") for s in seen)


@pytest.fixture
def failing_app(make_app):
    return make_app(PROPAGATE_EXCEPTIONS=False)


def test_disk_error_on_rename_leaves_nothing(failing_app: Flask,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    client = failing_app.test_client()
    calls = {"n": 0}
    real_replace = os.replace

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("intake.store.os.replace", flaky)
    two = files((b"a" * 1000, "a", "x/y"), (b"b" * 1000, "b", "x/y"))
    response = apply(client, attachments=two)
    # A full disk is named as such (intake.errors.disk_full), not a generic failure.
    assert response.status_code == 503
    assert "No room to store this" in response.get_data(as_text=True)
    assert "Nothing was stored" in response.get_data(as_text=True)
    assert calls["n"] == 2
    no_leftovers(failing_app)


def test_disk_error_while_streaming_leaves_nothing(failing_app: Flask,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = failing_app.test_client()
    real_write = StagedEnvelope.write
    written = {"n": 0}

    def full_disk(self: StagedEnvelope, data: bytes) -> int:
        written["n"] += len(data)
        if written["n"] > 300_000:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(StagedEnvelope, "write", full_disk)
    response = apply(client, attachments=files((b"a" * 100_000, "a", "x/y"),
                                               (b"b" * 1_000_000, "b", "x/y")))
    assert response.status_code == 503
    assert "No room to store this" in response.get_data(as_text=True)
    no_leftovers(failing_app)


def test_database_error_at_commit_leaves_nothing(failing_app: Flask,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    client = failing_app.test_client()

    def broken_commit(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    monkeypatch.setattr(Session, "commit", broken_commit)
    response = apply(client, attachments=files((b"a" * 1000, "a", "x/y")))
    assert response.status_code == 500
    monkeypatch.undo()
    no_leftovers(failing_app)


def test_abandoned_staging_is_cleaned_at_start(make_app) -> None:
    app = make_app()
    root = Path(app.config["DATA_DIR"]) / "staging"
    dead = root / "p999999-dead"
    dead.mkdir()
    (dead / "half-written").write_bytes(b"ciphertext of a crashed upload")
    live = app.extensions["intake_staging"].dir
    (live / "in-flight").write_bytes(b"another worker's upload")
    make_app(with_key=False)  # a second worker starting
    assert not dead.exists()
    assert (live / "in-flight").exists()  # a live process's staging is left alone


@BOTH_STORES
def test_interrupted_store_is_undone_at_start(make_app, reviewer_key: PrivateKey) -> None:
    # A worker killed between placing into the store and the commit leaves its
    # intent file; the next start removes the envelopes no row names, and only those.
    app = make_app()
    response = apply(app.test_client(), attachments=files((b"a" * 1000, "a", "x/y")))
    assert response.status_code == 200
    assert staging_files(app) == []  # the intent went with the commit
    committed = store_files(app)
    assert len(committed) == 2  # the answers and the attachment
    uncommitted = [secrets.token_hex(16) for _ in range(2)]
    for blob_id in uncommitted:
        put_stored(app, blob_id, b"ciphertext no row names")
    never_moved = secrets.token_hex(16)
    dead = Path(app.config["DATA_DIR"]) / "staging" / "p999999-dead"
    dead.mkdir()
    (dead / ".lock").touch()
    (dead / ".intent-0123456789abcdef").write_text(
        "\n".join([*committed, *uncommitted, never_moved]) + "\n")
    # A live worker's intent is its own business: its commit may be under way.
    live = app.extensions["intake_staging"]
    in_flight = secrets.token_hex(16)
    put_stored(app, in_flight, b"being committed by a live worker")
    live_intent = live.write_intent([in_flight])

    make_app(with_key=False)  # the next worker starting

    assert not dead.exists()
    assert store_files(app) == sorted([*committed, in_flight])
    assert live_intent.exists()
    assert counts(app)[1] == 1
    assert len(opened_submissions(app, reviewer_key)) == 1  # still whole and readable


@BOTH_STORES
def test_interrupted_store_waits_when_the_database_cannot_answer(
        make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    orphan = secrets.token_hex(16)
    put_stored(app, orphan, b"ciphertext no row names")
    dead = Path(app.config["DATA_DIR"]) / "staging" / "p999999-dead"
    dead.mkdir()
    (dead / ".intent-0123456789abcdef").write_text(orphan + "\n")

    def unreachable(_engine: object) -> object:
        def ask(_ids: object) -> set[str]:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return ask

    real = db.committed_blob_ids
    monkeypatch.setattr(db, "committed_blob_ids", unreachable)
    make_app(with_key=False, init=False)
    # Not knowing what committed, it removes nothing and keeps the journal.
    assert orphan in store_files(app)
    assert (dead / ".intent-0123456789abcdef").exists()
    monkeypatch.setattr(db, "committed_blob_ids", real)  # not undo(): the bucket's variables stay
    make_app(with_key=False, init=False)
    assert orphan not in store_files(app)
    assert not dead.exists()


# --- oversize bodies ----------------------------------------------------------


@pytest.fixture
def small_app(make_app):
    return make_app(MAX_CONTENT_LENGTH=1 * MB, DRAIN_LIMIT=4 * MB)


def test_oversize_upload_gets_a_readable_page(small_app: Flask) -> None:
    client = small_app.test_client()
    body, ctype = multipart(dict(answers(), csrf_token=csrf(client, "/apply"),
                                 attachments=files((b"z" * (2 * MB), "big.bin", "x/y"))))
    stream = io.BytesIO(body)
    response = client.post("/apply", input_stream=stream, content_type=ctype,
                           content_length=len(body))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "at most 1 MB" in html and "Nothing was stored" in html
    assert stream.tell() == len(body)  # drained, so a browser sees this page
    assert "Connection" not in response.headers
    no_leftovers(small_app)


def test_oversize_beyond_the_drain_bound_closes(small_app: Flask) -> None:
    client = small_app.test_client()
    body, ctype = multipart(dict(answers(), csrf_token=csrf(client, "/apply"),
                                 attachments=files((b"z" * (5 * MB), "big.bin", "x/y"))))
    stream = io.BytesIO(body)
    response = client.post("/apply", input_stream=stream, content_type=ctype,
                           content_length=len(body))
    assert response.status_code == 413
    assert response.headers["Connection"] == "close"
    assert stream.tell() < len(body)
    no_leftovers(small_app)


def test_oversize_text_answer(small_app: Flask) -> None:
    client = small_app.test_client()
    response = apply(client, data=answers(work="w" * 300_000))
    assert response.status_code == 413
    assert "KB of text in one answer" in response.get_data(as_text=True)
    no_leftovers(small_app)


def test_oversize_followup(small_app: Flask) -> None:
    client = small_app.test_client()
    apply(client)
    response = post(client, "/case", {"csrf_token": csrf(client, "/case"),
                                      "attachments": files((b"z" * (2 * MB), "b", "x/y"))})
    assert response.status_code == 413
    assert counts(small_app) == (1, 1, 1)


@pytest.fixture
def live_server(data_dir: Path, reviewer_key: PrivateKey) -> Iterator[int]:
    """The app behind Werkzeug's real HTTP server on 127.0.0.1; yields the port."""
    from crypto.params import TEST_LIMITS
    from intake import db

    app = create_app({"DATA_DIR": data_dir, "ARGON2_LIMITS": TEST_LIMITS,
                      "MAX_CONTENT_LENGTH": 1 * MB, "DRAIN_LIMIT": 8 * MB})
    with app.app_context():
        db.create_schema(db.engine())
    app.test_cli_runner().invoke(args=["keys", "add", reviewer_key.public_key.to_text(),
                                       "--name", "r"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)  # a reset here would fail the test
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_oversize_over_a_real_socket(live_server: int) -> None:
    body, ctype = multipart(dict(answers(), attachments=files((b"q" * (3 * MB), "f", "x/y"))))
    head = (f"POST /apply HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    reply = exchange(live_server, head + body)
    assert b" 413 " in reply.split(b"\r\n", 1)[0]
    assert b"at most 1 MB" in reply
    assert b"Content-Security-Policy: default-src 'none'" in reply


def test_oversize_chunked_over_a_real_socket(live_server: int) -> None:
    body, ctype = multipart(dict(answers(), attachments=files((b"q" * (3 * MB), "f", "x/y"))))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                      for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    head = (f"POST /apply HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    reply = exchange(live_server, head + chunks)
    assert b" 413 " in reply.split(b"\r\n", 1)[0]
    assert b"at most 1 MB" in reply


def test_stored_files_carry_the_day_not_the_time(app: Flask, client: FlaskClient) -> None:
    import datetime as dt

    apply(client, attachments=files((b"x" * 100, "a", "x/y")))
    for blob_id in store_files(app):
        path = Path(app.config["DATA_DIR"]) / "store" / blob_id
        stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        assert (stamp.hour, stamp.minute, stamp.second) == (0, 0, 0)
        assert stat_mode(path) == 0o600


def stat_mode(path: Path) -> int:
    import stat

    return stat.S_IMODE(path.stat().st_mode)


def test_followup_after_session_end_says_nothing_was_stored(make_app) -> None:
    clock = Clock()
    app = make_app(CLOCK=clock)
    client = app.test_client()
    apply(client)
    token = csrf(client, "/case")
    clock.advance(61 * 60)  # past the idle limit
    response = post(client, "/case", {"csrf_token": token, "message": "late",
                                      "attachments": files((b"x" * 5000, "f", "x/y"))})
    assert response.status_code == 302
    assert "was not stored" in client.get("/signin").get_data(as_text=True)
    assert counts(app) == (1, 1, 1) and staging_files(app) == []


def test_client_that_disconnects_mid_upload(live_server: int, data_dir: Path) -> None:
    body, ctype = multipart(dict(answers(), attachments=files((b"q" * 600_000, "f", "x/y"))))
    head = (f"POST /apply HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", live_server), timeout=20) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)  # the upload stops half way
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert b" 400 " in reply.split(b"\r\n", 1)[0]
    assert b"could not be understood" in reply
    leftovers = [p for p in (data_dir / "staging").rglob("*") if p.is_file() and p.name != ".lock"]
    assert leftovers == []
    assert list((data_dir / "store").iterdir()) == []


def test_file_parts_outside_the_attachments_field_are_not_kept(
    app: Flask, client: FlaskClient, reviewer_key: PrivateKey
) -> None:
    data = dict(answers(), csrf_token=csrf(client, "/apply"),
                extra=files((b"smuggled" * 1000, "x.bin", "x/y")),
                attachments=files((b"kept", "k.txt", "text/plain")))
    assert post(client, "/apply", data).status_code == 200
    assert counts(app) == (1, 1, 2) and staging_files(app) == []
    doc = opened_submissions(app, reviewer_key)[0]
    assert [a["name"] for a in doc["attachments"]] == ["k.txt"]


def test_signin_takes_no_files(app: Flask, client: FlaskClient) -> None:
    data = {"csrf_token": csrf(client, "/signin"), "codename": "a b c d e f g",
            "f": files((b"z" * 5000, "x.bin", "x/y"))}
    assert post(client, "/signin", data).status_code == 400
    assert staging_files(app) == [] and store_files(app) == []
