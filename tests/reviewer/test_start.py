"""What a reviewer command loads before it starts (docs/performance.md, "The command's start").

`reviewer list` of a home without team records needs neither the bundle
format, nor the checks of an import, nor the team modules: importing them cost
every command about a third of its start. They are imported by the verbs that
use them; these tests fail if one of them is imported at the top again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from crypto import team
from crypto.bundle import TruncatedBundle
from reviewer.cli import cli, failure
from reviewer.errors import EXIT_BUNDLE
from reviewer.home import RECOMMENDATIONS, UNVERIFIED
from reviewer.index import CONFLICT

from .test_cli import bundle_two, make_env

REPO = Path(__file__).parents[2]

#: What neither `import reviewer.cli` nor `reviewer list` of a home without team
#: records may load.
NOT_AT_START = (
    "crypto.bundle",
    "crypto.documents",
    "crypto.team",
    "reviewer.checks",
    "reviewer.records",
    "reviewer.team",
    "reviewer.teamstore",
    "reviewer.teamview",
)

#: Runs the CLI with the arguments given, then prints which of NOT_AT_START it loaded.
LOADED_AFTER = """
import json, sys
from reviewer.cli import cli
try:
    cli(sys.argv[2:], prog_name="reviewer", standalone_mode=False)
finally:
    print(json.dumps(sorted(m for m in sys.modules if m in json.loads(sys.argv[1]))))
"""


def loaded_after(*args: str) -> list[str]:
    """Which modules of NOT_AT_START a fresh interpreter holds after `reviewer ARGS`."""
    out = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER, json.dumps(NOT_AT_START), *args],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=120,
    ).stdout
    loaded: list[str] = json.loads(out.splitlines()[-1])
    return loaded


def test_importing_the_command_loads_none_of_the_heavy_modules() -> None:
    assert loaded_after("--version") == []


def test_listing_a_home_without_team_records_loads_none_of_them(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    path, a, b = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    args = ("list", "--home", str(env.home), "--passphrase-file", str(env.pass_file))
    assert loaded_after(*args) == []
    listed = env.run("list", "--json")
    assert listed.exit_code == 0, listed.output
    assert {r["case"] for r in json.loads(listed.output)} == {a.case, b.case}


def test_the_state_choices_are_the_team_records_states() -> None:
    """The choices are spelled with reviewer.home's names, not imported from crypto.team."""

    def choices(command: click.Command, name: str) -> list[str]:
        param = next(p for p in command.params if p.name == name)
        assert isinstance(param.type, click.Choice)
        return list(param.type.choices)

    assert isinstance(cli, click.Group)
    assert choices(cli.commands["state"], "new_state") == list(team.STATES)
    assert choices(cli.commands["list"], "state_filter") == [*team.STATES, CONFLICT]
    assert (UNVERIFIED, *RECOMMENDATIONS) == team.STATES


def test_a_bundle_error_still_has_its_exit_code() -> None:
    """BundleError's class is imported on the first failure, not at the start."""
    shown = failure(TruncatedBundle())
    assert shown is not None and shown.exit_code == EXIT_BUNDLE
