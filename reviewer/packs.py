"""Pack files: the envelopes of one import, stored together in one file.

Why this exists: a home that kept one file per envelope paid a file creation,
a write and a rename for every envelope of every bundle (and another creation
in the staging folder before it), so importing 10,000 cases took several
seconds of file-system work alone. An import now writes the new envelopes of a
bundle one after another into a single pack, syncs it once and renames it into
`packs/`; state.json records where each envelope lives (pack, offset, length).

A pack is nothing but the member envelopes, back to back, exactly as the
bundle carried them: no header, no index, every byte ciphertext. It is built
in `tmp/` while `crypto.bundle.read_bundle` checks the bundle, and becomes
visible in `packs/` (file synced, then renamed, then the directory synced)
strictly before state.json names it. A pack that no state names is an orphan
(an import that failed after the rename, or a process killed between the
rename and the state save); `sweep` removes orphans and staging leftovers at
the start of the next import, under the home's lock.

Reading goes through `open_range` / `read_range`, which never return a byte
outside the blob's range: `decrypt_stream` then sees exactly the stored
envelope, so one cut short is reported as truncated and one followed by
other bytes inside its range as trailing data, never read on into the next
envelope of the pack.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Literal

from crypto import envelope
from crypto.atomic import fsync_dir
from crypto.ids import is_id, new_id

if TYPE_CHECKING:  # every command reads packs; only an import needs crypto.bundle
    from crypto.bundle import Member

#: Staging names in tmp/: `pack-<id>` now, `import-<hex>` folders from before packs.
STAGING_PREFIXES = ("pack-", "import-")

#: The buffer of the pack an import writes and of the bundle it reads
#: (see import_buffered).
IMPORT_BUFFER = 1 << 20


def import_buffered(file: Path | int, mode: Literal["rb", "wb"] = "rb") -> BinaryIO:
    """`file` (a path, or a descriptor already open) opened for an import's one
    pass, with a 1 MiB buffer instead of 8 KiB.

    What it buys: a 10,000-case bundle is 10,000 members of about 4.3 KB read
    one after the other and appended to the pack, which the import flushes
    every 100 submissions for its checks; with Python's default buffer each
    member costs a read and a write system call. Measured (CPU time, min of 3,
    three alternated runs, copying 10,000 such members from the bench bundle
    with a flush every 100): 0.114 to 0.130 s with the default buffers, 0.046
    to 0.051 s with this one on both sides, all of it in the command's own
    process, the one that reads the bundle while the workers check.
    """
    return open(file, mode, buffering=IMPORT_BUFFER)


def is_dossier_answer(path: Path) -> bool:
    """Whether a file given to `reviewer import` is an envelope (a city's answer to a
    dossier, reviewer.referrals) rather than a bundle.

    Here, not in reviewer.referrals: every `reviewer import` asks, and importing
    reviewer.referrals (with crypto.dossier and reviewer.teamview) to ask cost
    every import about 12 ms of CPU (median of 7, 2026-12-02; docs/performance.md,
    "The command's start").
    """
    with open(path, "rb") as f:
        return f.read(len(envelope.MAGIC_PREFIX)) == envelope.MAGIC_PREFIX


class _Range(io.RawIOBase):
    """A read-only view of `length` bytes of an open file from `offset` on."""

    def __init__(self, raw: io.FileIO, offset: int, length: int) -> None:
        super().__init__()
        self._raw = raw
        self._left = length
        raw.seek(offset)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        got = self._raw.readinto(memoryview(buffer)[:want])
        if not got:
            return 0  # the pack ends inside the range: the envelope reads as truncated
        self._left -= got
        return got

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_range(path: Path, offset: int, length: int) -> io.BufferedReader:
    """A binary file object holding exactly bytes offset..offset+length of `path`."""
    raw = io.FileIO(path, "r")
    try:
        return io.BufferedReader(_Range(raw, offset, length))
    except BaseException:
        raw.close()
        raise


def read_range(path: Path, offset: int, length: int) -> bytes:
    """The bytes of one range (fewer if the file ends early: the caller's check fails)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return pread_range(fd, offset, length)
    finally:
        os.close(fd)


def pread_range(fd: int, offset: int, length: int) -> bytes:
    """read_range on a file already open (fewer bytes only at end of file)."""
    parts: list[bytes] = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        length -= len(part)
    return b"".join(parts)


class PackWriter:
    """Collects the new envelopes of one import into one pack.

    Use as a context manager: unless `keep()` was called, leaving it removes
    the pack, whether it is still in `tmp/` or already renamed into `packs/`
    (the state save that would have named it failed). `member` is a sink for
    `read_bundle`; after `flush`, `staged_path` can be read (bounded ranges,
    `entries`) by the checks that come before the commit.
    """

    def __init__(self, tmp_dir: Path, packs_dir: Path) -> None:
        self.id = new_id()
        self._staged = tmp_dir / f"pack-{self.id}"
        self._final = packs_dir / self.id
        self._packs_dir = packs_dir
        fd = os.open(self._staged, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._out = import_buffered(fd, "wb")
        self._size = 0
        #: blob id -> (offset, length), in the order written
        self.entries: dict[str, tuple[int, int]] = {}
        #: Called with each member's id once its bytes are written (the import's
        #: checks start on them: reviewer.checks.Checks.landed).
        self.landed: Callable[[str], None] | None = None
        self._dirty = False
        self._committed = False
        self._kept = False

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._out.closed:
            self._out.close()
        if not self._kept:
            for path in (self._staged, self._final):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    @contextlib.contextmanager
    def member(self, member: Member) -> Iterator[BinaryIO]:
        """A sink for read_bundle: the member's bytes are appended to the pack."""
        if self._committed or member.id in self.entries:
            raise ValueError(f"cannot add member {member.id} to this pack")
        offset = self._size
        self._dirty = True
        # read_bundle writes exactly member.length bytes or raises (and then
        # the whole import fails and the pack goes); commit() checks the total.
        yield self._out
        self._size += member.length
        self.entries[member.id] = (offset, member.length)
        if self.landed is not None:
            self.landed(member.id)

    @property
    def staged_path(self) -> Path:
        """Where the pack is being written (in tmp/), for readers before the commit."""
        return self._staged

    def flush(self) -> None:
        """Make everything written so far visible to readers of staged_path."""
        if self._dirty:
            self._out.flush()
            self._dirty = False

    def sync(self) -> None:
        """Write the pack through to the disk (commit does it too; cheap if done)."""
        self.flush()
        os.fsync(self._out.fileno())

    def commit(self) -> None:
        """Sync the pack and rename it into packs/, before any state names it."""
        if self._out.tell() != self._size:
            raise OSError(f"the pack {self.id} is not the length its members add up to")
        self.sync()
        self._out.close()
        os.rename(self._staged, self._final)
        self._committed = True
        fsync_dir(self._packs_dir)

    def keep(self) -> None:
        """The state naming this pack is saved: leaving the context keeps it."""
        if not self._committed:
            raise ValueError("keep() before commit()")
        self._kept = True


def sweep(packs_dir: Path, tmp_dir: Path, named: set[str]) -> int:
    """Remove packs no state names and staging left by an interrupted import.

    Call only while holding the home's lock, so no import is running.
    Returns how many entries were removed.
    """
    removed = 0
    if packs_dir.is_dir():
        for path in packs_dir.iterdir():
            if is_id(path.name) and path.name not in named and path.is_file():
                path.unlink()
                removed += 1
    if tmp_dir.is_dir():
        for path in tmp_dir.iterdir():
            if not path.name.startswith(STAGING_PREFIXES):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
    return removed
