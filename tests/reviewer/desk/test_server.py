"""The real waitress server: nothing spills to a temporary file, and `reviewer desk` itself.

waitress buffers request bodies over 512 KiB and responses over 1 MiB in temporary
files by default, and Werkzeug spools file uploads over 500 KB; either would be
plaintext here. These tests run the desk's own server (reviewer.desk.server) in a
thread with every tempfile entry point recorded, a 20 MB attachment saved through a
reader that takes its time, and large form posts, and then look in the temporary
directory too.
"""

from __future__ import annotations

import http.client
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.server_sim import APPLICATION, Applicant, submit, write_bundle
from reviewer.cli import cli
from reviewer.desk import Desk
from reviewer.desk.server import make_server, stop
from reviewer.home import Home
from tests.reviewer.desk.conftest import PASSPHRASE, World

BIG = 20 * 1024 * 1024


@contextmanager
def running(desk: Desk) -> Iterator[int]:
    server = make_server(desk, 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield desk.port
    finally:
        stop(server)
        thread.join(10)
        assert not thread.is_alive()


@pytest.fixture
def tempfiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """An empty temporary directory for the server, and every tempfile call made."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    calls: list[str] = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
        real = getattr(tempfile, name)

        def spy(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls.append(_name)
            return _real(*a, **kw)

        monkeypatch.setattr(tempfile, name, spy)
    return tmpdir, calls


def big_world(world: World) -> Applicant:
    """A fourth case whose one file is 20 MB."""
    big = Applicant()
    data = (b"\xff\xd8\xff\xe0" + os.urandom(1024)) * (BIG // 1028)
    submit(big, [world.public], day="2026-11-23", answers={**APPLICATION, "name": "Big"},
           files=[("video.jpg", "image/jpeg", data)])
    bundle = write_bundle(world.home_dir.parent / "big.bundle", [(big, big.submissions)],
                          [world.public])
    out = CliRunner().invoke(cli, ["import", "--home", str(world.home_dir), "--passphrase-file",
                                   str(world.pass_file), str(bundle)])
    assert out.exit_code == 0, out.output
    return big


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode()


def request(port: int, method: str, path: str, *, body: bytes = b"",
            headers: dict[str, str] | None = None) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Answer(r.status, dict(r.getheaders()), r.read())
    finally:
        conn.close()


def open_desk(desk: Desk, port: int) -> tuple[str, str]:
    """The cookie header, and a CSRF token."""
    r = request(port, "GET", f"/cases?token={desk.token}")
    assert r.status == 303
    cookie = r.headers["Set-Cookie"].split(";")[0]
    page = request(port, "GET", "/cases", headers={"Cookie": cookie}).text()
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found
    return cookie, found.group(1)


def slow_post(port: int, path: str, body: bytes, cookie: str) -> tuple[bytes, bytes]:
    """POST, then read the answer 64 KiB at a time with pauses: a slow reader."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
    )
    received = bytearray()
    time.sleep(0.5)  # the server has the whole answer to write before anything is read
    while True:
        select.select([sock], [], [], 10)
        chunk = sock.recv(64 * 1024)
        if not chunk:
            break
        received += chunk
        time.sleep(0.002)
    sock.close()
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    return head, rest


