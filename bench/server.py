"""A real intake server for the benchmarks: gunicorn with deploy/gunicorn.conf.py on loopback.

Why: the figures that matter (ingest speed, worker memory, applications per
second) depend on gunicorn's body reader, its threads and its process model,
which the Flask test client skips. Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

REPO = Path(__file__).resolve().parent.parent
TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
HOST = "127.0.0.1"

APPLICATION = {
    "name": "Bench Applicant",
    "contact": "signal: +00 000",
    "country": "SY",
    "profession": "poet",
    "profession_other": "",
    "languages": "Turkish, Kurdish",
    "work": "Poems about rivers. https://example.org/poems",
    "threat": "Charged in 2023 for a poem.",
    "situation": "In hiding.",
    "urgency": "weeks",
    "family": "",
    "references": "PEN",
    "acknowledge": "y",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def flask(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "INTAKE_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "intake", *args],
        env=env, cwd=REPO, check=True, capture_output=True, text=True,
    )
    return out.stdout


@dataclass
class Server:
    """A running gunicorn master on a fresh data directory with one reviewer key."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(data_dir: Path, pubkey: str, *, workers: int = 2, max_upload_mb: int = 25,
                 extra_env: dict[str, str] | None = None) -> Server:
    flask(data_dir, "init-db")
    flask(data_dir, "keys", "add", pubkey, "--name", "bench reviewer")
    port = free_port()
    env = {
        **os.environ,
        "INTAKE_DATA_DIR": str(data_dir),
        "INTAKE_GUNICORN_BIND": f"{HOST}:{port}",
        "INTAKE_GUNICORN_WORKERS": str(workers),
        "INTAKE_MAX_UPLOAD_MB": str(max_upload_mb),
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "intake:create_app()"],
        env=env, cwd=REPO,
    )
    server = Server(data_dir, port, proc)
    deadline = time.monotonic() + 30
    while True:
        try:
            status, _ = Client(port).get("/")
            if status == 200 and len(server.workers()) == workers:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            server.close()
            raise RuntimeError("the bench server did not start")
        time.sleep(0.1)
    # Every worker builds its app lazily on the first request; warm them all.
    for _ in range(workers * 4):
        Client(port).get("/apply")
    return server


@dataclass
class Client:
    """One applicant's browser: a cookie jar and a keep-alive connection."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    conn: http.client.HTTPConnection | None = None

    def _conn(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=600)
        return self.conn

    def _headers(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _finish(self) -> tuple[int, bytes]:
        response = self._conn().getresponse()
        body = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        if response.will_close:
            self.close()
        return response.status, body

    def get(self, path: str) -> tuple[int, bytes]:
        self._conn().request("GET", path, headers=self._headers())
        return self._finish()

    def token(self, path: str) -> str:
        status, body = self.get(path)
        found = TOKEN.search(body)
        if status != 200 or not found:
            raise RuntimeError(f"no CSRF token on {path} (status {status})")
        return found.group(1).decode()

    def post_form(self, path: str, fields: dict[str, str],
                  file: tuple[str, BinaryIO, int] | None = None) -> tuple[int, bytes]:
        """POST multipart/form-data, streaming `file` (field name, handle, size) from disk."""
        boundary = f"----bench{uuid.uuid4().hex}"
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        if file is not None:
            head += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{file[0]}"; '
                f'filename="sample.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode() if file is not None else f"--{boundary}--\r\n".encode()
        size = len(head) + (file[2] if file else 0) + len(tail)
        conn = self._conn()
        conn.putrequest("POST", path)
        for k, v in {**self._headers(),
                     "Content-Type": f"multipart/form-data; boundary={boundary}",
                     "Content-Length": str(size)}.items():
            conn.putheader(k, v)
        conn.endheaders()
        conn.send(head)
        if file is not None:
            for chunk in _chunks(file[1]):
                conn.send(chunk)
        conn.send(tail)
        return self._finish()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _chunks(handle: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk


def apply(client: Client, file: tuple[str, BinaryIO, int] | None = None) -> tuple[int, bytes]:
    fields = {**APPLICATION, "csrf_token": client.token("/apply")}
    return client.post_form("/apply", fields, file)


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (writing 5 to clear_refs, Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
