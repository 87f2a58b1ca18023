"""Retention: delete what is no longer needed, rows and ciphertext files both.

`flask --app intake purge` (run daily by refuge-intake-purge.timer) deletes

- submissions the reviewers exported more than RETENTION_EXPORTED_DAYS ago
  (they hold their own copy; the server's is only a liability),
- replies the applicant read more than RETENTION_READ_REPLY_DAYS ago (their
  ids go to `deleted_replies`, as when the applicant deletes one, so that
  importing the same replies bundle again does not restore them),
- applicants inactive for more than RETENTION_INACTIVE_DAYS, with all their
  submissions and replies,
- team records (envelopes the reviewers wrote for each other, carried blind)
  that arrived more than RETENTION_TEAM_DAYS ago and have been exported at
  least once; until then `export --all` can hand them to a reviewer again.

"Activity" is the applicant's `last_active_day` (the last day they signed in
with their codename or sent something) or the day of the newest reply to
them, whichever is later: a reply the Secretariat sent recently keeps the
case until the applicant has had the whole period to read it. An applicant
with a submission the reviewers have not exported yet is never deleted:
nothing the reviewers have not picked up is ever purged (nor is a team
record not yet exported).

Order, so that a crash never leaves a row naming a missing file: the rows go
in one transaction; only after it commits are the envelopes removed from the
store (durably: `Store.remove`). A crash in between leaves envelopes without
rows, which the orphan sweep removes on a later run. The sweep deletes only
envelopes named like a blob id that no row names and that were placed and
last changed more than ORPHAN_GRACE ago (`Store.orphans`): a request places
its envelopes in the store just before its transaction commits
(`Store.committing`), so a fresh envelope without a row may be a submission
being stored right now. For a bucket, multipart uploads begun more than
ORPHAN_GRACE ago and never finished are aborted too (`Store.unfinished`): a
listing of the prefix never shows them. staging/ is never touched here: each process cleans
abandoned staging at start, and with it the envelopes a dead process placed
but never committed (its intent journal, intake.store); this sweep is the
backstop.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from intake.models import Applicant, Blob, DeletedReply, Reply, Submission, TeamBlob
from intake.store import Store

# Longer than any request could take between moving files into store/ and
# committing its rows, with room for a clock change or a day boundary (stored
# files carry the submission day's midnight as their modification time).
ORPHAN_GRACE = dt.timedelta(days=2)
# Ids per IN (...) clause: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    exported_days: int
    read_reply_days: int
    inactive_days: int
    team_days: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        return cls(
            exported_days=int(config["RETENTION_EXPORTED_DAYS"]),
            read_reply_days=int(config["RETENTION_READ_REPLY_DAYS"]),
            inactive_days=int(config["RETENTION_INACTIVE_DAYS"]),
            team_days=int(config["RETENTION_TEAM_DAYS"]),
        )


@dataclass
class PurgeResult:
    submissions: int = 0
    replies: int = 0
    applicants: int = 0
    team: int = 0
    files: int = 0
    orphans: int = 0
    # Uploads into a bucket begun before the grace period and never finished (Store.unfinished).
    uploads: int = 0
    # Inactive applicants kept because a submission of theirs is not exported yet.
    held: int = 0

    def line(self, dry_run: bool) -> str:
        counts = (
            f"{self.submissions} submission(s), {self.replies} reply(ies), "
            f"{self.applicants} applicant(s), {self.team} team record(s), "
            f"{self.files} file(s) and "
            f"{self.orphans} orphaned file(s)"
        )
        held = (f"; kept {self.held} inactive applicant(s) with submissions not yet exported"
                if self.held else "")
        if self.uploads:
            held += f"; {'would abort' if dry_run else 'aborted'} {self.uploads} unfinished upload(s)"
        if dry_run:
            return f"Dry run, nothing changed: would delete {counts}{held}."
        return f"Deleted {counts}{held}."


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


@dataclass
class _Plan:
    applicants: list[str]
    submissions: list[str]
    replies: list[str]
    team: list[str]
    files: list[str]
    held: int


def _plan(dbs: Session, today: dt.date, policy: Policy) -> _Plan:
    exported_cutoff = today - dt.timedelta(days=policy.exported_days)
    read_cutoff = today - dt.timedelta(days=policy.read_reply_days)
    inactive_cutoff = today - dt.timedelta(days=policy.inactive_days)
    team_cutoff = today - dt.timedelta(days=policy.team_days)

    # FOR UPDATE on PostgreSQL (SQLite ignores it; `purge` took SQLite's write
    # lock first): an applicant signing in or sending something while this runs
    # either waits for the purge or, having committed first, no longer matches.
    applicants = list(dbs.scalars(
        select(Applicant.id)
        .where(
            Applicant.last_active_day < inactive_cutoff,
            ~exists().where(Submission.applicant_id == Applicant.id,
                            Submission.exported_day.is_(None)),
            ~exists().where(Reply.applicant_id == Applicant.id, Reply.day >= inactive_cutoff),
        )
        .order_by(Applicant.id)
        .with_for_update()
    ))
    submissions = set(dbs.scalars(
        select(Submission.id).where(Submission.exported_day < exported_cutoff)
    ))
    replies = set(dbs.scalars(select(Reply.id).where(Reply.read_day < read_cutoff)))
    for chunk in _chunks(applicants):
        submissions.update(dbs.scalars(
            select(Submission.id).where(Submission.applicant_id.in_(chunk))))
        replies.update(dbs.scalars(select(Reply.id).where(Reply.applicant_id.in_(chunk))))
    held = len(dbs.scalars(
        select(Applicant.id).where(
            Applicant.last_active_day < inactive_cutoff,
            exists().where(Submission.applicant_id == Applicant.id,
                           Submission.exported_day.is_(None)),
        )
    ).all())
    sub_list, reply_list = sorted(submissions), sorted(replies)
    # A team record's row id is its blob id. One not yet exported is kept
    # whatever its age, as submissions are: nobody has received it yet.
    team = list(dbs.scalars(
        select(TeamBlob.id)
        .where(TeamBlob.day < team_cutoff, TeamBlob.exported_day.is_not(None))
        .order_by(TeamBlob.id)
    ))
    files: list[str] = []
    for chunk in _chunks(sub_list):
        files.extend(dbs.scalars(select(Blob.id).where(Blob.submission_id.in_(chunk))))
    for chunk in _chunks(reply_list):
        files.extend(dbs.scalars(select(Reply.blob_id).where(Reply.id.in_(chunk))))
    files.extend(team)
    return _Plan(applicants, sub_list, reply_list, team, files, held)


def _delete_rows(dbs: Session, plan: _Plan) -> None:
    for chunk in _chunks(plan.submissions):
        dbs.execute(delete(Blob).where(Blob.submission_id.in_(chunk)))
        dbs.execute(delete(Submission).where(Submission.id.in_(chunk)))
    for chunk in _chunks(plan.replies):
        dbs.execute(delete(Reply).where(Reply.id.in_(chunk)))
        # As when the applicant deletes one: importing the same replies bundle
        # again must not bring a purged reply back.
        dbs.add_all(DeletedReply(id=reply_id) for reply_id in chunk)
        dbs.flush()
    for chunk in _chunks(plan.applicants):
        dbs.execute(delete(Applicant).where(Applicant.id.in_(chunk)))
    for chunk in _chunks(plan.team):
        dbs.execute(delete(TeamBlob).where(TeamBlob.id.in_(chunk)))


def _named_ids(dbs: Session) -> set[str]:
    """Every id any row holds: a file with one of these names is never an orphan."""
    names: set[str] = set()
    for column in (Blob.id, Submission.id, Submission.answers_blob_id, Reply.id,
                   Reply.blob_id, Applicant.id, TeamBlob.id):
        names.update(dbs.scalars(select(column)))
    return names


def _orphans(store: Store, named: set[str], now: float) -> list[str]:
    return store.orphans(named, older_than=now - ORPHAN_GRACE.total_seconds())


def purge(dbs: Session, store: Store, today: dt.date, policy: Policy, *,
          dry_run: bool = False, now: float | None = None) -> PurgeResult:
    """Apply `policy` as of `today`; with dry_run, only count."""
    now = time.time() if now is None else now
    if not dry_run and dbs.get_bind().dialect.name == "sqlite":
        # Python's sqlite3 would run the SELECTs outside a transaction: take the
        # write lock before choosing, so nothing changes between choice and deletion.
        dbs.connection().exec_driver_sql("BEGIN IMMEDIATE")
    plan = _plan(dbs, today, policy)
    result = PurgeResult(
        submissions=len(plan.submissions), replies=len(plan.replies),
        applicants=len(plan.applicants), team=len(plan.team), files=len(plan.files),
        held=plan.held,
    )
    unfinished = store.unfinished(now - ORPHAN_GRACE.total_seconds())
    result.uploads = len(unfinished)
    if dry_run:
        result.orphans = len(_orphans(store, _named_ids(dbs), now))
        dbs.rollback()
        return result
    try:
        _delete_rows(dbs, plan)
        dbs.commit()
    except BaseException:
        dbs.rollback()
        raise
    # The rows are gone for good; now the files. Counted as they really go.
    result.files = store.remove(plan.files)
    result.orphans = store.remove(_orphans(store, _named_ids(dbs), now))
    dbs.rollback()  # end the read-only transaction _named_ids began
    result.uploads = store.undo_notes(unfinished)
    return result

