"""Where the desk takes each shared name from (one place to change when they move)."""

from reviewer.desk._standins import (
    Casebook,
    CaseFile,
    CaseRow,
    Filters,
    Mark,
    ReplyFinal,
    SavedFile,
    case_file,
    edit_reply,
    reply_html,
    saved_copy,
    withdraw_reply,
)

__all__ = ["CaseFile", "CaseRow", "Casebook", "Filters", "Mark", "ReplyFinal", "SavedFile",
           "case_file", "edit_reply", "reply_html", "saved_copy", "withdraw_reply"]
