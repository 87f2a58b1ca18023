"""reviewer.meanwhile: bytes made in a forked child while the command goes on."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from reviewer.errors import ReviewerError
from reviewer.meanwhile import made_meanwhile

#: Larger than a pipe holds, so that the child waits for the parent to read.
LARGE = 1 << 20


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _pid_then_bytes() -> bytes:
    return str(os.getpid()).encode() + b"\n" + b"x" * LARGE


def test_the_bytes_are_made_in_another_process_and_handed_over_whole() -> None:
    with made_meanwhile(_pid_then_bytes, "a file") as made:
        pid, _, rest = made().partition(b"\n")
    assert int(pid) != os.getpid()
    assert rest == b"x" * LARGE
    assert _reaped(int(pid))


def test_an_oserror_of_the_child_is_raised_as_the_same_oserror(tmp_path: Path) -> None:
    missing = tmp_path / "no such directory" / "f"
    with pytest.raises(OSError) as raised, made_meanwhile(missing.read_bytes, "a file") as made:
        made()
    assert raised.value.errno == errno.ENOENT
    assert raised.value.filename == str(missing)


def test_any_other_failure_of_the_child_is_a_reviewer_error_naming_what_it_made() -> None:
    def broken() -> bytes:
        raise ValueError("no good")

    failed = "making the index failed: ValueError: no good"
    with pytest.raises(ReviewerError, match=failed), made_meanwhile(broken, "the index") as made:
        made()


def test_a_child_that_dies_gives_nothing() -> None:
    def killed() -> bytes:
        os.kill(os.getpid(), 9)
        return b"never"

    died = "making the index stopped unexpectedly"
    with pytest.raises(ReviewerError, match=died), made_meanwhile(killed, "the index") as made:
        made()


def test_a_block_that_fails_leaves_the_child_to_end_and_waits_for_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def large() -> bytes:
        pid_file.write_text(str(os.getpid()))
        return b"x" * LARGE  # blocks on the full pipe until the parent lets go

    with pytest.raises(KeyError), made_meanwhile(large, "a file"):
        while not pid_file.exists():
            pass
        raise KeyError("the block's own")
    assert _reaped(int(pid_file.read_text()))


def test_without_fork_the_bytes_are_made_here_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fork")
    with made_meanwhile(lambda: str(os.getpid()).encode(), "a file") as made:
        assert made() == str(os.getpid()).encode()
