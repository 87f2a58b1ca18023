"""`python -m crypto keygen | pubkey | encrypt | decrypt`: the envelope tool.

Like age: for operators and for anyone who wants to check the format
independently of the server and the reviewer tool. Output files appear whole
or not at all.

The commands raise plain exceptions: crypto's own (crypto.errors), or
CommandError for what a command finds itself (a file it cannot read). One
dispatcher, `EnvelopeTool.invoke`, turns them into one line on standard error
and an exit status; the statuses are listed here and in README.md:

- 0: success;
- 1 (EXIT_FAILURE): an expected failure, one line `Error: ...`; a decrypt
  failure is the opaque public sentence (`CryptoError.public_message`);
  also click's `Aborted!` when interrupted (Ctrl-C, or end of input at the
  passphrase prompt);
- 2 (EXIT_USAGE): a wrong command line, reported by click with the usage.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import click

from crypto import __version__
from crypto.atomic import OutputExists, atomic_output
from crypto.envelope import decrypt, encrypt
from crypto.errors import CryptoError
from crypto.keyfile import open_private_key, read_public_key, seal_private_key
from crypto.keys import PrivateKey, PublicKey
from crypto.params import KEYFILE_LIMITS, TEST_LIMITS

EXIT_FAILURE = 1
#: click's own status for a usage error (click.UsageError.exit_code).
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure a command finds itself; the message is the line the user sees."""


class _Failure(click.ClickException):
    """How the dispatcher hands click the line to print and the status to exit with."""

    exit_code = EXIT_FAILURE


def fail(message: str) -> NoReturn:
    raise CommandError(message)


@contextmanager
def about(path: Path) -> Iterator[None]:
    """Name the key file a crypto error came from: `decrypt` may be given several."""
    try:
        yield
    except CryptoError as exc:
        raise CommandError(f"{path}: {exc.public_message}") from None


class EnvelopeTool(click.Group):
    """The dispatcher: the one place errors become a line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            raise _Failure(str(exc)) from None
        except CryptoError as exc:
            # The public sentence: which check failed inside stays inside.
            raise _Failure(exc.public_message) from None


def read_passphrase_file(path: Path) -> str:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        fail(f"cannot read the passphrase file {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"the passphrase file {path} is not UTF-8 text")
    # One trailing newline is what editors and `echo` add; keep everything else.
    passphrase = text[:-1] if text.endswith("\n") else text
    if not passphrase:
        fail(f"the passphrase file {path} is empty")
    return passphrase


def get_passphrase(path: Path | None, *, confirm: bool) -> str:
    if path is not None:
        return read_passphrase_file(path)
    if not sys.stdin.isatty():
        fail("no terminal to ask for the passphrase on: use --passphrase-file FILE")
    passphrase: str = click.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    if not passphrase:
        fail("the passphrase must not be empty")
    return passphrase


def read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the key file {path}: {exc.strerror}")


@contextmanager
def open_input(name: str) -> Iterator[BinaryIO]:
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror}")
    with handle:
        yield handle


@contextmanager
def open_output(name: str) -> Iterator[BinaryIO]:
    """Stdout for "-"; otherwise a file that appears only if everything succeeded."""
    if name == "-":
        yield sys.stdout.buffer
        return
    try:
        with atomic_output(name) as out:
            yield out
    except OutputExists:
        fail(f"{name} already exists; not overwriting it")
    except OSError as exc:
        fail(f"cannot write {name}: {exc.strerror}")


passphrase_file_option = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the passphrase from FILE (its first line, for scripts) instead of prompting.",
)


@click.group(cls=EnvelopeTool, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, message="refuge-intake %(version)s")
def cli() -> None:
    """Make keys, and encrypt and decrypt refuge-intake envelopes (docs/format.md)."""


@cli.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@passphrase_file_option
@click.option("--insecure-test-limits", is_flag=True, hidden=True)
def keygen(out: Path, passphrase_file: Path | None, insecure_test_limits: bool) -> None:
    """Create a new key pair in OUT, encrypted under a passphrase.

    Prints the public key (line 1) and its fingerprint (line 2) to give out.
    """
    if out.exists():
        fail(f"{out} already exists; not overwriting a key")
    passphrase = get_passphrase(passphrase_file, confirm=True)
    key = PrivateKey.generate()
    limits = TEST_LIMITS if insecure_test_limits else KEYFILE_LIMITS
    data = seal_private_key(key, passphrase, limits=limits)
    with open_output(str(out)) as handle:
        handle.write(data)
    click.echo(f"wrote a new key to {out}; keep it and its passphrase safe", err=True)
    click.echo(key.public_key.to_text())
    click.echo(key.public_key.fingerprint)


@cli.command()
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
def pubkey(keyfile: Path) -> None:
    """Print KEYFILE's public key (line 1) and fingerprint (line 2). No passphrase needed."""
    with about(keyfile):
        public = read_public_key(read_key_file(keyfile))
    click.echo(public.to_text())
    click.echo(public.fingerprint)


@cli.command("encrypt")
@click.option(
    "-r", "--recipient", "recipients", multiple=True, required=True, metavar="PUBKEY",
    help="A recipient's public key (refuge-pk1-...). Repeat for several.",
)
@click.argument("infile", metavar="IN")
@click.argument("outfile", metavar="OUT")
def encrypt_command(recipients: tuple[str, ...], infile: str, outfile: str) -> None:
    """Encrypt IN to every recipient, writing the envelope to OUT ("-" for stdin/stdout)."""
    keys = [PublicKey.from_text(text) for text in recipients]
    with open_input(infile) as src, open_output(outfile) as dst:
        encrypt(src, dst, keys)


@cli.command("decrypt")
@click.option(
    "-i", "--identity", "identities", multiple=True, required=True, metavar="KEYFILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A key file to try. Repeat for several (old keys open old envelopes).",
)
@passphrase_file_option
@click.argument("infile", metavar="IN")
@click.argument("outfile", metavar="OUT")
def decrypt_command(
    identities: tuple[Path, ...], passphrase_file: Path | None, infile: str, outfile: str
) -> None:
    """Decrypt IN to OUT. On any failure OUT is not created."""
    passphrase = get_passphrase(passphrase_file, confirm=False)
    keys = []
    for path in identities:
        with about(path):
            keys.append(open_private_key(read_key_file(path), passphrase))
    with open_input(infile) as src, open_output(outfile) as dst:
        decrypt(src, dst, keys)


def main() -> None:
    cli(prog_name="python -m crypto")
