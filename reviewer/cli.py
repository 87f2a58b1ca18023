"""The `reviewer` command: the Secretariat's offline tool.

Each command is thin: it resolves the home directory, asks for the
passphrase when a key is needed, calls reviewer.home's verbs and prints the
typed records (reviewer.state) they return. The library raises plain
exceptions (reviewer.errors, crypto.errors); `ReviewerGroup.invoke` is the one
place that turns each into one line on stderr and its documented exit code
(docs/reviewer.md, "Exit codes"). Everything printed that came from an
applicant goes through reviewer.inert first.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from crypto import __version__
from crypto.atomic import OutputExists, atomic_output
from crypto.errors import (
    CryptoError,
    DecryptError,
    InvalidPublicKey,
    KeyFileError,
    NoMatch,
)
from crypto.keys import PublicKey
from crypto.params import KEYFILE_LIMITS, TEST_LIMITS
from reviewer.caselist import MARKS, URGENCY, Casebook, CaseRow, Filters, Mark, note_opened
from reviewer.collector import collector_paused
from reviewer.columns import fit
from reviewer.errors import (
    EXIT_BUNDLE,
    EXIT_ERROR,
    EXIT_KEY,
    EXIT_NOT_FOUND,
    BadInput,
    KeyProblem,
    NotFound,
    ReviewerError,
)
from reviewer.home import (
    RECOMMENDATIONS,
    RISKS,
    TEAM_STATES,
    Home,
    ImportedCase,
    Keys,
    today,
)
from reviewer.index import CONFLICT
from reviewer.inert import inert
from reviewer.outcome import import_sentence, unconfirmed_sentence, unreadable_note
from reviewer.outcome import team_lines as team_lines_of
from reviewer.packs import import_buffered, is_dossier_answer
from reviewer.safenames import unique_name
from reviewer.state import State
from reviewer.trust import MAX_NAME

# What only some commands use is imported in them (`# here:`), so that `list`
# and `import` do not load the team modules, crypto.bundle and reviewer.checks
# (docs/performance.md, "The command's start").
if TYPE_CHECKING:
    from reviewer import saving
    from reviewer.teamview import CaseTeam

F = TypeVar("F", bound=Callable[..., Any])

MIN_PASSPHRASE = 12
#: Bundles at least this large get a progress bar while they are checked.
PROGRESS_THRESHOLD = 1024 * 1024


@functools.cache
def exit_codes() -> tuple[tuple[type[Exception], int], ...]:
    """Expected failures and their exit codes, the first match wins (docs/reviewer.md,
    "Exit codes"). The message is the exception's own sentence.

    Made on the first failure: BundleError's module, crypto.bundle, costs every
    command's start about 20 ms, and only a failure needs it here.
    """
    from crypto.bundle import BundleError  # here: a failure only

    return (
        (KeyProblem, EXIT_KEY),
        (BadInput, EXIT_BUNDLE),
        (NotFound, EXIT_NOT_FOUND),
        (ReviewerError, EXIT_ERROR),
        (OutputExists, EXIT_ERROR),  # before OSError, of which it is one
        (KeyFileError, EXIT_KEY),
        (BundleError, EXIT_BUNDLE),
        (DecryptError, EXIT_BUNDLE),
        (CryptoError, EXIT_ERROR),
        (OSError, EXIT_ERROR),
    )


class Failure(click.ClickException):
    """An expected failure as click shows it: "Error: <sentence>" on stderr, and a code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class


def failure(error: Exception) -> Failure | None:
    """The line and exit code for an expected failure; None for anything else (a bug)."""
    for kind, code in exit_codes():
        if isinstance(error, kind):
            if isinstance(error, OSError) and not isinstance(error, OutputExists):
                where = f": {error.filename}" if error.filename else ""
                return Failure(f"{error.strerror or error}{where}", code)
            return Failure(str(error), code)
    return None


