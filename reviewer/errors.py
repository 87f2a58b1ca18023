"""The reviewer tool's expected failures, each with its sentence and exit code.

One dispatcher (reviewer.cli.ReviewerGroup) turns these, and the crypto
errors, into one line on stderr and a fixed exit code; nothing expected ever
ends in a traceback. The codes are documented in docs/reviewer.md.
"""

from __future__ import annotations

import click

EXIT_ERROR = 1  # anything else expected: refused overwrite, empty reply, bad option value
EXIT_USAGE = 2  # click's own code for a wrong command line
EXIT_KEY = 3  # no key, wrong passphrase, damaged key file
EXIT_BUNDLE = 4  # a bundle or envelope refused
EXIT_NOT_FOUND = 5  # no reviewer home, unknown case


class ReviewerError(click.ClickException):
    exit_code = EXIT_ERROR


class KeyProblem(ReviewerError):
    exit_code = EXIT_KEY


class BadInput(ReviewerError):
    """A bundle's content contradicts its manifest, or conflicts with what is stored."""

    exit_code = EXIT_BUNDLE


class NotFound(ReviewerError):
    exit_code = EXIT_NOT_FOUND
