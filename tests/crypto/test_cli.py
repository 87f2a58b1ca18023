"""`python -m crypto` through click's CliRunner, and once as a real process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def keypair(tmp_path, runner):
    (tmp_path / "pass").write_text("a long enough passphrase\n")
    result = runner.invoke(
        cli,
        ["keygen", str(tmp_path / "key"), "--passphrase-file", str(tmp_path / "pass"),
         "--insecure-test-limits"],
    )
    assert result.exit_code == 0, result.output
    public, fingerprint = result.stdout.splitlines()
    return tmp_path / "key", tmp_path / "pass", public, fingerprint


def test_keygen_and_pubkey(runner, keypair):
    key, _, public, fingerprint = keypair
    assert public.startswith("refuge-pk1-")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    result = runner.invoke(cli, ["pubkey", str(key)])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [public, fingerprint]


def test_keygen_refuses_to_overwrite(runner, keypair):
    key, passfile, _, _ = keypair
    before = key.read_bytes()
    result = runner.invoke(cli, ["keygen", str(key), "--passphrase-file", str(passfile)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert key.read_bytes() == before


def test_encrypt_decrypt_round_trip(runner, keypair, tmp_path):
    key, passfile, public, _ = keypair
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(200_000))
    result = runner.invoke(cli, ["encrypt", "-r", public, str(plain), str(tmp_path / "env")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["decrypt", "-i", str(key), "--passphrase-file", str(passfile),
              str(tmp_path / "env"), str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out").read_bytes() == plain.read_bytes()


def test_failed_decrypt_leaves_no_output(runner, keypair, tmp_path):
    key, passfile, public, _ = keypair
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(300_000))
    runner.invoke(cli, ["encrypt", "-r", public, str(plain), str(tmp_path / "env")])
    (tmp_path / "cut").write_bytes((tmp_path / "env").read_bytes()[:-70_000])
    result = runner.invoke(
        cli, ["decrypt", "-i", str(key), "--passphrase-file", str(passfile),
              str(tmp_path / "cut"), str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: cannot decrypt: the envelope is damaged or has been tampered with"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut", "env", "key", "pass", "plain"]


def test_wrong_passphrase_and_wrong_key(runner, keypair, tmp_path):
    key, passfile, public, _ = keypair
    (tmp_path / "plain").write_bytes(b"hello")
    runner.invoke(cli, ["encrypt", "-r", public, str(tmp_path / "plain"), str(tmp_path / "env")])
    (tmp_path / "bad").write_text("not it")
    result = runner.invoke(
        cli, ["decrypt", "-i", str(key), "--passphrase-file", str(tmp_path / "bad"),
              str(tmp_path / "env"), str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "wrong passphrase" in result.stderr
    other = runner.invoke(
        cli, ["keygen", str(tmp_path / "other"), "--passphrase-file", str(passfile),
              "--insecure-test-limits"]
    )
    assert other.exit_code == 0
    result = runner.invoke(
        cli, ["decrypt", "-i", str(tmp_path / "other"), "--passphrase-file", str(passfile),
              str(tmp_path / "env"), str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "not addressed to any of your keys" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["encrypt", "-r", "refuge-pk1-zzz", "IN", "OUT"], "wrong length"),
        (["pubkey", "MISSING"], "cannot read the key file"),
        (["encrypt", "-r", "PUB", "MISSING", "OUT"], "No such file or directory"),
    ],
)
def test_bad_input_is_one_line(runner, keypair, tmp_path, args, message):
    _, _, public, _ = keypair
    args = [a.replace("PUB", public).replace("MISSING", str(tmp_path / "nope"))
            .replace("IN", str(tmp_path / "pass")).replace("OUT", str(tmp_path / "o")) for a in args]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_encrypt_refuses_a_key_text_that_is_not_canonical(runner, keypair, tmp_path):
    from crypto.keys import PublicKey

    _, _, public, _ = keypair
    raw = PublicKey.from_text(public).raw
    variant = PublicKey(raw[:31] + bytes([raw[31] | 0x80])).to_text()  # bit 255 set
    (tmp_path / "plain").write_bytes(b"x")
    result = runner.invoke(cli, ["encrypt", "-r", variant, str(tmp_path / "plain"),
                                 str(tmp_path / "env")])
    assert result.exit_code == 1
    assert "the key text is not canonical (bit 255 is set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "env").exists()


def test_not_a_key_file(runner, tmp_path):
    (tmp_path / "junk").write_bytes(b"junk" * 50)
    result = runner.invoke(cli, ["pubkey", str(tmp_path / "junk")])
    assert result.exit_code == 1
    assert "not a refuge-intake key file" in result.stderr


def test_passphrase_needed_without_terminal(runner, keypair, tmp_path):
    key, _, _, _ = keypair
    result = runner.invoke(cli, ["decrypt", "-i", str(key), "x", "y"], input="")
    assert result.exit_code == 1
    assert "--passphrase-file" in result.stderr


def test_module_runs_as_a_process(keypair, tmp_path):
    key, _, public, fingerprint = keypair
    out = subprocess.run(
        [sys.executable, "-m", "crypto", "pubkey", str(key)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2],
    )
    assert out.stdout.splitlines() == [public, fingerprint]


def test_importing_the_tool_leaves_click_alone():
    # Another program in the same process (the reviewer tool, a test runner) keeps
    # its own exit statuses: the tool's dispatcher sets its own, not click's.
    code = ("import click; click.ClickException.exit_code = 7; import crypto.cli; "
            "print(click.ClickException.exit_code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "7"


def test_exit_statuses(runner, keypair, tmp_path, monkeypatch):
    from crypto import errors
    from crypto.cli import EXIT_FAILURE, EXIT_USAGE

    key, passfile, _, _ = keypair
    (tmp_path / "plain").write_bytes(b"x")
    # A wrong command line: click's usage error.
    result = runner.invoke(cli, ["encrypt", str(tmp_path / "plain"), str(tmp_path / "env")])
    assert result.exit_code == EXIT_USAGE == 2
    assert "Missing option '-r'" in result.stderr
    # Any crypto error a command lets through: one line, the public sentence only.
    def damaged(*_args):
        raise errors.ChunkAuthError("chunk 3 of 9 failed")
    monkeypatch.setattr("crypto.cli.decrypt", damaged)
    result = runner.invoke(cli, ["decrypt", "-i", str(key), "--passphrase-file", str(passfile),
                                 str(tmp_path / "plain"), str(tmp_path / "out")])
    assert result.exit_code == EXIT_FAILURE == 1
    assert result.stderr == f"Error: {errors.DecryptError.message}\n"
    assert not (tmp_path / "out").exists()
    # A key file error names the file, since several may be given.
    (tmp_path / "junk").write_bytes(b"junk" * 50)
    result = runner.invoke(cli, ["decrypt", "-i", str(key), "-i", str(tmp_path / "junk"),
                                 "--passphrase-file", str(passfile), str(tmp_path / "plain"),
                                 str(tmp_path / "out")])
    assert result.exit_code == EXIT_FAILURE
    assert result.stderr == f"Error: {tmp_path / 'junk'}: not a refuge-intake key file\n"