class ReviewerGroup(click.Group):
    """The one error dispatcher: expected failures become one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        with collector_paused():
            try:
                return super().invoke(ctx)
            except (ReviewerError, CryptoError, OSError) as e:
                shown = failure(e)
                if shown is None:
                    raise
                raise shown from None


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def default_home() -> str:
    return click.get_app_dir("refuge-reviewer")


def home_option(f: F) -> F:
    return click.option(
        "--home",
        "home_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="REVIEWER_HOME",
        default=default_home,
        show_default="a per-user directory",
        help="Where the reviewer's keys and stored cases live (env REVIEWER_HOME).",
    )(f)


def passphrase_option(f: F) -> F:
    return click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="Read the passphrase from the first line of this file (for scripts).",
    )(f)


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    if passphrase_file is not None:
        lines = passphrase_file.read_text("utf-8").splitlines()
        passphrase = lines[0] if lines else ""
    else:
        passphrase = click.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True
        )
    if not passphrase:
        raise KeyProblem("the passphrase is empty")
    return passphrase


def unlock(home: Home, passphrase_file: Path | None) -> Keys:
    home.require()
    return home.unlock(read_passphrase(passphrase_file))


def load_state(home: Home) -> State:
    """The state, for a command that has unlocked the home (see `_migrate_trust`)."""
    state = home.load_state()
    if state.predates_trust:
        _migrate_trust(home, state)
    return state


def _migrate_trust(home: Home, state: State) -> None:
    """Bring a home made before confirmed keys up to date, saying what that means.

    Such a home sealed records and replies to every key its last bundle named.
    Now only its own keys are trusted; the keys it saw in bundles are reported
    as unconfirmed (on standard error, so `list --json` stays one JSON
    document) and the state is written back in the new version, once. Done
    where a command loads the state anyway: loading it a second time costs
    a large home a noticeable part of `list`.
    """
    warn_earlier(home.unconfirmed_named(state))
    home.upgrade_state()  # if another command holds the home, it writes the new version


def warn_earlier(keys: list[PublicKey]) -> None:
    """The keys a home made before confirmed keys sealed to, each in one line on stderr."""
    for key in keys:
        click.echo(
            f"Unconfirmed reviewer key named by an earlier bundle: fingerprint {key.fingerprint}."
            " This home, made before confirmed keys, sealed records and replies to it; from now"
            " on nothing is sealed to it unless you compare its fingerprint with its holder and"
            " run `reviewer keys add`.",
            err=True,
        )


def warn_unconfirmed(keys: list[PublicKey], where: str) -> None:
    """One line per key that was named but is not trusted: nothing was sealed to it."""
    for key in keys:
        click.echo(unconfirmed_sentence(key, where))


def sealed_to(home: Home, state: State) -> None:
    """Say who a record or reply was sealed to, and which named keys it was not."""
    own = len(home.own_public_keys())
    colleagues = len(state.reviewers)
    click.echo(
        f"Sealed to your key{'s' * (own != 1)} and {colleagues} confirmed colleague"
        f" key{'s' * (colleagues != 1)}."
    )
    warn_unconfirmed(home.unconfirmed_named(state), "named by the last bundle")


@click.group(cls=ReviewerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, message="refuge-intake %(version)s")
def cli() -> None:
    """Read, verify and answer refuge-intake submissions on an offline machine."""


# --- keys -----------------------------------------------------------------------


@cli.command()
@home_option
@passphrase_option
@click.option("--rotate", is_flag=True, help="Add a new key; older keys stay to open old material.")
# Hidden, as in `python -m crypto keygen`: cheap Argon2 limits so tests stay fast.
@click.option("--insecure-test-limits", is_flag=True, hidden=True)
def init(home_dir: Path, passphrase_file: Path | None, rotate: bool,
         insecure_test_limits: bool) -> None:
    """Create your key; print the public key and fingerprint for the operator."""
    home = Home(home_dir)
    if home.keys.files() and not rotate:
        raise ReviewerError(
            f"{home_dir} already holds a key; not overwriting it (use --rotate to add a new one)"
        )
    if passphrase_file is None:
        click.echo(
            "Choose a passphrase of six or more random words (e.g. from a diceware list);"
            " it protects your key if this machine is taken. There is no way to recover it.",
            err=True,
        )
    too_short = (f"that passphrase is too short (under {MIN_PASSPHRASE} characters);"
                 " use six or more random words")
    passphrase = read_passphrase(passphrase_file, confirm=True)
    while len(passphrase) < MIN_PASSPHRASE:
        if passphrase_file is not None:
            raise KeyProblem(too_short)
        # Typed at the prompt: say why, and ask again (Ctrl-C stops).
        click.echo(f"T{too_short[1:]}.", err=True)
        passphrase = read_passphrase(None, confirm=True)
    public = home.create_key(passphrase, TEST_LIMITS if insecure_test_limits else KEYFILE_LIMITS)
    click.echo(f"Created a new key in {home_dir}.")
    click.echo("Give the operator this public key, and read them the fingerprint by phone:")
    click.echo(public.to_text())
    click.echo(f"fingerprint: {public.fingerprint}")
    click.echo(
        "Your keys are trusted in this home. Records and replies are sealed to them and to"
        " the colleagues' keys you confirm by fingerprint with `reviewer keys add`."
    )
    if rotate and home.load_state().active_reviewers():
        told = home.announce_rotation(home.unlock(passphrase))
        if told:
            click.echo(
                f"Your new signing key is announced to your {told} confirmed colleague"
                f"{'s' * (told != 1)} (a rotation record signed by your previous key); it"
                " goes with the next `export`. Each of them still compares the new"
                " fingerprint with you and runs `reviewer keys add` for the new key."
            )
        else:
            click.echo("The new key's passphrase does not open your previous key: your"
                       " colleagues learn the new signing key when they confirm the new key.")


@cli.command()
@home_option
def pubkey(home_dir: Path) -> None:
    """Print your current public key, then its fingerprint."""
    key = Home(home_dir).own_public_keys()[0]
    click.echo(key.to_text())
    click.echo(key.fingerprint)


# --- import and read --------------------------------------------------------------


@cli.command("import")
@home_option
@passphrase_option
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def import_(home_dir: Path, passphrase_file: Path | None, bundle: Path) -> None:
    """Verify a submissions bundle (or a colleague's outbox) completely, then store what
    is new: submissions, and team records for this home.

    A city coordinator's answer to a dossier (`reviewer dossier answer`) is
    imported too: checked, and put in its case's history.
    """
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    if is_dossier_answer(bundle):
        from reviewer import referrals  # here: only an answer needs it

        load_state(home)
        try:
            got = referrals.import_answer(home, keys, bundle)
        except NoMatch:
            raise ReviewerError("this dossier answer is not addressed to your key") from None
        except DecryptError as e:
            raise ReviewerError(f"{e.public_message}; nothing was imported") from None
        click.echo(f"{'Already had this' if got.already else 'Imported the'} answer from"
                   f" {inert(got.city, multiline=False)} (written {got.day}) to the dossier"
                   f" of case {got.case}: `reviewer show {got.case[:8]}` shows it.")
        return
    size = bundle.stat().st_size
    with import_buffered(bundle) as src:
        if size >= PROGRESS_THRESHOLD:
            # Redrawn at most ~200 times: a bundle of small envelopes reports
            # progress for each, and drawing a terminal line each time costs more.
            bar_ctx = click.progressbar(length=size, label="Checking the bundle", file=sys.stderr,
                                        update_min_steps=max(1, size // 200))
            with bar_ctx as bar:
                result = home.import_bundle(src, keys, progress=bar.update)
        else:
            result = home.import_bundle(src, keys)
    warn_earlier(result.earlier_unconfirmed)
    click.echo(import_sentence(result))
    if result.cases:
        click.echo("\n".join(imported_lines(result.cases)))
    for line in team_lines_of(result):
        click.echo(inert(line, multiline=False))
    note = unreadable_note(result)
    if note:
        click.echo(note)
    warn_unconfirmed(result.unconfirmed, "named by this bundle")


#: How many new or updated cases `import` names; `list --mark` shows them all.
IMPORT_NAMED = 50


def imported_lines(cases: list[ImportedCase]) -> list[str]:
    """The new and updated cases an import names: short id, new or updated, name."""
    lines = [
        f"  {c.case[:8]}  {'new    ' if c.new else 'updated'}  "
        + inert(c.name if c.name else "(not for your key)", multiline=False)
        for c in cases[:IMPORT_NAMED]
    ]
    if len(cases) > IMPORT_NAMED:
        lines.append(f"  … and {len(cases) - IMPORT_NAMED} more: `reviewer list --mark new`"
                     " and `--mark updated` show them all.")
    return lines


#: The table of `list`: (heading, width in terminal columns), after a one-column
#: mark; with one space between columns a row is 80 columns wide.
LIST_COLUMNS = (("case", 8), ("name", 14), ("country", 10), ("profession", 10),
                ("urgency", 10), ("state", 10), ("last", 10))
MARK_SIGNS = {"new": "N", "updated": "U", "": " "}


@cli.command("list")
@home_option
@passphrase_option
@click.option("--state", "state_filter",
              type=click.Choice([*TEAM_STATES, CONFLICT]),
              help="Only cases in this state (the team's, or your latest recommendation).")
@click.option("--urgency", type=click.Choice([value for value, _ in URGENCY]),
              help="Only cases whose applicant chose this urgency.")
@click.option("--country", help="Only cases from this country (any letter case).")
@click.option("--profession", help="Only cases of this profession (any letter case).")
@click.option("--mark", type=click.Choice(MARKS),
              help="Only cases new to you (never opened) or updated since you opened them.")
@click.option("--search", "text", default="",
              help="Only cases whose answers contain every word of TEXT (any letter case).")
@click.option("--assignee", help="Only cases assigned to NAME (a colleague, `me` or `nobody`).")
@click.option("--conflict", is_flag=True,
              help="Only cases whose state or assignee is in conflict.")
@click.option("--mine", is_flag=True, help="Only the cases assigned to you.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def list_(home_dir: Path, passphrase_file: Path | None, state_filter: str | None,
          urgency: str | None, country: str | None, profession: str | None,
          mark: Mark | None, text: str, assignee: str | None, conflict: bool, mine: bool,
          as_json: bool) -> None:
    """The cases: the most urgent first, then the latest activity."""
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    book = Casebook(home, keys, state=load_state(home))
    if assignee is not None:
        assignee = {"me": "you", "nobody": ""}.get(assignee, assignee)
    filters = Filters(state=state_filter, urgency=urgency, country=country,
                      profession=profession, mark=mark, text=text, assignee=assignee,
                      conflict=conflict, mine=mine)
    rows = book.rows(filters)
    if as_json:
        # ensure_ascii: every control or bidi character arrives escaped, never raw.
        click.echo(json.dumps([_json_row(r) for r in rows], ensure_ascii=True))
        return
    if not rows:
        click.echo("No cases." if filters == Filters() else "No cases match.")
        return
    # One write: click.echo per line cost more than building the table.
    click.echo("\n".join(list_lines(rows, team=bool(book.teams))))


def _json_row(r: CaseRow) -> dict[str, Any]:
    return {
        "case": r.case,
        "received": r.received,
        "name": r.name,
        "profession": r.profession,
        "country": r.country,
        "attachments": r.files,
        "followups": r.followups,
        "state": r.state,
        "readable": r.readable,
        "urgency": r.urgency,
        "urgency_label": r.urgency_label,
        "last_activity": r.last_activity,
        "mark": r.mark,
        "assignee": r.assignee,
        "conflict": r.conflict,
        "referred": r.referred,
    }


def list_lines(rows: list[CaseRow], *, team: bool = False) -> list[str]:
    """The table `list` prints: every cell of applicant text inert, cut and padded to its
    width in terminal columns. `team`: the home holds team records, and the table has an
    assignee column (a case in conflict has the state "conflict")."""
    widths = dict(LIST_COLUMNS)  # case: an id's first 8 hex digits (reviewer.state checks ids)
    columns = (*LIST_COLUMNS, ("assignee", 10)) if team else LIST_COLUMNS
    lines = [" " + " ".join(fit(title, w) for title, w in columns).rstrip()]
    cells = repeated_cells()
    for r in rows:
        name = r.name if r.readable or r.name else "(not your key)"
        line = (
            f"{MARK_SIGNS[r.mark]} {r.case[:8]} {fit(name, widths['name'])}"
            f" {cells(r.country, widths['country'])} {cells(r.profession, widths['profession'])}"
            f" {cells(r.urgency, widths['urgency'])}"
            f" {cells('referred' if r.referred else r.state, widths['state'])}"
            f" {cells(r.last_activity, widths['last'])}"
        )
        if team:
            line += f" {cells(r.assignee or '-', 10)}".rstrip()
        lines.append(line)
    lines.append(f"{len(rows)} case{'s' * (len(rows) != 1)}.")
    if any(r.mark for r in rows):
        lines.append("N: new, never opened by you. U: updated since you last opened it.")
    if any(r.referred for r in rows):
        lines.append("referred: a dossier was written for a member city (`reviewer show`).")
    return lines


def repeated_cells() -> Callable[[str, int], str]:
    """`fit`, remembering its cells for one table; a speed trick only.

    Countries, professions, urgencies, states and days repeat from row to row:
    10,000 rows have a few dozen distinct values in those columns, so they are
    made inert and measured once each instead of 10,000 times (`list` of
    10,000 cases, under a profiler: 70,000 calls of `fit`, 0.38 s; with this,
    the 10,000 names and a few dozen others). Held for one table, in memory;
    removing it changes speed, never output.
    """
    made: dict[tuple[str, int], str] = {}

    def cell(text: str, width: int) -> str:
        key = (text, width)
        found = made.get(key)
        if found is None:
            found = made[key] = fit(text, width)
        return found

    return cell


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
def show(home_dir: Path, passphrase_file: Path | None, case: str) -> None:
    """Everything about one case (a unique prefix of its id will do), wrapped to the terminal.

    Answers under the form's questions, empty ones left out; each file with its
    size, claimed and detected type, and warnings. Nothing decrypted is written;
    the case's new/updated mark is cleared (seen.env, sealed to your own keys).
    """
    from reviewer.casefile import case_file  # here: only show needs it
    from reviewer.showtext import case_lines

    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    case_id = home.resolve_case(state, case)
    width = shutil.get_terminal_size().columns
    lines = case_lines(case_file(home, state, keys, case_id), width)
    from reviewer.referrals import case_content, referral_views
    from reviewer.showtext import referral_lines

    content = case_content(home, state, keys, case_id)
    lines += referral_lines(content.consent, content.consents,
                            referral_views(home, state, keys, case_id), width)
    if state.team:
        team = home.case_team(case_id, keys)
        if team.history or team.held:
            lines += ["", "== Team (`reviewer history` for who did what)",
                      *team_lines(case_id, team, width, history=False)]
    click.echo("\n".join(lines))
    note_opened(home, keys, case_id, len(state.cases[case_id].submissions))


# --- extract ----------------------------------------------------------------------


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--strip-metadata", is_flag=True,
              help="Also write copies of JPEG and PNG images without their metadata.")
def extract(home_dir: Path, passphrase_file: Path | None, case: str, directory: Path,
            strip_metadata: bool) -> None:
    """Write a case's attachments into DIRECTORY, a folder per submission. Opens nothing.

    The application's files go into DAY-application/, each follow-up's into
    DAY-followup-N/ (N counts the case's follow-ups from 1), under safe names.
    """
    # Here: only extract needs it (and filetypes, Pillow, pypdf), and they cost every command.
    from reviewer import saving

    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    case_id = home.resolve_case(state, case)
    store = home.store(state)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    submissions = state.cases[case_id].submissions
    written = 0
    saved: list[tuple[str, dict[str, Any]]] = []
    for sub, folder_name in zip(submissions, saving.submission_folders(submissions), strict=True):
        try:
            if not sub.readable:
                raise NoMatch()
            doc = store.open_json(sub.answers, keys)
        except NoMatch:
            click.echo(f"submission {sub.id}: not addressed to your key; skipped")
            continue
        listed = doc.get("attachments", [])
        if not listed:
            continue
        folder = directory / folder_name
        title = "the application" if sub.kind == "application" else "a follow-up"
        click.echo(f"== {folder_name}/ ({title}, submission {sub.id})")
        taken: set[str] = set()
        for number, entry in enumerate(listed, 1):
            try:
                copy = saving.saved_copy(home, state, keys, case_id, sub.id, number, strip=False)
            except saving.NotForYourKey:
                click.echo(f"{inert(str(entry['name']), multiline=False)}: not addressed to your"
                           " key; skipped")
                continue
            names: list[str] = []
            written += _write_copy(copy, folder, taken, strip_metadata, names)
            blob = str(entry.get("blob", ""))  # the attachment's id (checked on import)
            if blob in sub.attachments:
                saved.extend(("file-saved", {"blob": blob, "name": f"{folder_name}/{name}"})
                             for name in names)
    if saved:  # who saved which file of the case: a team record each (docs/team.md)
        home.add_records(case_id, saved, keys)
    click.echo(f"{written} file{'s' * (written != 1)} written to {directory}. Nothing was opened.")


def _folder(folder: Path) -> Path:
    """A submission's folder inside the extraction directory, made if missing."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ReviewerError(f"{folder} is in the way and is not a folder; nothing written there")
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _write_copy(copy: saving.SavedFile, folder: Path, taken: set[str], strip: bool,
                names: list[str]) -> int:
    """Write one attachment (and its copy without metadata) and say what it is; the
    names written are appended to `names`."""
    from reviewer import filetypes, saving
    from reviewer.metadata import read_metadata

    _folder(folder)
    name = unique_name(folder, copy.safe_name, taken)
    with atomic_output(folder / name) as out:
        out.write(copy.data)
    names.append(name)
    original, claimed, detected = copy.original_name, copy.claimed_type, copy.detected_type
    line = (f"{name}  {len(copy.data):,} bytes  content: {detected}  claimed:"
            f" {inert(claimed, multiline=False) or 'none'}")
    if name != original:
        # Not repr(): it would escape again what inert shows as it is (a Persian
        # name's zero-width non-joiner) and double every backslash of its escapes.
        line += f"  (sent as '{inert(original, multiline=False)}')"
    lines = [line]
    if not filetypes.types_agree(claimed, detected):
        lines.append("  WARNING: the content is not what was claimed; handle with care")
    if detected in filetypes.EXECUTABLE_TYPES:
        lines.append("  WARNING: this is a program; do not run it")
    if len(copy.data) != copy.listed_size:
        lines.append(f"  WARNING: the applicant's browser reported {copy.listed_size:,} bytes")
    kinds = filetypes.find_metadata(copy.data, detected)
    values = read_metadata(copy.data, detected)
    if kinds or values:
        lines.append(f"  metadata: {', '.join(kinds)}".rstrip())
        # The values are inert already (reviewer.metadata); once more costs nothing.
        lines += [f"    {inert(label, multiline=False)}: {inert(value, multiline=False)}"
                  for label, value in values]
    click.echo("\n".join(lines))
    if not (strip and saving.strippable(detected) and (kinds or values)):
        return 1
    try:
        bare = saving.without_metadata(copy)
    except saving.CannotStrip as e:
        click.echo(f"  no copy without metadata: {e}")
        return 1
    bare_name = unique_name(folder, bare.safe_name, taken)
    with atomic_output(folder / bare_name) as out:
        out.write(bare.data)
    names.append(bare_name)
    click.echo(f"  stripped copy: {bare_name}")
    return 2


# --- verify and reply -------------------------------------------------------------


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
@click.option("--identity", help="How the applicant's identity was checked.")
@click.option("--work", help="How the work was authenticated, with what evidence.")
@click.option("--persecution", help="How the persecution was verified: sources.")
@click.option("--risk", type=click.Choice(RISKS))
@click.option("--recommendation", type=click.Choice(RECOMMENDATIONS))
@click.option("--notes")
def verify(home_dir: Path, passphrase_file: Path | None, case: str, identity: str | None,
           work: str | None, persecution: str | None, risk: str | None,
           recommendation: str | None, notes: str | None) -> None:
    """Record a verification (appended; earlier records are kept)."""
    from reviewer.records import VERIFICATION_QUESTIONS, verification_record  # here: verify only

    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    case_id = home.resolve_case(state, case)

    def ask(value: str | None, text: str, **kw: Any) -> str:
        return value if value is not None else str(click.prompt(text, **kw))

    kinds: dict[str, Any] = {"risk": {"type": click.Choice(RISKS)},
                             "recommendation": {"type": click.Choice(RECOMMENDATIONS)},
                             "notes": {"default": "", "show_default": False}}
    given = {"identity": identity, "work": work, "persecution": persecution, "risk": risk,
             "recommendation": recommendation, "notes": notes}
    record = verification_record(case_id, keys, {
        name: ask(given[name], question, **kinds.get(name, {}))
        for name, question in VERIFICATION_QUESTIONS
    })
    # The prompts are done: the home is held only for the read-modify-write of the state.
    state = home.add_verification(case_id, record, keys)
    n = len(state.cases[case_id].verifications)
    click.echo(f"Verification record {n} saved for case {case_id}: {record['recommendation']}.")
    sealed_to(home, state)


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"),
              help="Read the reply from this file of yours ('-' for standard input).")
def reply(home_dir: Path, passphrase_file: Path | None, case: str,
          text_file: TextIO | None) -> None:
    """Write a reply to the applicant, read from standard input or --file.

    The text is never written to a file by this command: no editor (which
    would keep it in a temporary file and a swap file), no temporary file.
    """
    from reviewer.records import reply_document  # here: reply only

    home = Home(home_dir)
    unlock(home, passphrase_file)  # only the key holder writes replies in this home
    state = load_state(home)
    case_id = home.resolve_case(state, case)
    if text_file is not None:
        text = text_file.read()
    else:
        if stdin_is_terminal():
            click.echo(
                "Type the reply, then press Ctrl-D on an empty line to end it"
                " (Ctrl-C to stop without saving):",
                err=True,
            )
        text = sys.stdin.read()
    doc = reply_document(case_id, text)
    # The text is read: the home is held only for the read-modify-write of the state.
    state = home.add_reply(case_id, doc)
    click.echo(f"Reply saved for case {case_id}; it goes out with the next `export-replies`.")
    sealed_to(home, state)


def _export(home_dir: Path, passphrase_file: Path | None, bundle: Path,
            everything: bool) -> None:
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)  # each reply sent becomes a signed team record
    load_state(home)  # a home made before confirmed keys says what it saw first
    out = home.export_outbox(bundle, everything=everything, keys=keys)
    if not out.replies and not out.team:
        click.echo("Nothing to send: no replies and no team records waiting; no bundle"
                   " written.")
        return
    click.echo(f"Wrote {out.replies} repl{'ies' if out.replies != 1 else 'y'} and"
               f" {out.team} team envelope{'s' * (out.team != 1)} to {bundle}.")


