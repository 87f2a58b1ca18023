"""The deadline on requests that arrive too slowly (intake/pacing.py), and the app's answer to it.

The clock is passed in, so these run in milliseconds; the real server under
200 slow clients is tests/system/test_proof_slow.py.
"""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator

import pytest
from flask import Flask

from intake.pacing import DEFAULT_GRACE_SECONDS, DEFAULT_MIN_RATE, Pace, PacedSocket, TooSlow, pace_from_env

from .helpers import answers, counts, csrf, files, multipart, staging_files, store_files


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_a_byte_every_thirty_seconds_is_dropped_after_the_grace(pair) -> None:
    server, client = pair
    clock = Clock()
    paced = PacedSocket(server, Pace(min_rate=1024, grace=30), clock)
    paced.start_request()
    reads = 0
    with pytest.raises(TooSlow):
        while True:
            client.send(b"x")
            assert paced.recv(65536) == b"x"
            reads += 1
            clock.now += 29.9  # just under any fixed 30-second timeout, every time
    # Read at 0, 29.9: the grace covers those; at 59.8 it has 2 bytes, not 30 KiB.
    assert reads == 2
    assert paced.too_slow
    # Once dropped, it stays dropped, even if bytes arrive.
    client.send(b"y")
    with pytest.raises(TooSlow):
        paced.recv(1)


def test_an_honest_upload_that_stalls_keeps_its_credit(pair) -> None:
    server, client = pair
    clock = Clock()
    paced = PacedSocket(server, Pace(min_rate=1024, grace=30), clock)
    paced.start_request()
    # A stall at the start, inside the grace period.
    clock.now += 25
    client.send(b"h" * 500)
    assert len(paced.recv(65536)) == 500
    # Then 10 KB/s for a minute: 600 KB, about 600 s of credit at 1 KiB/s.
    for _ in range(60):
        client.send(b"b" * 10_000)
        got = b""
        while len(got) < 10_000:
            got += paced.recv(65536)
        clock.now += 1
    # A four-minute stall, then the rest.
    clock.now += 240
    client.send(b"end")
    assert paced.recv(65536) == b"end"


def test_the_wait_for_a_byte_is_bounded_by_the_deadline(pair) -> None:
    server, _client = pair
    # A real clock: nothing arrives, so the read fails when the grace ends (0.2 s), not never.
    paced = PacedSocket(server, Pace(min_rate=1024, grace=0.2))
    paced.start_request()
    with pytest.raises(TooSlow):
        paced.recv(10)
    assert server.gettimeout() is None  # the caller's blocking mode is restored


def test_a_callers_own_shorter_timeout_is_its_own(pair) -> None:
    server, _client = pair
    server.settimeout(0.05)
    paced = PacedSocket(server, Pace(min_rate=1024, grace=30))
    paced.start_request()
    with pytest.raises(TimeoutError) as raised:
        paced.recv(10)
    assert not isinstance(raised.value, TooSlow)
    assert not paced.too_slow
    assert server.gettimeout() == 0.05


def test_a_new_request_starts_a_new_clock(pair) -> None:
    server, client = pair
    clock = Clock()
    paced = PacedSocket(server, Pace(min_rate=1024, grace=30), clock)
    paced.start_request()
    client.send(b"GET / HTTP/1.1\r\n\r\n")
    paced.recv(100)
    clock.now += 3600  # kept alive for an hour (the poller's business, not this clock's)
    paced.start_request()
    client.send(b"GET / HTTP/1.1\r\n\r\n")
    assert paced.recv(100).startswith(b"GET")


def test_pace_from_the_environment() -> None:
    assert pace_from_env({}) == Pace(DEFAULT_MIN_RATE, DEFAULT_GRACE_SECONDS)
    env = {"INTAKE_BODY_MIN_RATE": "2048", "INTAKE_BODY_GRACE_SECONDS": "10"}
    assert pace_from_env(env) == Pace(2048, 10)
    for bad in ("0", "-1", "fast", "1.5"):
        with pytest.raises(ValueError, match="INTAKE_BODY_MIN_RATE"):
            pace_from_env({"INTAKE_BODY_MIN_RATE": bad})


class FallsBehind(io.BytesIO):
    """A request body that fails as PacedSocket does once `good` bytes were read."""

    def __init__(self, body: bytes, good: int) -> None:
        super().__init__(body)
        self.good = good

    def _allow(self, size: int | None) -> int:
        left = self.good - self.tell()
        if left <= 0:
            raise TooSlow()
        return left if size is None or size < 0 else min(size, left)

    def read(self, size: int | None = -1) -> bytes:
        return super().read(self._allow(size))

    def read1(self, size: int | None = -1) -> bytes:
        return super().read1(self._allow(size))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        return super().readline(self._allow(size))


@pytest.mark.parametrize("path", ["/apply", "/case"])
def test_a_body_that_falls_behind_is_dropped_and_nothing_is_kept(app: Flask, path: str) -> None:
    client = app.test_client()
    if path == "/case":
        from .helpers import apply, codename_of

        codename_of(apply(client))
    before_counts, before_store = counts(app), store_files(app)
    fields: dict[str, object] = answers() if path == "/apply" else {"message": "a follow-up"}
    fields["csrf_token"] = csrf(client, path)
    fields["attachments"] = files((os.urandom(400_000), "evidence.pdf", "application/pdf"))
    body, ctype = multipart(fields)
    # Falls behind in the middle of the file, after some of it was encrypted to staging.
    response = client.post(path, input_stream=FallsBehind(body, 300_000), content_type=ctype,
                           headers={"Content-Length": str(len(body))})
    assert response.status_code == 408
    assert response.headers["Connection"] == "close"
    assert "nothing was stored" in response.get_data(as_text=True)
    assert counts(app) == before_counts
    assert store_files(app) == before_store
    assert staging_files(app) == []
