"""Finding the real programs (tor, PostgreSQL, systemd-analyze) the deploy tests run.

Locally a missing program skips its tests, so `make test` passes with only
Python installed. In CI (the environment variable CI set to anything but
"", "0" or "false") a missing program is a failure: .ci/run installs them
(.ci/install-debian.sh), and a check that silently skipped there would prove
nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterable
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def cannot_run(message: str) -> NoReturn:
    """Skip the current test locally, fail it in CI: something it needs is not here.

    The one way a test that needs the real thing gives up; never a bare
    `pytest.skip`, which would also skip silently in CI.
    """
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def missing(what: str) -> NoReturn:
    """Skip the current test locally, fail it in CI, because `what` is not installed."""
    cannot_run(f"{what} is not installed (CI installs it with .ci/install-debian.sh)")


def require_program(name: str) -> str:
    """The path of program `name`, or skip (locally) / fail (in CI) without it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        missing(name)
    return path


def send_whole_then_read(port: int, head: bytes, body: Iterable[bytes | memoryview],
                         timeout: float) -> tuple[bool, bytes]:
    """Send a request's head and every piece of its body before reading, as Firefox
    (and so Tor Browser) does; then say "no more" and read the whole answer.

    Returns whether all was sent (False: the server reset the connection first)
    and what came back. The write side is shut so that a server draining the body
    (Werkzeug reads it in 10 MB blocks) does not wait for bytes that never come.
    """
    sent_all = True
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(head)
            for piece in body:
                conn.sendall(piece)
            conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            sent_all = False
        try:
            while part := conn.recv(65536):
                answer += part
        except (ConnectionResetError, TimeoutError):
            pass
    return sent_all, bytes(answer)