EXPORT_HELP = """Write the outbox: every reply not yet exported (for the applicants, through
the server) and every team record and announcement not yet sent (for your
colleagues), in one replies bundle for the operator, or a stick."""


@cli.command("export-replies", help=EXPORT_HELP)
@home_option
@passphrase_option
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--all", "everything", is_flag=True,
              help="Include replies already exported and every team record kept here.")
def export_replies(home_dir: Path, passphrase_file: Path | None, bundle: Path,
                   everything: bool) -> None:
    _export(home_dir, passphrase_file, bundle, everything)


# `reviewer export`: the same command under the shorter name.
cli.add_command(export_replies, name="export")

# --- team records (docs/team.md) -------------------------------------------------


def read_text(text_file: TextIO | None, what: str) -> str:
    """A text from --file or standard input: never an editor, never a temporary file."""
    if text_file is not None:
        return text_file.read()
    if stdin_is_terminal():
        click.echo(f"Type the {what}, then press Ctrl-D on an empty line to end it"
                   " (Ctrl-C to stop without saving):", err=True)
    return sys.stdin.read()


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"),
              help="Read the note from this file of yours ('-' for standard input).")
def note(home_dir: Path, passphrase_file: Path | None, case: str,
         text_file: TextIO | None) -> None:
    """Add a note (an internal comment for your colleagues) to a case.

    The text comes from --file or standard input; it is never written to a
    file by this command (no editor, no temporary file).
    """
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    case_id = home.resolve_case(load_state(home), case)
    home.add_note(case_id, read_text(text_file, "note"), keys)
    click.echo(f"Note saved for case {case_id}; it goes to your colleagues with the next"
               " `export-replies`.")


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
@click.argument("name")
def assign(home_dir: Path, passphrase_file: Path | None, case: str, name: str) -> None:
    """Say who is on a case: a confirmed colleague's NAME, `me`, or `nobody`."""
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    case_id = home.resolve_case(load_state(home), case)
    home.assign(case_id, None if name == "nobody" else name, keys)
    who = {"me": "you", "nobody": "nobody"}.get(name, inert(name, multiline=False))
    click.echo(f"Case {case_id} assigned to {who}.")


