"""Proof with several hosts: two real gunicorn servers sharing one PostgreSQL and one bucket.

Each host has its own data directory (its staging, its journal) holding the
same two secrets, copied as docs/deploy.md says; the database and the bucket
(moto_server on loopback, tests/harness/s3_server.py) are shared. 100
applicants are spread over both. Meanwhile one worker of each host is killed
with SIGKILL mid-upload: on the first while the body is arriving, on the second
while it is uploading the envelope into the bucket (a multipart upload under
way). Afterwards one `export` from either host holds every completed submission
exactly once, the reviewer reads them all, and the bucket holds nothing else:
no object without a row, no unfinished upload.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crypto.envelope import decrypt_bytes
from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app
from intake.storage import INTENT_PREFIX
from tests.harness.bundles import read_members
from tests.harness.gunicorn_intake import (
    IntakeServer,
    PartialUpload,
    Sent,
    digest,
    prepare_data_dir,
    require_gunicorn,
    row_counts,
    send_application,
    staged_files,
    staging_owner,
    wait_for,
)
from tests.harness.s3_server import Bucket

LARGE = 50 * 1024 * 1024
APPLICANTS = 100


def host_env(url: str, bucket: Bucket) -> dict[str, str]:
    return {"INTAKE_DATABASE_URL": url, "INTAKE_STORE_URL": bucket.url,
            "INTAKE_S3_ENDPOINT_URL": bucket.endpoint, "INTAKE_MAX_UPLOAD_MB": "64"}


def uploading_worker(data_dir: Path) -> int | None:
    """The pid of a worker with a multipart upload journalled (under way into the bucket)."""
    for path in staged_files(data_dir):
        if path.name.startswith(INTENT_PREFIX):
            try:
                if "s3-upload" in path.read_text("ascii"):
                    return staging_owner(path)
            except FileNotFoundError:
                continue
    return None


@pytest.mark.slow
def test_two_hosts_one_database_one_bucket_workers_killed(
        tmp_path: Path, fresh_postgres_url: str, fresh_bucket: Bucket) -> None:
    require_gunicorn()
    reviewer = PrivateKey.generate()
    one, two = tmp_path / "host1", tmp_path / "host2"
    prepare_data_dir(one, reviewer, fresh_postgres_url)
    two.mkdir(mode=0o700)
    for secret in ("secret_key", "codename_salt"):  # the same on every host, never in the bucket
        shutil.copy2(one / secret, two / secret)
    env = host_env(fresh_postgres_url, fresh_bucket)
    hosts = [IntakeServer(one, tmp_path / "home1", workers=2, env=env).start()]
    try:
        hosts.append(IntakeServer(two, tmp_path / "home2", workers=2, env=env).start())
        sent = [Sent(f"applicant-{n}", [(f"f{n}.bin", os.urandom(2000 + 37 * n))] if n % 3 else [])
                for n in range(APPLICANTS)]

        # Host 1: a worker killed while a 50 MB body arrives (its staging holds the upload).
        cut_one = PartialUpload(hosts[0], "cut-while-arriving", LARGE)
        cut_one.send(len(cut_one.body) // 2)
        staged = wait_for(lambda: [p for p in staged_files(one) if p.stat().st_size > 1024 * 1024],
                          what="the upload to reach host 1's staging")
        victim_one = staging_owner(staged[0])

        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(lambda s: send_application(hosts[int(s.marker[10:]) % 2], s),
                                  sent[:APPLICANTS // 2]))
            os.kill(victim_one, signal.SIGKILL)
            cut_one.close()

            # Host 2: a worker killed while it uploads a 50 MB envelope into the bucket.
            cut_two = PartialUpload(hosts[1], "cut-while-storing", LARGE)
            cut_two.send(len(cut_two.body), chunk=4 * 1024 * 1024, pause=0)
            victim_two = wait_for(lambda: uploading_worker(two), timeout=60,
                                  what="host 2 to begin uploading into the bucket")
            os.kill(victim_two, signal.SIGKILL)
            assert b"200 OK" not in cut_two.answer()
            cut_two.close()

            rest = list(pool.map(lambda s: send_application(hosts[int(s.marker[10:]) % 2], s),
                                 sent[APPLICANTS // 2:]))
        done = first + rest
        assert all(s.status == 200 and s.codename for s in done), [s.status for s in done]

        for host, victim in ((hosts[0], victim_one), (hosts[1], victim_two)):
            wait_for(lambda h=host, v=victim: v not in h.worker_pids() and len(h.worker_pids()) == 2,
                     what="a replacement worker")
        # The replacements undid what the dead workers left: staging, objects, the upload.
        wait_for(lambda: fresh_bucket.uploads() == [], what="the unfinished upload to be aborted")
        wait_for(lambda: staged_files(one) == [] and staged_files(two) == [],
                 what="the dead workers' staging to go")
    finally:
        for host in hosts:
            host.stop()

    blobs = sum(1 + len(s.attachments) for s in sent)
    assert row_counts(one, fresh_postgres_url) == (APPLICANTS, APPLICANTS, blobs)
    assert len(fresh_bucket.keys()) == blobs, "an object in the bucket has no row"
    assert fresh_bucket.uploads() == []

    # One export, from host 2's configuration: every completed submission exactly once.
    app = create_app({"DATA_DIR": two, "ARGON2_LIMITS": TEST_LIMITS,
                      "DATABASE_URL": fresh_postgres_url, **fresh_bucket.config()})
    bundle = tmp_path / "all.bundle"
    result = app.test_cli_runner().invoke(args=["export", str(bundle)])
    assert result.exit_code == 0, result.output
    app.extensions["intake_engine"].dispose()
    manifest, members = read_members(bundle, "submissions")
    records = [r for case in manifest.cases for r in case.submissions]
    assert len(records) == APPLICANTS == len({r.submission for r in records})
    by_name = {}
    for record in records:
        doc = json.loads(decrypt_bytes(members[record.answers], [reviewer]))
        by_name[doc["answers"]["name"]] = (doc, record)
    assert sorted(by_name) == sorted(s.marker for s in sent)
    for s in sent:
        doc, record = by_name[s.marker]
        got = sorted(digest(decrypt_bytes(members[b], [reviewer])) for b in record.attachments)
        assert got == sorted(digest(content) for _name, content in s.attachments)
    assert "cut-while-arriving" not in by_name and "cut-while-storing" not in by_name
