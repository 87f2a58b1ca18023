"""Turning a validated form into stored ciphertext and database rows, all or nothing.

The attachments are already encrypted in staging (the request class did that
while they streamed in). Here the answers and the list of attachments become
one more envelope; then the rows are added and `Store.committing` places the
staged files in the store and commits the transaction, or, if anything fails,
neither (intake.store).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from crypto import documents
from crypto.keys import PublicKey
from intake.db import new_id
from intake.models import Applicant, Blob, Submission
from intake.storage import StagedEnvelope, stage_bytes
from intake.store import Store

FORMAT = documents.SUBMISSION_FORMAT
VERSION = documents.SUBMISSION_VERSION


@dataclass
class NewApplicant:
    lookup_id: bytes
    reply_public_key: PublicKey


def staged_attachments(files: Sequence[FileStorage]) -> list[tuple[FileStorage, StagedEnvelope]]:
    """The chosen files of a validated form, each with its finished envelope."""
    out: list[tuple[FileStorage, StagedEnvelope]] = []
    for f in files:
        if not f:
            continue  # an empty file input
        stream = f.stream
        if not isinstance(stream, StagedEnvelope) or not stream.finished:
            raise ValueError("an upload did not arrive whole")
        out.append((f, stream))
    return out


def store_submission(
    db: Session,
    *,
    store: Store,
    recipients: Sequence[PublicKey],
    day: dt.date,
    answers: dict[str, Any],
    files: Sequence[FileStorage],
    owner: Applicant | NewApplicant,
) -> Applicant:
    """Store one submission for an existing applicant, or a new one; returns the applicant.

    A new applicant's submission is their application; an existing one's, a follow-up.
    """
    attachments = staged_attachments(files)
    kind = "application" if isinstance(owner, NewApplicant) else "followup"
    if isinstance(owner, NewApplicant):
        applicant = Applicant(
            id=new_id(),
            lookup_id=owner.lookup_id,
            reply_public_key=owner.reply_public_key.to_text(),
            created_day=day,
            last_active_day=day,
        )
        db.add(applicant)
    else:
        applicant = owner
        applicant.last_active_day = day
    submission_id = new_id()
    # Chosen when each upload began: a bucket may already hold its first parts under it.
    blob_ids = [staged.blob_id for _f, staged in attachments]
    document = {
        "format": FORMAT,
        "version": VERSION,
        "case": applicant.id,
        "submission": submission_id,
        "kind": kind,
        "day": day.isoformat(),
        "answers": answers,
        "attachments": [
            {
                "blob": blob_id,
                "name": f.filename or "",
                "type": f.content_type or "",
                "size": staged.plaintext_size,
            }
            for blob_id, (f, staged) in zip(blob_ids, attachments, strict=True)
        ],
    }
    answers_blob_id = new_id()
    answers_env = stage_bytes(
        store.staging, json.dumps(document, ensure_ascii=False).encode("utf-8"), recipients,
        durable=store.staging_must_be_durable(),
    )
    moves = [(answers_blob_id, answers_env.path)] + [
        (blob_id, staged.path) for blob_id, (_f, staged) in zip(blob_ids, attachments, strict=True)
    ]
    with store.committing(db, moves, day):
        submission = Submission(
            id=submission_id,
            applicant_id=applicant.id,
            day=day,
            kind=kind,
            answers_blob_id=answers_blob_id,
        )
        db.add(submission)
        db.add(Blob(id=answers_blob_id, submission_id=submission_id,
                    size=answers_env.ciphertext_size, role="answers"))
        for blob_id, (_f, staged) in zip(blob_ids, attachments, strict=True):
            db.add(Blob(id=blob_id, submission_id=submission_id,
                        size=staged.ciphertext_size, role="attachment"))
    return applicant