@cli.command("state")
@home_option
@passphrase_option
@click.argument("case")
@click.argument("new_state", metavar="STATE", type=click.Choice(TEAM_STATES))
@click.option("--reason", required=True, help="Why (your colleagues see it).")
def state_(home_dir: Path, passphrase_file: Path | None, case: str, new_state: str,
           reason: str) -> None:
    """Decide a case's state, with a reason (this also resolves a state conflict)."""
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    case_id = home.resolve_case(load_state(home), case)
    home.set_state(case_id, new_state, reason, keys)
    click.echo(f"Case {case_id} is now {new_state}.")


@cli.command()
@home_option
@passphrase_option
@click.argument("case")
def history(home_dir: Path, passphrase_file: Path | None, case: str) -> None:
    """Who did what on a case, and when (the authors' clocks), oldest first."""
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    case_id = home.resolve_case(load_state(home), case)
    team = home.case_team(case_id, keys)
    width = shutil.get_terminal_size().columns
    click.echo("\n".join(team_lines(case_id, team, width, history=True)))


def team_lines(case_id: str, team: CaseTeam, width: int, *, history: bool) -> list[str]:
    """A case's team state (and its history): everything a colleague wrote made inert."""
    from reviewer.showtext import wrap, wrap_line

    def one(text: str) -> str:
        return inert(text, multiline=False)

    lines = [f"Case {case_id}: state {team.state},"
             f" assigned to {one(team.assignee) if team.assignee else 'nobody'}"]
    if team.state_conflict:
        heads = "; ".join(f"{one(c.author)} set {c.value}" for c in team.state_conflict)
        lines += wrap_line(f"CONFLICT on the state: {heads}. Neither had seen the other;"
                           " decide with `reviewer state`.", width)
    if team.assignee_conflict:
        heads = "; ".join(f"{one(c.author)} assigned {one(c.value)}"
                          for c in team.assignee_conflict)
        lines += wrap_line(f"CONFLICT on the assignee: {heads}.", width)
    if history:
        if not team.history:
            lines.append("No team records yet.")
        for e in team.history:
            lines += wrap_line(f"{e.time}  {one(e.author)}  {one(e.summary)}", width)
            if e.text:
                lines += wrap(inert(e.text), width, "    ")
    if team.held:
        lines.append(f"{team.held} record{'s' * (team.held != 1)} held: waiting for earlier"
                     " records of this case not received yet.")
    return lines


