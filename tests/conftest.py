"""Shared pytest configuration for the whole suite."""

import os

import pytest
from hypothesis import settings

from tests.harness.tools import in_ci

# Real components: the browser fixtures (tests/harness/browser.py), a throwaway
# PostgreSQL server (tests/harness/postgres_server.py) and an S3 endpoint
# (tests/harness/s3_server.py).
pytest_plugins = ["tests.harness.browser", "tests.harness.postgres_server",
                  "tests.harness.s3_server"]

# Under CI hypothesis keeps no example database: a run proves what the code and
# the examples pinned in the tests prove, never what an earlier run left in
# .hypothesis/. A failure prints the blob that replays it (@reproduce_failure).
settings.register_profile("ci", database=None, print_blob=True)
if in_ci():
    settings.load_profile("ci")


@pytest.fixture
def fadvise_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Every posix_fadvise call as (offset, length, advice), still passed on to the kernel.

    For the early-writeback tests (crypto/atomic.py, intake/storage.py).
    """
    calls: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    return calls
