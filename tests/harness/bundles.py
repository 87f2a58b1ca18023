"""Reading a whole bundle in a test: its checked manifest and every member's bytes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from crypto.bundle import Manifest, Member, read_bundle


def read_members(path: Path, kind: str) -> tuple[Manifest, dict[str, bytes]]:
    """Check a bundle and return its manifest and every member's bytes."""
    members: dict[str, io.BytesIO] = {}

    @contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        members[member.id] = io.BytesIO()
        yield members[member.id]

    with open(path, "rb") as src:
        manifest = read_bundle(src, kind=kind, sink=sink)
    return manifest, {k: v.getvalue() for k, v in members.items()}