@cli.command()
@home_option
@passphrase_option
@click.option("--with", "name", required=True, help="The confirmed colleague to share with.")
@click.argument("cases", nargs=-1)
def share(home_dir: Path, passphrase_file: Path | None, name: str,
          cases: tuple[str, ...]) -> None:
    """Give a colleague the history of CASES (every case's, with none given).

    Each team record is sealed again, to her key alone, unchanged: she checks
    each signature under its author's key. They go with the next `export`.
    """
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    case_ids = [home.resolve_case(state, c) for c in cases]
    count = home.share(name, case_ids, keys)
    click.echo(f"{count} team record{'s' * (count != 1)} sealed to"
               f" {inert(name, multiline=False)}; they go with the next `export-replies`.")


@cli.command()
@home_option
@passphrase_option
@click.option("--keys-from", "keys_from", type=click.Path(file_okay=False, path_type=Path),
              help="Unlock the key files of this home instead (to check a backup kept"
                   " without its key file).")
def check(home_dir: Path, passphrase_file: Path | None, keys_from: Path | None) -> None:
    """Open every envelope of a home (or a backup copy of one); report what cannot be read."""
    home = Home(home_dir)
    key_home = Home(keys_from) if keys_from is not None else home
    keys = unlock(key_home, passphrase_file)
    if keys_from is not None:
        home.keys = key_home.keys  # the backup's own keys/ may be absent: kept apart
    result = home.check(keys)
    for line in result.problems:
        click.echo(f"Cannot read: {inert(line, multiline=False)}")
    for line in result.aside:
        click.echo(f"Kept aside: {inert(line, multiline=False)}")
    for line in result.notes:
        click.echo(f"Note: {inert(line, multiline=False)}")
    click.echo(f"Opened {result.opened} envelope{'s' * (result.opened != 1)}:"
               f" {len(result.problems)} cannot be read"
               + (f"; {result.not_ours} sealed to other reviewers only" if result.not_ours
                  else "") + ".")
    if result.problems:
        raise ReviewerError(f"{len(result.problems)} envelope(s) in {home_dir} cannot be read")


