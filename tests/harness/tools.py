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
