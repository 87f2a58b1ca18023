"""A throwaway PostgreSQL server for tests, from the distribution's own binaries.

Why: the server must work on PostgreSQL as well as SQLite (INTAKE_DATABASE_URL), and the
only honest proof is a real server. This module finds PostgreSQL's initdb and
pg_ctl (Debian puts them in /usr/lib/postgresql/<version>/bin), makes a
cluster in a fresh temporary directory, starts it on a free 127.0.0.1 port
with a random password, and removes it all afterwards. Nothing is left
running and no system cluster is touched.

PostgreSQL refuses to run as root, so under root (containers, CI) initdb and
the server run as the `postgres` system user that Debian's package creates,
via runuser, in a directory handed to that user.

Offer its fixtures to every test by naming it as a plugin in tests/conftest.py:

    pytest_plugins = ["tests.harness.postgres_server"]

`postgres_url` is one database for the session; `fresh_postgres_url` is an
empty database per test on the same server. Without PostgreSQL installed the
tests using them skip, except under CI, where they fail (tests/harness/tools.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import LiteralString

import pytest

from tests.harness.tools import missing

# Names PostgreSQL and we both accept without quoting.
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_USER = "intake"


@dataclass(frozen=True)
class Binaries:
    initdb: Path
    pg_ctl: Path


def find_binaries() -> Binaries | None:
    """initdb and pg_ctl of the newest PostgreSQL installed, or None.

    $PG_BINDIR wins if set; then Debian's versioned directories; then PATH
    (other distributions put them there).
    """
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))

    def version(path: str) -> tuple[int, ...]:
        number = Path(path).parent.parent.name
        return tuple(int(p) for p in number.split(".") if p.isdigit())

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    candidates.extend(Path(p).parent for p in debian)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        initdb, pg_ctl = bindir / "initdb", bindir / "pg_ctl"
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return Binaries(initdb, pg_ctl)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresError(RuntimeError):
    """The throwaway server could not be made, started or stopped."""


class PostgresServer:
    """One throwaway cluster. Use as a context manager; `url` is valid inside it."""

    def __init__(self, binaries: Binaries) -> None:
        self.binaries = binaries
        self.password = secrets.token_hex(16)
        self.port = 0
        self.base: Path | None = None
        self._run_as: list[str] = []
        self._started = False

    # -- lifecycle --------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        try:
            self._create()
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        # Not pytest's tmp_path: it lives in a root-only directory that the
        # postgres user could not enter.
        self.base = Path(tempfile.mkdtemp(prefix="refuge-pg-"))
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresError(
                    "running as root, and there is no 'postgres' user to run PostgreSQL as"
                ) from None
            runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
            if runuser is None:
                raise PostgresError("running as root, and runuser (util-linux) is not installed")
            self._run_as = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.base, user="postgres", group="postgres")
        pwfile = self.base / "password"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._run_as:
            shutil.chown(pwfile, user="postgres", group="postgres")
        self._run(
            self.binaries.initdb,
            "--pgdata", str(self.data),
            "--username", _USER,
            "--pwfile", str(pwfile),
            # Password (SCRAM) for every connection, even local ones: any
            # local user could otherwise reach this server while it runs.
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
        )
        pwfile.unlink()

    def _start(self) -> None:
        assert self.base is not None
        # A free port can be taken between choosing it and binding it; try again.
        for _attempt in range(5):
            self.port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-p {self.port}",
                    f"-c unix_socket_directories={self.base}",
                    # A throwaway cluster: durability is not what is tested.
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                ]
            )
            result = self._run(
                self.binaries.pg_ctl, "start", "--wait", "--timeout", "60",
                "--pgdata", str(self.data), "--log", str(self.base / "server.log"),
                "--options", options,
                check=False,
            )
            if result.returncode == 0:
                self._started = True
                return
        raise PostgresError(f"PostgreSQL did not start:\n{self.log_text()}")

    def close(self) -> None:
        """Stop the server (if started) and delete its directory. Safe to call twice."""
        if self._started:
            self._started = False
            self._run(self.binaries.pg_ctl, "stop", "--wait", "--mode", "fast", "--pgdata", str(self.data),
                      check=False)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    # -- using it ---------------------------------------------------------

    @property
    def data(self) -> Path:
        assert self.base is not None, "the server is not set up"
        return self.base / "data"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for `database` on this server."""
        return f"postgresql+psycopg://{_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Make a database and return its URL: empty, or a copy of database `template`
        (which no one may be connected to while it is copied)."""
        if template is None:
            self._admin("CREATE DATABASE {}", name)
        else:
            self._admin("CREATE DATABASE {} TEMPLATE {}", name, template)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def log_text(self) -> str:
        if self.base is None:
            return ""
        try:
            return (self.base / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    # -- internals --------------------------------------------------------

    @staticmethod
    def _checked(name: str) -> str:
        if not _DB_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        return name

    def _admin(self, statement: LiteralString, *names: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=_USER, password=self.password, dbname="postgres",
            autocommit=True,  # CREATE/DROP DATABASE cannot run in a transaction
        ) as conn:
            conn.execute(sql.SQL(statement).format(*(sql.Identifier(self._checked(n)) for n in names)))

    def _run(self, program: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command: Sequence[str] = [*self._run_as, str(program), *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=self.base, check=False
        )
        if check and result.returncode != 0:
            said = result.stderr.strip() or result.stdout.strip()
            raise PostgresError(f"{program.name} failed ({result.returncode}): {said}")
        return result


# -- pytest fixtures --------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole test session."""
    binaries = find_binaries()
    if binaries is None:
        missing("PostgreSQL (initdb and pg_ctl; Debian package postgresql)")
        raise AssertionError("unreachable")
    with PostgresServer(binaries) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a database that lasts the whole session (create your tables freely)."""
    return postgres_server.create_database("intake_session")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of an empty database for this test only, dropped afterwards."""
    name = "t_" + secrets.token_hex(8)
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)