# --- the desk ------------------------------------------------------------------


@cli.command()
@home_option
@passphrase_option
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Serve on this port of 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open the browser; print the address only.")
@click.option("--idle-minutes", type=click.FloatRange(min=0, min_open=True), default=15.0,
              show_default=True, help="Forget the keys after this long without a request.")
def desk(home_dir: Path, passphrase_file: Path | None, port: int, no_browser: bool,
         idle_minutes: float) -> None:
    """Open the reviewer's desk: these commands as pages in a local browser."""
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    load_state(home)  # a home made before confirmed keys says what it saw first
    from reviewer.desk.server import serve  # here: only the desk needs the web stack

    serve(home, keys, port=port, idle_minutes=idle_minutes, open_browser=not no_browser,
          say=click.echo)


# --- trusted reviewer keys (reviewer.trust) ----------------------------------------


@cli.group("keys")
def keys_group() -> None:
    """The reviewer keys this home seals records and replies to."""


def confirmed_key(pubkey: str, label: str, whose: str, *, yes: bool) -> PublicKey:
    """The key `pubkey` names, once the person has compared its fingerprint with `whose`
    over a separate channel (asked here unless --yes); nothing is added otherwise."""
    try:
        key = PublicKey.from_text(pubkey)
    except InvalidPublicKey as e:
        raise ReviewerError(str(e)) from None
    click.echo(f"{label}: fingerprint {key.fingerprint}", err=True)
    if not yes and not click.confirm(
        f"Did {whose} read you this same fingerprint over a separate channel (in person or"
        " by phone)?",
        err=True,
    ):
        raise ReviewerError("not confirmed; nothing was added")
    return key


