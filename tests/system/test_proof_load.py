"""Proof under load: 200 applications from 20 concurrent clients, against real gunicorn.

Each client is a thread with its own connection and session, as an applicant
on Tor Browser would be: GET /apply for the cookie and CSRF token, then POST
the multipart form, some with files of up to a few MB. Afterwards the data
directory is read as a reviewer would read it: every submission in the
database decrypts with the reviewer's private key, every attachment matches
what was sent byte for byte, and nothing is missing, extra or duplicated.
Then the operator's `export` and the reviewer tool's `import` carry all of it
to the reviewer, whose `list --json` shows every applicant, readable, once.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto.keyfile import open_private_key
from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app
from reviewer.cli import cli as reviewer_cli
from reviewer.home import Home
from tests.harness.gunicorn_intake import (
    IntakeServer,
    Sent,
    digest,
    open_everything,
    prepare_data_dir,
    require_gunicorn,
    row_counts,
    send_application,
    staged_files,
    store_names,
)

SUBMISSIONS = 200
CLIENTS = 20


def planned(rng: random.Random) -> list[Sent]:
    out = []
    for i in range(SUBMISSIONS):
        sent = Sent(marker=f"applicant-{i:03d}-{rng.getrandbits(32):08x}")
        if i % 4 == 0:
            # One in four sends files: mostly small, one in five of those a few MB.
            for j in range(1 + i % 3):
                size = rng.randrange(1, 3 * 1024 * 1024) if i % 20 == 0 else rng.randrange(0, 40_000)
                sent.attachments.append((f"file-{i}-{j}.bin", rng.randbytes(size)))
        out.append(sent)
    return out


PASSPHRASE = "proof passphrase"


def reviewer_with_key(tmp_path: Path) -> tuple[Path, PrivateKey]:
    """A reviewer tool home (test Argon2 limits) and its private key, for direct checks too."""
    home = tmp_path / "reviewer"
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    result = CliRunner().invoke(reviewer_cli, ["init", "--home", str(home), "--passphrase-file",
                                               str(pass_file), "--insecure-test-limits"])
    assert result.exit_code == 0, result.output
    key = open_private_key(Home(home).keys.files()[0].read_bytes(), PASSPHRASE)
    return home, key


def export_and_import(tmp_path: Path, data_dir: Path, home: Path,
                      url: str | None) -> list[dict[str, object]]:
    """`flask --app intake export`, then `reviewer import` and `reviewer list --json`."""
    app = create_app({"DATA_DIR": data_dir, "ARGON2_LIMITS": TEST_LIMITS, "DATABASE_URL": url})
    pickup = tmp_path / "pickup.bundle"
    out = app.test_cli_runner().invoke(args=["export", str(pickup)])
    assert out.exit_code == 0, out.output
    assert f"{SUBMISSIONS} case(s), {SUBMISSIONS} submission(s)" in out.output
    unlock = ["--home", str(home), "--passphrase-file", str(tmp_path / "pass")]
    runner = CliRunner()
    imported = runner.invoke(reviewer_cli, ["import", *unlock, str(pickup)])
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(reviewer_cli, ["list", *unlock, "--json"])
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, object]] = json.loads(listed.output)
    app.extensions["intake_engine"].dispose()
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_hundred_applications_from_twenty_clients(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    require_gunicorn()
    # PostgreSQL: a throwaway server (tests/harness/postgres_server.py; skips locally without one).
    url = request.getfixturevalue("fresh_postgres_url") if database == "postgresql" else None
    reviewer_home, reviewer = reviewer_with_key(tmp_path)
    data_dir = tmp_path / "data"
    prepare_data_dir(data_dir, reviewer, url)
    plan = planned(random.Random(5))
    env = {"INTAKE_DATABASE_URL": url} if url else {}

    started = time.monotonic()
    with IntakeServer(data_dir, tmp_path / "home", workers=2, threads=8, env=env) as server:
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda s: send_application(server, s), plan))
        log = server.log()
    elapsed = time.monotonic() - started

    failed = [(r.marker, r.status) for r in results if r.status != 200 or not r.codename]
    assert not failed, f"{len(failed)} applications not accepted: {failed[:5]}\n{log[-3000:]}"
    assert len({r.codename for r in results}) == SUBMISSIONS, "two applicants got one codename"

    attachments_sent = sum(len(r.attachments) for r in results)
    assert row_counts(data_dir, url) == (SUBMISSIONS, SUBMISSIONS, SUBMISSIONS + attachments_sent)
    assert len(store_names(data_dir)) == SUBMISSIONS + attachments_sent
    assert staged_files(data_dir) == []
    # The database's write-ahead log and shared-memory files too: owner only.
    loose = [p for p in data_dir.rglob("*") if p.stat().st_mode & 0o077 and p.is_file()]
    assert not loose, loose

    opened = open_everything(data_dir, reviewer, url)
    by_marker = {o.document["answers"]["name"]: o for o in opened}
    assert len(opened) == SUBMISSIONS
    assert len(by_marker) == SUBMISSIONS, "a submission was stored twice"
    assert len({o.case for o in opened}) == SUBMISSIONS
    for sent in results:
        doc = by_marker[sent.marker]
        assert doc.document["kind"] == "application"
        assert doc.document["answers"]["threat"] == f"threat of {sent.marker}"
        got = sorted((a["name"], digest(doc.attachments[a["blob"]]))
                     for a in doc.document["attachments"])
        assert got == sorted((name, digest(content)) for name, content in sent.attachments)
    listed = export_and_import(tmp_path, data_dir, reviewer_home, url)
    assert len(listed) == SUBMISSIONS
    assert sorted(str(row["name"]) for row in listed) == sorted(r.marker for r in results)
    assert all(row["readable"] for row in listed)
    assert {str(row["name"]): row["attachments"] for row in listed} == {
        r.marker: len(r.attachments) for r in results}
    # About 10 s on a quiet two-core machine; the generous bound still catches a server
    # that serialises requests (or waits out SQLite lock timeouts).
    assert elapsed < 120, f"took {elapsed:.1f} s"
