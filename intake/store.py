"""The ciphertext store, and the one protocol by which envelopes enter and leave it.

Callers see `Store`: `committing` to store staged envelopes together with the
database rows that name them (a submission, imported replies), `remove` to
delete envelopes (the purge, a reply the applicant deletes), `has` / `open` /
`read` to read them, `orphans` for the purge's sweep, `recover` once at start,
`available` before taking a submission (False closes intake), and for a store
that journals more than ids (a bucket's multipart uploads) `undo_notes` and
`unfinished`; a local store has nothing to undo there. `ahead` lets a store
begin taking an upload's envelope while it is still being written (a bucket
sends its first parts while the body arrives; `place` then finishes it), and
`staging_must_be_durable` whether a staged envelope is synced first (not for a
bucket, whose confirmed object is the durable copy). Every failure of the
store itself reaches callers as `StoreFailed`, an OSError.
`LocalStore` keeps each envelope as the file `store/<blob id>` in the data
directory; `intake.s3store.S3Store` keeps it as the object `<prefix><blob id>`
in an S3-compatible bucket (INTAKE_STORE_URL=s3://BUCKET/PREFIX), behind the
same methods. Staging stays on local disk whatever the store: it is
where uploads are encrypted as they arrive and where the journal lives.

The protocol, `Store.committing(dbs, staged, day)`. Placing envelopes in the
store and committing the rows that name them cannot be one atomic step, so:

1. rows: the caller adds its rows inside the `with` block; leaving it flushes
   them, so a row the database refuses is found before anything is placed;
2. journal: the blob ids about to be placed are written to an intent file in
   this process's staging directory and fsynced, file and directory (ids only,
   never applicant data);
3. place: every staged envelope goes into the store under its blob id, dated
   midnight UTC of `day` (the store, like the database, records the day a
   thing arrived and not the time), all or none, durable when it returns;
4. commit the transaction;
5. clear: the intent file is deleted.

A failure anywhere in 1-4 rolls the transaction back, removes what was placed
and what is still staged, clears the intent and re-raises: nothing is stored,
and no row names a missing envelope. If what was placed cannot be removed (the
store itself failed: `StoreFailed.leftover`), the intent stays in the journal
and the next start removes it, as after a kill.

Recovery. A process killed between 2 and 5 leaves its intent file behind,
and its staging directory's lock dies with it. At start, `recover` takes every
staging directory whose lock it can get (live processes hold theirs, so their
journals, commits perhaps under way, are never touched), removes from the
store each journalled id that no database row names, then the directory. If
the database cannot be asked, the directory and its journal wait for a later
start. The purge's orphan sweep (intake.retention) is the backstop for
anything else: envelopes no row names, older than its grace period.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from crypto.atomic import fsync_dir
from crypto.ids import is_id
from intake.storage import (
    Ahead,
    Committed,
    StagingArea,
    clean_abandoned_staging,
    remove_files,
)

#: A staged envelope to store: its blob id and its finished file in staging.
Staged = tuple[str, Path]


class StoreFailed(OSError):
    """The store refused or failed (a bucket unreachable, an upload cut): nothing was stored.

    The message is one line for the operator: the operation and the store's
    error code, never applicant data. `leftover` is True when what had been
    placed could not be removed again: the journal then stays, and the next
    start (or the purge's sweep) removes it. Applicants get the same "please
    try again" page as for a full disk (intake.errors).
    """

    def __init__(self, message: str, *, leftover: bool = False) -> None:
        super().__init__(message)
        self.leftover = leftover


class Store(abc.ABC):
    """Where envelopes rest, named by blob id; this process's staging area beside it."""

    def __init__(self, staging: StagingArea) -> None:
        self.staging = staging

    @contextlib.contextmanager
    def committing(self, dbs: Session, staged: Sequence[Staged], day: dt.date) -> Iterator[None]:
        """Add rows in the block; on leaving it, store `staged` and commit, or neither.

        The protocol and what recovery does are in this module's docstring.
        """
        blob_ids = [blob_id for blob_id, _path in staged]
        intent: Path | None = None
        placed = False
        try:
            yield
            dbs.flush()
            if staged:
                intent = self.staging.write_intent(blob_ids)
                self.place(staged, day)
                placed = True
            dbs.commit()
        except BaseException as e:
            dbs.rollback()
            leftover = isinstance(e, StoreFailed) and e.leftover
            try:
                if placed:
                    self.remove(blob_ids)
            except Exception:
                leftover = True  # the store failed again: keep the journal for recovery
            remove_files([path for _blob_id, path in staged])
            if intent is not None and not leftover:
                self.staging.clear_intent(intent)
            raise
        if intent is not None:
            self.staging.clear_intent(intent)

    def recover(self, committed: Committed) -> int:
        """Undo what dead processes left half-stored; returns how many staging dirs went."""
        return clean_abandoned_staging(self.staging.root, self, committed)

    def read(self, blob_id: str) -> bytes:
        with self.open(blob_id) as f:
            return f.read()

    def available(self) -> bool:
        """Whether envelopes can be stored now; False closes intake (a clear page, a log line)."""
        return True

    def undo_notes(self, notes: Sequence[str]) -> int:
        """Undo what a dead process journalled with `StagingArea.write_note`; returns how many.

        A local store writes no notes; a bucket journals its multipart uploads.
        """
        return 0

    def ahead(self, blob_id: str, path: Path) -> Ahead | None:
        """What to do while the envelope to be placed as `blob_id` is written to `path`.

        The request class passes this to each `StagedEnvelope` of an upload. A
        local store does nothing before `place` (None); a bucket starts
        uploading parts (intake.s3store.PartsAhead). `place` finishes what was
        begun; a discarded envelope has it undone.
        """
        return None

    def staging_must_be_durable(self) -> bool:
        """Whether a staged envelope must be synced to disk before `place` takes it.

        Yes for a local store: `place` renames the staged file into the store,
        so the answer that it is stored is only true once its bytes are on
        disk. A store that copies the envelope elsewhere and confirms it before
        `place` returns (a bucket) may say no.
        """
        return True

    def unfinished(self, older_than: float) -> list[str]:
        """Notes (as `undo_notes` takes them) for work begun before `older_than`, never finished.

        The purge's backstop for what no journal names: for a bucket, multipart
        uploads neither completed nor aborted, which a listing never shows.
        """
        return []

    # --- what each kind of store provides ----------------------------------
    # `place` is step 3 of `committing`: callers never place envelopes directly.

    @abc.abstractmethod
    def place(self, staged: Sequence[Staged], day: dt.date) -> None:
        """Put every staged envelope in the store, dated `day`; all or none, durable."""

    @abc.abstractmethod
    def remove(self, blob_ids: Iterable[str]) -> int:
        """Delete these envelopes, durably; returns how many there were to delete."""

    @abc.abstractmethod
    def has(self, blob_id: str) -> bool:
        """True when the envelope is in the store."""

    @abc.abstractmethod
    def open(self, blob_id: str) -> BinaryIO:
        """The stored envelope, for reading (OSError when it is not there)."""

    @abc.abstractmethod
    def orphans(self, named: set[str], older_than: float) -> list[str]:
        """Stored blob ids not in `named`, placed and last changed before `older_than`."""


class LocalStore(Store):
    """Envelopes as owner-only files `<root>/<blob id>`, never rewritten."""

    def __init__(self, root: Path, staging: StagingArea) -> None:
        super().__init__(staging)
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __str__(self) -> str:
        return str(self.root)

    def _path(self, blob_id: str) -> Path:
        if not is_id(blob_id):  # a name from a row or a journal: never a path
            raise ValueError("not a blob id")
        return self.root / blob_id

    def place(self, staged: Sequence[Staged], day: dt.date) -> None:
        # Renames within one filesystem: the file's times are what dates it.
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
        moved: list[Path] = []
        try:
            for blob_id, source in staged:
                target = self._path(blob_id)
                if target.exists():
                    raise FileExistsError("blob id collision")
                os.replace(source, target)
                moved.append(target)
                os.utime(target, (midnight, midnight))
            fsync_dir(self.root)
        except BaseException:
            remove_files(moved)
            raise

    def remove(self, blob_ids: Iterable[str]) -> int:
        removed = 0
        for blob_id in blob_ids:
            with contextlib.suppress(FileNotFoundError):
                self._path(blob_id).unlink()
                removed += 1
        if removed:
            fsync_dir(self.root)
        return removed

    def has(self, blob_id: str) -> bool:
        return self._path(blob_id).is_file()

    def open(self, blob_id: str) -> BinaryIO:
        return open(self._path(blob_id), "rb")

    def orphans(self, named: set[str], older_than: float) -> list[str]:
        found = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not is_id(entry.name) or entry.name in named:
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                # A fresh file without a row may be a submission being stored now.
                if info.st_mtime < older_than and info.st_ctime < older_than:
                    found.append(entry.name)
        return found


def open_store(config: Mapping[str, Any], staging: StagingArea) -> Store:
    """The store the configuration names: STORE_URL's bucket, else `store/` in the data directory."""
    url = config.get("STORE_URL")
    if url:
        from intake.s3store import S3Store  # boto3 only where a bucket is used

        return S3Store.from_config(str(url), config, staging)
    return LocalStore(Path(config["DATA_DIR"]) / "store", staging)
