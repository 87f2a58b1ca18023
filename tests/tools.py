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

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str) -> None:
    """Skip the current test locally, fail it in CI, because `what` is not installed."""
    message = f"{what} is not installed (CI installs it with .ci/install-debian.sh)"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_program(name: str) -> str:
    """The path of program `name`, or skip (locally) / fail (in CI) without it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        missing(name)
        raise AssertionError("unreachable")  # missing() always raises
    return path
