"""The store protocol itself (intake.store): journal, place, commit, clear; or nothing.

The app-level tests (test_uploads, test_transfer, test_purge, the proof tests)
show the protocol through submissions, imports and kills; these check each
step of `Store.committing` directly, with a session that records what it was
asked and fails where told, so that another kind of store can be held to the
same steps.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy.orm import Session

from intake.storage import INTENT_PREFIX, LOCK_NAME, StagingArea
from intake.store import LocalStore, Staged

DAY = dt.date(2026, 3, 14)
MIDNIGHT = dt.datetime(2026, 3, 14, tzinfo=dt.UTC).timestamp()


class Injected(Exception):
    pass


class RecordingSession:
    """Just what `committing` uses of a Session: flush, commit, rollback."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail == name:
            raise Injected(name)

    def flush(self) -> None:
        self._call("flush")

    def commit(self) -> None:
        self._call("commit")

    def rollback(self) -> None:
        self._call("rollback")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store", StagingArea(tmp_path / "staging"))


def stage(store: LocalStore, n: int) -> list[Staged]:
    staged = []
    for i in range(n):
        path = store.staging.new_path()
        path.write_bytes(b"ciphertext %d" % i)
        staged.append((secrets.token_hex(16), path))
    return staged


def staging_left(store: LocalStore) -> list[str]:
    return sorted(p.name for p in store.staging.dir.iterdir() if p.name != LOCK_NAME)


def test_committing_places_dated_envelopes_then_commits(store: LocalStore) -> None:
    staged = stage(store, 2)
    session = RecordingSession()
    with store.committing(cast(Session, session), staged, DAY):
        assert list(store.root.iterdir()) == []  # nothing placed while rows are added
        session.calls.append("rows")
    assert session.calls == ["rows", "flush", "commit"]
    assert sorted(p.name for p in store.root.iterdir()) == sorted(b for b, _p in staged)
    for blob_id, _path in staged:
        assert store.has(blob_id)
        assert os.stat(store.root / blob_id).st_mtime == MIDNIGHT  # the day, not the time
    assert store.read(staged[1][0]) == b"ciphertext 1"
    assert staging_left(store) == []  # staged files moved, intent cleared


def test_the_journal_is_on_disk_before_anything_is_placed(
        store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    staged = stage(store, 3)
    seen: dict[str, object] = {}
    real_place = LocalStore.place

    def place(self: LocalStore, items: list[Staged], day: dt.date) -> None:
        intents = [p for p in self.staging.dir.iterdir() if p.name.startswith(INTENT_PREFIX)]
        seen["journal"] = [p.read_text("ascii").split() for p in intents]
        seen["store"] = list(self.root.iterdir())
        real_place(self, items, day)

    monkeypatch.setattr(LocalStore, "place", place)
    with store.committing(cast(Session, RecordingSession()), staged, DAY):
        pass
    assert seen["journal"] == [[blob_id for blob_id, _path in staged]]
    assert seen["store"] == []


@pytest.mark.parametrize("where", ["rows", "flush", "journal", "place", "commit"])
def test_a_failure_at_any_step_stores_nothing_and_leaves_nothing(
        store: LocalStore, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    staged = stage(store, 3)
    session = RecordingSession(fail=where if where in ("flush", "commit") else None)
    if where == "journal":
        def no_journal(_ids: object) -> Path:
            raise Injected(where)
        monkeypatch.setattr(store.staging, "write_intent", no_journal)
    if where == "place":
        real_replace = os.replace
        renames = {"n": 0}

        def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            renames["n"] += 1
            if renames["n"] == 2:  # the first envelope is already in the store
                raise Injected(where)
            real_replace(src, dst)
        monkeypatch.setattr(os, "replace", replace)

    with pytest.raises(Injected), store.committing(cast(Session, session), staged, DAY):
        if where == "rows":
            raise Injected(where)

    assert session.calls[-1] == "rollback"
    assert list(store.root.iterdir()) == []
    assert staging_left(store) == []  # neither staged envelopes nor an intent


def test_nothing_to_store_still_commits_and_journals_nothing(
        store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_journal(_ids: object) -> Path:
        raise AssertionError("an empty journal was written")
    monkeypatch.setattr(store.staging, "write_intent", no_journal)
    session = RecordingSession()
    with store.committing(cast(Session, session), [], DAY):
        pass
    assert session.calls == ["flush", "commit"]


def test_remove_and_orphans(store: LocalStore) -> None:
    old, fresh, named = (secrets.token_hex(16) for _ in range(3))
    for blob_id in (old, fresh, named):
        (store.root / blob_id).write_bytes(b"x")
    (store.root / "not-a-blob").write_bytes(b"x")
    os.utime(store.root / old, (MIDNIGHT, MIDNIGHT))
    # ctime cannot be set back: ask as of a time after every write.
    later = os.stat(store.root / fresh).st_ctime + 1
    os.utime(store.root / fresh, (later + 10, later + 10))
    assert store.orphans({named}, older_than=later) == [old]
    assert store.remove([old, secrets.token_hex(16)]) == 1  # one was there
    assert not store.has(old)
    with pytest.raises(ValueError):
        store.remove(["../escape"])


class NotingStore(LocalStore):
    """A local store that records the notes recovery hands back to it."""

    def __init__(self, root: Path, staging: StagingArea) -> None:
        super().__init__(root, staging)
        self.undone: list[str] = []

    def undo_notes(self, notes: Sequence[str]) -> int:
        self.undone.extend(notes)
        return len(notes)


def test_recovery_hands_a_dead_process_notes_back_to_the_store(tmp_path: Path) -> None:
    store = NotingStore(tmp_path / "store", StagingArea(tmp_path / "staging"))
    blob_id = secrets.token_hex(16)
    (store.root / blob_id).write_bytes(b"placed, never committed")
    dead = tmp_path / "staging" / "p999999-dead"
    dead.mkdir()
    (dead / LOCK_NAME).touch()
    (dead / f"{INTENT_PREFIX}a").write_text(f"{blob_id}\n")
    (dead / f"{INTENT_PREFIX}b").write_text("s3-upload x y\n")
    (dead / f"{INTENT_PREFIX}c").write_text("s3-upload torn whi")  # killed while writing it
    assert store.recover(lambda ids: set()) == 1
    assert store.undone == ["s3-upload x y"]  # the torn note named nothing begun
    assert not store.has(blob_id) and not dead.exists()


def test_a_note_is_one_line_and_never_an_id(store: LocalStore) -> None:
    with pytest.raises(ValueError):
        store.staging.write_note("two\nlines")
    with pytest.raises(ValueError):
        store.staging.write_note(secrets.token_hex(16))
    path = store.staging.write_note("s3-upload a b")
    assert path.read_text("ascii") == "s3-upload a b\n"
    store.staging.clear_intent(path)
    assert staging_left(store) == []
