"""Operator commands: `init-db`, `purge`, `keys add | list | remove`, `export`,
`import-replies`, `version`.

Expected failures print one line on stderr and exit non-zero (click's
ClickException); nothing here prints a traceback for a mistake an operator
can make.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from crypto import __version__
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import InvalidPublicKey
from crypto.keys import PublicKey
from intake import appstate, db, retention
from intake.migrate import MigrationError
from intake.models import RecipientKey
from intake.transfer import TransferError, export_submissions, import_replies

keys_cli = AppGroup("keys", help="Reviewer public keys that submissions are sealed to.")


def _require_schema() -> None:
    if not db.schema_ready(db.engine()):
        raise click.ClickException(f"the database is not initialised: run `{db.INIT_COMMAND}`")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database to the newest schema revision (safe to run again)."""
    try:
        click.echo(db.create_schema(db.engine()))
    except MigrationError as e:
        raise click.ClickException(str(e)) from None
    except SQLAlchemyError as e:
        # The whole migration is one transaction (intake.migrate): it rolled back.
        first_line = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise click.ClickException(
            f"the migration failed and nothing was changed: {first_line}") from None


@keys_cli.command("add")
@click.argument("pubkey")
@click.option("--name", required=True, help="Who holds the key, e.g. the reviewer's name.")
def keys_add(pubkey: str, name: str) -> None:
    """Install a reviewer public key (text form refuge-pk1-...)."""
    _require_schema()
    name = name.strip()
    if not name or len(name) > 100:
        raise click.ClickException("the name must be 1 to 100 characters")
    try:
        key = PublicKey.from_text(pubkey)
    except InvalidPublicKey as e:
        raise click.ClickException(str(e)) from None
    dbs = db.session()
    text = key.to_text()
    existing = dbs.scalar(
        select(RecipientKey).where(or_(RecipientKey.public_key == text, RecipientKey.name == name))
    )
    if existing is not None:
        if existing.public_key == text:
            state = "active" if existing.active else "removed"
            raise click.ClickException(
                f"this key is already installed as {existing.name!r} ({state})"
            )
        raise click.ClickException(f"a key named {name!r} already exists; choose another name")
    active = len(dbs.scalars(select(RecipientKey).where(RecipientKey.active)).all())
    if active >= MAX_RECIPIENTS:
        raise click.ClickException(f"at most {MAX_RECIPIENTS} keys can be active at once")
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
        raise click.ClickException(f"no active key named or with fingerprint {wanted!r}")
    for r in matches:
        r.active = False
    dbs.commit()
    left = len(rows) - len(matches)
    click.echo(f"Removed {', '.join(repr(r.name) for r in matches)}; {left} active key(s) left.")
    if left == 0:
        click.echo("No active keys remain: intake is now closed.")


def _store() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "store"


@click.command("export")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--all", "everything", is_flag=True,
              help="Export every submission again, not only those not yet exported.")
@with_appcontext
def export_command(bundle: Path, everything: bool) -> None:
    """Write submissions not yet exported into BUNDLE for the reviewers (never overwrites)."""
    _require_schema()
    try:
        result = export_submissions(db.session(), _store(), bundle, everything=everything,
                                    day=db.today())
    except TransferError as e:
        raise click.ClickException(str(e)) from None
    if result is None:
        click.echo("Nothing to export: every submission has already been exported; "
                   "no bundle written.")
        return
    click.echo(f"Wrote {bundle}: {result.cases} case(s), {result.submissions} submission(s), "
               f"{result.bytes} bytes.")


@click.command("import-replies")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def import_replies_command(bundle: Path) -> None:
    """Check a replies bundle from the reviewers as a whole, then store its new replies."""
    _require_schema()
    staging = appstate.STAGING.get()
    try:
        result = import_replies(db.session(), _store(), staging, bundle, day=db.today())
    except TransferError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(
            f"cannot store the replies: {e.strerror or e}; nothing was imported") from None
    note = f" ({result.already} already imported)" if result.already else ""
    click.echo(f"Imported {result.new} new repl{'y' if result.new == 1 else 'ies'}{note}.")


@click.command("version")
def version_command() -> None:
    """Print the version of refuge-intake this server runs."""
    click.echo(f"refuge-intake {__version__}")


def register(app: Flask) -> None:
    app.cli.add_command(version_command)
    app.cli.add_command(init_db_command)
    app.cli.add_command(retention.purge_command)
    app.cli.add_command(keys_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(import_replies_command)
