"""Operator commands through Flask's CLI runner."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from crypto.keys import PrivateKey, PublicKey

from .helpers import apply, opened_submissions


def test_init_db_is_repeatable(make_app) -> None:
    app = make_app(with_key=False, init=False)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0
    assert first.output == "Created the database tables at revision 0005.\n"
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0
    assert "already at the newest revision (0005)" in again.output
    assert app.test_client().get("/").status_code == 200


def test_keys_before_init_db(make_app) -> None:
    app = make_app(with_key=False, init=False)
    result = app.test_cli_runner().invoke(args=["keys", "list"])
    assert result.exit_code != 0
    assert "init-db" in result.output
    assert "Traceback" not in result.output


def test_keys_add_prints_fingerprint(runner: FlaskCliRunner) -> None:
    key = PrivateKey.generate().public_key
    result = runner.invoke(args=["keys", "add", key.to_text(), "--name", "second"])
    assert result.exit_code == 0
    assert key.fingerprint in result.output
    listed = runner.invoke(args=["keys", "list"]).output
    assert "second" in listed and key.fingerprint in listed and "reviewer one" in listed


def test_keys_add_refuses_bad_and_duplicate(runner: FlaskCliRunner,
                                            reviewer_key: PrivateKey) -> None:
    cases = [
        (["keys", "add", "refuge-pk1-notakey", "--name", "x"], "not a valid"),
        (["keys", "add", reviewer_key.public_key.to_text(), "--name", "again"],
         "already installed"),
        (["keys", "add", PrivateKey.generate().public_key.to_text(), "--name", "reviewer one"],
         "already exists"),
        (["keys", "add", PrivateKey.generate().public_key.to_text(), "--name", " "],
         "name must be"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert message in result.output
        assert result.output.strip().count("\n") == 0  # one line
        assert "Traceback" not in result.output
    assert runner.invoke(args=["keys", "list"]).output.count("\n") == 1


def test_keys_add_refuses_a_key_text_that_is_not_canonical(runner: FlaskCliRunner,
                                                            reviewer_key: PrivateKey) -> None:
    # Bit 255 set: libsodium reads the same key, but its text, fingerprint and key
    # id differ, so envelopes sealed to it would not name the real holder's key.
    raw = reviewer_key.public_key.raw
    variant = PublicKey(raw[:31] + bytes([raw[31] | 0x80])).to_text()
    above = PublicKey((2**255 - 19 + 9).to_bytes(32, "little")).to_text()
    for text in (variant, above):
        result = runner.invoke(args=["keys", "add", text, "--name", "variant"])
        assert result.exit_code != 0
        assert "the key text is not canonical" in result.output
        assert result.output.strip().count("\n") == 0  # one line
    assert runner.invoke(args=["keys", "list"]).output.count("\n") == 1


def test_keys_remove_by_name_or_fingerprint(app: Flask, runner: FlaskCliRunner,
                                            reviewer_key: PrivateKey) -> None:
    other = PrivateKey.generate()
    runner.invoke(args=["keys", "add", other.public_key.to_text(), "--name", "other"])
    result = runner.invoke(args=["keys", "remove", other.public_key.fingerprint])
    assert result.exit_code == 0 and "'other'" in result.output
    # New submissions are sealed to the remaining key only.
    apply(app.test_client())
    assert opened_submissions(app, reviewer_key)
    try:
        opened_submissions(app, other)
    except Exception as e:
        assert "not addressed" in str(e)
    else:
        raise AssertionError("a removed key could still open a new submission")
    result = runner.invoke(args=["keys", "remove", "reviewer one"])
    assert result.exit_code == 0 and "intake is now closed" in result.output
    assert "removed" in runner.invoke(args=["keys", "list"]).output
    assert app.test_client().get("/apply").status_code == 503
    result = runner.invoke(args=["keys", "remove", "nobody"])
    assert result.exit_code != 0 and "no active key" in result.output


def test_submissions_are_sealed_to_every_active_key(app: Flask, runner: FlaskCliRunner,
                                                    reviewer_key: PrivateKey) -> None:
    other = PrivateKey.generate()
    runner.invoke(args=["keys", "add", other.public_key.to_text(), "--name", "other"])
    apply(app.test_client())
    assert opened_submissions(app, reviewer_key)[0]["answers"] == \
        opened_submissions(app, other)[0]["answers"]


def test_a_key_installed_before_its_text_was_refused_is_left_out(
        app: Flask, runner: FlaskCliRunner, reviewer_key: PrivateKey) -> None:
    # A row written before non-canonical texts were refused (here, straight into
    # the database): nothing is sealed to it, the pages still work, and
    # `keys list` says what to do.
    import datetime as dt
    import io

    from crypto.envelope import recipient_key_ids
    from intake import db
    from intake.models import RecipientKey, Submission

    raw = PrivateKey.generate().public_key.raw
    variant = PublicKey(raw[:31] + bytes([raw[31] | 0x80]))
    with app.app_context():
        dbs = db.session()
        dbs.add(RecipientKey(name="pasted", public_key=variant.to_text(),
                             fingerprint=variant.fingerprint, added_day=dt.date(2026, 1, 1),
                             active=True))
        dbs.commit()
    assert apply(app.test_client()).status_code == 200
    with app.app_context():
        sub = db.session().scalars(select(Submission)).one()
        stored = Path(app.config["DATA_DIR"]) / "store" / sub.answers_blob_id
        assert recipient_key_ids(io.BytesIO(stored.read_bytes())) == [
            reviewer_key.public_key.key_id]
    listed = runner.invoke(args=["keys", "list"]).output
    assert "pasted" in listed and "the key text is not canonical" in listed


def test_each_expected_failure_is_one_line_and_status_1(runner: FlaskCliRunner,
                                                        monkeypatch, tmp_path: Path) -> None:
    from crypto.errors import InvalidPublicKey
    from intake import cli
    from intake.config import ConfigError
    from intake.migrate import MigrationError
    from intake.transfer import TransferError

    for error in (cli.OperatorError, ConfigError, MigrationError, TransferError,
                  InvalidPublicKey):
        def refuse(*_args: object, error: type[Exception] = error, **_kwargs: object) -> None:
            raise error("the sentence for the operator")
        monkeypatch.setattr(cli, "export_submissions", refuse)
        result = runner.invoke(args=["export", str(tmp_path / "b.bundle")])
        assert result.exit_code == cli.EXIT_FAILURE == 1, error
        assert result.stderr == "Error: the sentence for the operator\n"
    # A bug is not dressed up as an operator's mistake: the exception comes through.
    def bug(*_args: object, **_kwargs: object) -> None:
        raise KeyError("bug")
    monkeypatch.setattr(cli, "export_submissions", bug)
    result = runner.invoke(args=["export", str(tmp_path / "b.bundle")])
    assert isinstance(result.exception, KeyError)
    # A wrong command line is click's, with its usage.
    result = runner.invoke(args=["keys", "add"])
    assert result.exit_code == cli.EXIT_USAGE == 2
    assert "Missing argument 'PUBKEY'" in result.stderr


def test_a_configuration_error_is_not_a_click_exception(tmp_path: Path, monkeypatch) -> None:
    # The app factory is library code (gunicorn calls it too): only the command
    # line's dispatcher turns the error into the operator's line.
    import click
    import pytest

    from crypto.params import TEST_LIMITS
    from intake import create_app
    from intake.config import ConfigError

    monkeypatch.setenv("INTAKE_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ConfigError, match="INTAKE_MAX_UPLOAD_MB") as info:
        create_app({"DATA_DIR": tmp_path, "ARGON2_LIMITS": TEST_LIMITS})
    assert not isinstance(info.value, click.ClickException)
