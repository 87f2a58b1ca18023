"""The member-city commands: `cities`, `refer`, `consent`, `dossier open`, `dossier answer`.

Thin, like every command (reviewer/cli.py): the verbs are reviewer.referrals'
and crypto.dossier's; errors reach the one dispatcher of reviewer.cli. Every
piece of text that came from an applicant, a colleague or a city goes through
reviewer.inert before it is printed. Registered on `reviewer.cli.cli` when
that module is imported.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TextIO

import click

from crypto.errors import DecryptError, NoMatch
from reviewer.cli import (
    _write_copy,
    cli,
    confirmed_key,
    home_option,
    load_state,
    passphrase_option,
    unlock,
)
from reviewer.errors import ReviewerError
from reviewer.home import Home
from reviewer.inert import inert


def _one_line(text: str) -> str:
    return inert(text, multiline=False)


# --- cities ---------------------------------------------------------------------------


@cli.group("cities")
def cities_group() -> None:
    """The member cities this home refers cases to, and their coordinators' keys."""


@cities_group.command("add")
@home_option
@passphrase_option
@click.argument("name")
@click.argument("pubkey")
@click.option("--country", default="", help="The city's country, a two-letter code (NO, DE).")
@click.option("--yes", is_flag=True,
              help="Do not ask: you have compared the fingerprint already (for scripts).")
def cities_add(home_dir: Path, passphrase_file: Path | None, name: str, pubkey: str,
               country: str, yes: bool) -> None:
    """Add a city, after comparing its coordinator's key fingerprint with her."""
    from reviewer.referrals import add_city, check_city_name
    home = Home(home_dir)
    home.require()
    name = check_city_name(name)
    key = confirmed_key(pubkey, f"Coordinator's key for {name}", f"the coordinator of {name}",
                        yes=yes)
    keys = unlock(home, passphrase_file)  # only the key holder decides whom this home seals to
    load_state(home)
    city = add_city(home, name, key, country, keys=keys)
    where = f" ({city.country})" if city.country else ""
    click.echo(f"Added '{city.name}'{where}, coordinator's key {key.fingerprint}: dossiers"
               " for it are sealed to this key and to your team's confirmed keys. The"
               " register is the team's: the change goes to your colleagues with your next"
               " `reviewer export`.")


@cities_group.command("list")
@home_option
@passphrase_option
def cities_list(home_dir: Path, passphrase_file: Path | None) -> None:
    """The team's cities: name, country, the coordinator's key fingerprint, the day added."""
    from reviewer.referrals import register_cities, register_conflicts
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)  # the register is in the team's records
    state = load_state(home)
    cities = register_cities(home, state, keys)
    conflicts = register_conflicts(home, state, keys)
    if not cities and not conflicts:
        click.echo("No cities yet: `reviewer cities add NAME PUBKEY`.")
        return
    if cities:
        click.echo("\n".join(
            f"{_one_line(c.name)}\t{c.country or '-'}\t{c.key.fingerprint}\t{_one_line(c.added)}"
            for c in cities))
    for line in conflicts:
        click.echo(f"In conflict (add or remove it again to settle): {_one_line(line)}")


@cities_group.command("remove")
@home_option
@passphrase_option
@click.argument("name")
def cities_remove(home_dir: Path, passphrase_file: Path | None, name: str) -> None:
    """Remove a city from the register (dossiers already written stay as they are)."""
    from reviewer.referrals import remove_city
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    load_state(home)
    city = remove_city(home, name, keys=keys)
    click.echo(f"Removed '{_one_line(city.name)}': no new dossier can be sealed to its"
               " coordinator's key.")


# --- consent ---------------------------------------------------------------------------------


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
@click.option("--how", required=True,
              help="How the applicant agreed to share the application with member cities.")
def consent(home_dir: Path, passphrase_file: Path | None, case: str, how: str) -> None:
    """Record that the applicant agreed to share the case with member cities, and how."""
    from reviewer.referrals import record_consent
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    case_id = home.resolve_case(state, case)
    record_consent(home, keys, case_id, how)
    click.echo(f"Consent recorded for case {case_id}; `reviewer refer` can now write a dossier"
               " for it.")


# --- refer -----------------------------------------------------------------------------------


