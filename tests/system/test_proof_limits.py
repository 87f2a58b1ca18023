"""Proof at the limits, against real gunicorn: uploads over the size limit, a full disk.

gunicorn, unlike Flask's development server, does not read the rest of a
body the app refused; a client that sends the whole body before reading (as
Firefox, and so Tor Browser, does) then sees a connection reset instead of
the page. The app drains refused bodies itself (intake.security.drain_body);
these tests show the page arrives under gunicorn.

A full disk is shown two ways: a real size-limited filesystem (a tmpfs
mounted over the data directory, which needs root and a permitted mount;
skipped otherwise) and an injected ENOSPC at the staging write
(tests/harness/proof_app.py, always run). Either way the applicant gets a clear page
saying nothing was stored, nothing is stored, and earlier submissions are
intact.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.keys import PrivateKey
from tests.harness.gunicorn_intake import (
    IntakeServer,
    Sent,
    application_body,
    digest,
    fresh_form,
    open_everything,
    post_whole_body_first,
    prepare_data_dir,
    require_gunicorn,
    row_counts,
    send_application,
    staged_files,
    store_names,
)

MB = 1024 * 1024


# --- 413 under gunicorn ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_limit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IntakeServer, Path]]:
    require_gunicorn()
    root = tmp_path_factory.mktemp("limit")
    data_dir = root / "data"
    prepare_data_dir(data_dir, PrivateKey.generate())
    # 8 MB accepted, so up to 32 MB of a refused body is drained (DRAIN_LIMIT).
    with IntakeServer(data_dir, root / "home", env={"INTAKE_MAX_UPLOAD_MB": "8"}) as server:
        yield server, data_dir


def test_too_large_application_gets_the_413_page_under_gunicorn(small_limit_server) -> None:
    server, data_dir = small_limit_server
    cookie, token = fresh_form(server)
    # 24 MB: well past the loopback socket buffers, so an undrained refusal would reset.
    body, ctype = application_body(token, "too-large", [("big.bin", os.urandom(24 * MB))])
    answer = post_whole_body_first(server, "/apply", body, ctype, cookie)
    assert answer.sent_all, "the upload was cut off: the browser would show a reset"
    assert answer.status == 413, answer.raw[:300]
    assert "Too large to accept" in answer.text
    assert "Nothing was stored" in answer.text
    assert row_counts(data_dir)[1] == 0
    assert staged_files(data_dir) == []


@pytest.mark.parametrize("path", ["/apply", "/signin", "/case"])
def test_bodies_refused_before_parsing_are_drained_under_gunicorn(small_limit_server, path) -> None:
    server, data_dir = small_limit_server
    answer = post_whole_body_first(server, path, bytes(20 * MB), "multipart/form-data; boundary=x")
    assert answer.sent_all, f"{path}: the upload was cut off: the browser would show a reset"
    if path == "/case":
        # Not signed in: sent back to sign in, having read the body first.
        assert answer.status == 302, answer.raw[:300]
    else:
        assert answer.status == 413, answer.raw[:300]
        assert "Too large to accept" in answer.text
    assert row_counts(data_dir)[1] == 0


# --- a full disk ------------------------------------------------------------------------


def _mount_tmpfs(path: Path, size_mb: int) -> str | None:
    """Mount a size-limited tmpfs at `path`; the reason it could not, or None."""
    if os.geteuid() != 0:
        return "mounting a size-limited filesystem needs root"
    mount = shutil.which("mount") or shutil.which("mount", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if mount is None:
        return "no mount program"
    result = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        return f"mount refused: {result.stderr.strip()}"
    return None


@pytest.fixture(params=["tmpfs", "injected"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A data directory with about 6 MB to spare, and the server environment for it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if request.param == "injected":
        yield data_dir, {"PROOF_FAIL_WRITES_AFTER": str(6 * MB)}
        return
    reason = _mount_tmpfs(data_dir, 8)
    if reason is not None:
        pytest.skip(f"no real full disk here ({reason}); the injected case covers it")
    try:
        yield data_dir, {}
    finally:
        umount = shutil.which("umount") or "/usr/bin/umount"
        if subprocess.run([umount, str(data_dir)], check=False).returncode != 0:
            subprocess.run([umount, "-l", str(data_dir)], check=False)


@pytest.mark.slow
def test_full_disk_gives_a_clear_page_and_stores_nothing(full_disk, tmp_path: Path) -> None:
    require_gunicorn()
    data_dir, env = full_disk
    reviewer = PrivateKey.generate()
    prepare_data_dir(data_dir, reviewer)
    with IntakeServer(data_dir, tmp_path / "home", workers=1, env=env) as server:
        earlier = [
            send_application(server, Sent("earlier-0")),
            send_application(server, Sent("earlier-1", [("a.bin", os.urandom(200_000))])),
        ]
        assert all(s.status == 200 and s.codename for s in earlier)
        before = (row_counts(data_dir), store_names(data_dir))

        cookie, token = fresh_form(server)
        body, ctype = application_body(token, "no-room", [("big.bin", os.urandom(12 * MB))])
        answer = post_whole_body_first(server, "/apply", body, ctype, cookie)

        assert answer.sent_all, "the upload was cut off: the browser would show a reset"
        assert answer.status == 503, answer.raw[:500]
        assert "no room" in answer.text.lower()
        assert "Nothing was stored" in answer.text
        assert "Traceback" not in answer.text and "Errno" not in answer.text
        assert 'id="codename"' not in answer.text  # no codename was handed out
        assert (row_counts(data_dir), store_names(data_dir)) == before
        assert staged_files(data_dir) == []

        # With room again (the refused upload's ciphertext is gone), intake goes on.
        after = send_application(server, Sent("after", [("b.bin", os.urandom(1000))]))
        assert after.status == 200 and after.codename
        log = server.log()
    assert "no-room" not in log
    opened = {o.document["answers"]["name"]: o for o in open_everything(data_dir, reviewer)}
    assert sorted(opened) == ["after", "earlier-0", "earlier-1"]
    for s in [*earlier, after]:
        got = [digest(content) for content in opened[s.marker].attachments.values()]
        assert sorted(got) == sorted(digest(c) for _n, c in s.attachments)
