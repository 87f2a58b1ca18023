"""Pack storage in the reviewer's home (reviewer/packs.py, reviewer/home.py).

What must hold: packed envelopes read back byte for byte; a reader never sees
past its envelope's range; an import changes nothing unless it completes (a
failure at the pack write, the rename or the state save, and a process killed
between rename and state save); orphans are swept; homes written before packs
still work; re-importing changes nothing.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from bench.server_sim import Applicant, submit, write_bundle
from crypto import envelope
from crypto.bundle import Member
from crypto.errors import DecryptError, TruncatedError
from crypto.keys import PrivateKey
from reviewer import packs
from reviewer.errors import EXIT_BUNDLE, EXIT_ERROR
from reviewer.home import Home
from tests.reviewer.test_cli import Env, make_env

REPO = Path(__file__).parents[2]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def people(env: Env, n: int, *, start: int = 0) -> list[Applicant]:
    out = []
    for i in range(start, start + n):
        a = Applicant()
        attached = [(f"f{i}.txt", "text/plain", os.urandom(100 + 70_000 * (i % 2)))]
        submit(a, [env.public], answers={"name": f"Person {i}", "message": "x" * i},
               files=attached)
        out.append(a)
    return out


def bundle_of(tmp_path: Path, env: Env, who: list[Applicant], name: str = "b.bundle") -> Path:
    return write_bundle(tmp_path / name, [(a, a.submissions) for a in who], [env.public])


def all_blobs(who: list[Applicant]) -> dict[str, bytes]:
    return {bid: data for a in who for s in a.submissions for bid, data in s.blobs.items()}


def state_of(env: Env) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((env.home / "state.json").read_text())
    return state


def snapshot(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}


# --- reading back ---------------------------------------------------------------


def test_packed_blobs_read_back_exactly(env: Env, tmp_path: Path) -> None:
    who = people(env, 5)
    assert env.run("import", str(bundle_of(tmp_path, env, who))).exit_code == 0
    (pack,) = (env.home / "packs").iterdir()
    assert list((env.home / "blobs").iterdir()) == []
    assert list((env.home / "tmp").iterdir()) == []
    state = state_of(env)
    assert state["version"] == 3 and list(state["packs"]) == [pack.name]
    home = Home(env.home)
    store = home.store(home.load_state())
    blobs = all_blobs(who)
    assert set(state["packs"][pack.name]) == set(blobs)
    for bid, data in blobs.items():
        assert store.read_blob(bid) == data
        with store.open_blob(bid) as f:
            assert f.read() == data
            assert f.read() == b""
    # the pack is the envelopes back to back, nothing else
    assert pack.stat().st_size == sum(map(len, blobs.values()))
    assert stat.S_IMODE(pack.stat().st_mode) == 0o600
    assert stat.S_IMODE((env.home / "packs").stat().st_mode) == 0o700
    out = tmp_path / "out"
    assert env.run("extract", who[1].case, str(out)).exit_code == 0
    assert (out / "2026-11-20-application" / "f1.txt").stat().st_size == 70_100


def test_range_reader_stops_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.write_bytes(b"AAAA" + b"0123456789" + b"BBBB")
    with packs.open_range(path, 4, 10) as f:
        assert f.read(3) == b"012"
        assert f.read(100) == b"3456789"
        assert f.read(1) == b""
    with packs.open_range(path, 4, 10) as f:
        assert f.read() == b"0123456789"
    buf = bytearray(50)
    with packs.open_range(path, 4, 10) as f:
        assert f.readinto(buf) == 10 and bytes(buf[:10]) == b"0123456789"
    assert packs.read_range(path, 4, 10) == b"0123456789"
    # a range past the end of the file gives what exists, never more
    assert packs.read_range(path, 14, 10) == b"BBBB"
    with packs.open_range(path, 14, 10) as f:
        assert f.read() == b"BBBB"


def test_envelope_cut_short_or_extended_inside_a_pack_is_refused(env: Env,
                                                                   tmp_path: Path) -> None:
    who = people(env, 3)
    env.run("import", str(bundle_of(tmp_path, env, who)))
    state = state_of(env)
    ((pack, entries),) = state["packs"].items()
    path = env.home / "packs" / pack
    keys = Home(env.home).unlock("correct horse battery staple").private
    # two neighbours in the pack: the second's bytes follow the first's
    order = sorted(entries.items(), key=lambda kv: kv[1][0])
    (first, (offset, length)), (_, (next_offset, _)) = order[0], order[1]
    assert next_offset == offset + length
    with packs.open_range(path, offset, length) as f:
        assert b"".join(envelope.decrypt_stream(f, keys))  # the right range opens
    # One byte short: the last chunk no longer authenticates.
    with pytest.raises(DecryptError), packs.open_range(path, offset, length - 1) as f:
        for _ in envelope.decrypt_stream(f, keys):
            pass
    # One byte long (the neighbour's first byte): read into the last chunk, which
    # then fails too.
    with pytest.raises(DecryptError), packs.open_range(path, offset, length + 1) as f:
        for _ in envelope.decrypt_stream(f, keys):
            pass
    # The larger attachment cut after its first whole chunk: the final chunk is
    # missing, and the reader does not go on into the next envelope for it.
    big = who[1].submissions[0].record.attachments[0]
    big_offset, big_length = entries[big]
    header = len(envelope.MAGIC) + 1 + envelope.STANZA_BYTES + envelope.STREAM_HEADER_BYTES \
        + envelope.MAC_BYTES
    assert big_length > header + envelope.CHUNK_CT_SIZE
    with pytest.raises(TruncatedError), \
            packs.open_range(path, big_offset, header + envelope.CHUNK_CT_SIZE) as f:
        for _ in envelope.decrypt_stream(f, keys):
            pass
    # Through the commands: state.json says the answers envelope is one byte
    # shorter, then one longer (taking the first byte of its neighbour).
    case = next(a for a in who if a.submissions[0].record.answers == first)
    for delta in (-1, 1):
        damaged = json.loads(json.dumps(state))
        damaged["packs"][pack][first] = [offset, length + delta]
        (env.home / "state.json").write_text(json.dumps(damaged))
        (env.home / "index.env").unlink(missing_ok=True)
        shown = env.run("show", case.case)
        assert shown.exit_code == EXIT_BUNDLE, shown.output
        assert "Traceback" not in shown.output


# --- all or nothing -------------------------------------------------------------


def test_failure_writing_the_pack_changes_nothing(env: Env, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = people(env, 2), people(env, 4)
    env.run("import", str(bundle_of(tmp_path, env, first, "1.bundle")))
    before = snapshot(env.home)
    real_member = packs.PackWriter.member

    class Full:
        def __init__(self, out: BinaryIO) -> None:
            self.out = out

        def write(self, data: bytes) -> int:
            self.out.write(data[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

    import contextlib

    calls = 0

    @contextlib.contextmanager
    def failing(self: packs.PackWriter, member: Member) -> Iterator[Any]:
        nonlocal calls
        calls += 1
        with real_member(self, member) as out:
            yield Full(out) if calls == 3 else out

    monkeypatch.setattr(packs.PackWriter, "member", failing)
    result = env.run("import", str(bundle_of(tmp_path, env, second, "2.bundle")))
    assert result.exit_code == EXIT_ERROR, result.output
    assert "No space left" in result.output
    assert snapshot(env.home) == before


@pytest.mark.parametrize("where", ["fsync", "rename", "directory sync", "state save"])
def test_failure_at_commit_changes_nothing(env: Env, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    first, second = people(env, 2), people(env, 3)
    env.run("import", str(bundle_of(tmp_path, env, first, "1.bundle")))
    path = bundle_of(tmp_path, env, second, "2.bundle")
    before = snapshot(env.home)

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, f"injected failure at {where}")

    if where == "fsync":
        monkeypatch.setattr(os, "fsync", fail)
    elif where == "rename":
        monkeypatch.setattr(os, "rename", fail)
    elif where == "directory sync":
        monkeypatch.setattr(packs, "fsync_dir", fail)
    else:
        monkeypatch.setattr(Home, "save_state", fail)
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_ERROR, result.output
    assert f"injected failure at {where}" in result.output
    assert snapshot(env.home) == before
    monkeypatch.undo()
    # and the same bundle imports cleanly afterwards
    again = env.run("import", str(path))
    assert "3 new cases" in again.output, again.output


def test_killed_between_rename_and_state_save(env: Env, tmp_path: Path) -> None:
    first, second = people(env, 2), people(env, 3)
    env.run("import", str(bundle_of(tmp_path, env, first, "1.bundle")))
    state_before = (env.home / "state.json").read_bytes()
    named = set(state_of(env)["packs"])
    script = (
        "import os, sys\n"
        "from reviewer.home import Home\n"
        "def die(self, state):\n"
        "    os._exit(70)  # as if the power went: no cleanup runs\n"
        "Home.save_state = die\n"
        "from reviewer.cli import cli\n"
        "cli(sys.argv[1:], prog_name='reviewer')\n"
    )
    args = ["import", "--home", str(env.home), "--passphrase-file", str(env.pass_file),
            str(bundle_of(tmp_path, env, second, "2.bundle"))]
    proc = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 70, proc.stderr
    # the pack was renamed into place, but no state names it: the old state stands
    orphans = {p.name for p in (env.home / "packs").iterdir()} - named
    assert len(orphans) == 1
    assert (env.home / "state.json").read_bytes() == state_before
    listed = env.run("list", "--json")
    assert listed.exit_code == 0
    assert {r["case"] for r in json.loads(listed.output)} == {a.case for a in first}
    # the next import sweeps the orphan and imports the bundle again
    again = env.run("import", str(tmp_path / "2.bundle"))
    assert "3 new cases" in again.output, again.output
    now = {p.name for p in (env.home / "packs").iterdir()}
    assert now == set(state_of(env)["packs"]) and not now & orphans
    assert len(now) == 2


def test_orphans_and_staging_leftovers_are_swept(env: Env, tmp_path: Path) -> None:
    first, second = people(env, 1), people(env, 1)
    env.run("import", str(bundle_of(tmp_path, env, first, "1.bundle")))
    (named,) = (env.home / "packs").iterdir()
    orphan = env.home / "packs" / ("ab" * 16)
    orphan.write_bytes(b"RFGENV\x00\x01 left by a crash")
    (env.home / "tmp" / ("pack-" + "cd" * 16)).write_bytes(b"half a pack")
    old_staging = env.home / "tmp" / "import-0123456789ab"
    old_staging.mkdir()
    (old_staging / ("ef" * 16)).write_bytes(b"from a version before packs")
    stranger = env.home / "packs" / "README"
    stranger.write_text("not ours to delete")
    result = env.run("import", str(bundle_of(tmp_path, env, second, "2.bundle")))
    assert result.exit_code == 0, result.output
    assert not orphan.exists() and named.exists() and stranger.exists()
    assert list((env.home / "tmp").iterdir()) == []


# --- compatibility and idempotence ---------------------------------------------


def old_layout_home(env: Env, who: list[Applicant]) -> None:
    """Write the home the way the tool did before packs: state version 1, blobs/<id>."""
    cases: dict[str, Any] = {}
    for a in who:
        subs = []
        for s in a.submissions:
            for bid, data in s.blobs.items():
                (env.home / "blobs" / bid).write_bytes(data)
            r = s.record
            subs.append({"id": r.submission, "day": r.day, "kind": r.kind,
                         "answers": r.answers, "attachments": list(r.attachments),
                         "readable": True})
        cases[a.case] = {"reply_key": a.reply_key.public_key.to_text(), "received": subs[0]["day"],
                         "submissions": subs, "verifications": [], "replies": []}
    state = {"version": 1, "server_keys": [env.public.to_text()], "cases": cases}
    (env.home / "state.json").write_text(json.dumps(state, indent=1, sort_keys=True))


def test_home_written_before_packs_still_works(env: Env, tmp_path: Path) -> None:
    old = people(env, 2)
    old_layout_home(env, old)
    rows = json.loads(env.run("list", "--json").output)
    assert {r["name"] for r in rows} == {"Person 0", "Person 1"}
    assert "Person 1" in env.run("show", old[1].case).output
    out = tmp_path / "out"
    assert env.run("extract", old[1].case, str(out)).exit_code == 0
    assert (out / "2026-11-20-application" / "f1.txt").stat().st_size == 70_100
    # the old bundle again: nothing new, nothing written
    before = snapshot(env.home)
    again = env.run("import", str(bundle_of(tmp_path, env, old, "old.bundle")))
    assert "Nothing new" in again.output, again.output
    assert snapshot(env.home) == before
    # a new bundle with the old cases and a new one packs only the new envelopes
    new = people(env, 1, start=2)
    mixed = env.run("import", str(bundle_of(tmp_path, env, old + new, "mixed.bundle")))
    assert "1 new case" in mixed.output and "(2 already imported)" in mixed.output
    state = state_of(env)
    assert state["version"] == 4  # the extract above made file-saved team records
    (pack,) = state["packs"]
    assert set(state["packs"][pack]) == set(all_blobs(new))
    rows = json.loads(env.run("list", "--json").output)
    assert {r["name"] for r in rows} == {"Person 0", "Person 1", "Person 2"}
    assert env.run("verify", old[0].case, "--identity", "i", "--work", "w", "--persecution",
                   "p", "--risk", "low", "--recommendation", "proceed",
                   "--notes", "").exit_code == 0
    assert "proceed" in env.run("show", old[0].case).output


def test_reimport_is_idempotent_and_adds_no_pack(env: Env, tmp_path: Path) -> None:
    who = people(env, 3)
    path = bundle_of(tmp_path, env, who)
    env.run("import", str(path))
    before = snapshot(env.home)
    again = env.run("import", str(path))
    assert again.exit_code == 0 and "Nothing new: all 3 submissions" in again.output
    assert snapshot(env.home) == before


def test_bundle_differing_from_stored_is_refused(env: Env, tmp_path: Path) -> None:
    who = people(env, 2)
    env.run("import", str(bundle_of(tmp_path, env, who)))
    before = snapshot(env.home)
    sub = who[0].submissions[0]
    sub.record = type(sub.record)(sub.record.submission, "2026-11-21", sub.record.kind,
                                  sub.record.answers, sub.record.attachments)
    result = env.run("import", str(bundle_of(tmp_path, env, who, "changed.bundle")))
    assert result.exit_code == EXIT_BUNDLE
    assert "differs from the one already imported" in result.output
    assert snapshot(env.home) == before


def test_a_known_case_arriving_with_another_reply_key_is_refused(
        env: Env, tmp_path: Path) -> None:
    # A tampered server could swap a case's reply key so that the reviewers'
    # next replies are sealed to someone else: the import stops, saying so.
    before, victim, swapped = imported_then_reply_key_swapped(env, tmp_path)
    result = env.run("import", str(swapped))
    assert result.exit_code == EXIT_BUNDLE
    assert result.output.strip().splitlines() == [
        f"Error: case {victim.case} arrives with a different reply key than before;"
        " nothing was imported"
    ]
    assert snapshot(env.home) == before


def imported_then_reply_key_swapped(env: Env, tmp_path: Path) -> tuple[dict[str, bytes], Applicant, Path]:
    """Two cases imported; the home's snapshot, and a bundle with a follow-up for the
    first whose reply key was swapped."""
    who = people(env, 2)
    assert env.run("import", str(bundle_of(tmp_path, env, who))).exit_code == 0
    before = snapshot(env.home)
    victim = who[0]
    victim.reply_key = PrivateKey.generate()
    submit(victim, [env.public], kind="followup", day="2026-11-22")  # something new with it
    return before, victim, bundle_of(tmp_path, env, [victim], "swapped.bundle")


def test_a_damaged_member_is_told_before_what_the_home_finds_wrong(
        env: Env, tmp_path: Path) -> None:
    # The comparison with the home runs as soon as the manifest is read (the
    # checks start while the members are read), but what it finds is told only
    # once the whole bundle has been read: the bundle's own fault comes first,
    # as when the comparison ran after it.
    before, _, swapped = imported_then_reply_key_swapped(env, tmp_path)
    data = bytearray(swapped.read_bytes())
    data[-30] ^= 1  # inside the last member: its digest no longer matches
    (tmp_path / "damaged.bundle").write_bytes(bytes(data))
    result = env.run("import", str(tmp_path / "damaged.bundle"))
    assert result.exit_code == EXIT_BUNDLE
    assert "is damaged or has been tampered with" in result.output, result.output
    assert "different reply key" not in result.output
    assert snapshot(env.home) == before


# --- the lock -------------------------------------------------------------------


def test_a_second_command_changing_the_home_is_refused(env: Env, tmp_path: Path) -> None:
    who = people(env, 1)
    home = Home(env.home)
    with home.lock():
        result = env.run("import", str(bundle_of(tmp_path, env, who)))
        assert result.exit_code == EXIT_ERROR
        assert "another reviewer command is changing" in result.output
        assert env.run("list").exit_code == 0  # reading needs no lock
    assert env.run("import", str(tmp_path / "b.bundle")).exit_code == 0


@pytest.mark.parametrize("table", [
    {"../../etc": {}},
    {"ab" * 16: {"../x": [0, 10]}},
    {"ab" * 16: {"cd" * 16: [-1, 10]}},
    {"ab" * 16: {"cd" * 16: [0, True]}},
    ["not", "a", "table"],
])
def test_damaged_pack_table_is_one_clear_line(env: Env, tmp_path: Path,
                                              table: object) -> None:
    who = people(env, 1)
    env.run("import", str(bundle_of(tmp_path, env, who)))
    state = state_of(env)
    state["packs"] = table
    (env.home / "state.json").write_text(json.dumps(state))
    (env.home / "index.env").unlink()
    result = env.run("show", who[0].case)
    assert result.exit_code == EXIT_ERROR, result.output
    assert "state.json is damaged" in result.output
