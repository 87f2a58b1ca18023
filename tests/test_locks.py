"""The hashed locks in requirements/ agree with pyproject.toml, and every install uses them.

No network: this reads the committed files only. `make lock` is what fixes a
disagreement found here.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


LOCKFILES = _tool("lockfiles")


def test_the_locks_agree_with_pyproject() -> None:
    assert LOCKFILES.disagreements(LOCKFILES.read_project(), LOCKFILES.read_locks()) == []


def test_every_locked_package_has_an_exact_version_and_a_hash() -> None:
    for target, pins in LOCKFILES.read_locks().items():
        assert pins, target
        for pin in pins.values():
            assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", pin.version), (target, pin.name)
            assert pin.hashes, (target, pin.name)


def test_the_reviewer_lock_holds_nothing_of_the_server() -> None:
    reviewer = set(LOCKFILES.read_locks()["reviewer"])
    assert {"pynacl", "click"} <= reviewer
    assert not reviewer & {"sqlalchemy", "alembic", "psycopg", "psycopg-binary", "gunicorn", "flask-babel",
                            "boto3", "botocore", "moto"}


def test_a_disagreement_is_reported() -> None:
    project, locks = LOCKFILES.read_project(), LOCKFILES.read_locks()

    added = copy.deepcopy(project)
    added["optional-dependencies"]["server"].append("zstandard>=0.22")
    assert LOCKFILES.disagreements(added, locks) == [
        "server.txt: zstandard>=0.22 is asked for but not locked: run `make lock`",
        "dev.txt: zstandard>=0.22 is asked for but not locked: run `make lock`",
    ]

    removed = copy.deepcopy(project)
    removed["dependencies"] = [d for d in removed["dependencies"] if not d.startswith("click")]
    found = LOCKFILES.disagreements(removed, locks)
    assert "reviewer.txt: click is locked as asked for, but nothing asks for it: run `make lock`" in found

    narrowed = copy.deepcopy(project)
    narrowed["dependencies"] = ["pynacl>=99", "click>=8.1"]
    found = LOCKFILES.disagreements(narrowed, locks)
    assert any(line.startswith("reviewer.txt: pynacl==") and "outside pynacl>=99" in line for line in found)

    split = copy.deepcopy(locks)
    pin = split["reviewer"]["click"]
    split["reviewer"]["click"] = type(pin)(pin.name, "0.0.1", pin.marker, pin.hashes, pin.via, pin.text)
    found = LOCKFILES.disagreements(project, split)
    assert any(line.startswith("click is locked at 0.0.1, ") for line in found)


def test_a_lock_entry_without_a_hash_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "x.txt"
    lock.write_text("click==8.1.7\n    # via refuge-intake (pyproject.toml)\n")
    with pytest.raises(ValueError, match="click has no hash"):
        LOCKFILES.read_lock(lock)
    lock.write_text("click>=8.1 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(ValueError, match="not a pinned entry"):
        LOCKFILES.read_lock(lock)


@pytest.mark.parametrize("path", ["Makefile", ".ci/audit.sh", "docs/deploy.md", "docs/reviewer.md",
                                  "README.md", "deploy/refuge-intake.service"])
def test_every_install_path_installs_from_the_lock(path: str) -> None:
    # Every `pip install` the project tells anyone to run either checks hashes
    # against a committed lock or installs the project itself without its dependencies.
    text = (ROOT / path).read_text("utf-8")
    installs = [line.strip() for line in text.splitlines() if re.search(r"\bpip3? install\b", line)]
    for line in installs:
        assert ("--require-hashes" in line or "--no-deps" in line), (path, line)
