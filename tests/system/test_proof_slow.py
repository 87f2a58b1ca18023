"""Proof against slow clients, on real gunicorn with the production configuration.

Two hundred connections send a request a byte at a time, some in the body
and some still in the headers, the shape of an attack that wants one of the
server's threads per connection. Meanwhile an applicant's pages answer
within 2 seconds and an application goes through; once the grace period is
over, every slow connection is dropped, and an upload that stalled part way
leaves nothing behind (intake/pacing.py, intake/gunicorn_worker.py).
Everything is on 127.0.0.1, with a fixed number of sockets, and stops by
itself.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import statistics
import threading
import time
from pathlib import Path

import pytest

from crypto.keys import PrivateKey
from tests.harness.gunicorn_intake import (
    IntakeServer,
    PartialUpload,
    Sent,
    prepare_data_dir,
    require_gunicorn,
    row_counts,
    send_application,
    staged_files,
    wait_for,
)

GRACE = 8
MIN_RATE = 512 * 1024  # high, so that a stalled upload is due within seconds, not minutes
BODY_TRICKLERS = 150
HEADER_TRICKLERS = 50


class Trickle:
    """Connections that each send one more byte every `every` seconds until the server closes them."""

    def __init__(self, port: int, every: float) -> None:
        self.every = every
        self.socks: list[socket.socket] = []
        for i in range(BODY_TRICKLERS + HEADER_TRICKLERS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            head = f"POST /apply HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            if i < BODY_TRICKLERS:  # headers done, then a 100 000-byte body, a byte at a time
                head += "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n-"
            else:  # a header that never ends
                head += "X-Padding: a"
            sock.sendall(head.encode())
            sock.setblocking(False)
            self.socks.append(sock)
        self.closed_by_server: set[socket.socket] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with selectors.DefaultSelector() as sel:
            for sock in self.socks:
                sel.register(sock, selectors.EVENT_READ)
            next_send = time.monotonic() + self.every
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    ready = key.fileobj
                    assert isinstance(ready, socket.socket)
                    try:
                        ready.recv(65536)  # an answer or the end: either way, closed
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    sel.unregister(ready)
                    self.closed_by_server.add(ready)
                if time.monotonic() >= next_send:
                    next_send += self.every
                    for sock in self.socks:
                        if sock not in self.closed_by_server:
                            with contextlib.suppress(OSError):
                                sock.send(b"a")

    def open_count(self) -> int:
        return len(self.socks) - len(self.closed_by_server)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.socks:
            sock.close()


def probe(server: IntakeServer) -> float:
    """Seconds for an applicant's `GET /` on a new connection (inf if it failed)."""
    start = time.monotonic()
    try:
        status, _ = server.get("/")
    except OSError:
        return float("inf")
    return time.monotonic() - start if status == 200 else float("inf")


@pytest.mark.slow
def test_two_hundred_slow_clients_do_not_take_the_server_down(tmp_path: Path) -> None:
    require_gunicorn()
    data_dir = tmp_path / "data"
    prepare_data_dir(data_dir, PrivateKey.generate())
    env = {"INTAKE_BODY_GRACE_SECONDS": str(GRACE), "INTAKE_BODY_MIN_RATE": str(MIN_RATE)}
    # threads=None: the production default number of threads.
    with IntakeServer(data_dir, tmp_path / "home", workers=2, threads=None, env=env) as server:
        stalled = PartialUpload(server, "stalled-upload", file_bytes=3 * 1024 * 1024)
        trickle = Trickle(server.port, every=1.0)
        started = time.monotonic()
        try:
            # Past the first 1 MiB block the app reads (intake/multipart.py), so part of
            # the file is encrypted to staging; then nothing more.
            stalled.send(1536 * 1024)
            wait_for(lambda: staged_files(data_dir), what="the stalled upload's staged file")

            # The 200 requests arrived at once; give their first reads a moment.
            time.sleep(1)
            # Every slow connection is still inside its grace period.
            held, held_at = trickle.open_count(), time.monotonic() - started
            latencies = []
            honest = None
            dropped_after = 0.0
            while time.monotonic() - started < GRACE + 20:
                latencies.append(probe(server))
                elapsed = time.monotonic() - started
                if honest is None:
                    honest = send_application(server, Sent("honest-applicant"))
                if not dropped_after and trickle.open_count() == 0:
                    dropped_after = elapsed
                if dropped_after and elapsed > dropped_after + 1:
                    break
                time.sleep(0.2)
            answer = stalled.answer()
        finally:
            trickle.close()
            stalled.close()
        log = server.log()

    assert max(latencies) <= 2, f"an applicant waited {max(latencies):.2f} s: {latencies}"
    assert statistics.median(latencies) < 0.5, latencies
    assert held_at < GRACE - 1, f"the test itself was too slow: {held_at:.1f} s"
    assert held == BODY_TRICKLERS + HEADER_TRICKLERS, "a slow connection was dropped inside its grace"
    assert honest is not None and honest.status == 200 and honest.codename
    assert 0 < dropped_after < GRACE + 15, f"not all dropped: {trickle.open_count()} left"
    # The stalled upload: answered (if it reads) and nothing of it kept.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert staged_files(data_dir) == []
    assert row_counts(data_dir) == (1, 1, 1)  # the honest applicant's answers only
    assert "stalled-upload" not in log and "honest-applicant" not in log
    # Dropping a slow client is not an error, and leaves no line per client.
    assert "TooSlow" not in log and "Dropped" not in log and "Socket error" not in log, log[-2000:]


@pytest.mark.slow
def test_clients_that_never_close_do_not_stall_accepting(tmp_path: Path) -> None:
    """Forty answered connections whose clients neither read nor close do not freeze the server.

    gunicorn's graceful close waits up to 2 s for the client to close, on the
    thread that accepts connections; the worker here does that wait on the
    request's own thread (intake/gunicorn_worker.py).
    """
    require_gunicorn()
    data_dir = tmp_path / "data"
    prepare_data_dir(data_dir, PrivateKey.generate())
    with IntakeServer(data_dir, tmp_path / "home", workers=1, threads=None) as server:
        lingering = []
        try:
            for _ in range(40):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                             "Connection: close\r\n\r\n".encode())
                lingering.append(sock)
            time.sleep(0.5)
            latencies = [probe(server) for _ in range(5)]
        finally:
            for sock in lingering:
                sock.close()
    assert max(latencies) <= 2, latencies
