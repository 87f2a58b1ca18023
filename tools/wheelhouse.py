"""Build the offline reviewer install: a folder of wheels to carry to an air-gapped laptop.

    python tools/wheelhouse.py dist/wheelhouse                 (what `make wheelhouse` runs)
    python tools/wheelhouse.py OUT --python-version 3.12 --arch aarch64

The folder holds the project's own wheel, every wheel that requirements/reviewer.txt
locks (downloaded with their hashes checked) for each target Python, pip's own wheel
(from requirements/pip.txt, so a venv made `--without-pip` can install it), two
requirements files with every hash (pip.txt and requirements.txt), INSTALL.txt, and
SHA256SUMS over all of them. It prints the SHA-256 of SHA256SUMS: the number a
reviewer compares over a separate channel before trusting anything on the stick
(docs/reviewer.md, "Installing offline").

Targets by default: CPython 3.11 (Debian 12) and 3.13 (Debian 13, Tails 7), on Linux
with glibc 2.17 to 2.36 (Pillow's wheels need 2.28; Debian 12 has 2.36; a wheel for a
newer glibc would not run there), on this machine's architecture. Downloading needs the package index; the
laptop needs nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lockfiles import ROOT, lock_path, read_lock

PYTHONS = ("3.11", "3.13")
OLDEST_GLIBC, NEWEST_GLIBC = 17, 36
SUMS = "SHA256SUMS"

INSTALL = """\
Offline install of the refuge-intake reviewer tool {version}.
Full steps, and what to do when a check fails: docs/reviewer.md, "Installing offline".

1. Compare, over a separate channel (read aloud, like a key fingerprint), the
   SHA-256 of the file SHA256SUMS:
       sha256sum SHA256SUMS
2. Check every file against it (every line must say OK):
       sha256sum -c SHA256SUMS
3. Make the virtual environment and install, from this folder (W below) only:
       python3 -m venv --without-pip V
       V/bin/python W/{pip_wheel}/pip install --no-index --find-links W --require-hashes -r W/pip.txt
       V/bin/python -m pip install --no-index --find-links W --require-hashes -r W/requirements.txt
       V/bin/reviewer --version
"""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def platforms(arch: str) -> list[str]:
    """Every manylinux tag a Debian 12 or newer system of this architecture accepts.

    pip's --platform takes tags literally (manylinux_2_36 does not admit a
    manylinux_2_17 wheel), so each glibc version is named.
    """
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(OLDEST_GLIBC, NEWEST_GLIBC + 1)]
    return [*tags, f"manylinux2014_{arch}"]


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=True)  # noqa: S603 (our own pip)


def build(out: Path, pythons: list[str], arch: str) -> str:
    """Fill `out` (made anew) and return the SHA-256 of its SHA256SUMS."""
    if out.exists():
        if any(out.iterdir()) and not (out / SUMS).exists():
            raise SystemExit(f"wheelhouse: {out} exists and is not a wheelhouse; not touching it")
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # The project's wheel, built by the locked setuptools already in this venv.
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(ROOT))
    (project,) = out.glob("refuge_intake-*.whl")
    version = project.name.split("-")[1]

    # Every locked dependency, for each target Python; pip checks each hash.
    tags = [arg for tag in platforms(arch) for arg in ("--platform", tag)]
    for python in pythons:
        pip("download", "--require-hashes", "--only-binary", ":all:", "--no-deps",
            "--implementation", "cp", "--python-version", python, *tags,
            "--dest", str(out), "-r", str(lock_path("reviewer")))

    # pip itself, so that a venv made without pip can install it from here.
    pip_pin = read_lock(lock_path("pip"))["pip"]
    (out / "pip.txt").write_text(pip_pin.text, "utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        only_pip = Path(tmp) / "pip.txt"
        only_pip.write_text(pip_pin.text, "utf-8")
        pip("download", "--require-hashes", "--only-binary", ":all:", "--no-deps",
            "--dest", str(out), "-r", str(only_pip))
    (pip_wheel,) = out.glob("pip-*.whl")

    # One requirements file for the whole install: the lock and the project's wheel.
    lock = lock_path("reviewer").read_text("utf-8")
    (out / "requirements.txt").write_text(
        lock + f"refuge-intake=={version} \\\n    --hash=sha256:{sha256(project)}\n", "utf-8")
    (out / "INSTALL.txt").write_text(INSTALL.format(version=version, pip_wheel=pip_wheel.name), "utf-8")

    lines = [f"{sha256(p)}  {p.name}\n" for p in sorted(out.iterdir()) if p.name != SUMS]
    (out / SUMS).write_text("".join(lines), "utf-8")
    return sha256(out / SUMS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--python-version", action="append", dest="pythons",
                        help=f"a target Python, repeatable (default: {', '.join(PYTHONS)})")
    parser.add_argument("--arch", default=platform.machine(),
                        help="target architecture, e.g. x86_64 or aarch64 (default: this machine's)")
    args = parser.parse_args(argv)
    digest = build(args.out, args.pythons or list(PYTHONS), args.arch)
    count = len(list(args.out.glob("*.whl")))
    print(f"wheelhouse: {count} wheels in {args.out}")
    print(f"SHA-256 of {args.out / SUMS}: {digest}")
    print("Read that number to the reviewer over a separate channel (docs/reviewer.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
