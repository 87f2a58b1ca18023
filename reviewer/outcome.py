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
    if result.replies_bundle:
        n = result.replies_ignored
        return (f"A colleague's outbox (a bundle of replies): its team records are read, its"
                f" {n} repl{'ies' if n != 1 else 'y'} for applicants ignored (they go through"
                " the server).")
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


def team_lines(result: ImportResult) -> list[str]:
    """What the bundle's team members were: one line each kind, one per refused or kept
    aside record (naming why), never one per envelope that was not for this home."""
    team = result.team
    lines: list[str] = []
    if team.applied or team.copies or team.announcements:
        lines.append(
            f"Team records: {team.applied} applied, {team.copies} cop"
            f"{'ies' if team.copies != 1 else 'y'} of what was already here counted once,"
            f" {team.announcements} signing key announcement{'s' * (team.announcements != 1)}."
        )
    lines += [f"Refused: {line}" for line in team.refused]
    lines += [f"Kept aside: {line}; applied once that is settled" for line in team.aside]
    if team.held:
        lines.append(f"Held: {team.held} team record{'s' * (team.held != 1)} waiting for earlier"
                     " records of their case (applied when those arrive).")
    if team.not_for_us:
        lines.append(f"Not for this home: {team.not_for_us} team envelope"
                     f"{'s' * (team.not_for_us != 1)} sealed to other colleagues only.")
    return lines
