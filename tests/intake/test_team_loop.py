"""One case history for three reviewers, carried by the server, through the real commands.

Ana, Bea and Cy each have a home; the operator's `import-replies` and `export`
carry their outboxes. Ana verifies, notes, assigns herself and replies; Bea
and Cy change the state without having seen each other's change; both see the
conflict; Ana resolves it. The server's database and store never hold the
note's canary. The test imports both intake and reviewer; the packages
themselves never import each other.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from crypto.keys import PublicKey
from reviewer.cli import cli as reviewer_cli

from .transfer_helpers import data_files, new_applicant

PASSPHRASE = "correct horse battery staple"
CANARY = "CANARY-TEAM-NOTE-0b5e"


class Home:
    def __init__(self, tmp_path: Path, name: str) -> None:
        self.name = name
        self.runner = CliRunner()
        self.home = tmp_path / name
        self.pass_file = tmp_path / f"{name}.pass"
        self.pass_file.write_text(PASSPHRASE + "\n")
        self.run("init", "--insecure-test-limits")
        self.public = PublicKey.from_text(self.run("pubkey", key=False).splitlines()[0])

    def run(self, *args: str, input: str | None = None, key: bool = True) -> str:
        n = 2 if args[0] == "keys" else 1
        extra = ["--passphrase-file", str(self.pass_file)] if key else []
        result = self.runner.invoke(
            reviewer_cli, [*args[:n], "--home", str(self.home), *extra, *args[n:]], input=input)
        assert result.exit_code == 0, result.output
        return result.output

    def history(self, case: str) -> str:
        return " ".join(self.run("history", case).split())


def round_trip(flask, homes: list[Home], tmp_path: Path, n: int) -> list[str]:
    """Every home exports its outbox, the operator imports them all and exports one
    bundle, every home imports it; what each import said."""
    for h in homes:
        out = tmp_path / f"{h.name}-{n}.bundle"
        said = h.run("export", str(out))
        if "Nothing to send" not in said:
            result = flask.invoke(args=["import-replies", str(out)])
            assert result.exit_code == 0, result.output
    pickup = tmp_path / f"pickup-{n}.bundle"
    result = flask.invoke(args=["export", str(pickup)])
    assert result.exit_code == 0, result.output
    return [h.run("import", str(pickup)) for h in homes]


def test_three_reviewers_one_history(make_app, tmp_path: Path) -> None:
    ana, bea, cy = (Home(tmp_path, n) for n in ("Ana", "Bea", "Cy"))
    homes = [ana, bea, cy]
    app: Flask = make_app(with_key=False)
    flask = app.test_cli_runner()
    for h in homes:
        assert flask.invoke(args=["keys", "add", h.public.to_text(), "--name", h.name]
                            ).exit_code == 0
    case, _ = new_applicant(app.test_client(), name="Alice")
    pickup = tmp_path / "pickup-0.bundle"
    assert flask.invoke(args=["export", str(pickup)]).exit_code == 0
    for h in homes:
        assert "1 new case" in h.run("import", str(pickup))
        for other in homes:
            if other is not h:
                h.run("keys", "add", other.public.to_text(), "--name", other.name, "--yes")

    ana.run("verify", case, "--identity", "passport", "--work", "articles", "--persecution",
            "reports", "--risk", "high", "--recommendation", "more-info", "--notes", "")
    ana.run("note", case, input=f"{CANARY}\nAsked for the court papers.")
    ana.run("assign", case, "me")
    ana.run("reply", case, input="Please send the court papers.")
    said = round_trip(flask, homes, tmp_path, 1)
    assert "Team records: 4 applied" in said[1] and "2 signing key announcements" in said[1]
    for h in (bea, cy):
        history = h.history(case)
        assert "state more-info, assigned to Ana" in history
        for done in ("Ana recorded a verification", f"Ana wrote a note {CANARY}",
                     "Ana assigned Ana", "Ana sent a reply to the applicant Please send"):
            assert done in history, done

    # Bea and Cy decide differently, neither having seen the other's decision.
    bea.run("state", case, "proceed", "--reason", "the papers came by the lawyer")
    cy.run("state", case, "decline", "--reason", "outside our mandate")
    round_trip(flask, homes, tmp_path, 2)
    for h in homes:
        assert [r["state"] for r in json.loads(h.run("list", "--json", "--conflict"))] == [
            "conflict"]
        shown = " ".join(h.run("show", case).split())
        assert "CONFLICT on the state:" in shown
        assert "set proceed" in shown and "set decline" in shown

    # Ana, having seen both, decides.
    ana.run("state", case, "proceed", "--reason", "agreed with Bea and Cy by phone")
    round_trip(flask, homes, tmp_path, 3)
    for h in homes:
        rows = json.loads(h.run("list", "--json"))
        assert [(r["state"], r["conflict"]) for r in rows] == [("proceed", False)]
        assert "CONFLICT" not in h.run("show", case)
    assert json.loads(bea.run("list", "--json", "--assignee", "Ana"))[0]["case"] == case
    assert [r["case"] for r in json.loads(ana.run("list", "--json", "--mine"))] == [case]

    # The server never held the note in the clear (nor in base64 at any alignment).
    needles = [CANARY.encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"x" * shift + CANARY.encode())[4:-4]
        needles.append(encoded)
    for path in data_files(app):
        data = path.read_bytes()
        assert not any(n in data for n in needles), path
