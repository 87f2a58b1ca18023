"""Write a file so that it appears whole or not at all.

Used wherever a command's output must not be left half-written: decrypted
output after a failed check, a key file, an exported bundle. The partial file
lives beside the target (same filesystem, so the rename is atomic), is created
exclusively with owner-only permissions, and is removed on any error.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class OutputExists(FileExistsError):
    pass


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
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(partial, target)
        else:
            # link() fails if the target appeared meanwhile: never clobber.
            os.link(partial, target)
            os.unlink(partial)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
