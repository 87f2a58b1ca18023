"""The import's checks spread over worker processes (reviewer/checks.py).

Real imports only go parallel above PARALLEL_MIN submissions; these tests
lower the threshold so that small bundles take the same path, and hold it to
what the serial path does: the same result, the first failure in manifest
order, nothing stored on any failure, a dead worker reported in one line.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from bench.server_sim import Applicant, submit, write_bundle
from crypto import bundle
from crypto.keys import PublicKey
from reviewer import checks
from reviewer.errors import EXIT_BUNDLE, EXIT_ERROR, BadInput
from reviewer.index import AnswersFacts
from tests.reviewer.test_cli import Env, make_env


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    if "fork" not in checks._start_methods():
        pytest.skip("no fork on this platform: the checks always run in-process")
    monkeypatch.setattr(checks, "PARALLEL_MIN", 1)
    monkeypatch.setattr(checks, "CHUNK", 2)
    monkeypatch.setattr(checks, "_usable_cores", lambda: 2)


def people(env: Env, n: int) -> list[Applicant]:
    out = []
    for i in range(n):
        a = Applicant()
        submit(a, [env.public], answers={"name": f"Person {i}", "message": "x"},
               files=[(f"f{i}.txt", "text/plain", os.urandom(50 + i * 20_000))])
        out.append(a)
    return out


def snapshot(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}


def test_parallel_import_gives_what_the_serial_one_gives(env: Env, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    who = people(env, 7)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    (tmp_path / "serial").mkdir()
    serial = make_env(tmp_path / "serial")
    # the serial home is seeded with the same key file, so both can open the bundle
    for f in (env.home / "keys").iterdir():
        (serial.home / "keys" / f.name).write_bytes(f.read_bytes())
    assert serial.run("import", str(path)).exit_code == 0
    serial_rows = json.loads(serial.run("list", "--json").output)

    used: list[int] = []
    real = checks.Checker._parallel

    def spy(self: checks.Checker, items: int) -> Any:
        pool = real(self, items)
        used.append(pool is not None)
        return pool

    monkeypatch.setattr(checks, "PARALLEL_MIN", 1)
    monkeypatch.setattr(checks, "CHUNK", 2)
    monkeypatch.setattr(checks, "_usable_cores", lambda: 2)
    monkeypatch.setattr(checks.Checker, "_parallel", spy)
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "7 new cases" in result.output
    assert used and all(used), "the workers were not used"
    assert json.loads(env.run("list", "--json").output) == serial_rows
    out = tmp_path / "out"
    assert env.run("extract", who[6].case, str(out)).exit_code == 0
    assert (out / "2026-11-20-application" / "f6.txt").stat().st_size == 50 + 6 * 20_000


def test_first_failure_in_manifest_order_is_reported(env: Env, tmp_path: Path,
                                                     parallel: None) -> None:
    who = people(env, 6)
    # case 2: answers that contradict the manifest; case 4: a damaged attachment
    bad_doc = Applicant()
    submit(bad_doc, [env.public], doc_override={"day": "2026-01-01"})
    who[2] = bad_doc
    sub = who[4].submissions[0]
    (blob,) = sub.record.attachments
    damaged = bytearray(sub.blobs[blob])
    damaged[-20] ^= 1
    sub.blobs[blob] = bytes(damaged)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    before = snapshot(env.home)
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_BUNDLE, result.output
    assert f"submission {bad_doc.submissions[0].record.submission} does not match" \
        in result.output
    assert snapshot(env.home) == before


def test_low_order_reply_key_refused_with_the_workers_on(env: Env, tmp_path: Path,
                                                        parallel: None) -> None:
    who = people(env, 3)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    data = path.read_bytes()
    (length,) = bundle.LENGTH.unpack(data[len(bundle.MAGIC) : len(bundle.MAGIC) + 4])
    start = len(bundle.MAGIC) + 4
    obj = json.loads(data[start : start + length])
    obj["cases"][2]["reply_key"] = PublicKey(bytes(32)).to_text()
    manifest = bundle.canonical_json(obj)
    prefix = bundle.MAGIC + bundle.LENGTH.pack(len(manifest)) + manifest
    rest = data[start + length + bundle.DIGEST_BYTES :]
    (tmp_path / "low.bundle").write_bytes(prefix + bundle.manifest_digest(prefix) + rest)
    before = snapshot(env.home)
    result = env.run("import", str(tmp_path / "low.bundle"))
    assert result.exit_code == EXIT_BUNDLE, result.output
    assert "case 2 reply key is not a valid public key" in result.output
    assert snapshot(env.home) == before


@pytest.mark.parametrize("workers", [False, True])
def test_checks_start_while_the_bundle_is_still_read(env: Env, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     workers: bool) -> None:
    # One path for every bundle: a submission is checked (here, or handed to a
    # worker) as soon as its envelopes are in the pack, before the last member
    # of the bundle is read.
    from reviewer.packs import PackWriter

    if workers:
        if "fork" not in checks._start_methods():
            pytest.skip("no fork on this platform")
        monkeypatch.setattr(checks, "PARALLEL_MIN", 1)
        monkeypatch.setattr(checks, "_usable_cores", lambda: 2)
    else:
        monkeypatch.setattr(checks, "_usable_cores", lambda: 1)
    monkeypatch.setattr(checks, "CHUNK", 1)
    events: list[str] = []
    real_member = PackWriter.member
    real_hand_out = checks.Checks._hand_out

    def member(self: PackWriter, m: bundle.Member) -> Any:
        events.append("member")
        return real_member(self, m)

    def hand_out(self: checks.Checks) -> None:
        if self._ready:
            events.append("check")
        real_hand_out(self)

    monkeypatch.setattr(PackWriter, "member", member)
    monkeypatch.setattr(checks.Checks, "_hand_out", hand_out)
    who = people(env, 4)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0 and "4 new cases" in result.output, result.output
    assert events.count("member") == 8 and events.count("check") == 4
    # each submission (an answers envelope and one attachment) is checked as it lands
    assert events == ["member", "member", "check"] * 4



def _die(job: object) -> object:
    os._exit(3)  # a worker killed mid-check (say, by the out-of-memory killer)


def test_a_worker_that_dies_is_one_line_and_imports_nothing(env: Env, tmp_path: Path,
                                                           parallel: None,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    who = people(env, 4)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    monkeypatch.setattr(checks, "_worker_check", _die)
    before = snapshot(env.home)
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_ERROR, result.output
    assert "a checking process stopped unexpectedly" in result.output
    assert "Traceback" not in result.output
    assert snapshot(env.home) == before


def test_small_imports_stay_in_process(env: Env, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_usable_cores", lambda: 2)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a small import")

    import concurrent.futures

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    who = people(env, 3)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    assert env.run("import", str(path)).exit_code == 0


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_end_when_the_import_is_killed(env: Env, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    who = people(env, 4)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    script = (
        "import sys, time\n"
        "import reviewer.checks as c\n"
        "c.PARALLEL_MIN = 1; c.CHUNK = 1; c._usable_cores = lambda: 2\n"
        "real = c.check\n"
        "def slow(*a, **k):\n"
        "    time.sleep(2)  # long enough to be killed in the middle\n"
        "    return real(*a, **k)\n"
        "c.check = slow\n"
        "from reviewer.cli import cli\n"
        "cli(sys.argv[1:], prog_name='reviewer')\n"
    )
    args = ["import", "--home", str(env.home), "--passphrase-file", str(env.pass_file),
            str(path)]
    workers: set[int] = set()
    proc = subprocess.Popen([sys.executable, "-c", script, *args],
                            cwd=Path(__file__).parents[2],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert time.monotonic() < deadline, "no workers started"
            assert proc.poll() is None
            time.sleep(0.05)
            workers = _children(proc.pid)
        time.sleep(0.3)  # the workers are now inside a check
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, "a worker outlived its parent"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in workers:  # if the test failed, end the workers it started
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    # nothing was imported, and the home's lock is free again
    assert not (env.home / "state.json").exists()
    result = env.run("import", str(path))
    assert result.exit_code == 0 and "4 new cases" in result.output, result.output


def test_outcomes_come_back_from_a_worker_as_they_went() -> None:
    # A worker pickles its outcomes through a pipe; the parent reads them in order:
    # the answers' facts, None for a submission sealed to other reviewers, and the
    # first bad one stops everything with its own sentence.
    a = AnswersFacts(1, ("Ana", "poet"), ("Ana", "poet", "TR", "Turkey", "now"))
    b = AnswersFacts(0, ("more",), None)
    sent = [checks.Outcome.checked(a), checks.NOT_FOR_US,
            checks.Outcome.bad("submission s: damaged; nothing was imported"),
            checks.Outcome.checked(b)]
    received = pickle.loads(pickle.dumps(sent))
    assert [o.verdict for o in received] == [checks.Verdict.CHECKED, checks.Verdict.NOT_FOR_US,
                                              checks.Verdict.BAD, checks.Verdict.CHECKED]
    facts = checks._collect(received)
    assert next(facts) == a
    assert next(facts) is None
    with pytest.raises(BadInput, match=r"^submission s: damaged; nothing was imported$"):
        next(facts)


@pytest.mark.parametrize("workers", [False, True])
def test_the_index_an_import_builds_is_the_one_rebuilt_from_the_envelopes(
        env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: bool) -> None:
    # The import builds the index from what its checks sent back (AnswersFacts),
    # not from the documents: the same entries and texts as decrypting every
    # answers envelope again gives.
    from reviewer.home import Home
    from reviewer.index import parse_texts

    if workers:
        if "fork" not in checks._start_methods():
            pytest.skip("no fork on this platform")
        monkeypatch.setattr(checks, "PARALLEL_MIN", 1)
        monkeypatch.setattr(checks, "CHUNK", 2)
        monkeypatch.setattr(checks, "_usable_cores", lambda: 2)
    who = people(env, 3)
    submit(who[0], [env.public], kind="followup", day="2026-11-22",
           answers={"message": "more news"}, files=[("g.txt", "text/plain", b"x")])
    kurd = Applicant()
    submit(kurd, [env.public], answers={"name": ["Rojda", "Rojîn"], "country": "other",
                                        "country_other": "Rojava", "profession": "other",
                                        "profession_other": "singer", "urgency": "now",
                                        "languages": ["ku", "ar"]})
    who.append(kurd)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in who], [env.public])
    assert env.run("import", str(path)).exit_code == 0
    home = Home(env.home)
    state = home.load_state()
    keys = home.unlock(env.pass_file.read_text().strip())
    imported = home.index.load(keys)
    imported_texts = parse_texts(home.index.text_part)
    assert imported[kurd.case]["name"] == "Rojda, Rojîn"
    assert imported[kurd.case]["profession"] == "singer"
    assert imported[who[0].case]["attachments"] == 2
    (env.home / "index.env").unlink()
    assert home.fresh_index(state, keys) == imported
    assert parse_texts(home.index.text_part) == imported_texts