@keys_group.command("add")
@home_option
@passphrase_option
@click.argument("pubkey")
@click.option("--name", required=True, help="Whose key this is, e.g. the colleague's name.")
@click.option("--yes", is_flag=True,
              help="Do not ask: you have compared the fingerprint already (for scripts).")
def keys_add(home_dir: Path, passphrase_file: Path | None, pubkey: str, name: str,
             yes: bool) -> None:
    """Trust a colleague's key, after comparing its fingerprint with them."""
    home = Home(home_dir)
    home.require()
    name = name.strip()
    if not name or len(name) > MAX_NAME or inert(name, multiline=False) != name:
        raise ReviewerError(
            f"the name must be 1 to {MAX_NAME} characters on one line, with nothing invisible"
        )
    key = confirmed_key(pubkey, f"Key for {name}", name, yes=yes)
    keys = unlock(home, passphrase_file)  # only the key holder decides whom this home trusts
    load_state(home)  # a home made before confirmed keys says what it saw first
    home.confirm_key(key, name, keys)
    click.echo(f"Confirmed '{name}' ({key.fingerprint}): records and replies from now on are"
               " sealed to this key too.")
    click.echo(f"Your signing key's announcement to {name} waits in the outbox: it goes with"
               " the next `export-replies`.")


@keys_group.command("list")
@home_option
def keys_list(home_dir: Path) -> None:
    """Own, confirmed and unconfirmed keys: name, fingerprint, day added, status."""
    home = Home(home_dir)
    own = home.own_public_keys()
    state = home.load_state()
    lines = [f"(your key)\t{key.fingerprint}\t-\t{'own' if i == 0 else 'own, older'}"
             for i, key in enumerate(own)]
    # Names were checked when added; state.json is only bookkeeping, so escape anyway.
    lines += [f"{inert(c.name, multiline=False)}\t{c.key.fingerprint}\t{inert(c.added)}\t"
              + (f"removed {inert(c.removed)}" if c.removed else "confirmed")
              for c in state.reviewers]
    lines += [f"(unconfirmed)\t{key.fingerprint}\t-\tnamed by the last bundle, not trusted:"
              f" {key.to_text()}" for key in home.unconfirmed_named(state)]
    click.echo("\n".join(lines))


