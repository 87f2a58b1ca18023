"""The version is defined once (crypto.__version__) and every program prints it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from click.testing import CliRunner

import crypto
from crypto.cli import cli as crypto_cli
from intake import create_app
from reviewer.cli import cli as reviewer_cli

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_distribution_carries_the_one_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", crypto.__version__)
    assert importlib.metadata.version("refuge-intake") == crypto.__version__


def test_every_program_prints_it(tmp_path: Path) -> None:
    expected = f"refuge-intake {crypto.__version__}\n"
    assert CliRunner().invoke(reviewer_cli, ["--version"]).output == expected
    assert CliRunner().invoke(crypto_cli, ["--version"]).output == expected
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path / "data"})
    assert app.test_cli_runner().invoke(args=["version"]).output == expected


def test_the_changelog_has_a_section_for_it() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    assert re.search(rf"^## {re.escape(crypto.__version__)} — \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
