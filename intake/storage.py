"""The staging area: envelopes in flight, and the journal of what is being stored.

Layout under the data directory:

    staging/<process dir>/<tmp>  envelopes being written by a request
    staging/<process dir>/.intent-<hex>  blob ids being stored (intake.store)

Every process owns one staging subdirectory and holds an exclusive `flock` on
a lock file inside it for as long as it lives. At start a process removes
every staging subdirectory whose lock it can take: its owner died (a crash, a
kill), so whatever it was writing is abandoned. Live workers keep theirs.

Placing envelopes in the store and committing their rows cannot be one
atomic step: `intake.store.Store.committing` journals the blob ids in an intent
file here first. A process killed before it cleared the intent leaves it
behind; whoever cleans its staging directory first has the store remove every
listed id that no database row names (`recover_intents`), so the store never
keeps ciphertext nobody can find.

A store may journal more than ids: an S3-compatible bucket journals each
multipart upload it starts (`StagingArea.write_note`), because an upload
neither completed nor aborted is kept by the bucket, invisibly to a listing.
Lines of an intent file that are not ids are such notes; recovery hands them
back to the store (`Store.undo_notes`) before removing the ids.

Only ciphertext is ever written here: a `StagedEnvelope` encrypts each write
before it reaches the file. An envelope's bytes never change once written (the
header comes first and is final), so a store may begin taking a staged
envelope while it is still being written (`Store.ahead`, `Ahead`): a bucket
uploads its first parts while the rest of the body arrives.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol, cast

from crypto.atomic import WRITEBACK_STEP, fsync_dir, start_writeback
from crypto.envelope import EnvelopeWriter
from crypto.ids import is_id, new_id
from crypto.keys import PublicKey

if TYPE_CHECKING:
    from intake.store import Store

LOCK_NAME = ".lock"
#: Intent files are named this plus a random suffix: a worker's threads each
#: store submissions at once, so each transaction journals in its own file.
INTENT_PREFIX = ".intent-"
#: Given blob ids, returns those a database row names (committed, so kept).
Committed = Callable[[Sequence[str]], set[str]]

logger = logging.getLogger("intake")


class StagingArea:
    """This process's staging directory, locked for its lifetime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir = root / f"p{os.getpid()}-{secrets.token_hex(4)}"
        self.dir.mkdir(mode=0o700)
        self._lock_fd = os.open(self.dir / LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def new_path(self) -> Path:
        return self.dir / secrets.token_hex(8)

    def files(self) -> list[Path]:
        return [p for p in self.dir.iterdir()
                if p.name != LOCK_NAME and not p.name.startswith(INTENT_PREFIX)]

    def write_intent(self, blob_ids: Sequence[str]) -> Path:
        """Journal, durably, that these blob ids are about to be renamed into the store.

        Call before the first rename; `clear_intent` once the rows are committed
        or the moved files removed. Only ids are written, never applicant data.
        """
        path = self.dir / f"{INTENT_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write("".join(f"{blob_id}\n" for blob_id in blob_ids).encode("ascii"))
            f.flush()
            os.fsync(f.fileno())
        # The entry itself must be on disk before any rename into the store is.
        fsync_dir(self.dir)
        return path

    def write_note(self, note: str) -> Path:
        """Journal, durably, one line a store must act on if this process dies.

        An intent file like `write_intent`'s, holding a line that is not an id
        (a multipart upload under way, say); `clear_intent` removes it.
        """
        if "\n" in note or is_id(note):
            raise ValueError("a note is one line and not an id")
        path = self.dir / f"{INTENT_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(f"{note}\n".encode("ascii"))
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(self.dir)
        return path

    def clear_intent(self, path: Path) -> None:
        # No fsync: if the unlink is lost, recovery finds the ids committed (or
        # their files gone) and removes nothing that a row names.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _journal(sub: Path) -> tuple[list[str], list[str]]:
    """The blob ids and the store's notes journalled in a dead process's intent files."""
    ids: list[str] = []
    notes: list[str] = []
    for intent in sub.glob(f"{INTENT_PREFIX}*"):
        data = intent.read_bytes()
        complete = data.endswith(b"\n")
        lines = data.decode("ascii", errors="replace").splitlines()
        for n, line in enumerate(lines):
            if is_id(line):
                ids.append(line)  # a torn id is not an id: it names nothing yet placed
            elif line and (complete or n < len(lines) - 1):
                notes.append(line)  # a torn note is left out: what it names had not begun
    return ids, notes


def recover_intents(sub: Path, store: Store, committed: Committed) -> int:
    """Undo the store's notes, then remove each journalled id no row names.

    Returns how many ids were there to remove.
    """
    ids, notes = _journal(sub)
    if notes:
        store.undo_notes(notes)
    if not ids:
        return 0
    keep = committed(ids)
    # An id not in the store was never placed, or was removed by the rollback.
    return store.remove(blob_id for blob_id in ids if blob_id not in keep)


def clean_abandoned_staging(
    root: Path, store: Store | None = None, committed: Committed | None = None
) -> int:
    """Remove staging directories left by dead processes; returns how many.

    With `store` and `committed`, a dead process's intent files are acted on
    first (`recover_intents`). A directory holding intents that cannot be
    resolved (no database given, or asking it failed) is left for a later start.
    """
    removed = 0
    if not root.is_dir():
        return 0
    for sub in root.iterdir():
        if not sub.is_dir():
            with contextlib.suppress(FileNotFoundError):
                sub.unlink()
            continue
        lock = sub / LOCK_NAME
        try:
            fd = os.open(lock, os.O_WRONLY)
        except FileNotFoundError:
            fd = None
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process owns it
            if any(sub.glob(f"{INTENT_PREFIX}*")):
                if store is None or committed is None:
                    continue
                try:
                    recover_intents(sub, store, committed)
                except Exception as e:  # the database, most likely; retry next start
                    logger.warning("could not resolve an interrupted store in %s (%s); "
                                   "it is left for the next start", sub, type(e).__name__)
                    continue
            shutil.rmtree(sub, ignore_errors=True)
            removed += 1
        finally:
            if fd is not None:
                os.close(fd)
    return removed


class Ahead(Protocol):
    """What a store does with a staged envelope while it is still being written.

    `Store.ahead` gives one for an envelope that will be stored under its
    blob id (or None: a local store has nothing to do before `place`).
    """

    def grown(self, end: int) -> None:
        """Bytes [0, end) of the staged file are written and final.

        Raises `intake.store.StoreFailed` once the store has failed: the
        request stops there instead of receiving the rest for nothing.
        """

    def abandon(self) -> None:
        """The envelope will not be stored (discarded, or `place` failed): undo what was begun.

        Never raises; what cannot be undone now stays journalled for recovery.
        """


#: Given a staged envelope's blob id and file, what the store does while it grows.
AheadFactory = Callable[[str, Path], "Ahead | None"]


class StagedEnvelope:
    """A write-only file object that encrypts into a staged file.

    Werkzeug's multipart parser calls `write()` once per received chunk and
    `seek(0)` when the part ends: that is where the envelope is finished and
    the file made durable. Nothing but ciphertext reaches the disk.

    `blob_id` is the id it will be stored under, chosen now so that a store
    given `ahead` (`Store.ahead`) can begin taking it while it is written.
    With `durable` False (`Store.staging_must_be_durable`: a bucket, whose
    confirmed object is the durable copy) the file is never synced: it is
    only what the upload reads from, and a crash discards it either way.
    """

    def __init__(self, path: Path, recipients: Sequence[PublicKey],
                 ahead: AheadFactory | None = None, *, durable: bool = True) -> None:
        self.path = path
        self.blob_id = new_id()
        self.durable = durable
        self._ahead: Ahead | None = None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        try:
            self._writer = EnvelopeWriter(self._file, recipients)
        except BaseException:
            self.discard()
            raise
        self.plaintext_size = 0
        self.ciphertext_size = 0
        self.finished = False
        self._flushed_at = 0  # plaintext bytes when writeback was last started
        self._written_back = 0  # file offset up to which it was started
        if ahead is not None:
            try:
                self._ahead = ahead(self.blob_id, path)
            except BaseException:
                self.discard()
                raise

    # --- what Werkzeug uses -------------------------------------------------

    def write(self, data: bytes) -> int:
        if self.finished or self._file is None:
            raise ValueError("write to a finished upload")
        self._writer.write(data)
        self.plaintext_size += len(data)
        if self.plaintext_size - self._flushed_at >= WRITEBACK_STEP:
            self._step(self._file)
        return len(data)

    def _step(self, file: BinaryIO) -> None:
        """Every WRITEBACK_STEP: hand what is written to the file, the disk and the store."""
        file.flush()
        end = file.tell()
        if self.durable:
            self._start_writeback(file, end)
        self._flushed_at = self.plaintext_size
        if self._ahead is not None:
            self._ahead.grown(end)  # flushed: [0, end) is in the file and never changes

    def _start_writeback(self, file: BinaryIO, end: int) -> None:
        """Start writing [written back, end) to disk now, without waiting for it.

        The fsync in `finish` must wait for everything not yet on disk; for a
        large upload that was seconds after the last byte arrived. Started
        here step by step, the disk works while the body is still arriving and
        the final fsync has only the tail left.
        """
        if end > self._written_back:  # the envelope writer may still hold it all
            start_writeback(file.fileno(), self._written_back, end - self._written_back)
            self._written_back = end

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if offset == 0 and whence == os.SEEK_SET:
            self.finish()
            return 0
        raise OSError("a staged envelope cannot be read back")

    def tell(self) -> int:
        return 0

    def read(self, _size: int = -1) -> bytes:
        raise OSError("a staged envelope cannot be read back")

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return not self.finished

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Release the file handle; a finished envelope stays for `commit`."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- ours ---------------------------------------------------------------

    def finish(self) -> None:
        """Write the final chunk and make the file durable (if `durable`)."""
        if self.finished:
            return
        if self._file is None:
            raise ValueError("the staged file was discarded")
        self.plaintext_size = self._writer.close()
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.ciphertext_size = self.path.stat().st_size
        self.finished = True

    def discard(self) -> None:
        """Remove the staged file; what a store began with it is undone (a no-op once placed)."""
        if self._ahead is not None:
            self._ahead.abandon()
            self._ahead = None
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class NullSink:
    """Where file parts go that must not be kept: empty file inputs, closed intake.

    Bytes are dropped as they arrive; nothing is buffered or written.
    """

    plaintext_size = 0
    finished = True

    def write(self, data: bytes) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return 0

    def tell(self) -> int:
        return 0

    def read(self, _size: int = -1) -> bytes:
        return b""

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def as_io(self) -> IO[bytes]:
        return cast(IO[bytes], self)


def stage_bytes(
    staging: StagingArea, data: bytes, recipients: Sequence[PublicKey], *, durable: bool = True
) -> StagedEnvelope:
    """Encrypt an in-memory plaintext (the answers JSON) into a staged file."""
    staged = StagedEnvelope(staging.new_path(), recipients, durable=durable)
    try:
        staged.write(data)
        staged.finish()
    except BaseException:
        staged.discard()
        raise
    return staged


def remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
