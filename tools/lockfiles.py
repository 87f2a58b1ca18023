"""Read the hashed lock files in requirements/ (written by `make lock`).

A lock is a pip requirements file: one entry per package, `name==version`, an
optional `; marker`, then `--hash=sha256:...` continuation lines and `# via`
comments. This reads just that shape, for the wheelhouse builder and for the test
that keeps the locks and pyproject.toml in agreement.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
#: The lock of each install target (requirements/README.md).
LOCKS = ("pip", "uv", "reviewer", "server", "dev")

_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def canonical(name: str) -> str:
    """A package name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: str | None
    hashes: tuple[str, ...]
    via: tuple[str, ...]  # what asked for it, from the `# via` comments
    text: str  # the entry as written, hash lines included, comments left out


def read_lock(path: Path) -> dict[str, Pin]:
    """Every pinned package of a lock file, by canonical name."""
    pins: dict[str, Pin] = {}
    current: list[str] = []
    via: list[str] = []

    def finish() -> None:
        if not current:
            return
        found = _ENTRY.match(current[0])
        if not found:
            raise ValueError(f"{path.name}: not a pinned entry: {current[0]!r}")
        hashes = tuple(h for line in current for h in _HASH.findall(line))
        if not hashes:
            raise ValueError(f"{path.name}: {found.group(1)} has no hash")
        name = canonical(found.group(1))
        if name in pins:
            raise ValueError(f"{path.name}: {name} is pinned twice")
        pins[name] = Pin(name, found.group(2), found.group(3) or None, hashes, tuple(via),
                         "\n".join(current) + "\n")
        current.clear()
        via.clear()

    for raw in path.read_text("utf-8").splitlines():
        line = raw.rstrip()
        comment = line.strip().removeprefix("#").strip()
        if line.strip().startswith("#"):
            if current and comment.startswith("via "):
                via.append(comment.removeprefix("via ").strip())
            elif current and comment != "via" and line.startswith("    #  "):
                via.append(comment)
            continue
        if not line.strip():
            continue
        if line.startswith((" ", "\t")):
            if not current:
                raise ValueError(f"{path.name}: a continuation line with no entry: {line!r}")
            current.append(line)
        else:
            finish()
            current.append(line)
    finish()
    return pins


def lock_path(target: str) -> Path:
    return REQUIREMENTS / f"{target}.txt"


#: What each lock must hold: the pyproject.toml extras (None: not the project's
#: dependencies at all) and the requirements/*.in files compiled into it (`make lock`).
TARGETS: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = {
    "pip": (None, ("pip.in",)),
    "uv": (None, ("uv.in",)),
    "reviewer": ((), ()),
    "server": (("server",), ()),
    "dev": (("server", "test", "audit"), ("dev.in", "pip.in")),
}
PROJECT_VIA = "refuge-intake (pyproject.toml)"


def wanted(project: dict[str, Any], target: str) -> list[Requirement]:
    """The requirements a target's lock is compiled from."""
    extras, inputs = TARGETS[target]
    lines: list[str] = []
    if extras is not None:
        lines += project["dependencies"]
        for extra in extras:
            lines += project["optional-dependencies"][extra]
    for name in inputs:
        for raw in (REQUIREMENTS / name).read_text("utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                lines.append(line)
    return [Requirement(line) for line in lines]


def disagreements(project: dict[str, Any], locks: dict[str, dict[str, Pin]]) -> list[str]:
    """Every way the locks and pyproject.toml's [project] table disagree, one line each."""
    found: list[str] = []
    versions: dict[str, set[str]] = {}
    for pins in locks.values():
        for pin in pins.values():
            versions.setdefault(pin.name, set()).add(pin.version)
    for name, seen in sorted(versions.items()):
        if len(seen) > 1:
            found.append(f"{name} is locked at {', '.join(sorted(seen))} in different locks")
    for target, pins in locks.items():
        asked = {canonical(r.name): r for r in wanted(project, target)}
        for name, requirement in sorted(asked.items()):
            locked = pins.get(name)
            if locked is None:
                found.append(f"{target}.txt: {requirement} is asked for but not locked: run `make lock`")
            elif not requirement.specifier.contains(locked.version, prereleases=True):
                found.append(f"{target}.txt: {name}=={locked.version} is outside {requirement}: "
                             "run `make lock`")
        for name, pin in sorted(pins.items()):
            direct = any(v == PROJECT_VIA or v.startswith("-r requirements/") for v in pin.via)
            if direct and name not in asked:
                found.append(f"{target}.txt: {name} is locked as asked for, but nothing asks for it: "
                             "run `make lock`")
    return found


def read_project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def read_locks() -> dict[str, dict[str, Pin]]:
    return {target: read_lock(lock_path(target)) for target in LOCKS}