@keys_group.command("remove")
@home_option
@passphrase_option
@click.argument("name_or_fingerprint")
def keys_remove(home_dir: Path, passphrase_file: Path | None, name_or_fingerprint: str) -> None:
    """Stop sealing to a confirmed key (by name or fingerprint)."""
    home = Home(home_dir)
    unlock(home, passphrase_file)
    load_state(home)
    gone = home.unconfirm_key(name_or_fingerprint)
    names = ", ".join(f"'{inert(c.name, multiline=False)}'" for c in gone)
    click.echo(f"Removed {names}: nothing new is sealed to"
               f" {'it' if len(gone) == 1 else 'them'}; what was sealed to it before stays"
               " readable with it. Team records from it received before today stay in the"
               " history; later ones are refused.")


@cli.command("stats")
@home_option
@passphrase_option
@click.option("--since", help="Only cases that arrived from this month on (YYYY-MM).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.option("--csv", "as_csv", is_flag=True,
              help="Non-identifying counts for publication, with small counts suppressed.")
@click.option("--threshold", type=click.IntRange(min=1), default=None,
              help="With --csv: no published count is below this (default 5).")
def stats_command(home_dir: Path, passphrase_file: Path | None, since: str | None, as_json: bool,
           as_csv: bool, threshold: int | None) -> None:
    """The overview: cases by month, state, profession, country, urgency; times; waiting."""
    # Imported here: its libraries (statistics, csv) cost every other command 25 ms.
    from reviewer import stats

    if threshold is None:
        threshold = stats.DEFAULT_THRESHOLD
    if as_json and as_csv:
        raise ReviewerError("choose one of --json and --csv")
    month = stats.parse_month(since) if since is not None else None
    day = today()
    home = Home(home_dir)
    keys = unlock(home, passphrase_file)
    state = load_state(home)
    facts = stats.all_facts(state, home.fresh_index(state, keys), home.team_views_of(state, keys))
    if as_csv:
        published = stats.published_counts(facts, since=month, threshold=threshold)
        click.echo(stats.counts_csv(published, made=day), nl=False)
        return
    figures = stats.overview(facts, today=day, since=month)
    if as_json:
        click.echo(json.dumps(figures.as_json(), ensure_ascii=True))
        return
    click.echo("\n".join(stats.overview_lines(figures)))



def main() -> None:
    cli(prog_name="reviewer")


# The member-city commands register themselves on `cli` (cities, refer, consent, dossier).
from reviewer import referral_commands  # noqa: E402, F401
