"""Moving ciphertext between this server and the reviewers' offline machines.

`export_submissions` writes every submission not yet exported into a
"submissions" bundle (docs/bundle.md) and marks them picked up, so the
applicant's case page says the Secretariat received them. `import_replies`
checks a whole "replies" bundle, then stores its replies for the applicants.

Team records (docs/team.md) ride along blind: `import_replies` stores each
team member of a replies bundle as an envelope under a fresh random id, with
the day it arrived and nothing else (intake.models.TeamBlob; one it already
holds, byte for byte, is not stored again), and
`export_submissions` puts every one not yet exported (or, with `everything`,
every one) into the next bundle's `team` field, for every reviewer.

Nothing here decrypts anything: the server holds no key that could. What the
server can check of a reply is the bundle's digests, that the case exists, and
that the envelope names the applicant's reply key among its recipients (so
the applicant will be able to open it); of a team member, only the digests
and that it begins with a well-formed envelope header.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crypto.atomic import OutputExists, atomic_output
from crypto.bundle import (
    BundleError,
    BundleWriter,
    Manifest,
    Member,
    SubmissionRecord,
    member_digest,
    read_bundle,
)
from crypto.envelope import recipient_key_ids
from crypto.errors import DecryptError, InvalidPublicKey
from crypto.keys import PublicKey
from intake.db import new_id
from intake.models import (
    Applicant,
    Blob,
    DeletedReply,
    RecipientKey,
    Reply,
    Submission,
    TeamBlob,
)
from intake.storage import StagingArea, remove_files
from intake.store import Store


class TransferError(Exception):
    """An expected failure; the message is one sentence for the operator."""


@dataclass(frozen=True)
class ExportResult:
    cases: int
    submissions: int
    team: int
    bytes: int


@dataclass(frozen=True)
class ImportResult:
    new: int
    already: int
    team: int = 0
    team_already: int = 0


def _sealed_to(dbs: Session, store: Store, blob_ids: list[str]) -> list[PublicKey]:
    """The reviewer keys the envelopes are sealed to: the manifest's `recipients`.

    Read from each envelope's header (key ids only, nothing decrypted) and
    matched against every key ever installed, removed ones included: a
    submission sealed before a key change names the keys active then.
    """
    known: dict[bytes, PublicKey] = {}
    for row in dbs.scalars(select(RecipientKey).order_by(RecipientKey.id)):
        try:
            key = PublicKey.from_text(row.public_key)
        except InvalidPublicKey:
            continue  # installed before its text was refused: its envelopes are unknown
        known[key.key_id] = key
    named: set[bytes] = set()
    for blob_id in blob_ids:
        try:
            with store.open(blob_id) as f:
                named.update(recipient_key_ids(f))
        except (OSError, DecryptError):
            raise TransferError(
                f"the stored envelope {blob_id} cannot be read; no bundle was written"
            ) from None
    if not named <= set(known):
        raise TransferError(
            "a stored envelope is sealed to a key this server does not know; "
            "no bundle was written"
        )
    return [key for key_id, key in known.items() if key_id in named]


def _active_keys(dbs: Session) -> list[PublicKey]:
    """The manifest's `recipients` of a bundle of team records only: the active keys.

    Nothing in such a bundle is sealed to them (docs/bundle.md); they are the
    keys this server seals new submissions to, as a reviewer tool expects.
    """
    keys = []
    for text in dbs.scalars(
        select(RecipientKey.public_key).where(RecipientKey.active).order_by(RecipientKey.id)
    ):
        try:
            keys.append(PublicKey.from_text(text))
        except InvalidPublicKey:
            continue  # refused since it was installed: `keys list` says so
    if not keys:
        raise TransferError(
            "no active reviewer key is usable (see `flask --app intake keys list`); "
            "no bundle was written"
        )
    return keys


def export_submissions(
    dbs: Session, store: Store, path: Path, *, everything: bool, day: dt.date
) -> ExportResult | None:
    """Write the bundle to `path`, then mark what it holds as exported on `day`.

    Returns None, writing nothing, when there is nothing to export: no
    submission and no team record. The marks are committed only after the
    bundle file is complete and durable; if the commit fails the submissions
    and team records are simply exported again next time (the reviewer's
    import is idempotent, and counts a team record seen twice once).
    """
    query = select(Submission).order_by(Submission.applicant_id, Submission.day, Submission.id)
    team_query = select(TeamBlob).order_by(TeamBlob.day, TeamBlob.id)
    if not everything:
        query = query.where(Submission.exported_day.is_(None))
        team_query = team_query.where(TeamBlob.exported_day.is_(None))
    submissions = dbs.scalars(query).all()
    team = dbs.scalars(team_query).all()
    if not submissions and not team:
        return None
    if dbs.scalar(select(RecipientKey.id).where(RecipientKey.active).limit(1)) is None:
        raise TransferError(
            "no active reviewer key: intake is closed and nobody would read this bundle; "
            "add one with `flask --app intake keys add`"
        )
    by_case: dict[str, list[Submission]] = {}
    for sub in submissions:
        by_case.setdefault(sub.applicant_id, []).append(sub)
    # The plan first, so that a missing envelope is found before a byte is written.
    plan: list[tuple[str, PublicKey, list[SubmissionRecord]]] = []
    members: list[str] = []
    for case_id, subs in by_case.items():
        records = []
        for sub in subs:
            blobs = dbs.scalars(
                select(Blob).where(Blob.submission_id == sub.id).order_by(Blob.id)
            ).all()
            attachments = tuple(b.id for b in blobs if b.role == "attachment")
            members.extend((sub.answers_blob_id, *attachments))
            records.append(SubmissionRecord(
                sub.id, sub.day.isoformat(), sub.kind, sub.answers_blob_id, attachments))
        applicant = dbs.get(Applicant, case_id)
        if applicant is None:  # the foreign key rules this out
            raise TransferError(f"the database has no case {case_id}; no bundle was written")
        plan.append((case_id, PublicKey.from_text(applicant.reply_public_key), records))
    for blob_id in [*members, *(t.id for t in team)]:
        try:
            present = store.has(blob_id)
        except OSError as e:  # a bucket that cannot be reached (intake.store.StoreFailed)
            raise TransferError(f"{e}; no bundle was written") from None
        if not present:
            raise TransferError(
                f"the stored envelope {blob_id} is missing from {store}; no bundle was written"
            )
    recipients = _sealed_to(dbs, store, members) if members else _active_keys(dbs)
    try:
        with atomic_output(path) as out:
            writer = BundleWriter(
                out, "submissions", created=day.isoformat(), recipients=recipients
            )
            for blob_id in members:
                writer.add_member(blob_id, functools.partial(store.open, blob_id))
            for case_id, reply_key, records in plan:
                writer.add_case(case_id, reply_key, records)
            for row in team:
                writer.add_team(functools.partial(store.open, row.id), member_id=row.id)
            writer.close()
    except OutputExists:
        raise TransferError(f"{path} already exists; not overwriting it") from None
    except BundleError as e:
        raise TransferError(f"{e}; no bundle was written") from None
    except OSError as e:
        raise TransferError(
            f"cannot write {path}: {e.strerror or e}; no bundle was written"
        ) from None
    size = path.stat().st_size
    try:
        for sub in submissions:
            if sub.exported_day is None:
                sub.exported_day = day
        for row in team:
            if row.exported_day is None:
                row.exported_day = day
        dbs.commit()
    except SQLAlchemyError:
        dbs.rollback()
        raise TransferError(
            f"{path} was written, but the submissions could not be marked exported "
            "(database error); they will be exported again next time"
        ) from None
    return ExportResult(cases=len(by_case), submissions=len(submissions), team=len(team),
                        bytes=size)


class _Staging:
    """Files a bundle's members are copied to while it is checked; removed afterwards.

    `durable` (Store.staging_must_be_durable): each file is synced, because the
    store renames it into place; a bucket copies it, and its confirmed object is
    the durable copy, so the file is only what the upload reads from.
    """

    def __init__(self, area: StagingArea, *, durable: bool) -> None:
        self.area = area
        self.durable = durable
        self.paths: dict[str, Path] = {}

    @contextlib.contextmanager
    def sink(self, member: Member) -> Iterator[BinaryIO]:
        path = self.area.new_path()
        self.paths[member.id] = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            yield out
            if self.durable:
                out.flush()
                os.fsync(out.fileno())

    def discard(self) -> None:
        remove_files(list(self.paths.values()))


def _check_reply_day(reply: str, written: dt.date, applicant: Applicant, today: dt.date) -> None:
    """Refuse a reply dated after tomorrow or before the case began.

    The purge counts a reply's day as activity (SECURITY.md, retention), so a
    reply dated 9999-12-31 would keep its applicant forever. Tomorrow is allowed
    because a reviewer east of UTC is a day ahead for some hours.
    """
    tomorrow = today + dt.timedelta(days=1)
    if written > tomorrow:
        raise TransferError(
            f"reply {reply} is dated {written.isoformat()}, after tomorrow "
            f"({tomorrow.isoformat()}): check the reviewer machine's date; nothing was imported"
        )
    if written < applicant.created_day:
        raise TransferError(
            f"reply {reply} is dated {written.isoformat()}, before its case began "
            f"({applicant.created_day.isoformat()}); nothing was imported"
        )


def _team_member(member_id: str, path: Path) -> Path:
    """A team member's staged file, once its envelope header is seen to be well formed.

    All the server can check without a key, as for a reply: the bundle reader
    has checked the digest and the whole header already (docs/bundle.md, step
    6); this reads the stanzas again so that nothing is stored on the reader's
    word alone.
    """
    try:
        with open(path, "rb") as f:
            recipient_key_ids(f)
    except DecryptError:
        raise TransferError(
            f"team member {member_id} is not a readable envelope; nothing was imported"
        ) from None
    return path


def _team_to_store(
    dbs: Session, store: Store, manifest: Manifest, paths: dict[str, Path]
) -> tuple[list[tuple[str, Path]], int]:
    """The bundle's team members to store, each under a fresh id; and how many were here.

    Each is checked (_team_member). One whose bytes this server already holds
    (a bundle imported twice, a reviewer's whole outbox exported again) is not
    stored again: nothing is kept to recognise it by but the envelopes
    themselves, so every stored team envelope is read and hashed, once per
    import that carries team members. Measured (2 shared cores, warm cache):
    10,000 envelopes of 4,354 bytes, a year of busy notes at the default
    retention, hash in 1.0 s (0.7 s CPU).
    """
    wanted = [(m, _team_member(m, paths[m])) for m in manifest.team]
    if not wanted:
        return [], 0
    listed = {m.id: m.digest for m in manifest.members}
    held: set[str] = set()
    for blob_id in dbs.scalars(select(TeamBlob.id)):
        try:
            with store.open(blob_id) as f:
                held.add(member_digest(f))
        except OSError:
            continue  # a missing envelope: `export` names it
    fresh: list[tuple[str, Path]] = []
    for member_id, path in wanted:
        digest = listed[member_id]  # the reader checked the bytes against it
        if digest not in held:
            held.add(digest)
            fresh.append((new_id(), path))
    return fresh, len(wanted) - len(fresh)


def import_replies(
    dbs: Session, store: Store, bundle: Path, *, day: dt.date
) -> ImportResult:
    """Check the whole bundle, then store every reply not seen before and every team
    member this server does not already hold, all or nothing."""
    staged = _Staging(store.staging, durable=store.staging_must_be_durable())
    try:
        try:
            with open(bundle, "rb") as src:
                manifest = read_bundle(src, kind="replies", sink=staged.sink)
        except BundleError as e:
            raise TransferError(str(e)) from None
        except OSError as e:
            raise TransferError(f"cannot read {bundle}: {e.strerror or e}") from None
        fresh = []
        already = 0
        for record in manifest.replies:
            applicant = dbs.get(Applicant, record.case)
            if applicant is None:
                raise TransferError(
                    f"reply {record.reply} is for case {record.case}, which this server does "
                    "not have; nothing was imported"
                )
            _check_reply_day(record.reply, dt.date.fromisoformat(record.day), applicant, day)
            if dbs.get(Reply, record.reply) is not None or \
                    dbs.get(DeletedReply, record.reply) is not None:
                already += 1
                continue
            reply_key = PublicKey.from_text(applicant.reply_public_key)
            path = staged.paths[record.blob]
            try:
                with open(path, "rb") as f:
                    key_ids = recipient_key_ids(f)
            except DecryptError:
                raise TransferError(
                    f"reply {record.reply} is not a readable envelope; nothing was imported"
                ) from None
            if reply_key.key_id not in key_ids:
                raise TransferError(
                    f"reply {record.reply} is not sealed to the applicant's reply key, so they "
                    "could not read it; nothing was imported"
                )
            fresh.append((record, applicant, path))
        team, team_already = _team_to_store(dbs, store, manifest, staged.paths)
        planned = [(new_id(), record, applicant, path) for record, applicant, path in fresh]
        try:
            # As for submissions (intake.store): stored and committed, or neither.
            with store.committing(dbs, [(p[0], p[3]) for p in planned] + team, day):
                for blob_id, record, applicant, path in planned:
                    dbs.add(Reply(id=record.reply, applicant_id=applicant.id,
                                  day=dt.date.fromisoformat(record.day), blob_id=blob_id,
                                  size=path.stat().st_size))
                # The row is the blob's id and the day, nothing else: no member id,
                # no reply, no case (intake.models.TeamBlob).
                dbs.add_all(TeamBlob(id=blob_id, day=day) for blob_id, _path in team)
        except SQLAlchemyError:
            raise TransferError(
                "the database refused the replies (is another import running?); "
                "nothing was imported"
            ) from None
        return ImportResult(len(fresh), already, len(team), team_already)
    finally:
        staged.discard()
