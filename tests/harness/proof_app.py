"""The intake app as gunicorn loads it in the proof tests, with test-only settings.

gunicorn runs `tests.harness.proof_app:create()` with deploy/gunicorn.conf.py. It is
`intake.create_app()` configured from the same INTAKE_* environment as in
production, plus two things no production install can switch on, because
they live here in tests/ and not in the app:

- Argon2 at crypto.params.TEST_LIMITS, so that 200 sign-ups take seconds. The
  app has no environment variable for weaker limits on purpose.
- PROOF_FAIL_WRITES_AFTER=N: a staged envelope (an upload, or the answers)
  takes N bytes of plaintext; the write that would go past that raises ENOSPC,
  as a disk with N bytes free would. An injected failure for where a
  size-limited filesystem cannot be mounted (not root, no tmpfs); small
  submissions still succeed, so a test can show the server recovers.
- PROOF_PAUSE_AFTER_MOVE=S: after a submission's envelopes are renamed into the
  store and before its transaction commits, wait S seconds, so a test can kill
  the worker exactly there.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any

from flask import Flask

from crypto.params import TEST_LIMITS
from intake import create_app
from intake.storage import StagedEnvelope

FAIL_WRITES_AFTER = "PROOF_FAIL_WRITES_AFTER"
PAUSE_AFTER_MOVE = "PROOF_PAUSE_AFTER_MOVE"


def _pause_after_move(seconds: float) -> None:
    from intake.store import LocalStore

    real_place = LocalStore.place

    def place(self: LocalStore, *args: Any, **kwargs: Any) -> None:
        real_place(self, *args, **kwargs)
        time.sleep(seconds)

    # Placing is the step of Store.committing just before the commit.
    LocalStore.place = place  # type: ignore[method-assign]


def _inject_full_disk(budget: int) -> None:
    real_write = StagedEnvelope.write

    def write(self: StagedEnvelope, data: bytes) -> int:
        # Each request thread writes its own envelope: no lock needed.
        written = getattr(self, "_proof_written", 0) + len(data)
        self._proof_written = written  # type: ignore[attr-defined]
        if written > budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)

    StagedEnvelope.write = write  # type: ignore[method-assign]


def create() -> Flask:
    budget = os.environ.get(FAIL_WRITES_AFTER)
    if budget:
        _inject_full_disk(int(budget))
    pause = os.environ.get(PAUSE_AFTER_MOVE)
    if pause:
        _pause_after_move(float(pause))
    return create_app({"ARGON2_LIMITS": TEST_LIMITS})
