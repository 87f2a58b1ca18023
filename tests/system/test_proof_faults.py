"""Proof under faults: processes killed mid-upload, against real gunicorn on loopback.

A 50 MB application is sent slowly; when half of it has arrived (and its
first ciphertext is on disk in staging) the worker receiving it, or the whole
server, is killed with SIGKILL, which no code can catch. Afterwards: no row of
the cut submission, no staged file left once a new process has started, and
every earlier submission intact and decryptable.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import threading
from pathlib import Path

import pytest

from crypto.keys import PrivateKey
from tests.harness.gunicorn_intake import (
    IntakeServer,
    PartialUpload,
    Sent,
    digest,
    open_everything,
    prepare_data_dir,
    require_gunicorn,
    row_counts,
    send_application,
    staged_files,
    staging_owner,
    store_names,
    wait_for,
)

LARGE = 50 * 1024 * 1024
LIMIT_ENV = {"INTAKE_MAX_UPLOAD_MB": "64"}


def earlier_submissions(server: IntakeServer) -> list[Sent]:
    out = [
        send_application(server, Sent("earlier-0")),
        send_application(server, Sent("earlier-1", [("a.pdf", os.urandom(300_000))])),
        send_application(server, Sent("earlier-2", [("b.txt", b"x" * 10), ("c.bin", os.urandom(70_000))])),
    ]
    assert all(s.status == 200 and s.codename for s in out)
    return out


def assert_intact(data_dir: Path, reviewer: PrivateKey, sent: list[Sent]) -> None:
    opened = {o.document["answers"]["name"]: o for o in open_everything(data_dir, reviewer)}
    assert sorted(opened) == sorted(s.marker for s in sent), "a submission appeared or vanished"
    for s in sent:
        got = sorted(digest(opened[s.marker].attachments[a["blob"]])
                     for a in opened[s.marker].document["attachments"])
        assert got == sorted(digest(content) for _name, content in s.attachments)
    blobs = sum(1 + len(s.attachments) for s in sent)
    assert row_counts(data_dir) == (len(sent), len(sent), blobs)
    assert len(store_names(data_dir)) == blobs, "a file in the store has no row"


def half_sent_upload(server: IntakeServer, data_dir: Path) -> tuple[PartialUpload, Path]:
    upload = PartialUpload(server, "cut-off", LARGE)
    upload.send(len(upload.body) // 2)
    # The upload is being encrypted into staging as it arrives: that is what must go.
    staged = wait_for(lambda: [p for p in staged_files(data_dir) if p.stat().st_size > 1024 * 1024],
                      what="the upload to reach staging")
    assert len(staged) == 1
    return upload, staged[0]


@pytest.mark.slow
def test_worker_killed_mid_upload_leaves_nothing(tmp_path: Path) -> None:
    require_gunicorn()
    reviewer = PrivateKey.generate()
    data_dir = tmp_path / "data"
    prepare_data_dir(data_dir, reviewer)
    with IntakeServer(data_dir, tmp_path / "home", workers=2, env=LIMIT_ENV) as server:
        earlier = earlier_submissions(server)
        upload, staged = half_sent_upload(server, data_dir)
        victim = staging_owner(staged)
        assert victim in server.worker_pids()
        os.kill(victim, signal.SIGKILL)
        try:
            assert upload.answer() == b"", "the cut upload got an answer"
        finally:
            upload.close()
        # gunicorn replaces the worker; the new one removes what the dead one staged.
        wait_for(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2,
                 what="a replacement worker")
        wait_for(lambda: not staged.parent.exists(), what="the dead worker's staging to go")
        assert staged_files(data_dir) == []
        assert_intact(data_dir, reviewer, earlier)
        # And the server still takes applications.
        after = send_application(server, Sent("after-kill", [("d.bin", os.urandom(1000))]))
        assert after.status == 200 and after.codename
    assert_intact(data_dir, reviewer, [*earlier, after])


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("what", ["master", "master and workers"])
def test_server_killed_mid_upload_leaves_nothing_after_restart(tmp_path: Path, what: str) -> None:
    require_gunicorn()
    reviewer = PrivateKey.generate()
    data_dir = tmp_path / "data"
    prepare_data_dir(data_dir, reviewer)
    server = IntakeServer(data_dir, tmp_path / "home", workers=2, env=LIMIT_ENV).start()
    orphans: list[int] = []
    try:
        earlier = earlier_submissions(server)
        upload, staged = half_sent_upload(server, data_dir)
        if what == "master":
            # The workers notice their parent is gone and stop; the one holding the
            # upload gives up on it when the applicant's connection goes.
            orphans = server.kill_master()
        else:
            server.kill_all()  # nothing runs any cleanup
        upload.close()
    finally:
        server.stop()
    if what == "master":
        wait_for(lambda: not any(alive(pid) for pid in orphans), timeout=60,
                 what="the orphaned workers to exit")
    else:
        # The cut upload's ciphertext is still there, with nobody alive to own it...
        assert staged.exists()
    assert_intact(data_dir, reviewer, earlier)
    with IntakeServer(data_dir, tmp_path / "home2", workers=2, env=LIMIT_ENV) as again:
        # ...and none is left once the server is back.
        assert not staged.parent.exists()
        assert staged_files(data_dir) == []
        assert_intact(data_dir, reviewer, earlier)
        after = send_application(again, Sent("after-restart", [("e.bin", os.urandom(2000))]))
        assert after.status == 200 and after.codename
    assert_intact(data_dir, reviewer, [*earlier, after])


@pytest.mark.slow
def test_worker_killed_between_rename_and_commit_leaves_no_orphan_files(tmp_path: Path) -> None:
    require_gunicorn()
    reviewer = PrivateKey.generate()
    data_dir = tmp_path / "data"
    prepare_data_dir(data_dir, reviewer)
    env = {"PROOF_PAUSE_AFTER_MOVE": "30"}
    with IntakeServer(data_dir, tmp_path / "home", workers=1, env=env) as server:
        before = store_names(data_dir)
        victim = server.worker_pids()[0]
        def cut_off() -> None:
            # The connection dies with the worker: that is the point.
            with contextlib.suppress(OSError, http.client.HTTPException):
                send_application(server, Sent("cut", [("f.bin", os.urandom(5000))]))

        worker = threading.Thread(target=cut_off, daemon=True)
        worker.start()
        wait_for(lambda: len(store_names(data_dir)) > len(before), what="the rename into store")
        os.kill(victim, signal.SIGKILL)
        worker.join(timeout=30)
        wait_for(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 1,
                 what="a replacement worker")
    assert row_counts(data_dir)[1] == 0  # the transaction never committed: no rows
    assert store_names(data_dir) == before, "ciphertext in store/ that no row names"
