"""The real intake server under gunicorn on loopback, and plain HTTP clients for it.

The proof tests (tests/test_proof_*.py) start gunicorn as a subprocess with
the production config, deploy/gunicorn.conf.py, serving tests/harness/proof_app.py on
a data directory prepared here (schema, one reviewer key). They talk to it
over real sockets with http.client or raw sockets, as Tor Browser would, and
then open the data directory as a reviewer would: the database for ids, the
store for envelopes, the reviewer's private key to decrypt them.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from crypto.envelope import decrypt_bytes
from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app, db
from intake.models import Applicant, Blob, Submission
from tests.harness.tools import missing, send_whole_then_read
from tests.intake.helpers import answers, files, multipart

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
CODENAME = re.compile(rb'id="codename">([^<]+)<')
COOKIE = re.compile(r"(intake_session=[^;]*)")


def require_gunicorn() -> None:
    """Skip locally, fail in CI, when gunicorn (in the test extra) is not installed."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        missing("gunicorn")


def database_url(data_dir: Path, url: str | None = None) -> str:
    """`url` (PostgreSQL, say), or the default SQLite file in the data directory."""
    return url or f"sqlite:///{data_dir / 'intake.sqlite3'}"


def prepare_data_dir(data_dir: Path, reviewer: PrivateKey, url: str | None = None) -> None:
    """A data directory with the schema and one active reviewer key, as an operator makes it."""
    app = create_app({"DATA_DIR": data_dir, "ARGON2_LIMITS": TEST_LIMITS, "DATABASE_URL": url})
    with app.app_context():
        db.create_schema(db.engine())
    result = app.test_cli_runner().invoke(
        args=["keys", "add", reviewer.public_key.to_text(), "--name", "proof reviewer"]
    )
    assert result.exit_code == 0, result.output
    db_engine = app.extensions["intake_engine"]
    db_engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class IntakeServer:
    """gunicorn + the intake app on 127.0.0.1; start(), stop(), kill the master or a worker."""

    def __init__(self, data_dir: Path, home: Path, workers: int = 2, threads: int | None = 8,
                 env: dict[str, str] | None = None) -> None:
        """`threads=None` keeps deploy/gunicorn.conf.py's default."""
        self.data_dir = data_dir
        self.home = home
        self.workers = workers
        self.threads = threads
        self.extra_env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "gunicorn.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("INTAKE_", "GUNICORN_", "PROOF_"))}
        env.update(
            HOME=str(self.home),
            INTAKE_DATA_DIR=str(self.data_dir),
            INTAKE_GUNICORN_BIND=f"127.0.0.1:{self.port}",
            INTAKE_GUNICORN_WORKERS=str(self.workers),
        )
        if self.threads is not None:
            env["INTAKE_GUNICORN_THREADS"] = str(self.threads)
        env.pop("XDG_RUNTIME_DIR", None)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30) -> IntakeServer:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Its own session: killing "the whole server" kills its process group.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
                 "tests.harness.proof_app:create()"],
                cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if len(self.worker_pids()) == self.workers and self.get("/")[0] == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("gunicorn did not start:\n" + self.log())
            time.sleep(0.1)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_all()
        self.proc = None

    def kill_all(self) -> None:
        """SIGKILL the master and every worker, as a power cut or `systemctl kill -s KILL` would."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def kill_master(self) -> list[int]:
        """SIGKILL the master only; returns the pids of the workers it leaves behind."""
        assert self.proc is not None
        orphans = self.worker_pids()
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None
        return orphans

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after ")".
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[1]) == self.proc.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str) -> tuple[int, bytes]:
        conn = self.connection(timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def __enter__(self) -> IntakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- an applicant --------------------------------------------------------------------------


@dataclass
class Sent:
    """What one applicant sent and what the server answered."""

    marker: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 0
    codename: str = ""


def form_page(server: IntakeServer, conn: http.client.HTTPConnection) -> tuple[str, str]:
    """GET /apply: the session cookie and the CSRF token in the form."""
    conn.request("GET", "/apply")
    response = conn.getresponse()
    page = response.read()
    assert response.status == 200, page[:500]
    cookie = COOKIE.search(response.getheader("Set-Cookie") or "")
    token = TOKEN.search(page)
    assert cookie and token, "no session cookie or CSRF token on /apply"
    return cookie.group(1), token.group(1).decode()


def application_body(token: str, marker: str,
                     attachments: Sequence[tuple[str, bytes]] = ()) -> tuple[bytes, str]:
    fields: dict[str, Any] = answers(name=marker, threat=f"threat of {marker}")
    fields["csrf_token"] = token
    specs = [(content, name, "application/octet-stream") for name, content in attachments]
    attached: list[FileStorage] = files(*specs)
    if attached:
        fields["attachments"] = attached
    return multipart(fields)


def send_application(server: IntakeServer, sent: Sent) -> Sent:
    """One applicant's visit: fetch the form, post it, read the codename page."""
    conn = server.connection()
    try:
        cookie, token = form_page(server, conn)
        body, ctype = application_body(token, sent.marker, sent.attachments)
        conn.request("POST", "/apply", body=body,
                     headers={"Content-Type": ctype, "Cookie": cookie})
        response = conn.getresponse()
        page = response.read()
        sent.status = response.status
        found = CODENAME.search(page)
        sent.codename = found.group(1).decode().strip() if found else ""
        return sent
    finally:
        conn.close()


