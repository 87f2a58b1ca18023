"""Where the desk takes each shared name from: the one place to change when they move.

Until reviewer.caselist and reviewer.casefile (and crypto's reply display rule
and the outbox verbs on Home) are merged, the desk uses the stand-ins in
reviewer/desk/_standins.py, which have the same names and shapes.
"""

from __future__ import annotations

from markupsafe import Markup

from reviewer.desk import _standins
from reviewer.desk._standins import (
    Casebook,
    CaseFile,
    CaseRow,
    Filters,
    Mark,
    ReplyFinal,
    case_file,
)
from reviewer.home import Home
from reviewer.saving import CannotStrip, NotForYourKey, SavedFile, saved_copy
from reviewer.state import State


def reply_html(text: str) -> Markup:
    """The reply as the applicant's case page shows it (already escaped HTML)."""
    return Markup(_standins.reply_html(text))  # noqa: S704  (escaped by the rule itself)


def edit_reply(home: Home, case_id: str, reply_id: str, text: str) -> State:
    return _standins.edit_reply(home, case_id, reply_id, text)


def withdraw_reply(home: Home, case_id: str, reply_id: str) -> State:
    return _standins.withdraw_reply(home, case_id, reply_id)


__all__ = ["CannotStrip", "CaseFile", "CaseRow", "Casebook", "Filters", "Mark", "NotForYourKey",
           "ReplyFinal", "SavedFile", "case_file", "edit_reply", "reply_html", "saved_copy",
           "withdraw_reply"]
