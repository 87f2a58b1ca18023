"""Operator commands: `init-db`, `purge`, `keys add | list | remove`, `export`,
`import-replies`, `store migrate | remove-local`, `version`.

The commands stay thin and raise plain exceptions: the domain's own
(ConfigError, MigrationError, TransferError, InvalidPublicKey) or
OperatorError for what a command finds itself. One dispatcher,
`operator_errors`, turns them into one line on standard error and an exit
status; nothing here prints a traceback for a mistake an operator can make.
The statuses (docs/deploy.md lists them):

- 0: success (including "nothing to export");
- 1 (EXIT_FAILURE): an expected failure, one line `Error: ...`; a
  configuration error found while `flask --app intake COMMAND` loads the app
  too (see `loading_errors`);
- 2 (EXIT_USAGE): a wrong command line, reported by click with the usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from crypto import __version__
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import InvalidPublicKey
from crypto.keys import PublicKey
from intake import appstate, db
from intake.config import ConfigError
from intake.migrate import MigrationError
from intake.models import RecipientKey
from intake.retention import Policy, purge
from intake.transfer import TransferError, export_submissions, import_replies

EXIT_FAILURE = 1
#: click's own status for a usage error (click.UsageError.exit_code).
EXIT_USAGE = 2


class OperatorError(Exception):
    """A failure an operator command finds itself; the message is the line shown."""


#: Every expected failure; the message of each is one sentence for the operator.
EXPECTED = (OperatorError, ConfigError, MigrationError, TransferError, InvalidPublicKey)


class _Failure(click.ClickException):
    """How the dispatcher hands click the line to print and the status to exit with."""

    exit_code = EXIT_FAILURE


@contextmanager
def operator_errors() -> Iterator[None]:
    """The dispatcher: the one place expected failures become a line and a status."""
    try:
        yield
    except EXPECTED as e:
        raise _Failure(str(e)) from None


@contextmanager
def loading_errors() -> Iterator[None]:
    """`operator_errors` around the app factory, when a click command is loading it.

    `flask --app intake COMMAND` builds the app (flask.cli.FlaskGroup) before any
    command of ours runs, so a configuration error would otherwise be a traceback.
    Outside click (gunicorn, tests) the factory's exceptions pass unchanged.
    """
    if click.get_current_context(silent=True) is None:
        yield
        return
    with operator_errors():
        yield


class OperatorCommand(click.Command):
    """An operator command: its expected failures go through `operator_errors`."""

    def invoke(self, ctx: click.Context) -> Any:
        with operator_errors():
            return super().invoke(ctx)


class OperatorGroup(AppGroup):
    """A group whose commands are OperatorCommands."""

    command_class = OperatorCommand


def _require_schema() -> None:
    if not db.schema_ready(db.engine()):
        raise OperatorError(f"the database is not initialised: run `{db.INIT_COMMAND}`")


@click.command("init-db", cls=OperatorCommand)
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database to the newest schema revision (safe to run again)."""
    try:
        click.echo(db.create_schema(db.engine()))
    except SQLAlchemyError as e:
        # The whole migration is one transaction (intake.migrate): it rolled back.
        first_line = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise OperatorError(
            f"the migration failed and nothing was changed: {first_line}") from None


