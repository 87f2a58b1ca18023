"""gunicorn's threaded worker, with a deadline on slow requests and closing off the event loop.

deploy/gunicorn.conf.py names this class as its worker (gunicorn loads it;
nothing in the app imports it). Two changes to gunicorn's gthread worker,
each against one way slow clients took the server down:

- Every read of a request goes through `intake.pacing.PacedSocket`: a
  request that falls behind the minimum average rate (INTAKE_BODY_MIN_RATE
  bytes a second, enforced after INTAKE_BODY_GRACE_SECONDS) fails its next
  read. In the body, the app answers it (intake/errors.py) and stores
  nothing; in the headers, gunicorn drops the connection. A thread is never
  held longer than the client keeps up.

- When a connection is to be closed, gunicorn's graceful close (send FIN,
  then read whatever the client still sends, for up to 2 seconds) runs on the
  worker's main thread, the one that accepts connections and watches the
  idle ones. A client that never closes its side stalls it for those 2
  seconds, each time: two hundred dropped slow clients froze a worker for
  minutes. Here the request's own thread does the waiting part and shuts the
  socket down, so the main thread's close returns at once.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

from intake.pacing import PacedSocket, TooSlow, pace_from_env

#: Seconds, and bytes, the request's thread waits for the client to close
#: after the answer: gunicorn's own graceful-close bounds.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024


class Dropped(TooSlow, NoMoreData):  # type: ignore[misc]
    """TooSlow that gunicorn also takes for a client that went away.

    Dropped while its headers arrive, a request never reaches the app, and
    gunicorn would log a plain socket error with its traceback, one for each
    such client. As NoMoreData it closes the connection without an error line:
    the server keeps no record of when clients came or how they fared. In the
    body, the app still sees TooSlow (intake/errors.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self.buf = b""

    def __str__(self) -> str:
        return "request arrived too slowly"


class PacedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """gthread, with `PacedSocket` on every connection and the close lingering in its thread."""

    def init_process(self) -> None:
        self.pace = pace_from_env()
        super().init_process()

    def handle(self, conn: Any) -> Any:
        sock = conn.sock
        if not isinstance(sock, PacedSocket):
            sock = conn.sock = PacedSocket(sock, self.pace, error=Dropped)
        sock.start_request()
        result = super().handle(conn)
        if not result:
            # The main thread will close this connection: do the slow part here.
            linger_then_shut(sock)
        return result


def linger_then_shut(sock: PacedSocket) -> None:
    """Send FIN, read what the client still sends for a bounded time, then shut both ways.

    Reading before closing keeps the kernel from answering unread data with a
    reset that can cut off the answer just sent. Once both directions are
    shut, the main thread's graceful close finds nothing to wait for.
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_SECONDS
        drained = 0
        while drained < LINGER_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            data = sock.recv(4096)
            if not data:
                break
            drained += len(data)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