def test_nothing_spills_to_a_temporary_file(world: World, tempfiles: tuple[Path, list[str]]
                                            ) -> None:
    tmpdir, calls = tempfiles
    big = big_world(world)
    home = Home(world.home_dir)
    desk = Desk(home, home.unlock(PASSPHRASE))
    sub = big.submissions[0].record.submission
    with running(desk) as port:
        cookie, token = open_desk(desk, port)
        calls.clear()
        # A 20 MB attachment saved through a slow reader.
        head, data = slow_post(port, f"/cases/{big.case}/files/{sub}/1",
                               urllib.parse.urlencode({"csrf": token, "strip": "0"}).encode(),
                               cookie)
        assert b" 200 " in head.split(b"\r\n")[0], head
        assert b"Content-Disposition: attachment" in head
        assert len(data) >= BIG - 1028
        # A large form post (3 MB of search text) ...
        r = request(port, "POST", "/cases/search", body=urllib.parse.urlencode(
            {"csrf": token, "text": "x" * (3 * 1024 * 1024)}).encode(),
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200
        # ... and a 20 MB file upload (not a bundle: refused, after being read whole).
        boundary = "desk-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"bundle\";"
                f" filename=\"pickup.bundle\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + b"\x00" * BIG + f"\r\n--{boundary}--\r\n".encode()
        r = request(port, "POST", "/import", body=body, headers={
            "Cookie": cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert r.status == 400
        assert "Not imported" in r.text()
    assert calls == []
    assert list(tmpdir.iterdir()) == []


def test_a_request_over_the_limit_is_refused(world: World,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer.desk import server

    monkeypatch.setitem(server.WAITRESS, "max_request_body_size", 1024 * 1024)
    home = Home(world.home_dir)
    desk = Desk(home, home.unlock(PASSPHRASE))
    with running(desk) as port:
        cookie, token = open_desk(desk, port)
        try:
            r = request(port, "POST", "/cases/search", body=b"csrf=" + token.encode()
                        + b"&text=" + b"x" * (2 * 1024 * 1024),
                        headers={"Cookie": cookie,
                                 "Content-Type": "application/x-www-form-urlencoded"})
        except (BrokenPipeError, ConnectionResetError):
            return  # refused before the body was all sent
        assert r.status == 413


#: `reviewer desk` as a terminal starts it, with Ctrl-C delivered: a suite run in the
#: background of a non-interactive shell ignores SIGINT, and a child inherits that.
DESK = [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.default_int_handler);"
        " from reviewer.cli import main; main()", "desk"]


def ctrl_c(proc: subprocess.Popen[bytes]) -> bytes:
    """Press Ctrl-C; what the desk said on standard error once it stopped (killed if it does not)."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def test_reviewer_desk_command(world: World, tmp_path: Path) -> None:
    """`reviewer desk` asks once, prints the address, serves it, and stops on Ctrl-C."""
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmpdir")}
    (tmp_path / "tmpdir").mkdir()
    proc = subprocess.Popen(
        [*DESK, "--home", str(world.home_dir), "--no-browser", "--idle-minutes", "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((PASSPHRASE + "\n").encode())
        proc.stdin.close()
        proc.stdin = None
        line = proc.stdout.readline().decode()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/cases\?token=([\w-]+)", line)
        assert found, line
        port = int(found.group(1))
        assert "Ctrl-C" in proc.stdout.readline().decode()
        r = request(port, "GET", f"/cases?token={found.group(2)}")
        assert r.status == 303 and r.headers["Location"] == "/cases"
        cookie = r.headers["Set-Cookie"].split(";")[0]
        page = request(port, "GET", "/cases", headers={"Cookie": cookie}).text()
        assert world.a.case[:12] in page
    finally:
        err = ctrl_c(proc)
    assert proc.returncode == 0, err
    assert b"keys are forgotten" in err
    assert list((tmp_path / "tmpdir").iterdir()) == []


def test_listens_on_loopback_only(world: World) -> None:
    home = Home(world.home_dir)
    desk = Desk(home, home.unlock(PASSPHRASE))
    with running(desk) as port:
        assert port != 0
    server = make_server(desk, 0)
    try:
        assert server.socket.getsockname()[0] == "127.0.0.1"
    finally:
        server.close()


def test_reviewer_desk_opens_the_browser_at_the_printed_address(world: World,
                                                                tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    recorder = tmp_path / "browser.py"
    recorder.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {**os.environ, "BROWSER": f"{sys.executable} {recorder} %s"}
    proc = subprocess.Popen(
        [*DESK, "--home", str(world.home_dir), "--passphrase-file", str(world.pass_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        address = line.split(" at ", 1)[1].strip()
        deadline = time.monotonic() + 20
        while not (opened.exists() and opened.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text() == address
    finally:
        ctrl_c(proc)
    assert proc.returncode == 0
