"""The documents a reviewer writes: a verification record and a reply.

Built here once, for `reviewer verify` / `reviewer reply` and for the desk's
Verification and Replies pages alike (crypto.documents describes both formats).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crypto import documents
from crypto.errors import DocumentError
from reviewer.errors import ReviewerError
from reviewer.home import Keys, new_id, today

#: The verification record's fields a reviewer fills in, with the question each answers
#: (the CLI's prompts and the desk's form labels).
VERIFICATION_QUESTIONS = (
    ("identity", "Identity check"),
    ("work", "Work authenticated (how, with what evidence)"),
    ("persecution", "Persecution verified (sources)"),
    ("risk", "Risk level"),
    ("recommendation", "Recommendation"),
    ("notes", "Notes"),
)


def verification_record(case_id: str, keys: Keys, answers: Mapping[str, str]) -> dict[str, Any]:
    """A verification record for `case_id`, by the holder of `keys`, dated today."""
    return {
        "format": "refuge-intake verification",
        "version": 1,
        "case": case_id,
        "day": today(),
        "reviewer": keys.private[0].public_key.fingerprint,
        **{name: answers[name] for name, _ in VERIFICATION_QUESTIONS},
    }


def reply_document(case_id: str, text: str, *, reply_id: str | None = None,
                   day: str | None = None) -> dict[str, Any]:
    """A reply document, checked as the applicant's case page will check it.

    ReviewerError (nothing saved) for an empty text or one that page would refuse.
    """
    text = text.strip()
    if not text:
        raise ReviewerError("the reply is empty; nothing was saved")
    doc = {"format": "refuge-intake reply", "version": 1, "case": case_id,
           "reply": reply_id or new_id(), "day": day or today(), "text": text}
    try:  # what the applicant's case page will accept (docs/format.md, "Documents")
        documents.parse_reply(documents.encode(doc))
    except DocumentError as e:
        raise ReviewerError(f"cannot save this reply: {e}; nothing was saved") from None
    return doc
