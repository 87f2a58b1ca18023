"""Shared pytest configuration for the whole suite."""

import os

import pytest

# Real components: the browser fixtures (tests/browser.py) and a throwaway
# PostgreSQL server (tests/postgres_server.py).
pytest_plugins = ["tests.browser", "tests.postgres_server"]


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
