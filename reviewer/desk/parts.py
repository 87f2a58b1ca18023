"""Where the desk takes each shared name from (one place to change when they move)."""

from reviewer.desk._standins import (
    Casebook,
    CaseFile,
    CaseRow,
    Filters,
    Mark,
    ReplyFinal,
    case_file,
    edit_reply,
    reply_html,
    withdraw_reply,
)
from reviewer.saving import CannotStrip, NotForYourKey, SavedFile, saved_copy

__all__ = ["CannotStrip", "CaseFile", "CaseRow", "Casebook", "Filters", "Mark", "NotForYourKey",
           "ReplyFinal", "SavedFile", "case_file", "edit_reply", "reply_html", "saved_copy",
           "withdraw_reply"]
