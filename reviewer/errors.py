"""The reviewer tool's expected failures, each with the sentence a person sees.

Plain exceptions: the library code in reviewer/ knows nothing of terminals.
The one dispatcher (reviewer.cli.ReviewerGroup) maps these, and the crypto
errors, to one line on stderr and the fixed exit code below; nothing expected
ever ends in a traceback. The codes are documented in docs/reviewer.md
("Exit codes").
"""

from __future__ import annotations

EXIT_ERROR = 1  # anything else expected: refused overwrite, empty reply, bad option value
EXIT_USAGE = 2  # click's own code for a wrong command line
EXIT_KEY = 3  # no key, wrong passphrase, damaged key file
EXIT_BUNDLE = 4  # a bundle or envelope refused
EXIT_NOT_FOUND = 5  # no reviewer home, unknown case


class ReviewerError(Exception):
    """An expected failure; str() is the sentence shown (exit code EXIT_ERROR)."""


class HomeBusy(ReviewerError):
    """Another command holds the home's lock (exit code EXIT_ERROR)."""


class ReplyFinal(ReviewerError):
    """A reply was exported already: it is final, and cannot be edited or withdrawn.

    Exit code EXIT_ERROR.
    """

    def __init__(self, exported_on: str) -> None:
        when = f" on {exported_on}" if exported_on else ""
        super().__init__(
            f"the reply was exported{when} and is final: it can no longer be edited or"
            " withdrawn (write a new reply instead)"
        )
        self.exported_on = exported_on


class BlankText(ReviewerError):
    """A note or a reason with nothing in it: nothing saved (exit code EXIT_ERROR)."""


class TextTooLong(ReviewerError):
    """A note or a reason too long for one team record: nothing saved (exit code EXIT_ERROR)."""


class KeyProblem(ReviewerError):
    """No usable key: wrong passphrase, damaged key file (exit code EXIT_KEY)."""


class BadInput(ReviewerError):
    """A bundle's content contradicts its manifest, or conflicts with what is stored.

    Exit code EXIT_BUNDLE.
    """


class NotFound(ReviewerError):
    """No key in the home, no such case or confirmed key (exit code EXIT_NOT_FOUND)."""


def exit_code(error: ReviewerError) -> int:
    """The documented exit code for an expected failure."""
    if isinstance(error, KeyProblem):
        return EXIT_KEY
    if isinstance(error, BadInput):
        return EXIT_BUNDLE
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    return EXIT_ERROR