# --- the reviewer's view of the data directory ----------------------------------------------


@dataclass
class Opened:
    """One stored submission, decrypted."""

    submission_id: str
    case: str
    document: dict[str, Any]
    attachments: dict[str, bytes]


def open_everything(data_dir: Path, key: PrivateKey, url: str | None = None) -> list[Opened]:
    """Decrypt every submission in the database from the store; fails on anything unreadable."""
    engine = db.make_engine(database_url(data_dir, url))
    store = data_dir / "store"
    out = []
    try:
        with engine.connect() as conn:
            subs = conn.execute(select(Submission.id, Submission.applicant_id,
                                       Submission.answers_blob_id)).all()
            blob_rows = conn.execute(select(Blob.id, Blob.submission_id, Blob.role)).all()
        by_submission: dict[str, list[str]] = {}
        for blob_id, sub_id, role in blob_rows:
            if role == "attachment":
                by_submission.setdefault(sub_id, []).append(blob_id)
        for sub_id, case, answers_blob in subs:
            doc = json.loads(decrypt_bytes((store / answers_blob).read_bytes(), [key]))
            assert doc["submission"] == sub_id and doc["case"] == case
            listed = [a["blob"] for a in doc["attachments"]]
            assert sorted(listed) == sorted(by_submission.get(sub_id, []))
            files_ = {blob: decrypt_bytes((store / blob).read_bytes(), [key]) for blob in listed}
            for a in doc["attachments"]:
                assert a["size"] == len(files_[a["blob"]])
            out.append(Opened(sub_id, case, doc, files_))
    finally:
        engine.dispose()
    return out


def row_counts(data_dir: Path, url: str | None = None) -> tuple[int, int, int]:
    engine = db.make_engine(database_url(data_dir, url))
    try:
        with engine.connect() as conn:
            return (
                len(conn.execute(select(Applicant.id)).all()),
                len(conn.execute(select(Submission.id)).all()),
                len(conn.execute(select(Blob.id)).all()),
            )
    finally:
        engine.dispose()


def store_names(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "store").iterdir()}


def staged_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "staging").rglob("*") if p.is_file() and p.name != ".lock"]


def staging_dirs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "staging").iterdir() if p.is_dir()]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PartialUpload:
    """An application with a large file whose body is sent part way, slowly, then left hanging.

    The connection stays open (as a slow Tor upload would) until `close()`.
    """

    def __init__(self, server: IntakeServer, marker: str, file_bytes: int) -> None:
        conn = server.connection()
        try:
            cookie, token = form_page(server, conn)
        finally:
            conn.close()
        self.body, ctype = application_body(token, marker, [("large.bin", os.urandom(file_bytes))])
        head = (
            f"POST /apply HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(self.body)}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        ).encode("latin-1")
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self.sock.sendall(head)
        self.sent = 0

    def send(self, upto: int, chunk: int = 256 * 1024, pause: float = 0.002) -> None:
        """Send the body up to byte `upto`, a chunk at a time with a pause between."""
        while self.sent < upto:
            part = self.body[self.sent:min(upto, self.sent + chunk)]
            self.sock.sendall(part)
            self.sent += len(part)
            time.sleep(pause)

    def answer(self) -> bytes:
        """Whatever the server sends before it closes the connection (b"" after a kill)."""
        data = bytearray()
        try:
            while part := self.sock.recv(65536):
                data += part
        except (ConnectionResetError, TimeoutError):
            pass
        return bytes(data)

    def close(self) -> None:
        self.sock.close()


def wait_for(condition: Any, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def staging_owner(path: Path) -> int:
    """The pid of the process writing a staged file (its directory is p<pid>-<random>)."""
    name = path.parent.name
    assert name.startswith("p"), name
    return int(name[1:].split("-", 1)[0])


@dataclass
class Answer:
    """An HTTP answer read off a raw socket after the whole request body was sent."""

    sent_all: bool
    raw: bytes

    @property
    def status(self) -> int:
        line = self.raw.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0

    @property
    def text(self) -> str:
        return self.raw.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


def post_whole_body_first(server: IntakeServer, path: str, body: bytes, ctype: str,
                          cookie: str = "") -> Answer:
    """POST `body`, all of it, before reading anything: what Firefox (Tor Browser) does.

    If the server answers early and closes, the sending fails with a reset and
    the browser shows "The connection was reset" instead of the page.
    """
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n"
    ).encode("latin-1")
    view = memoryview(body)
    pieces = (view[start:start + 1024 * 1024] for start in range(0, len(body), 1024 * 1024))
    return Answer(*send_whole_then_read(server.port, head, pieces, timeout=60))


def fresh_form(server: IntakeServer) -> tuple[str, str]:
    """A new applicant's session cookie and CSRF token."""
    conn = server.connection()
    try:
        return form_page(server, conn)
    finally:
        conn.close()
