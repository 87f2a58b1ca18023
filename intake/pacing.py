"""A deadline on requests that stop arriving: a minimum average rate after a grace period.

Why: a thread that reads a request body waits for as long as the client
takes, and gunicorn has no timeout on that wait. Sixteen clients that sent
their headers and one byte of body held every thread of the old 2 x 8
configuration for minutes, and nobody else was answered. A fixed timeout
per read does not help: a client sending one byte every 29 seconds never
trips a 30-second one.

The rule here counts every byte of the request (headers and body) from the
first one read: once `grace` seconds have passed, the request must have
averaged at least `min_rate` bytes a second since it began, at every
moment, or its next read fails with `TooSlow`. An honest upload that
stalls for a while keeps the credit of what it already sent (after a
minute at 10 KB/s it may stall for almost nine minutes at the default
rate); a client that trickles falls behind once the grace period ends and
stays behind. `PacedSocket` enforces it on each `recv()`, so that a read
that gathers a large block from many small arrivals cannot wait past the
deadline either. How the defaults were chosen: docs/deploy.md.

No gunicorn here: the worker that installs it is intake/gunicorn_worker.py,
and the app only needs `TooSlow` to answer such a request.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Bytes a second, averaged from the request's first byte.
DEFAULT_MIN_RATE = 1024
#: Seconds from the request's first byte before the average is enforced.
DEFAULT_GRACE_SECONDS = 30


class TooSlow(TimeoutError):
    """The client fell behind the minimum average rate; the request is dropped."""

    def __init__(self) -> None:
        super().__init__(errno.ETIMEDOUT, "request arrived too slowly")


@dataclass(frozen=True)
class Pace:
    """The rule: `min_rate` bytes a second on average, enforced after `grace` seconds."""

    min_rate: int = DEFAULT_MIN_RATE
    grace: float = DEFAULT_GRACE_SECONDS

    def deadline(self, started: float, received: int) -> float:
        """When a request that began at `started` and has sent `received` bytes falls behind."""
        return started + max(self.grace, received / self.min_rate)


def pace_from_env(env: Mapping[str, str] | None = None) -> Pace:
    """The pace an operator set with INTAKE_BODY_MIN_RATE and INTAKE_BODY_GRACE_SECONDS."""
    env = os.environ if env is None else env
    return Pace(
        min_rate=_positive(env, "INTAKE_BODY_MIN_RATE", DEFAULT_MIN_RATE),
        grace=_positive(env, "INTAKE_BODY_GRACE_SECONDS", DEFAULT_GRACE_SECONDS),
    )


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"{name} must be a whole number greater than zero, not {raw!r}")
    return int(raw)


class PacedSocket:
    """A connected socket whose reads fail with `TooSlow` once the request falls behind.

    Everything but `recv` goes to the socket itself. `start_request()` begins
    a new request (a kept-alive connection carries several); its clock starts
    at its first read. `error` makes the exception raised (a subclass of
    `TooSlow`, so that a server can treat it as its own kind of disconnect).
    """

    def __init__(self, sock: socket.socket, pace: Pace,
                 clock: Callable[[], float] = time.monotonic,
                 error: Callable[[], TooSlow] = TooSlow) -> None:
        self.sock = sock
        self.pace = pace
        self._clock = clock
        self._error = error
        self._started: float | None = None
        self._received = 0
        self.too_slow = False

    def start_request(self) -> None:
        self._started = None
        self._received = 0
        self.too_slow = False

    def recv(self, size: int, flags: int = 0) -> bytes:
        now = self._clock()
        if self._started is None:
            self._started = now
        left = self.pace.deadline(self._started, self._received) - now
        if self.too_slow or left <= 0:
            self.too_slow = True
            raise self._error()
        outer = self.sock.gettimeout()
        if outer == 0.0:  # the caller wants a non-blocking read: nothing to bound
            data = self.sock.recv(size, flags)
        else:
            self.sock.settimeout(left if outer is None else min(outer, left))
            try:
                data = self.sock.recv(size, flags)
            except TimeoutError:
                if outer is not None and outer < left:
                    raise  # the caller's own, shorter timeout
                self.too_slow = True
                raise self._error() from None
            finally:
                self.sock.settimeout(outer)
        self._received += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)
