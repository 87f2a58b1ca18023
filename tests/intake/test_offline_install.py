"""The reviewer's offline install: `make wheelhouse`, then an install with no index at all.

Building the wheelhouse downloads the locked wheels (pip checks every hash), as the
colleague with a networked machine does. The install then runs as on the offline
laptop: a venv made `--without-pip`, pip from its wheel, `--no-index`, every hash
required, and no pip configuration or environment that could point elsewhere.
The installed `reviewer` then imports a bundle the real server exported.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.test_locks import LOCKFILES

from .transfer_helpers import new_applicant

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"
SERVER_ONLY = ("sqlalchemy", "alembic", "psycopg", "gunicorn", "flask-babel")


def offline_env(tmp: Path) -> dict[str, str]:
    """The laptop's environment: no pip configuration, no index, no extra wheel folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", HOME=str(tmp))
    return env


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "wheelhouse"
    printed = run(sys.executable, ROOT / "tools" / "wheelhouse.py", out)
    digest = hashlib.sha256((out / "SHA256SUMS").read_bytes()).hexdigest()
    assert f"SHA-256 of {out / 'SHA256SUMS'}: {digest}" in printed
    return out


def test_every_file_is_summed_and_every_locked_package_has_a_wheel_for_each_python(
        wheelhouse: Path) -> None:
    sums: dict[str, str] = {}
    for line in (wheelhouse / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    assert set(sums) == {p.name for p in wheelhouse.iterdir()} - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((wheelhouse / name).read_bytes()).hexdigest() == digest, name

    wheels = [parse_wheel_filename(p.name) for p in wheelhouse.glob("*.whl")]
    # Debian 12's glibc (2.36) runs any manylinux wheel from 2.17 to 2.36.
    machine = os.uname().machine
    platforms = [*(f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)),
                 f"manylinux2014_{machine}"]
    for python in ((3, 11), (3, 13)):
        accepted = {*cpython_tags(python, platforms=platforms),
                    *compatible_tags(python, platforms=platforms)}
        for pin in LOCKFILES.read_locks()["reviewer"].values():
            assert any(name == canonicalize_name(pin.name) and str(version) == pin.version
                       and tags & accepted for name, version, _, tags in wheels), (python, pin.name)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_offline_install_reads_a_real_bundle(wheelhouse: Path, make_app, tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    venv = tmp_path / "V"
    run(sys.executable, "-m", "venv", "--without-pip", venv, env=env)
    python = venv / "bin" / "python"
    (pip_wheel,) = wheelhouse.glob("pip-*.whl")
    offline = ("--no-index", "--find-links", wheelhouse, "--require-hashes")
    run(python, pip_wheel / "pip", "install", "--quiet", *offline, "-r", wheelhouse / "pip.txt", env=env)
    run(python, "-m", "pip", "install", "--quiet", *offline, "-r", wheelhouse / "requirements.txt", env=env)

    installed = {canonicalize_name(p["name"]) for p in json.loads(
        run(python, "-m", "pip", "list", "--format", "json", env=env))}
    assert {"refuge-intake", "pynacl", "click", "pip"} <= installed
    assert not installed & set(SERVER_ONLY)
    assert run(venv / "bin" / "reviewer", "--version", env=env).strip() == "refuge-intake 0.1.0"
    assert run(python, "-m", "crypto", "--version", env=env).strip() == "refuge-intake 0.1.0"
    # The desk's libraries (Flask, waitress, Pillow, pypdf) came from the wheelhouse too.
    assert "127.0.0.1" in run(venv / "bin" / "reviewer", "desk", "--help", env=env)
    run(python, "-c", "import reviewer.desk.app, reviewer.metadata, waitress", env=env)

    # The installed tool, on a bundle the real server exported.
    home, pass_file = tmp_path / "home", tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    reviewer = venv / "bin" / "reviewer"
    unlock = ("--home", home, "--passphrase-file", pass_file)
    run(reviewer, "init", *unlock, "--insecure-test-limits", env=env)
    public = run(reviewer, "pubkey", "--home", home, env=env).splitlines()[0]
    app: Flask = make_app(with_key=False)
    flask = app.test_cli_runner()
    assert flask.invoke(args=["keys", "add", public, "--name", "offline reviewer"]).exit_code == 0
    case, _ = new_applicant(app.test_client(), name="Offline Test")
    bundle = tmp_path / "pickup.bundle"
    assert flask.invoke(args=["export", str(bundle)]).exit_code == 0

    assert "1 new case" in run(reviewer, "import", *unlock, bundle, env=env)
    listed = json.loads(run(reviewer, "list", *unlock, "--json", env=env))
    assert [(c["case"], c["name"]) for c in listed] == [(case, "Offline Test")]
