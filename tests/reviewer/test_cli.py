"""The reviewer tool through its command line (click's CliRunner), as a reviewer uses it."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
from click.testing import CliRunner, Result

from bench.server_sim import (
    APPLICATION,
    Applicant,
    jpeg_with_exif,
    png_with_text,
    submit,
    write_bundle,
)
from crypto import envelope
from crypto.bundle import Member, read_bundle
from crypto.errors import NoMatch
from crypto.keyfile import open_private_key
from crypto.keys import PrivateKey, PublicKey
from reviewer.cli import cli
from reviewer.errors import EXIT_BUNDLE, EXIT_ERROR, EXIT_KEY, EXIT_NOT_FOUND
from reviewer.home import Home

PASSPHRASE = "correct horse battery staple"
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\r\u202egnp.exe"
CANARY_ANSWER = "CANARY-ANSWER-7f3a"
CANARY_FILE = "CANARY-FILENAME-91bc"
CANARY_NOTE = "CANARY-NOTE-c0de"
CANARY_REPLY = "CANARY-REPLY-beef"
HOSTILE_NAMES = [
    "../../etc/passwd",
    "/abs/path/x.sh",
    "C:\\Windows\\evil.bat",
    "..",
    ".bashrc",
    "CON.txt",
    "nul",
    "a\x00b\x1b[31m.pdf",
    "x" * 300 + ".pdf",
    "report.pdf",
    "REPORT.pdf",
    "report.pdf",
    "\u202egnp.exe",
]


@dataclass
class Env:
    runner: CliRunner
    home: Path
    pass_file: Path
    public: PublicKey

    def run(self, *args: str, input: str | None = None, key: bool = True) -> Result:
        extra = ["--passphrase-file", str(self.pass_file)] if key else []
        n = 2 if args[0] == "keys" else 1  # a group: the options follow its command
        return self.runner.invoke(cli, [*args[:n], "--home", str(self.home), *extra, *args[n:]],
                                  input=input)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def make_env(tmp_path: Path) -> Env:
    """A fresh reviewer home with one key (cheap Argon2 limits)."""
    runner = CliRunner()
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    home = tmp_path / "home"
    result = runner.invoke(cli, ["init", "--home", str(home), "--passphrase-file", str(pass_file),
                                 "--insecure-test-limits"])
    assert result.exit_code == 0, result.output
    public = PublicKey.from_text(result.output.splitlines()[2])
    return Env(runner, home, pass_file, public)


def bundle_two(env: Env, tmp_path: Path, extra_keys: list[PublicKey] | None = None
               ) -> tuple[Path, Applicant, Applicant]:
    keys = [env.public, *(extra_keys or [])]
    a = Applicant()
    submit(a, keys, answers={**APPLICATION, "name": "Ayşe " + ESCAPES,
                             "threat": CANARY_ANSWER + "\n<script>alert(1)</script>"},
           files=[(CANARY_FILE + ".jpg", "image/jpeg", jpeg_with_exif())])
    b = Applicant()
    submit(b, keys, day="2026-11-21", answers={**APPLICATION, "name": "Omid"},
           files=[("poem.png", "image/png", png_with_text())])
    submit(b, keys, kind="followup", day="2026-11-22")
    path = write_bundle(tmp_path / "pickup.bundle", [(a, a.submissions), (b, b.submissions)], keys)
    return path, a, b


def home_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def stored_files(home: Path) -> list[Path]:
    """Envelope files: packs, one-file blobs, and anything left in staging."""
    return [p for d in ("packs", "blobs", "tmp") for p in (home / d).rglob("*")]


# --- keys -------------------------------------------------------------------------


def test_init_prints_key_and_fingerprint(env: Env) -> None:
    out = env.run("pubkey", key=False)
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert lines == [env.public.to_text(), env.public.fingerprint]
    key_file = next((env.home / "keys").iterdir())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert open_private_key(key_file.read_bytes(), PASSPHRASE).public_key == env.public


def test_init_refuses_to_overwrite(env: Env) -> None:
    result = env.run("init", "--insecure-test-limits")
    assert result.exit_code == 1
    assert "not overwriting" in result.output
    assert len(list((env.home / "keys").iterdir())) == 1


def test_init_refuses_short_passphrase_from_a_file(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("short\n")
    result = CliRunner().invoke(cli, ["init", "--home", str(tmp_path / "h"), "--insecure-test-limits",
                                      "--passphrase-file", str(short)])
    assert result.exit_code == EXIT_KEY
    assert "too short" in result.output
    assert not (tmp_path / "h" / "keys").exists() or not list((tmp_path / "h" / "keys").iterdir())


def test_init_asks_again_for_a_short_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "h"
    result = CliRunner().invoke(cli, ["init", "--home", str(home), "--insecure-test-limits"],
                                input=f"short\nshort\n{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("too short") == 1
    assert result.output.count("Repeat for confirmation") == 2
    key_file = next((home / "keys").iterdir())
    assert open_private_key(key_file.read_bytes(), PASSPHRASE).public_key.to_text() in result.output


def test_init_short_passphrase_then_end_of_input_makes_no_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--home", str(tmp_path / "h"), "--insecure-test-limits"],
                                input="short\nshort\n")
    assert result.exit_code != 0
    assert "too short" in result.output
    assert not (tmp_path / "h" / "keys").exists() or not list((tmp_path / "h" / "keys").iterdir())


def test_init_prompts_twice(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--home", str(tmp_path / "h"), "--insecure-test-limits"],
                                input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert "diceware" in result.output
    assert "refuge-pk1-" in result.output


def test_rotated_key_still_opens_old_material(env: Env, tmp_path: Path) -> None:
    path, a, _ = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    rotated = env.run("init", "--rotate", "--insecure-test-limits")
    assert rotated.exit_code == 0, rotated.output
    new_public = env.run("pubkey", key=False).output.splitlines()[0]
    assert new_public != env.public.to_text()
    shown = env.run("show", a.case)
    assert CANARY_ANSWER in shown.output


def test_wrong_passphrase_is_one_line(env: Env, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("not the passphrase at all\n")
    result = env.runner.invoke(cli, ["list", "--home", str(env.home), "--passphrase-file",
                                     str(bad)])
    assert result.exit_code == EXIT_KEY
    assert result.output.count("\n") == 1
    assert "wrong passphrase" in result.output
    assert "Traceback" not in result.output


def test_missing_home(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pubkey", "--home", str(tmp_path / "nowhere")])
    assert result.exit_code == EXIT_NOT_FOUND
    assert "reviewer init" in result.output


def test_home_from_environment(env: Env) -> None:
    result = env.runner.invoke(cli, ["pubkey"], env={"REVIEWER_HOME": str(env.home)})
    assert result.output.splitlines()[0] == env.public.to_text()


# --- import -----------------------------------------------------------------------


def test_import_list_show(env: Env, tmp_path: Path) -> None:
    path, a, b = bundle_two(env, tmp_path)
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 new cases, 1 follow-up" in result.output

    listed = env.run("list")
    assert listed.exit_code == 0, listed.output
    assert a.case[:8] in listed.output and b.case[:8] in listed.output
    assert "Omid" in listed.output and "journalist" in listed.output
    assert "\x1b" not in listed.output and "\u202e" not in listed.output
    assert "\\x1b" in listed.output

    rows = json.loads(env.run("list", "--json").output)
    # Neither urgency is one of the form's: the latest activity first (b's follow-up).
    assert [r["case"] for r in rows] == [b.case, a.case]
    assert rows[1]["name"] == "Ayşe " + ESCAPES
    assert rows[0]["followups"] == 1 and rows[0]["attachments"] == 1
    assert all(r["state"] == "unverified" for r in rows)

    shown = env.run("show", a.case[:6])
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert CANARY_ANSWER in text and "<script>alert(1)</script>" in text
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in text
    assert "\\x1b[2J" in text and "\\u202e" in text
    assert f"1. {CANARY_FILE}.jpg  (153 bytes; claimed image/jpeg;" in text

    shown_b = env.run("show", b.case).output
    assert shown_b.index("== Application") < shown_b.index("== Follow-up")
    assert "More news." in shown_b


def test_an_index_that_cannot_be_written_is_told_and_the_import_is_kept(
    env: Env, tmp_path: Path
) -> None:
    # The index is written after state.json: its failure is told, and what the state
    # already records stays stored (the index is made again from it).
    path, a, b = bundle_two(env, tmp_path)
    blocker = env.home / "index.env"
    blocker.mkdir()
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_ERROR
    assert "Is a directory" in result.output and "index.env" in result.output
    blocker.rmdir()
    assert "nothing new" in env.run("import", str(path)).output.lower()
    listed = env.run("list")
    assert listed.exit_code == 0, listed.output
    assert a.case[:8] in listed.output and b.case[:8] in listed.output
    assert "Omid" in listed.output


def test_import_is_idempotent(env: Env, tmp_path: Path) -> None:
    path, _, _ = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    before = {p: p.read_bytes() for p in home_files(env.home)}
    again = env.run("import", str(path))
    assert again.exit_code == 0
    assert "Nothing new" in again.output and "3 submissions" in again.output
    after = {p: p.read_bytes() for p in home_files(env.home)}
    assert before == after


def test_import_counts_only_what_is_new(env: Env, tmp_path: Path) -> None:
    path, _, b = bundle_two(env, tmp_path)
    env.run("import", str(path))
    later = submit(b, [env.public], kind="followup", day="2026-11-25")
    second = write_bundle(tmp_path / "second.bundle", [(b, b.submissions)], [env.public])
    result = env.run("import", str(second))
    assert "Imported 1 submission: 0 new cases, 1 follow-up (2 already imported)" in result.output
    assert later.record.submission in env.run("show", b.case).output


@pytest.mark.parametrize("damage", ["flip", "truncate", "append", "scramble"])
def test_damaged_bundle_imports_nothing(env: Env, tmp_path: Path, damage: str) -> None:
    path, a, _ = bundle_two(env, tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-100] ^= 1
    elif damage == "truncate":
        del data[-10:]
    elif damage == "append":
        data += b"x"
    else:
        # the second half of the file reversed: members out of place (exact member
        # swaps are in the vectors)
        half = len(data) // 2
        data = data[:half] + data[half:][::-1]
    path.write_bytes(bytes(data))
    before = sorted(home_files(env.home))
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_BUNDLE, result.output
    assert "nothing was imported" in result.output
    assert result.output.count("\n") == 1
    assert sorted(home_files(env.home)) == before
    assert env.run("show", a.case).exit_code == EXIT_NOT_FOUND


def test_foreign_file_and_wrong_kind(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    result = env.run("import", str(other))
    assert result.exit_code == EXIT_BUNDLE
    assert "not a refuge-intake bundle" in result.output
    # a replies bundle is not a submissions bundle
    _, a, _ = bundle_two(env, tmp_path)
    replies = tmp_path / "replies.bundle"
    from crypto.atomic import atomic_output
    from crypto.bundle import BundleWriter

    blob = envelope.encrypt_bytes(b"{}", [env.public])
    with atomic_output(replies) as out:
        w = BundleWriter(out, "replies", created="2026-11-23", recipients=[env.public])
        w.add_member("ab" * 16, lambda: io.BytesIO(blob))
        w.add_reply("cd" * 16, a.case, "2026-11-23", "ab" * 16)
        w.close()
    # A colleague's outbox carried on a stick: its team members are read (none
    # here), its replies (for the applicant) ignored, in one line; nothing stored.
    before = (env.home / "state.json").read_bytes() if (env.home / "state.json").exists() else b""
    result = env.run("import", str(replies))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "A colleague's outbox (a bundle of replies): its team records are read, its 1 reply"
        " for applicants ignored (they go through the server)."]
    assert not (env.home / "state.json").exists() or (
        env.home / "state.json").read_bytes() == before
    assert list((env.home / "packs").iterdir()) == []


def test_import_refuses_a_bundle_listing_an_unrelated_recipient(env: Env, tmp_path: Path
                                                                 ) -> None:
    # The manifest's recipients are the keys the envelopes are sealed to, read
    # from their stanzas (no decryption): an extra key is refused, whole.
    a = Applicant()
    submit(a, [env.public])
    unrelated = PrivateKey.generate().public_key
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [env.public])
    data = path.read_bytes()
    forged = tmp_path / "forged.bundle"
    forged.write_bytes(_relist(data, [env.public, unrelated]))
    result = env.run("import", str(forged))
    assert result.exit_code == EXIT_BUNDLE, result.output
    assert "no envelope in it is sealed to" in result.output
    assert not (env.home / "state.json").exists()


def _relist(bundle_bytes: bytes, recipients: list[PublicKey]) -> bytes:
    """The same bundle with another recipients list (and a recomputed digest)."""
    import hashlib
    import json as json_

    from crypto import bundle as b

    length = b.LENGTH.unpack(bundle_bytes[24:28])[0]
    manifest = json_.loads(bundle_bytes[28 : 28 + length])
    manifest["recipients"] = [k.to_text() for k in recipients]
    data = b.canonical_json(manifest)
    prefix = b.MAGIC + b.LENGTH.pack(len(data)) + data
    digest = hashlib.blake2b(prefix, digest_size=32, person=b"refuge-bndl-mf1").digest()
    return prefix + digest + bundle_bytes[28 + length + 32 :]


@pytest.mark.parametrize(
    ("override", "says"),
    [({"case": "0" * 32}, "does not match the manifest"),
     ({"kind": "followup"}, "does not match the manifest"),
     ({"day": "2026-01-01"}, "does not match the manifest"),
     ({"attachments": []}, "does not match the manifest"),
     ({"submission": "1" * 32}, "does not match the manifest"),
     # The document's own rules (docs/format.md, "Documents") come first: its
     # format is "refuge-intake submission", not the manifest's.
     ({"format": "refuge-intake bundle"}, "malformed (its format"),
     ({"version": 3}, "newer, unknown version"),
     ({"extra": 1}, "does not have exactly the fields"),
     ({"day": "2026-02-30"}, "its day is not a date")],
)
def test_answers_must_match_manifest(env: Env, tmp_path: Path, override: dict[str, object],
                                     says: str) -> None:
    a = Applicant()
    submit(a, [env.public], files=[("a.txt", "text/plain", b"hi")], doc_override=override)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_BUNDLE, result.output
    assert says in result.output
    assert not (env.home / "state.json").exists()
    assert stored_files(env.home) == []


def test_not_addressed_to_this_reviewer(env: Env, tmp_path: Path) -> None:
    other = PrivateKey.generate().public_key
    a = Applicant()
    submit(a, [other], files=[("x.txt", "text/plain", b"secret")])
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [other])
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "not addressed to your key" in result.output
    assert "(not your key)" in env.run("list").output
    shown = env.run("show", a.case)
    assert shown.exit_code == 0 and "not addressed to your key" in shown.output
    extracted = env.run("extract", a.case, str(tmp_path / "out"))
    assert extracted.exit_code == 0 and "skipped" in extracted.output


def test_unknown_case(env: Env, tmp_path: Path) -> None:
    path, _, _ = bundle_two(env, tmp_path)
    env.run("import", str(path))
    for command in ("show", "verify", "reply"):
        result = env.run(command, "ffff0000", input="")
        assert result.exit_code == EXIT_NOT_FOUND
        assert "no case starts with" in result.output
    assert env.run("show", "zz").exit_code == EXIT_NOT_FOUND


# --- extract ----------------------------------------------------------------------


def test_extract_hostile_names(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    files = [(name, "application/pdf", b"%PDF-1.4\n" + name.encode("utf-8", "replace"))
             for name in HOSTILE_NAMES]
    submit(a, [env.public], files=files)
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [env.public])
    assert env.run("import", str(path)).exit_code == 0
    out = tmp_path / "out"
    result = env.run("extract", a.case, str(out))
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["2026-11-20-application"]
    folder = out / "2026-11-20-application"
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == len(HOSTILE_NAMES)
    assert len({n.casefold() for n in written}) == len(written)
    for p in folder.iterdir():
        assert p.parent == folder and not p.is_symlink()
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        name = p.name
        assert not name.startswith(".")
        assert "/" not in name and "\\" not in name
        assert all(ord(c) >= 0x20 and c != "\u202e" for c in name)
        assert len(name.encode()) <= 200
        assert name.split(".")[0].upper() not in {"CON", "NUL"}
    assert any(n.endswith(".pdf") and n.startswith("xxx") for n in written)
    assert not (tmp_path / "etc").exists() and not Path("/abs").exists()
    assert "\x1b" not in result.output and "\u202e" not in result.output
    # never overwrites: a second extraction writes new names beside the old ones
    again = env.run("extract", a.case, str(out))
    assert again.exit_code == 0
    assert len(list(folder.iterdir())) == 2 * len(HOSTILE_NAMES)


def test_invisible_characters_are_neither_extracted_nor_printed(env: Env,
                                                                tmp_path: Path) -> None:
    # `report.pdf\u200b.exe` was written and printed under that raw name; a
    # Persian answer's direction mark and zero-width non-joiner were escaped.
    a = Applicant()
    contact = "سيغنال: \u200e+961 70 000 000"
    submit(a, [env.public], answers={**APPLICATION, "contact": contact,
                                     "work": "می\u200cخواهم\u2060 \U000e0041"},
           files=[("report.pdf\u200b.exe", "application/pdf", b"%PDF-1.4\n"),
                  ("نیم\u200cفاصله\u2066.pdf", "application/pdf", b"%PDF-1.4\n")])
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [env.public])
    assert env.run("import", str(path)).exit_code == 0
    out = tmp_path / "out"
    result = env.run("extract", a.case, str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "2026-11-20-application").iterdir()) == [
        "report.pdf.exe", "نیمفاصله.pdf"]
    assert "\u200b" not in result.output and "\u2066" not in result.output
    assert "(sent as 'report.pdf\\u200b.exe')" in result.output
    assert "(sent as 'نیم\u200cفاصله\\u2066.pdf')" in result.output
    shown = env.run("show", a.case)
    assert f"A safe way to reach you (optional): {contact}" in shown.output
    assert "with links if you have them: می\u200cخواهم\\u2060 \\U000e0041" in shown.output
    assert "\u2060" not in shown.output and "\U000e0041" not in shown.output
    assert "1. report.pdf\\u200b.exe" in shown.output


def test_extract_types_and_metadata(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    submit(a, [env.public], files=[
        ("photo.jpg", "image/jpeg", jpeg_with_exif()),
        ("scan.png", "image/png", png_with_text()),
        ("cv.pdf", "application/pdf", b"MZ\x90\x00 this is a program"),
        ("notes.txt", "text/plain", "نص عربي\n".encode()),
    ])
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [env.public])
    env.run("import", str(path))
    out = tmp_path / "out"
    result = env.run("extract", a.case, str(out), "--strip-metadata")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    cv = lines.index(next(line for line in lines if line.startswith("cv.pdf")))
    assert "content: application/x-msdownload  claimed: application/pdf" in lines[cv]
    assert "WARNING" in lines[cv + 1]
    assert "metadata: EXIF, comment" in result.output
    assert "metadata: text" in result.output
    notes = next(line for line in lines if line.startswith("notes.txt"))
    assert "content: text/plain" in notes
    folder = out / "2026-11-20-application"
    assert (folder / "photo.jpg").read_bytes() == jpeg_with_exif()
    stripped = (folder / "photo.stripped.jpg").read_bytes()
    assert b"GPS-CANARY" not in stripped and b"comment canary" not in stripped
    assert stripped.startswith(b"\xff\xd8\xff\xe0") and stripped.endswith(b"scan\xff\xd9")
    png = (folder / "scan.stripped.png").read_bytes()
    assert b"TEXT-CANARY" not in png and b"IDAT" in png and png.endswith(b"IEND\xaeB`\x82")
    # the values, not only the kinds: the PNG's text, and what could not be read
    assert "    Text: Author: TEXT-CANARY" in lines
    photo = lines.index(next(line for line in lines if line.startswith("photo.jpg")))
    assert lines[photo + 2] == "    metadata: could not be read"
    assert "Nothing was opened" in result.output


# --- verify, reply, export ----------------------------------------------------------


def test_verify_history_and_state_filter(env: Env, tmp_path: Path) -> None:
    path, a, b = bundle_two(env, tmp_path)
    env.run("import", str(path))
    first = env.run("verify", a.case, "--identity", "passport seen", "--work", "articles found",
                    "--persecution", "CPJ, PEN", "--risk", "high", "--recommendation",
                    "more-info", "--notes", CANARY_NOTE)
    assert first.exit_code == 0, first.output
    second = env.run("verify", a.case[:8],
                     input="video call\nbylines checked\nRSF report\ncritical\nproceed\n\n")
    assert second.exit_code == 0, second.output
    assert "record 2" in second.output
    shown = env.run("show", a.case).output
    assert shown.index("1. ") < shown.index("more-info") < shown.index("proceed")
    assert CANARY_NOTE in shown and "RSF report" in shown
    proceed = json.loads(env.run("list", "--json", "--state", "proceed").output)
    assert [r["case"] for r in proceed] == [a.case]
    unverified = json.loads(env.run("list", "--json", "--state", "unverified").output)
    assert [r["case"] for r in unverified] == [b.case]
    bad = env.run("verify", a.case, "--risk", "extreme")
    assert bad.exit_code == 2


def test_a_reply_the_case_page_would_refuse_is_not_saved(env: Env, tmp_path: Path) -> None:
    # The reply document is held to docs/format.md before it is sealed: over
    # 4 MiB the applicant's case page would refuse it, so it is refused here.
    path, a, _ = bundle_two(env, tmp_path)
    env.run("import", str(path))
    huge = tmp_path / "huge.txt"
    huge.write_text("x" * (4 * 1024 * 1024))
    result = env.run("reply", a.case, "--file", str(huge))
    assert result.exit_code == 1
    assert "cannot save this reply" in result.output and "longer than" in result.output
    assert "x" * 100 not in env.run("show", a.case).output  # nothing was saved


def test_reply_and_export(env: Env, tmp_path: Path) -> None:
    path, a, b = bundle_two(env, tmp_path)
    env.run("import", str(path))
    text_file = tmp_path / "reply.txt"
    text_file.write_text(CANARY_REPLY + "\nWe received your application.")
    assert env.run("reply", a.case, "--file", str(text_file)).exit_code == 0
    assert env.run("reply", b.case, input="Hello from stdin\n").exit_code == 0
    assert env.run("reply", b.case, input="   \n").exit_code == 1
    assert "We received" in env.run("show", a.case).output

    bundle_path = tmp_path / "replies.bundle"
    result = env.run("export-replies", str(bundle_path))
    assert result.exit_code == 0, result.output
    assert "Wrote 2 replies" in result.output
    staged: dict[str, bytes] = {}
    import contextlib

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        buf = io.BytesIO()
        yield buf
        staged[member.id] = buf.getvalue()

    with open(bundle_path, "rb") as f:
        manifest = read_bundle(f, kind="replies", sink=sink)
    assert {r.case for r in manifest.replies} == {a.case, b.case}
    assert env.public in manifest.recipients
    for r in manifest.replies:
        applicant = a if r.case == a.case else b
        doc = json.loads(envelope.decrypt_bytes(staged[r.blob], [applicant.reply_key]))
        assert doc["format"] == "refuge-intake reply" and doc["reply"] == r.reply
        assert doc["case"] == r.case
        # the other applicant cannot read it
        other = b if applicant is a else a
        with pytest.raises(NoMatch):
            envelope.decrypt_bytes(staged[r.blob], [other.reply_key])

    again = env.run("export-replies", str(tmp_path / "again.bundle"))
    assert "Nothing to send" in again.output
    assert not (tmp_path / "again.bundle").exists()
    refused = env.run("export-replies", str(bundle_path), "--all")
    assert refused.exit_code == 1 and "not overwriting" in refused.output
    everything = env.run("export-replies", str(tmp_path / "all.bundle"), "--all")
    assert "Wrote 2 replies" in everything.output
    assert "(exported, final;" in env.run("show", a.case).output


def test_home_holds_no_plaintext(env: Env, tmp_path: Path) -> None:
    path, a, _ = bundle_two(env, tmp_path)
    env.run("import", str(path))
    env.run("verify", a.case, "--identity", "i", "--work", "w", "--persecution", "p",
            "--risk", "low", "--recommendation", "refer", "--notes", CANARY_NOTE)
    reply_file = tmp_path / "r.txt"
    reply_file.write_text(CANARY_REPLY)
    env.run("reply", a.case, "--file", str(reply_file))
    env.run("list")
    assert env.run("show", a.case).exit_code == 0
    canaries = [CANARY_ANSWER, CANARY_FILE, CANARY_NOTE, CANARY_REPLY, "Omid", "Ayşe",
                "journalist", "Türkiye", "image/jpeg", "refer"]
    for p in home_files(env.home):
        data = p.read_bytes()
        for canary in canaries:
            assert canary.encode() not in data, (p, canary)
    assert [p.name for p in (env.home / "tmp").iterdir()] == []
    for p in env.home.rglob("*"):
        if p.is_file():
            assert not os.access(p, os.X_OK)


def test_bundle_reusing_a_stored_blob_id_is_refused(env: Env, tmp_path: Path) -> None:
    path, a, _ = bundle_two(env, tmp_path)
    env.run("import", str(path))
    stored = a.submissions[0].record.answers
    home = Home(env.home)
    before = home.store(home.load_state()).read_blob(stored)
    c = Applicant()
    sub = submit(c, [env.public])
    sub.blobs = {stored: next(iter(sub.blobs.values()))}
    sub.record = type(sub.record)(sub.record.submission, sub.record.day, sub.record.kind,
                                  stored, ())
    bad = write_bundle(tmp_path / "reuse.bundle", [(c, [sub])], [env.public])
    result = env.run("import", str(bad))
    assert result.exit_code == EXIT_BUNDLE
    assert "reuses the id" in result.output
    assert home.store(home.load_state()).read_blob(stored) == before


def test_large_bundle_shows_progress(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    big = os.urandom(1_500_000)
    submit(a, [env.public], files=[("video.bin", "application/octet-stream", big)])
    path = write_bundle(tmp_path / "big.bundle", [(a, a.submissions)], [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "Checking the bundle" in result.output
    out = tmp_path / "out"
    env.run("extract", a.case, str(out))
    assert (out / "2026-11-20-application" / "video.bin").read_bytes() == big


def test_reply_on_a_terminal_is_read_from_it_never_written_to_a_file(
        env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It used click.edit, which writes the text to a temporary file (and the
    # editor its swap file): no reply text may reach the disk in the clear.
    path, a, _ = bundle_two(env, tmp_path)
    env.run("import", str(path))
    import tempfile

    import click

    import reviewer.cli as cli_module

    def no_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("reply text must not go to an editor or a temporary file")

    for name in ("mkstemp", "NamedTemporaryFile", "TemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, no_file)
    monkeypatch.setattr(click, "edit", no_file)
    monkeypatch.setattr(cli_module, "stdin_is_terminal", lambda: True)
    result = env.runner.invoke(cli, ["reply", "--home", str(env.home), "--passphrase-file",
                                     str(env.pass_file), a.case],
                               input=CANARY_REPLY + "\n# kept: no comment syntax\n")
    assert result.exit_code == 0, result.output
    assert "Ctrl-D" in result.stderr
    shown = env.run("show", a.case).output
    assert CANARY_REPLY in shown and "# kept: no comment syntax" in shown
    for p in home_files(env.home):
        assert CANARY_REPLY.encode() not in p.read_bytes(), p


def test_export_replies_without_home(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export-replies", "--home", str(tmp_path / "none"),
                                      str(tmp_path / "r.bundle")])
    assert result.exit_code == EXIT_NOT_FOUND


def test_key_added_later_reads_only_what_came_after(env: Env, tmp_path: Path) -> None:
    earlier = PrivateKey.generate().public_key  # a colleague's key, installed first
    a = Applicant()
    submit(a, [earlier], answers={**APPLICATION, "name": "Before"})
    submit(a, [earlier, env.public], kind="followup", day="2026-11-24",
           answers={"message": "After your key was added"})
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [earlier, env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 submission(s) are not addressed to your key" in result.output
    shown = env.run("show", a.case).output
    assert "not addressed to your key" in shown
    assert "After your key was added" in shown and "Before" not in shown
    # the reviewer's records go to the colleague once the colleague's key is
    # confirmed, never because a bundle names it (tests/reviewer/test_trust.py)
    def verify_and_recipients() -> set[bytes]:
        before = {p.name for p in (env.home / "blobs").iterdir()}
        env.run("verify", a.case, "--identity", "i", "--work", "w", "--persecution", "p",
                "--risk", "low", "--recommendation", "proceed", "--notes", "")
        made = {p.name for p in (env.home / "blobs").iterdir()} - before
        assert len(made) == 2  # the verification, and the same as a team record
        found = set()
        for record in made:
            with open(env.home / "blobs" / record, "rb") as f:
                found.add(frozenset(envelope.recipient_key_ids(f)))
        (recipients,) = found
        return set(recipients)

    assert verify_and_recipients() == {env.public.key_id}
    assert env.run("keys", "add", earlier.to_text(), "--name", "Colleague", "--yes").exit_code == 0
    assert verify_and_recipients() == {earlier.key_id, env.public.key_id}


def test_attachment_order_in_manifest_is_not_significant(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    sub = submit(a, [env.public], files=[("1.txt", "text/plain", b"one"),
                                         ("2.txt", "text/plain", b"two")])
    sub.record = type(sub.record)(sub.record.submission, sub.record.day, sub.record.kind,
                                  sub.record.answers, sub.record.attachments[::-1])
    path = write_bundle(tmp_path / "b.bundle", [(a, [sub])], [env.public])
    assert env.run("import", str(path)).exit_code == 0
    shown = env.run("show", a.case).output
    assert shown.index("1. 1.txt") < shown.index("2. 2.txt")


def test_empty_bundle(env: Env, tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "empty.bundle", [], [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0
    assert "holds no submissions" in result.output
    assert env.run("list").output.strip() == "No cases."


def test_tampered_attachment_with_recomputed_digests_imports_nothing(env: Env,
                                                                      tmp_path: Path) -> None:
    a = Applicant()
    sub = submit(a, [env.public], files=[("a.pdf", "application/pdf", b"%PDF-1.4 " * 1000)])
    (blob,) = sub.record.attachments
    damaged = bytearray(sub.blobs[blob])
    damaged[-20] ^= 1  # inside the last chunk: the envelope MAC fails, the bundle is fine
    sub.blobs[blob] = bytes(damaged)
    path = write_bundle(tmp_path / "b.bundle", [(a, [sub])], [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == EXIT_BUNDLE, result.output
    assert f"attachment {blob}" in result.output and "nothing was imported" in result.output
    assert not (env.home / "state.json").exists()
    assert stored_files(env.home) == []
