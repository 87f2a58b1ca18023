"""Write a file so that it appears whole or not at all.

Used wherever a command's output must not be left half-written: decrypted
output after a failed check, a key file, an exported bundle. The partial file
lives beside the target (same filesystem, so the rename is atomic), is created
exclusively with owner-only permissions, and is removed on any error.

The file is fsync'd before it is given its name, and its directory after: a
power cut leaves the whole output under the name or no such name, and once
the call has returned the name survives one. The file's flush is what a large
output costs most (docs/performance.md): the writer therefore asks the kernel
to start writing every `WRITEBACK_STEP` bytes as they are produced, so the
disk works while the output is still being made and the final fsync waits
only for the tail.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: Start writeback of a growing output every this many bytes.
WRITEBACK_STEP = 8 * 1024 * 1024


class OutputExists(FileExistsError):
    pass


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a byte range of `fd` to disk now, without waiting for it.

    Linux starts asynchronous writeback of the range's dirty pages on
    POSIX_FADV_DONTNEED (and drops those already clean, so a large output does
    not crowd the page cache). Advice only: the fsync that follows still
    decides when the data is durable, so a refusal is ignored.
    """
    with contextlib.suppress(OSError):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


class _WritebackWriter(io.BufferedWriter):
    """A buffered writer that starts writeback of every `WRITEBACK_STEP` bytes."""

    _written = 0
    _started = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        n = super().write(data)
        self._written += n
        if self._written - self._started >= WRITEBACK_STEP:
            self.flush()
            start_writeback(self.fileno(), self._started, self._written - self._started)
            self._started = self._written
        return n


def fsync_dir(path: Path) -> None:
    """Make the names in directory `path` durable: a created, renamed or removed entry.

    The one place this is written; the server's store and staging and the
    reviewer's packs call it after changing a directory's entries.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, overwrite: bool = False, mode: int = 0o600
) -> Iterator[BinaryIO]:
    target = Path(path)
    if not overwrite and target.exists():
        raise OutputExists(f"{target} already exists; not overwriting it")
    partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with _WritebackWriter(io.FileIO(fd, "wb")) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(partial, target)
        else:
            # link() fails if the target appeared meanwhile: never clobber.
            os.link(partial, target)
            os.unlink(partial)
        # The new name is durable only once its directory is: without this, a
        # power cut could bring back the old file (a state.json without the
        # record the command said it saved) or none at all.
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
