"""atomic_output: whole or nothing, never clobbering, and early writeback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import crypto.atomic as atomic
from crypto.atomic import OutputExists, atomic_output


def test_output_appears_whole_with_owner_only_mode(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_output(target) as out:
        out.write(b"hello")
        assert not target.exists()  # only the partial file exists meanwhile
    assert target.read_bytes() == b"hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_error_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_never_clobbers_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(OutputExists), atomic_output(target) as out:
        out.write(b"new")
    assert target.read_bytes() == b"old"
    with atomic_output(target, overwrite=True) as out:
        out.write(b"new")
    assert target.read_bytes() == b"new"


def test_large_output_starts_writeback_range_by_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fadvise_calls: list[tuple[int, int, int]]
) -> None:
    calls = fadvise_calls
    monkeypatch.setattr(atomic, "WRITEBACK_STEP", 10_000)
    data = os.urandom(105_000)
    target = tmp_path / "out"
    with atomic_output(target) as out:
        for start in range(0, len(data), 3000):
            out.write(data[start:start + 3000])
    assert target.read_bytes() == data
    assert len(calls) == 8  # every fourth 3,000-byte write crosses the 10,000 step
    position = 0
    for offset, length, advice in calls:
        assert advice == os.POSIX_FADV_DONTNEED
        assert offset == position and length >= 10_000
        position += length
    assert position <= len(data)


def test_refused_advice_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: int) -> None:
        raise OSError(22, "not supported here")

    monkeypatch.setattr(atomic, "WRITEBACK_STEP", 100)
    monkeypatch.setattr(os, "posix_fadvise", refuse)
    with atomic_output(tmp_path / "out") as out:
        out.write(b"x" * 1000)
    assert (tmp_path / "out").read_bytes() == b"x" * 1000


@pytest.mark.parametrize("overwrite", [False, True])
def test_file_then_its_directory_are_synced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overwrite: bool
) -> None:
    # Order matters: the data before the name appears, the directory after it,
    # so that the name the command reported survives a power cut.
    events: list[str] = []
    real_fsync, real_replace, real_link = os.fsync, os.replace, os.link

    def fsync(fd: int) -> None:
        events.append("sync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "sync-file")
        real_fsync(fd)

    def replace(*args: str) -> None:
        events.append("name")
        real_replace(*args)

    def link(*args: str) -> None:
        events.append("name")
        real_link(*args)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "link", link)
    with atomic_output(tmp_path / "out", overwrite=overwrite) as out:
        out.write(b"data")
    assert events == ["sync-file", "name", "sync-dir"]
    assert (tmp_path / "out").read_bytes() == b"data"
