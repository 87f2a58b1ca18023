"""A whole referral through the real commands: cities, refer, consent, dossier open and answer.

Four homes, each with its own key: the Secretariat reviewer who refers, a
colleague of hers, the city coordinator, and a stranger. The dossier is
opened only where it should be, refused in one line where it should not,
and the coordinator's answer comes back into the case's history.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bench.server_sim import APPLICATION, Applicant, submit, write_bundle
from crypto import dossier as crypto_dossier
from crypto.keys import PublicKey
from reviewer.cli import cli
from reviewer.home import Home
from tests.reviewer.test_cli import ESCAPES, PASSPHRASE

GROUPS = ("keys", "cities", "dossier")
POEMS = b"%PDF-1.4\n" + b"poem " * 20_000  # more than one 64 KiB chunk
LETTER = b"\x89PNG\r\n\x1a\n" + b"threat letter" * 10
CV = b"%PDF-1.4\nCV of the applicant"
LATER = b"%PDF-1.4\nNEWS-ARTICLE-added-later"
CANARY_NOTE = "COVER-NOTE-CANARY-5a1e"
CANARY_ANSWER = "CITY-ANSWER-CANARY-77d0"


@dataclass
class Person:
    home: Path
    pass_file: Path
    public: PublicKey
    runner: CliRunner

    def run(self, *args: str, input: str | None = None) -> Result:
        n = 2 if args[0] in GROUPS else 1
        key = ["--passphrase-file", str(self.pass_file)]  # the register is in team records
        return self.runner.invoke(cli, [*args[:n], "--home", str(self.home), *key, *args[n:]],
                                  input=input)


def person(tmp_path: Path, name: str) -> Person:
    where = tmp_path / name
    where.mkdir()
    pass_file = where / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--home", str(where / "home"), "--passphrase-file",
                                 str(pass_file), "--insecure-test-limits"])
    assert result.exit_code == 0, result.output
    return Person(where / "home", pass_file, PublicKey.from_text(result.output.splitlines()[2]),
                  runner)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def refused(result: Result) -> str:
    """The one line a refused command prints (click's `Error: ...`)."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def world(tmp_path: Path) -> dict[str, object]:
    sara, colleague = person(tmp_path, "sara"), person(tmp_path, "colleague")
    coordinator, stranger = person(tmp_path, "city"), person(tmp_path, "stranger")
    keys = [sara.public, colleague.public]
    willing, asks = Applicant(), Applicant()
    submit(willing, keys, answers={**APPLICATION, "share": "yes",
                                   "work": str(APPLICATION["work"]) + ESCAPES},
           files=[("poems.pdf", "application/pdf", POEMS),
                  ("../../letter.png", "image/png", LETTER), ("cv.pdf", "application/pdf", CV)])
    submit(willing, keys, kind="followup", day="2026-11-22", answers={"message": "more"},
           files=[("poems.pdf", "application/pdf", LATER)])  # a name repeated: file 4
    submit(asks, keys, answers=dict(APPLICATION))  # made before the question: ask me first
    bundle = write_bundle(tmp_path / "pickup.bundle",
                          [(willing, willing.submissions), (asks, asks.submissions)], keys)
    ok(sara.run("import", str(bundle)))
    ok(sara.run("keys", "add", colleague.public.to_text(), "--name", "Colin", "--yes"))
    ok(colleague.run("keys", "add", sara.public.to_text(), "--name", "Sara", "--yes"))
    ok(sara.run("verify", willing.case, "--identity", "passport seen", "--work", "three books",
                "--persecution", "PEN confirms", "--risk", "high", "--recommendation", "refer",
                "--notes", ""))
    added = ok(sara.run("cities", "add", "Stavanger", coordinator.public.to_text(),
                        "--country", "no", "--yes"))
    assert "(NO)" in added
    assert coordinator.public.fingerprint in ok(sara.run("cities", "list"))
    note = tmp_path / "note.txt"
    note.write_text(f"{CANARY_NOTE}\nShe would come alone.\n")
    return {"sara": sara, "colleague": colleague, "coordinator": coordinator,
            "stranger": stranger, "willing": willing, "asks": asks, "note": note,
            "tmp": tmp_path}


def test_the_whole_referral(world: dict[str, object]) -> None:
    sara, colleague = world["sara"], world["colleague"]
    coordinator, stranger = world["coordinator"], world["stranger"]
    willing, asks, tmp = world["willing"], world["asks"], world["tmp"]
    assert isinstance(asks, Applicant)
    assert isinstance(sara, Person) and isinstance(colleague, Person)
    assert isinstance(coordinator, Person) and isinstance(stranger, Person)
    assert isinstance(willing, Applicant) and isinstance(tmp, Path)
    shown = ok(sara.run("show", willing.case))
    assert "  4. poems.pdf" in shown  # files numbered over the whole case, as --file takes them
    dossier = tmp / "stavanger.dossier"
    out = ok(sara.run("refer", willing.case[:8], "--city", "stavanger", "--out", str(dossier),
                      "--answer", "work", "--answer", "contact", "--file", "2", "--file", "4",
                      "--note-file", str(world["note"]), "--with-verification"))
    assert "WARNING: 'contact' is the applicant's contact details" in out
    stavanger_id = out.split()[1]
    assert "2. ../../letter.png, 4. poems.pdf" in out
    data = dossier.read_bytes()
    # Nothing in the clear, and never the server's envelope of a chosen file.
    for secret in (CANARY_NOTE.encode(), b"letter.png", b"threat letter", b"NEWS-ARTICLE"):
        assert secret not in data
    for sub in willing.submissions:
        for blob in sub.blobs.values():
            assert blob[120:184] not in data and blob[-64:] not in data
    # The referral is on the case: show and list say so; the home keeps no plaintext of it.
    shown = " ".join(ok(sara.run("show", willing.case)).split())  # unwrapped
    assert "referred to Stavanger (NO)" in shown and "answers work, contact; files 2, 4" in shown
    rows = json.loads(ok(sara.run("list", "--json")))
    assert {r["case"]: r["referred"] for r in rows} == {willing.case: 1, asks.case: 0}
    assert "referred" in ok(sara.run("list"))
    for path in sara.home.rglob("*"):
        if path.is_file():
            assert b"Stavanger" not in path.read_bytes() or path.name == "state.json"
            assert CANARY_NOTE.encode() not in path.read_bytes()

    # The coordinator confirms the Secretariat's key, opens the dossier, extracts the files.
    ok(coordinator.run("keys", "add", sara.public.to_text(), "--name", "Sara (ICORN)", "--yes"))
    folder = tmp / "received"
    opened = ok(coordinator.run("dossier", "open", str(dossier), "--out", str(folder)))
    opened = " ".join(opened.split())
    assert "Signed by Sara (ICORN)" in opened and CANARY_NOTE in opened
    assert "Columns on press freedom" in opened and "signal +90 555" in opened
    assert not any(c in opened for c in "\x1b\x07\r\u202e")  # shown inertly, as `show` does
    assert "Prosecuted for articles" not in opened  # `threat` was not chosen
    assert "recommendation refer" in opened and "PEN confirms" in opened
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["letter.png", "poems.pdf"]
    assert (folder / "poems.pdf").read_bytes() == LATER
    assert (folder / "letter.png").read_bytes() == LETTER
    assert all((folder / n).stat().st_mode & 0o777 == 0o600 for n in written)

    # A colleague of the Secretariat re-opens it; a stranger's key cannot.
    assert "Signed by Sara (" in ok(colleague.run("dossier", "open", str(dossier)))
    line = refused(stranger.run("dossier", "open", str(dossier)))
    assert "not addressed to your key" in line

    # One byte changed: refused. Signed by a key the reader has not confirmed: refused,
    # naming the signer's fingerprint.
    damaged = tmp / "damaged.dossier"
    damaged.write_bytes(data[:3000] + bytes([data[3000] ^ 1]) + data[3001:])
    assert "damaged or has been tampered with" in refused(
        coordinator.run("dossier", "open", str(damaged)))
    second = person(tmp, "second-city")
    ok(sara.run("cities", "add", "Berlin", second.public.to_text(), "--yes"))
    other = tmp / "berlin.dossier"
    ok(sara.run("refer", willing.case, "--city", "Berlin", "--out", str(other)))
    line = refused(second.run("dossier", "open", str(other)))
    assert "not confirmed" in line and sara.public.fingerprint in line

    # The coordinator answers; the Secretariat imports the answer into the case's history.
    answer_text = tmp / "answer.txt"
    answer_text.write_text(f"We can host her from March. {CANARY_ANSWER}\n")
    answer = tmp / "answer.env"
    said = ok(coordinator.run("dossier", "answer", str(dossier), "--note-file",
                              str(answer_text), "--out", str(answer)))
    assert "sealed to the 2 Secretariat keys" in said
    assert CANARY_ANSWER.encode() not in answer.read_bytes()
    got = ok(sara.run("import", str(answer)))
    assert "Imported the answer from Stavanger" in got and willing.case in got
    assert CANARY_ANSWER in ok(sara.run("show", willing.case))
    assert "Already had this answer" in ok(sara.run("import", str(answer)))
    # An answer signed by a key no longer in the register is refused, naming its fingerprint.
    ok(second.run("keys", "add", sara.public.to_text(), "--name", "Sara", "--yes"))
    berlin = tmp / "berlin.env"
    ok(second.run("dossier", "answer", str(other), "--note-file", str(answer_text),
                  "--out", str(berlin)))
    # Berlin's coordinator cannot answer in Stavanger's place, even knowing the dossier's id.
    berlin_keys = Home(second.home).unlock(PASSPHRASE)
    crossed = tmp / "crossed.env"
    with open(crossed, "wb") as f:
        crypto_dossier.write(f, crypto_dossier.ANSWER, {
            "id": "1" * 32, "dossier": stavanger_id, "day": "2026-12-01", "text": "Ours."},
            signer=berlin_keys.private[0], signing_key=berlin_keys.signing[0],
            recipients=[sara.public, second.public])
    assert "sent to another city's coordinator" in refused(sara.run("import", str(crossed)))
    ok(sara.run("cities", "remove", "Berlin"))
    line = refused(sara.run("import", str(berlin)))
    assert "not confirmed" in line and second.public.fingerprint in line
    # An answer imported before its city left the register is still shown.
    ok(sara.run("cities", "remove", "Stavanger"))
    assert CANARY_ANSWER in ok(sara.run("show", willing.case))


def test_ask_me_first_is_refused_until_consent_is_recorded(world: dict[str, object]) -> None:
    sara, asks, tmp = world["sara"], world["asks"], world["tmp"]
    assert isinstance(sara, Person) and isinstance(asks, Applicant) and isinstance(tmp, Path)
    out = tmp / "asks.dossier"
    line = refused(sara.run("refer", asks.case, "--city", "Stavanger", "--out", str(out),
                            "--answer", "work"))
    assert "ask me first" in line and "reviewer consent" in line
    assert not out.exists()
    assert "ask me first" in ok(sara.run("show", asks.case))
    ok(sara.run("consent", asks.case, "--how", "She agreed by phone on 2 December."))
    assert "Consent recorded: She agreed by phone" in ok(sara.run("show", asks.case))
    said = ok(sara.run("refer", asks.case, "--city", "Stavanger", "--out", str(out),
                       "--answer", "work"))
    assert "recorded by a reviewer" in said and out.exists()


def test_bad_choices_write_nothing(world: dict[str, object]) -> None:
    sara, willing, tmp = world["sara"], world["willing"], world["tmp"]
    assert isinstance(sara, Person) and isinstance(willing, Applicant) and isinstance(tmp, Path)
    out = tmp / "x.dossier"
    for args, says in ((("--city", "Atlantis"), "no city is named 'Atlantis'"),
                       (("--city", "Stavanger", "--file", "9"), "no file number 9"),
                       (("--city", "Stavanger", "--answer", "password"),
                        "no answer named 'password'")):
        assert says in refused(sara.run("refer", willing.case, "--out", str(out), *args))
        assert not out.exists()
    ok(sara.run("refer", willing.case, "--city", "Stavanger", "--out", str(out)))
    assert "already exists" in refused(sara.run("refer", willing.case, "--city", "Stavanger",
                                                "--out", str(out)))
    ok(sara.run("cities", "remove", "Stavanger"))
    assert "No cities yet" in ok(sara.run("cities", "list"))
    helped = " ".join(CliRunner().invoke(cli, ["refer", "--help"]).output.split())
    assert "`contact` is the applicant's contact details: the most sensitive" in helped


def test_refer_writes_no_plaintext_anywhere(world: dict[str, object],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The files go from the home's envelopes into the dossier's, chunk by chunk: no
    temporary file, and no new file anywhere holds a byte of them in the clear."""
    sara, willing, tmp = world["sara"], world["willing"], world["tmp"]
    assert isinstance(sara, Person) and isinstance(willing, Applicant) and isinstance(tmp, Path)

    def no_temporary_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("a temporary file was made")

    for name in ("mkstemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile",
                 "mkdtemp", "TemporaryDirectory"):
        monkeypatch.setattr(tempfile, name, no_temporary_file)
    before = {p for p in tmp.rglob("*") if p.is_file()}
    out = tmp / "plain.dossier"
    ok(sara.run("refer", willing.case, "--city", "Stavanger", "--out", str(out),
                "--file", "1", "--file", "2", "--note-file", str(world["note"])))
    new = {p for p in tmp.rglob("*") if p.is_file()} - before
    assert out in new
    for path in new | {tmp / "sara" / "home" / "state.json"}:
        data = path.read_bytes()
        for secret in (b"poem poem poem", b"threat letter", CANARY_NOTE.encode()):
            assert secret not in data, path