@cli.command("refer")
@home_option
@passphrase_option
@click.argument("case")
@click.option("--city", "city_name", required=True, help="The city (as `cities list` names it).")
@click.option("--out", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the dossier (never overwritten).")
@click.option("--answer", "answers", multiple=True, metavar="FIELD",
              help="An answer to include, by its name (work, threat, ...; repeatable)."
                   " `contact` is the applicant's contact details: the most sensitive of all;"
                   " include it only if the city must reach the applicant directly.")
@click.option("--file", "files", multiple=True, type=click.IntRange(min=1), metavar="N",
              help="A file to include, by the number `reviewer show` gives it (repeatable).")
@click.option("--note-file", type=click.File("r", encoding="utf-8"),
              help="A cover note for the coordinator, read from this file ('-': stdin).")
@click.option("--with-verification", is_flag=True,
              help="Include the summary of the latest verification record.")
def refer_(home_dir: Path, passphrase_file: Path | None, case: str, city_name: str, out: Path,
           answers: tuple[str, ...], files: tuple[int, ...], note_file: TextIO | None,
           with_verification: bool) -> None:
    """Write a dossier for a member city: only the answers, files, note and verification
    chosen (nothing by default), sealed to the city's coordinator and to your team's keys,
    signed by you. Refused unless the applicant agreed to share (see `reviewer consent`).
    """
    from reviewer.referrals import SENSITIVE, refer
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    note = note_file.read() if note_file is not None else ""
    done = refer(home, keys, case, city_name=city_name, out=out, answers=answers, files=files,
                 note=note, with_verification=with_verification)
    city = _one_line(done.city.name)
    click.echo(f"Dossier {done.dossier} for {city} written to {out}, sealed to its"
               f" coordinator and {done.recipients - 1} key{'s' * (done.recipients != 2)} of"
               " your team, signed by you.")
    click.echo("Consent: " + ("the applicant said yes on the form." if done.consent == "yes"
                              else "recorded by a reviewer (`reviewer consent`)."))
    click.echo("Included answers: " + (", ".join(done.answers) or "none"))
    for name in SENSITIVE:
        if name in done.answers:
            click.echo(f"WARNING: '{name}' is the applicant's contact details, the most"
                       " sensitive answer of all; the city can now reach the applicant.")
    click.echo("Included files: " + (", ".join(
        f"{f.number}. {_one_line(f.name)}" for f in done.files) or "none"))
    click.echo(f"Cover note: {'yes' if done.note else 'none'}; verification summary:"
               f" {'yes' if done.verification else 'no'}.")


# --- dossier open / answer -------------------------------------------------------------------


@cli.group("dossier")
def dossier_group() -> None:
    """Open a dossier from the Secretariat, and answer it."""


@dossier_group.command("open")
@home_option
@passphrase_option
@click.argument("path", metavar="DOSSIER",
                type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Extract the files into this folder (under safe names; nothing is opened).")
def dossier_open(home_dir: Path, passphrase_file: Path | None, path: Path,
                 directory: Path | None) -> None:
    """Check a dossier's signature, show what it holds, and extract its files if asked."""
    # Here: they bring the file type checks (Pillow, pypdf), which cost every command.
    from reviewer import saving
    from reviewer.referrals import dossier_files, open_dossier, signer_name
    from reviewer.showtext import VERIFICATION_FIELDS, wrap, wrap_line

    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    try:
        verified = open_dossier(home, keys, path)
    except NoMatch:
        raise ReviewerError("this dossier is not addressed to your key") from None
    except DecryptError as e:
        raise ReviewerError(f"{e.public_message}; nothing was opened") from None
    doc = verified.document
    width = max(shutil.get_terminal_size().columns, 40)
    who = signer_name(home, state, verified.signer)
    lines = wrap_line(f"Dossier {verified.id} for {_one_line(str(doc['city']))}, made"
                      f" {_one_line(str(doc['day']))}.", width)
    lines += wrap_line(f"Signed by {_one_line(who)} ({verified.signer.fingerprint}); the"
                       " signature is good.", width)
    lines += ["", "== Answers"]
    for a in doc["answers"]:
        label = _one_line(str(a["question"]))
        lines += wrap_line(label if label.endswith(("?", ":", ".")) else label + ":", width)
        lines += wrap(inert(str(a["value"])).strip("\n"), width, "    ")
    if not doc["answers"]:
        lines.append("none included")
    lines += ["", "== Note from the Secretariat"]
    lines += wrap(inert(str(doc["note"])).strip("\n"), width) if doc["note"].strip() else [
        "none"]
    lines += ["", "== Verification summary"]
    v = doc["verification"]
    if v is None:
        lines.append("not included")
    else:
        lines += wrap_line(f"{_one_line(v['day'])}: risk {_one_line(v['risk'])},"
                           f" recommendation {_one_line(v['recommendation'])}", width)
        for name, label in VERIFICATION_FIELDS:
            if str(v[name]).strip():
                lines += wrap_line(f"{label}:", width, "   ")
                lines += wrap(inert(str(v[name])).strip("\n"), width, "       ")
    lines += ["", f"== Files: {len(doc['files']) or 'none'}"]
    lines += [line for n, f in enumerate(doc["files"], 1) for line in wrap_line(
        f"{n}. {_one_line(str(f['name']))}  ({f['size']:,} bytes; claimed"
        f" {_one_line(str(f['type'])) or 'no type given'})", width, "  ", "     ")]
    click.echo("\n".join(lines))
    if directory is None:
        if doc["files"]:
            click.echo("Nothing was written: give --out DIR to extract the files.")
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    taken: set[str] = set()
    written = 0
    click.echo(f"== {directory}/")
    for entry, data in dossier_files(keys, path, verified):
        original = str(entry["name"])
        copy = saving.safe_copy(original, str(entry["type"]), data, int(entry["size"]))
        written += _write_copy(copy, directory, taken, False, [])
    click.echo(f"{written} file{'s' * (written != 1)} written to {directory}. Nothing was"
               " opened.")


@dossier_group.command("answer")
@home_option
@passphrase_option
@click.argument("path", metavar="DOSSIER",
                type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--note-file", required=True, type=click.File("r", encoding="utf-8"),
              help="The answer to the Secretariat, read from this file ('-': stdin).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the answer (never overwritten).")
def dossier_answer(home_dir: Path, passphrase_file: Path | None, path: Path,
                   note_file: TextIO, out: Path) -> None:
    """Answer a dossier: a signed note sealed to the Secretariat keys it was sealed to."""
    from reviewer.referrals import write_answer
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    load_state(home)
    try:
        verified, count = write_answer(home, keys, path, note_file.read(), out)
    except NoMatch:
        raise ReviewerError("this dossier is not addressed to your key") from None
    except DecryptError as e:
        raise ReviewerError(f"{e.public_message}; nothing was written") from None
    click.echo(f"Answer to dossier {verified.id} written to {out}, sealed to the"
               f" {count - 1} Secretariat key{'s' * (count != 2)} of the dossier and yours."
               " The Secretariat imports it with `reviewer import`.")


__all__ = ["cities_group", "consent", "dossier_group", "refer_"]