@click.command("purge", cls=OperatorCommand)
@click.option("--dry-run", is_flag=True, help="Print the counts only; change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Delete, rows and files, what the retention periods no longer keep.

    Exported submissions, read replies, inactive applicants and exported team
    records, after INTAKE_RETENTION_EXPORTED_DAYS, INTAKE_RETENTION_READ_REPLY_DAYS,
    INTAKE_RETENTION_INACTIVE_DAYS and INTAKE_RETENTION_TEAM_DAYS (docs/deploy.md).
    """
    _require_schema()
    store = appstate.STORE.get()
    try:
        result = purge(db.session(), store, db.today(), Policy.from_config(current_app.config),
                       dry_run=dry_run)
    except SQLAlchemyError as e:
        first_line = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise OperatorError(f"the database refused the purge, nothing was deleted: "
                            f"{first_line}") from None
    except OSError as e:
        # Rows go before files, so a failure here leaves at worst files without rows,
        # which the next run sweeps once they are older than the grace period.
        raise OperatorError(f"could not remove files in {store}: {e.strerror or e}") from None
    click.echo(result.line(dry_run))


keys_cli = OperatorGroup("keys", help="Reviewer public keys that submissions are sealed to.")



@keys_cli.command("add")
@click.argument("pubkey")
@click.option("--name", required=True, help="Who holds the key, e.g. the reviewer's name.")
def keys_add(pubkey: str, name: str) -> None:
    """Install a reviewer public key (text form refuge-pk1-...)."""
    _require_schema()
    name = name.strip()
    if not name or len(name) > 100:
        raise OperatorError("the name must be 1 to 100 characters")
    key = PublicKey.from_text(pubkey)
    dbs = db.session()
    text = key.to_text()
    existing = dbs.scalar(
        select(RecipientKey).where(or_(RecipientKey.public_key == text, RecipientKey.name == name))
    )
    if existing is not None:
        if existing.public_key == text:
            state = "active" if existing.active else "removed"
            raise OperatorError(
                f"this key is already installed as {existing.name!r} ({state})"
            )
        raise OperatorError(f"a key named {name!r} already exists; choose another name")
    active = len(dbs.scalars(select(RecipientKey).where(RecipientKey.active)).all())
    if active >= MAX_RECIPIENTS:
        raise OperatorError(f"at most {MAX_RECIPIENTS} keys can be active at once")
    dbs.add(RecipientKey(name=name, public_key=text, fingerprint=key.fingerprint,
                         added_day=db.today(), active=True))
    dbs.commit()
    click.echo(f"Added key {name!r}.")
    click.echo(f"Fingerprint: {key.fingerprint}")
    click.echo("Compare this fingerprint with the reviewer over a separate channel.")


@keys_cli.command("list")
def keys_list() -> None:
    """List installed keys: name, fingerprint, day added, status."""
    _require_schema()
    rows = db.session().scalars(select(RecipientKey).order_by(RecipientKey.id)).all()
    if not rows:
        click.echo("No keys installed: intake is closed.")
        return
    for r in rows:
        state = "active" if r.active else "removed"
        try:
            PublicKey.from_text(r.public_key)
        except InvalidPublicKey:
            # Installed before such texts were refused: never sealed to any more.
            state += " (refused: the key text is not canonical; remove it, add the right one)"
        click.echo(f"{r.name}\t{r.fingerprint}\t{r.added_day.isoformat()}\t{state}")


@keys_cli.command("remove")
@click.argument("name_or_fingerprint")
def keys_remove(name_or_fingerprint: str) -> None:
    """Stop sealing new submissions to a key (by name or fingerprint)."""
    _require_schema()
    dbs = db.session()
    wanted = name_or_fingerprint.strip()
    compact = wanted.replace(" ", "").lower()
    rows = dbs.scalars(select(RecipientKey).where(RecipientKey.active)).all()
    matches = [r for r in rows if r.name == wanted or r.fingerprint.replace(" ", "") == compact]
    if not matches:
        raise OperatorError(f"no active key named or with fingerprint {wanted!r}")
    for r in matches:
        r.active = False
    dbs.commit()
    left = len(rows) - len(matches)
    click.echo(f"Removed {', '.join(repr(r.name) for r in matches)}; {left} active key(s) left.")
    if left == 0:
        click.echo("No active keys remain: intake is now closed.")




@click.command("export", cls=OperatorCommand)
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--all", "everything", is_flag=True,
              help="Export every submission and team record again, not only those not "
                   "yet exported.")
@with_appcontext
def export_command(bundle: Path, everything: bool) -> None:
    """Write submissions and team records not yet exported into BUNDLE for the reviewers.

    Never overwrites BUNDLE. Team records are the reviewers' envelopes for each
    other, stored blind by `import-replies`.
    """
    _require_schema()
    result = export_submissions(db.session(), appstate.STORE.get(), bundle, everything=everything,
                                day=db.today())
    if result is None:
        click.echo("Nothing to export: every submission and team record has already been "
                   "exported; no bundle written.")
        return
    click.echo(f"Wrote {bundle}: {result.cases} case(s), {result.submissions} submission(s), "
               f"{result.team} team record(s), {result.bytes} bytes.")


@click.command("import-replies", cls=OperatorCommand)
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def import_replies_command(bundle: Path) -> None:
    """Check a replies bundle from the reviewers as a whole, then store its new replies
    and its team records (kept blind for the next export)."""
    _require_schema()
    try:
        result = import_replies(db.session(), appstate.STORE.get(), bundle, day=db.today())
    except OSError as e:
        raise OperatorError(
            f"cannot store the replies: {e.strerror or e}; nothing was imported") from None
    note = f" ({result.already} already imported)" if result.already else ""
    team = ""
    if result.team or result.team_already:
        again = f" ({result.team_already} already stored)" if result.team_already else ""
        team = f" Stored {result.team} team record(s) for the next export{again}."
    click.echo(f"Imported {result.new} new repl{'y' if result.new == 1 else 'ies'}{note}.{team}")


store_cli = OperatorGroup("store", help="Where the envelopes rest: moving store/ into a bucket.")


def _bucket(url: str) -> Any:
    """The bucket `url` names, as a store reachable now (intake.s3store)."""
    from intake.s3store import S3Store

    target = S3Store.from_config(url, current_app.config, appstate.STAGING.get())
    if not target.available():
        raise OperatorError(f"cannot reach the object store for {url}; nothing was changed")
    return target


@store_cli.command("migrate")
@click.option("--to", "url", required=True, metavar="s3://BUCKET/PREFIX",
              help="The bucket (and prefix) to copy store/ into.")
def store_migrate(url: str) -> None:
    """Copy every envelope in store/ into a bucket, each verified by digest; remove nothing.

    Safe to run again: what the bucket already holds, byte for byte, is skipped.
    """
    from intake.s3store import migrate_to_bucket

    root = Path(current_app.config["DATA_DIR"]) / "store"
    if not root.is_dir():
        raise OperatorError(f"there is no local store at {root}; nothing to migrate")
    target = _bucket(url)
    try:
        result = migrate_to_bucket(root, target)
    except OSError as e:
        raise OperatorError(f"{e}; what was copied stays, run the migration again") from None
    click.echo(f"Copied {result.copied} envelope(s) into {target}, {result.already} already "
               f"there; each verified by its SHA-256. Nothing was removed from {root}.")
    click.echo("Once every host uses the bucket (INTAKE_STORE_URL), run migrate once more, then "
               "`store remove-local --to` the same URL to delete the local copies.")


@store_cli.command("remove-local")
@click.option("--to", "url", required=True, metavar="s3://BUCKET/PREFIX",
              help="The bucket the envelopes were migrated to; must be this server's store.")
def store_remove_local(url: str) -> None:
    """Delete the local copies in store/ that the bucket holds byte for byte."""
    from intake.s3store import remove_migrated

    configured = current_app.config.get("STORE_URL")
    if not configured or str(configured).rstrip("/") != url.rstrip("/"):
        raise OperatorError(
            f"this server's store is not {url} (INTAKE_STORE_URL): set it there and restart "
            "first, so that nothing reads the local copies any more; nothing was removed")
    root = Path(current_app.config["DATA_DIR"]) / "store"
    if not root.is_dir():
        raise OperatorError(f"there is no local store at {root}; nothing to remove")
    target = _bucket(url)
    try:
        removed, kept = remove_migrated(root, target)
    except OSError as e:
        raise OperatorError(f"{e}; what was removed was in the bucket, the rest stays") from None
    click.echo(f"Removed {removed} local envelope(s), each found in {target} byte for byte.")
    if kept:
        raise OperatorError(f"{len(kept)} local envelope(s) are not in the bucket as they are "
                            f"here (first: {kept[0]}); they were kept: run `store migrate` first")


@click.command("version", cls=OperatorCommand)
def version_command() -> None:
    """Print the version of refuge-intake this server runs."""
    click.echo(f"refuge-intake {__version__}")


def register(app: Flask) -> None:
    app.cli.add_command(version_command)
    app.cli.add_command(init_db_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(keys_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(import_replies_command)
    app.cli.add_command(store_cli)
