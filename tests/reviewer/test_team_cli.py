"""Team records through the real commands: note, assign, state, history, list, show,
export (the outbox), import of a colleague's outbox from a stick, share, check."""

from __future__ import annotations

import functools
import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crypto import envelope
from crypto.atomic import atomic_output
from crypto.bundle import BundleWriter
from crypto.keys import PublicKey
from crypto.signing import SigningKey
from crypto.team import encode_record, new_record, seal_announcement, sign_record, signed_message
from reviewer.cli import cli
from reviewer.errors import EXIT_ERROR
from reviewer.home import Home, Keys
from tests.harness.bundles import read_members

from .test_cli import PASSPHRASE, Env, bundle_two, make_env

CANARY = "CANARY-TEAM-CLI-93af"
VERIFY = ("--identity", "passport seen", "--work", "articles", "--persecution", "reports",
          "--risk", "high", "--recommendation", "proceed", "--notes", "n")


@dataclass
class Reviewer:
    env: Env
    name: str

    def run(self, *args: str, input: str | None = None, ok: bool = True) -> str:
        result = self.env.run(*args, input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result.output

    @property
    def home(self) -> Home:
        return Home(self.env.home)

    def keys(self) -> Keys:
        return self.home.unlock(PASSPHRASE)

    def confirm(self, other: Reviewer) -> None:
        self.run("keys", "add", other.env.public.to_text(), "--name", other.name, "--yes")

    def export(self, path: Path) -> Path:
        assert "Wrote" in self.run("export", str(path))
        return path


def reviewer(tmp_path: Path, name: str) -> Reviewer:
    (tmp_path / name).mkdir()
    return Reviewer(make_env(tmp_path / name), name)


@pytest.fixture
def team(tmp_path: Path) -> tuple[Reviewer, Reviewer, str, str]:
    """Ana and Bea, each with the same two cases, each confirming the other, each
    holding the other's announcement; two case ids."""
    ana, bea = reviewer(tmp_path, "Ana"), reviewer(tmp_path, "Bea")
    path, x, y = bundle_two(ana.env, tmp_path, [bea.env.public])
    for r in (ana, bea):
        r.run("import", str(path))
    ana.confirm(bea)
    bea.confirm(ana)
    ana_out = ana.export(tmp_path / "ana0.bundle")
    bea_out = bea.export(tmp_path / "bea0.bundle")
    assert "1 signing key announcement" in bea.run("import", str(ana_out))
    assert "1 signing key announcement" in ana.run("import", str(bea_out))
    return ana, bea, x.case, y.case


def test_a_colleagues_outbox_from_a_stick(team: tuple[Reviewer, Reviewer, str, str],
                                          tmp_path: Path) -> None:
    ana, bea, case, _ = team
    ana.run("verify", case, *VERIFY)
    ana.run("note", case, input=f"{CANARY}\nsecond line\n")
    ana.run("assign", case, "me")
    ana.run("reply", case, input="We received your application.")
    out = ana.export(tmp_path / "ana1.bundle")
    manifest, _ = read_members(out, "replies")
    assert len(manifest.replies) == 1 and len(manifest.team) == 4
    imported = bea.run("import", str(out)).splitlines()
    assert imported == [
        "A colleague's outbox (a bundle of replies): its team records are read, its 1 reply"
        " for applicants ignored (they go through the server).",
        "Team records: 4 applied, 0 copies of what was already here counted once,"
        " 0 signing key announcements.",
    ]
    history = bea.run("history", case)
    assert "state proceed, assigned to Ana" in history
    flat = " ".join(history.split())  # wrapped to the terminal's width
    for line in ("Ana recorded a verification: risk high, recommends proceed",
                 f"Ana wrote a note {CANARY} second line", "Ana assigned Ana",
                 "Ana sent a reply to the applicant We received your application."):
        assert line in flat, line
    rows = json.loads(bea.run("list", "--json", "--assignee", "Ana"))
    assert [(r["case"], r["state"], r["assignee"]) for r in rows] == [(case, "proceed", "Ana")]
    assert json.loads(bea.run("list", "--json", "--mine")) == []
    assert [r["case"] for r in json.loads(ana.run("list", "--json", "--mine"))] == [case]
    table = bea.run("list").splitlines()
    assert table[0].split()[-1] == "assignee"
    assert any(case[:8] in line and line.rstrip().endswith(" Ana") for line in table)
    # Nothing new: exporting again writes nothing.
    assert "Nothing to send" in ana.run("export", str(tmp_path / "ana2.bundle"))


def test_conflict_shown_until_a_decision(team: tuple[Reviewer, Reviewer, str, str],
                                         tmp_path: Path) -> None:
    ana, bea, case, _ = team
    ana.run("state", case, "refer", "--reason", "another city fits")
    bea.run("state", case, "decline", "--reason", "out of scope")
    bea.run("import", str(ana.export(tmp_path / "a.bundle")))
    ana.run("import", str(bea.export(tmp_path / "b.bundle")))
    for r, other, mine, theirs in ((ana, "Bea", "refer", "decline"),
                                   (bea, "Ana", "decline", "refer")):
        shown = " ".join(r.run("show", case).split())
        assert "CONFLICT on the state:" in shown
        assert f"you set {mine}" in shown and f"{other} set {theirs}" in shown
        assert [row["case"] for row in json.loads(r.run("list", "--json", "--conflict"))] == [
            case]
        assert "state conflict" in r.run("history", case)
    refused = ana.run("state", case, "decline", "--reason", " ", ok=False)
    assert "reason is empty" in refused
    ana.run("state", case, "decline", "--reason", "agreed with Bea by phone")
    bea.run("import", str(ana.export(tmp_path / "a2.bundle")))
    for r in (ana, bea):
        assert "CONFLICT" not in r.run("show", case)
        assert json.loads(r.run("list", "--json", "--conflict")) == []
        assert [row["state"] for row in json.loads(r.run("list", "--json"))
                if row["case"] == case] == ["decline"]


def frame_for(keys: Keys, signer: SigningKey, case: str, text: str,
              recipients: list[PublicKey], *, claim: SigningKey | None = None) -> bytes:
    """A signed note frame; `claim`: the author it names if not the signer (a forgery)."""
    author = (claim or signer).public_key
    doc = new_record(kind="note", case=case, author=author, parents=[], body={"text": text},
                     time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if claim is None:
        return sign_record(doc, signer, recipients)
    from crypto.team import RECORD_MAGIC, sorted_recipients

    keys_sorted = sorted_recipients(recipients)
    data = encode_record(doc)
    signature = signer.sign(signed_message(data, case, [], keys_sorted))
    return (RECORD_MAGIC + bytes([len(keys_sorted)]) + b"".join(k.raw for k in keys_sorted)
            + len(data).to_bytes(4, "big") + data + signature)


def outbox_bundle(path: Path, members: list[bytes], recipient: PublicKey) -> Path:
    with atomic_output(path) as out:
        writer = BundleWriter(out, "replies", created="2026-12-01", recipients=[recipient])
        for data in members:
            writer.add_team(functools.partial(io.BytesIO, data))
        writer.close()
    return path


def test_bad_members_one_line_each_and_nothing_else_lost(
        team: tuple[Reviewer, Reviewer, str, str], tmp_path: Path) -> None:
    ana, bea, case, other_case = team
    cy = reviewer(tmp_path, "Cy")   # confirmed by Bea, then removed
    dan = reviewer(tmp_path, "Dan")  # not confirmed by Bea
    bea.confirm(cy)
    bea.run("keys", "remove", "Cy")
    ka, kc, kd = ana.keys(), cy.keys(), dan.keys()
    to_bea = [bea.env.public]

    def sealed(frame: bytes) -> bytes:
        return envelope.encrypt_bytes(frame, to_bea)

    good = sealed(frame_for(ka, ka.signing[0], case, "good record", to_bea))
    altered_frame = bytearray(frame_for(ka, ka.signing[0], case, "pay 100", to_bea))
    altered_frame[altered_frame.index(b"pay 100") + 4] = ord("9")
    altered = sealed(bytes(altered_frame))
    # Dan (a key Bea does not know) signs, naming Ana as the author: not verifiable.
    forged = sealed(frame_for(kd, kd.signing[0], case, "forged", to_bea, claim=ka.signing[0]))
    # Ana signs a record naming Cy as its author: Bea knows Ana's key: a forged author.
    cy_announces = envelope.encrypt_bytes(
        seal_announcement(kc.private[0], kc.signing[0], bea.env.public), to_bea)
    forged_by_ana = sealed(frame_for(ka, ka.signing[0], other_case, "as Cy", to_bea,
                                     claim=kc.signing[0]))
    removed = sealed(frame_for(kc, kc.signing[0], case, "from a removed key", to_bea))
    dan_announces = envelope.encrypt_bytes(
        seal_announcement(kd.private[0], kd.signing[0], bea.env.public), to_bea)
    unconfirmed = sealed(frame_for(kd, kd.signing[0], case, "from Dan", to_bea))
    not_for_bea = envelope.encrypt_bytes(
        frame_for(ka, ka.signing[0], case, "for Cy only", [cy.env.public]), [cy.env.public])
    stick = outbox_bundle(tmp_path / "stick.bundle", [
        good, altered, forged, cy_announces, forged_by_ana, removed, dan_announces,
        unconfirmed, not_for_bea], bea.env.public)
    lines = bea.run("import", str(stick)).splitlines()[1:]
    assert lines[0] == ("Team records: 1 applied, 0 copies of what was already here counted"
                        " once, 2 signing key announcements.")
    refused = [line for line in lines if line.startswith("Refused: ")]
    assert len(refused) == 4
    assert any(line.startswith("Refused: altered:") for line in refused)
    assert sum(line.startswith("Refused: altered:") for line in refused) == 2  # + Dan's forgery
    forged_line = next(line for line in refused if line.startswith("Refused: forged author:"))
    assert "signed by Ana" in forged_line
    removed_line = next(line for line in refused if "removed colleague" in line)
    assert "Cy" in removed_line
    (aside,) = [line for line in lines if line.startswith("Kept aside: ")]
    assert kd.signing[0].public_key.fingerprint in aside
    assert lines[-1] == "Not for this home: 1 team envelope sealed to other colleagues only."
    assert dan.env.public.fingerprint in aside  # the key to compare before `keys add`
    assert len(lines) == 1 + 4 + 1 + 1  # one line each
    # Nothing else lost: the good record is in the history, alone.
    history = bea.run("history", case)
    assert "good record" in history
    for text in ("pay", "forged", "as Cy", "from a removed key", "from Dan", "for Cy only"):
        assert text not in history and text not in bea.run("history", other_case)
    # Dan confirmed later: his record kept aside is applied, nothing re-imported.
    bea.confirm(dan)
    assert "Dan wrote a note" in " ".join(bea.run("history", case).split())
    # The same bundle again: copies counted once, the refused ones refused again.
    again = bea.run("import", str(stick)).splitlines()
    assert ("Team records: 0 applied, 4 copies of what was already here counted once,"
            " 0 signing key announcements.") in again
    assert bea.run("history", case).count("wrote a note") == 2


def test_the_same_outbox_twice_counts_once(team: tuple[Reviewer, Reviewer, str, str],
                                           tmp_path: Path) -> None:
    ana, bea, case, _ = team
    ana.run("note", case, input="once")
    out = ana.export(tmp_path / "a.bundle")
    assert "Team records: 1 applied, 0 copies" in bea.run("import", str(out))
    assert "Team records: 0 applied, 1 copy" in bea.run("import", str(out))
    assert bea.run("history", case).count("wrote a note") == 1


def test_a_later_colleague_receives_history_through_share(
        team: tuple[Reviewer, Reviewer, str, str], tmp_path: Path) -> None:
    ana, bea, x, y = team
    ana.run("note", x, input="first look")
    ana.run("state", x, "more-info", "--reason", "need the court papers")
    bea.run("import", str(ana.export(tmp_path / "a1.bundle")))
    bea.run("state", y, "proceed", "--reason", "all checked")
    bea.run("assign", y, "Ana")
    ana.run("import", str(bea.export(tmp_path / "b1.bundle")))
    # Cy joins later: she stores the cases (sealed to Ana and Bea, not to her) and
    # confirms Ana and Bea, who confirm her (their announcements go in their outboxes).
    cy = reviewer(tmp_path, "Cy")
    cy.run("import", str(tmp_path / "pickup.bundle"))
    for r in (ana, bea):
        r.confirm(cy)
        cy.confirm(r)
    shared = ana.run("share", "--with", "Cy", x, y)
    assert shared.startswith("4 team records sealed to Cy")
    for r in (bea, ana):
        cy.run("import", str(r.export(tmp_path / f"{r.name}-share.bundle")))
    for case in (x, y):
        mine, theirs = ana.home.case_team(case, ana.keys()), cy.home.case_team(case, cy.keys())
        assert (theirs.state, [e.id for e in theirs.history]) == (
            mine.state, [e.id for e in mine.history])
    assert cy.home.case_team(y, cy.keys()).assignee == "Ana"


def test_check_reports_what_cannot_be_read(team: tuple[Reviewer, Reviewer, str, str],
                                           tmp_path: Path) -> None:
    ana, _, case, _ = team
    ana.run("note", case, input="kept")
    ok = ana.run("check")
    assert "0 cannot be read" in ok
    # A backup without its key file, checked with the live home's keys.
    backup = tmp_path / "backup"
    shutil.copytree(ana.env.home, backup, ignore=shutil.ignore_patterns("keys", "lock"))
    result = ana.env.runner.invoke(
        cli,
        ["check", "--home", str(backup), "--passphrase-file", str(ana.env.pass_file),
         "--keys-from", str(ana.env.home)])
    assert result.exit_code == 0 and "0 cannot be read" in result.output, result.output
    team_blob = next(b for b in json.loads((backup / "state.json").read_text())["team"]
                     if (backup / "blobs" / b).exists())  # the note (received ones are packed)
    damaged = backup / "blobs" / team_blob
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 1
    damaged.write_bytes(bytes(data))
    result = ana.env.runner.invoke(
        cli,
        ["check", "--home", str(backup), "--passphrase-file", str(ana.env.pass_file),
         "--keys-from", str(ana.env.home)])
    assert result.exit_code == EXIT_ERROR
    assert f"Cannot read: team envelope {team_blob}:" in result.output
    assert "1 cannot be read" in result.output



def test_extract_records_who_saved_which_file(team: tuple[Reviewer, Reviewer, str, str],
                                              tmp_path: Path) -> None:
    ana, bea, case, _ = team
    ana.run("extract", case, str(tmp_path / "out"))
    bea.run("import", str(ana.export(tmp_path / "a.bundle")))
    flat = " ".join(bea.run("history", case).split())
    assert "Ana saved a file as '" in flat and "-application/" in flat


def test_a_rotated_key_is_announced_by_the_old_one(team: tuple[Reviewer, Reviewer, str, str],
                                                   tmp_path: Path) -> None:
    ana, bea, case, _ = team
    rotated = ana.run("init", "--rotate", "--insecure-test-limits")
    assert "announced to your 1 confirmed colleague" in rotated
    ana.run("note", case, input="signed with the new key")
    said = bea.run("import", str(ana.export(tmp_path / "rotated.bundle")))
    assert "Team records: 1 applied" in said
    assert "Ana wrote a note signed with the new key" in " ".join(
        bea.run("history", case).split())


def test_an_oversized_team_member_is_refused_unread(team: tuple[Reviewer, Reviewer, str, str],
                                                    tmp_path: Path) -> None:
    ana, bea, case, _ = team
    ka = ana.keys()
    to_bea = [bea.env.public]
    good = envelope.encrypt_bytes(frame_for(ka, ka.signing[0], case, "small", to_bea), to_bea)
    huge = envelope.encrypt_bytes(b"RFGREC\x00\x01" + b"\x00" * (3 * 1024 * 1024), to_bea)
    stick = outbox_bundle(tmp_path / "huge.bundle", [huge, good], bea.env.public)
    lines = bea.run("import", str(stick)).splitlines()
    assert "Team records: 1 applied, 0 copies of what was already here counted once," \
        " 0 signing key announcements." in lines
    assert "Refused: a team envelope larger than any record, refused unread" in lines
    assert "small" in bea.run("history", case)


def test_a_note_or_reason_too_long_for_one_record_says_so(
        team: tuple[Reviewer, Reviewer, str, str]) -> None:
    """The limit lives in the home: the command says it in a sentence, and keeps nothing."""
    ana, _, case, _ = team
    long_text = "x" * 1_000_000
    said = ana.run("note", case, input=long_text, ok=False)
    assert "the text is too long for one record" in said
    assert "Traceback" not in said
    said = ana.run("state", case, "refer", "--reason", long_text, ok=False)
    assert "the text is too long for one record" in said
    assert "wrote a note" not in ana.run("history", case)
    assert "set the state" not in ana.run("history", case)
