"""Saving an attachment (reviewer.saving.saved_copy), the one path behind `extract` and the
desk's "Save a copy" / "Save without metadata"; and extract's folders and printed values."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from bench.server_sim import Applicant, submit, write_bundle
from crypto.keys import PrivateKey
from reviewer import saving
from reviewer.errors import NotFound
from reviewer.home import Home
from reviewer.metadata import read_metadata
from tests.reviewer.test_cli import PASSPHRASE, Env, make_env
from tests.reviewer.test_metadata import jpeg, pdf, photo_exif

CANARY_NAME = "CANARY-NAME-5e1f"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def imported(env: Env, tmp_path: Path, *applicants: Applicant) -> None:
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in applicants],
                        [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output


def everything_under(*roots: Path) -> bytes:
    """Every name and every byte of every file under `roots`."""
    out = io.BytesIO()
    for root in roots:
        for p in sorted(root.rglob("*")):
            out.write(str(p).encode() + b"\n")
            if p.is_file() and not p.is_symlink():
                out.write(p.read_bytes())
    return out.getvalue()


def test_saved_copy_and_without_metadata(env: Env, tmp_path: Path) -> None:
    photo = jpeg(exif=photo_exif())
    a = Applicant()
    sub = submit(a, [env.public], files=[("../photo\u202e.jpg", "image/jpeg", photo),
                                          ("cv.pdf", "application/pdf", pdf({"/Author": "X"}))])
    imported(env, tmp_path, a)
    home = Home(env.home)
    keys = home.unlock(PASSPHRASE)
    state = home.load_state()
    sid = sub.record.submission

    copy = saving.saved_copy(home, state, keys, a.case, sid, 1, strip=False)
    assert copy.data == photo
    assert copy.safe_name == "photo.jpg"  # the same safe-name rules as extract
    assert copy.content_type == "application/octet-stream"  # a download, never shown inline
    assert (copy.original_name, copy.claimed_type, copy.detected_type) == (
        "../photo\u202e.jpg", "image/jpeg", "image/jpeg")
    assert dict(read_metadata(copy.data, copy.detected_type))["Artist"] == "EXIF-CANARY Artist"

    bare = saving.saved_copy(home, state, keys, a.case, sid, 1, strip=True)
    assert bare.safe_name == "photo.stripped.jpg" and bare.stripped
    assert read_metadata(bare.data, "image/jpeg") == ()
    with Image.open(io.BytesIO(bare.data)) as got, Image.open(io.BytesIO(photo)) as want:
        assert got.tobytes() == want.tobytes()

    with pytest.raises(saving.CannotStrip, match="only JPEG and PNG"):
        saving.saved_copy(home, state, keys, a.case, sid, 2, strip=True)
    for number in (0, 3):
        with pytest.raises(NotFound):
            saving.saved_copy(home, state, keys, a.case, sid, number, strip=False)
    with pytest.raises(NotFound):
        saving.saved_copy(home, state, keys, a.case, "0" * 32, 1, strip=False)
    with pytest.raises(NotFound):
        saving.saved_copy(home, state, keys, "f" * 32, sid, 1, strip=False)


def test_saved_copy_of_a_file_for_another_key(env: Env, tmp_path: Path) -> None:
    other = PrivateKey.generate().public_key
    a = Applicant()
    sub = submit(a, [other], files=[("x.txt", "text/plain", b"secret")])
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [other])
    assert env.run("import", str(path)).exit_code == 0
    home = Home(env.home)
    with pytest.raises(saving.NotForYourKey):
        saving.saved_copy(home, home.load_state(), home.unlock(PASSPHRASE), a.case,
                          sub.record.submission, 1, strip=False)


def test_extract_folders_by_day_and_kind_and_printed_values(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    submit(a, [env.public], day="2026-11-30",
           files=[("photo.jpg", "image/jpeg", jpeg(exif=photo_exif()))])
    submit(a, [env.public], kind="followup", day="2026-12-01",
           files=[("letter.pdf", "application/pdf", pdf({"/Author": "PDF-CANARY Author"}))])
    submit(a, [env.public], kind="followup", day="2026-12-01",
           files=[("photo.jpg", "image/jpeg", jpeg())])
    submit(a, [env.public], kind="followup", day="2026-12-03")  # no files: no folder
    submit(a, [env.public], kind="followup", day="2026-12-04",
           files=[("note.txt", "text/plain", b"hello")])
    imported(env, tmp_path, a)
    out = tmp_path / "out"
    result = env.run("extract", a.case, str(out), "--strip-metadata")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-11-30-application", "2026-12-01-followup-1", "2026-12-01-followup-2",
        "2026-12-04-followup-4",
    ]
    assert sorted(p.name for p in (out / "2026-11-30-application").iterdir()) == [
        "photo.jpg", "photo.stripped.jpg"]
    assert [p.name for p in (out / "2026-12-01-followup-1").iterdir()] == ["letter.pdf"]
    assert [p.name for p in (out / "2026-12-01-followup-2").iterdir()] == ["photo.jpg"]
    lines = result.output.splitlines()
    first = a.submissions[0].record.submission
    assert f"== 2026-11-30-application/ (the application, submission {first})" in lines
    for expected in ("    Artist: EXIF-CANARY Artist", "    Camera: Canon EOS 5D Mark IV",
                     "    Date taken: 2026:11:30 10:04:05", "    GPS position: present",
                     "    Author: PDF-CANARY Author", "    XMP creator: XMP-CANARY Writer",
                     "  stripped copy: photo.stripped.jpg"):
        assert expected in lines, expected
    assert "52" not in result.output.split("GPS position")[1].split("\n")[0]
    assert result.output.count("stripped copy") == 1  # the second photo carries none
    assert "5 files written" in result.output

    # again: beside the old files, never over them
    again = env.run("extract", a.case, str(out))
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in (out / "2026-12-01-followup-2").iterdir()) == [
        "photo (2).jpg", "photo.jpg"]


def test_extract_refuses_a_folder_in_the_way(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    submit(a, [env.public], files=[("x.txt", "text/plain", b"x")])
    imported(env, tmp_path, a)
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "2026-11-20-application").symlink_to(elsewhere)
    result = env.run("extract", a.case, str(out))
    assert result.exit_code == 1
    assert "is in the way" in result.output
    assert list(elsewhere.iterdir()) == []


def test_canary_filename_reaches_only_the_saved_file(env: Env, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    a = Applicant()
    sub = submit(a, [env.public], files=[(f"{CANARY_NAME}.jpg", "image/jpeg",
                                          jpeg(exif=photo_exif()))])
    imported(env, tmp_path, a)
    home = Home(env.home)
    copy = saving.saved_copy(home, home.load_state(), home.unlock(PASSPHRASE), a.case,
                             sub.record.submission, 1, strip=True)
    assert copy.safe_name == f"{CANARY_NAME}.stripped.jpg"
    out = tmp_path / "out"
    assert env.run("extract", a.case, str(out), "--strip-metadata").exit_code == 0
    assert CANARY_NAME.encode() not in everything_under(env.home, temp)
    saved = [p.name for p in out.rglob("*") if CANARY_NAME in str(p)]
    assert sorted(saved) == [f"{CANARY_NAME}.jpg", f"{CANARY_NAME}.stripped.jpg"]


def test_submission_folders_rule() -> None:
    from reviewer.state import Submission

    def sub(day: str, kind: str) -> Submission:
        return Submission("0" * 32, day, kind, "1" * 32, (), True)  # type: ignore[arg-type]

    subs = [sub("2026-11-30", "application"), sub("2026-12-01", "followup"),
            sub("2026-12-01", "followup"), sub("../../x", "followup")]
    assert saving.submission_folders(subs) == [
        "2026-11-30-application", "2026-12-01-followup-1", "2026-12-01-followup-2",
        "undated-followup-3"]
