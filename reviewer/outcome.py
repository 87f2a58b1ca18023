"""What an import says it did, in the words both the CLI and the desk show.

One sentence for the outcome (`import_sentence`), one note when some
submissions were not addressed to this reviewer's key (`unreadable_note`):
`reviewer import` prints them, the desk's Import page shows them, so the two
can never tell a reviewer different things about the same bundle.
"""

from __future__ import annotations

from crypto.keys import PublicKey
from reviewer.home import ImportResult


def import_sentence(result: ImportResult) -> str:
    """The one line an import ends with."""
    new = result.new_applications + result.new_followups
    if not new:
        return (
            f"Nothing new: all {result.already} submissions in this bundle were already imported."
            if result.already
            else "Nothing new: this bundle holds no submissions."
        )
    return (
        f"Imported {new} submission{'s' * (new != 1)}: {result.new_cases} new"
        f" case{'s' * (result.new_cases != 1)}, {result.new_followups}"
        f" follow-up{'s' * (result.new_followups != 1)}"
        + (f" ({result.already} already imported)." if result.already else ".")
    )


def unreadable_note(result: ImportResult) -> str | None:
    """A note when some new submissions were sealed to other reviewers' keys only."""
    if not result.unreadable:
        return None
    return (
        f"Note: {result.unreadable} submission(s) are not addressed to your key; they are"
        " stored, and a reviewer whose key they were sealed to can read them."
    )


def unconfirmed_sentence(key: PublicKey, where: str) -> str:
    """A key named (`where`, e.g. "named by this bundle") that nothing is sealed to."""
    return (
        f"Unconfirmed reviewer key {where}: fingerprint {key.fingerprint}; nothing is sealed"
        " to it until you compare this fingerprint with its holder over another channel"
        " and run `reviewer keys add KEY --name NAME` (`reviewer keys list` shows the key)."
    )
