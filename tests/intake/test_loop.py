"""The whole loop through the real commands: applicant -> export -> reviewer -> reply -> applicant.

The test imports both intake and reviewer; the packages themselves never
import each other.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from crypto.keys import PublicKey
from intake import db
from intake.models import DeletedReply
from reviewer.cli import cli as reviewer_cli

from .conftest import BOTH_STORES
from .helpers import answers, apply, codename_of, csrf, files, sign_out, store_files
from .transfer_helpers import case_of, data_files, new_applicant, reply_rows, sign_in

PASSPHRASE = "correct horse battery staple"
CANARY_REPLY = "CANARY-REPLY-5e1f"
# Applicant text that would drive a terminal or a browser if it reached either raw.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202eevil"
HOSTILE_NAME = "../../.bashrc\x1b[31m.pdf"


@BOTH_STORES
def test_the_whole_loop(make_app, tmp_path: Path) -> None:
    # The reviewer creates a key; the operator installs it.
    rv = CliRunner()
    home = tmp_path / "reviewer"
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    unlock = ["--home", str(home), "--passphrase-file", str(pass_file)]

    def reviewer(*args: str) -> str:
        result = rv.invoke(reviewer_cli, [args[0], *unlock, *args[1:]])
        assert result.exit_code == 0, result.output
        return result.output

    reviewer("init", "--insecure-test-limits")
    public = PublicKey.from_text(rv.invoke(reviewer_cli, ["pubkey", "--home", str(home)])
                                 .output.splitlines()[0])
    app: Flask = make_app(with_key=False)
    flask = app.test_cli_runner()
    assert flask.invoke(args=["keys", "add", public.to_text(), "--name", "rev"]).exit_code == 0

    # Two applicants with files: Alice's answers and one filename are hostile (HTML,
    # terminal escapes, a bidi override, a path out of the folder, a script posing as a PDF).
    alice, bob = app.test_client(), app.test_client()
    response = apply(
        alice,
        answers(name="Alice <b>A</b>", threat=f"<img src=x onerror=alert(1)> {ESCAPES}"),
        files((b"%PDF-1.4 sample of work", "poems.pdf", "application/pdf"),
              (b"#!/bin/sh\nrm -rf ~\n", HOSTILE_NAME, "application/pdf")),
    )
    assert response.status_code == 200
    case_a, codename_a = case_of(alice), codename_of(response)
    case_b, _ = new_applicant(bob, name="Bob")
    assert "Not yet" in alice.get("/case").get_data(as_text=True)

    # The operator exports; the applicant sees it was received.
    pickup = tmp_path / "pickup.bundle"
    out = flask.invoke(args=["export", str(pickup)])
    assert out.exit_code == 0, out.output
    assert "2 case(s), 2 submission(s)" in out.output
    assert f"{pickup.stat().st_size} bytes" in out.output
    today = db.today().isoformat()
    assert f"Yes, on {today}" in alice.get("/case").get_data(as_text=True)

    # The reviewer imports, lists, replies, exports the replies.
    assert "2 new cases" in reviewer("import", str(pickup))
    listed = json.loads(reviewer("list", "--json"))
    assert {c["case"] for c in listed} == {case_a, case_b}
    assert {c["name"] for c in listed} == {"Alice <b>A</b>", "Bob"}

    # show: every answer and the attachment list, with nothing reaching the terminal raw.
    shown = reviewer("show", case_a)
    assert "Alice <b>A</b>" in shown and "poems.pdf" in shown
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "pwned" in shown  # the text is there, made inert

    # extract: safe names inside the folder only, never executable, the type checked.
    out_dir = tmp_path / "extracted"
    report = reviewer("extract", case_a, str(out_dir))
    (folder,) = out_dir.iterdir()  # one folder: the application's files
    assert folder.name == f"{today}-application"
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == 2 and "poems.pdf" in written
    assert all("/" not in n and "\x1b" not in n and not n.startswith(".") for n in written)
    assert not (tmp_path / ".bashrc").exists() and not (home / ".bashrc").exists()
    assert all((folder / n).stat().st_mode & 0o777 == 0o600 for n in written)
    assert "\x1b" not in report
    assert "content: application/x-sh  claimed: application/pdf" in report
    assert "the content is not what was claimed" in report and "Nothing was opened" in report

    # verify: recorded, and list filters by it.
    reviewer("verify", case_a, "--identity", "video call with PEN centre",
             "--work", "published poems checked", "--persecution", "court records; CPJ",
             "--risk", "high", "--recommendation", "proceed", "--notes", "urgent")
    proceed = json.loads(reviewer("list", "--json", "--state", "proceed"))
    assert [c["case"] for c in proceed] == [case_a]
    assert "published poems checked" in reviewer("show", case_a)
    text = f"Dear Alice,\n<script>alert(1)</script> & {CANARY_REPLY}\n\nSecond paragraph."
    reply_file = tmp_path / "reply.txt"
    reply_file.write_text(text, encoding="utf-8")
    reviewer("reply", case_a, "--file", str(reply_file))
    reply_file.unlink()  # the only plaintext copy, the test's own
    replies = tmp_path / "replies.bundle"
    assert "1 reply" in reviewer("export-replies", str(replies))

    # The operator imports the replies, twice: the second time changes nothing.
    out = flask.invoke(args=["import-replies", str(replies)])
    assert out.exit_code == 0, out.output
    assert "Imported 1 new reply" in out.output
    again = flask.invoke(args=["import-replies", str(replies)])
    assert again.exit_code == 0 and "Imported 0 new replies (1 already imported)" in again.output
    assert len(reply_rows(app)) == 1

    # Alice signs in again and reads the reply: escaped, its lines and paragraphs kept.
    sign_out(alice)
    sign_in(alice, codename_a)
    page = alice.get("/case").get_data(as_text=True)
    assert "Replies from the Secretariat" in page
    assert "Dear Alice,<br>&lt;script&gt;alert(1)&lt;/script&gt; &amp; " + CANARY_REPLY in page
    assert "<script>" not in page
    assert "</p><p dir=\"auto\">Second paragraph.</p>" in page  # a blank line: a new paragraph
    # Bob sees none.
    assert "No replies yet" in bob.get("/case").get_data(as_text=True)
    assert CANARY_REPLY not in bob.get("/case").get_data(as_text=True)
    (row,) = reply_rows(app)
    assert row.read_day is not None and row.applicant_id == case_a

    # The reply text is nowhere on the server's disk in the clear.
    for path in data_files(app):
        assert CANARY_REPLY.encode() not in path.read_bytes(), path

    # Alice deletes it: the row and the file are gone, and re-importing keeps it gone.
    assert row.blob_id in store_files(app)
    token = csrf(alice, "/case")
    response = alice.post(f"/case/replies/{row.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert row.blob_id not in store_files(app)
    assert reply_rows(app) == []
    page = alice.get("/case").get_data(as_text=True)
    assert "deleted for good" in page and CANARY_REPLY not in page
    again = flask.invoke(args=["import-replies", str(replies)])
    assert "Imported 0 new replies" in again.output
    assert reply_rows(app) == []
    with app.app_context():
        assert db.session().scalars(select(DeletedReply.id)).all() == [row.id]
    assert case_of(alice) == case_a
