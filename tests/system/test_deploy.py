"""The production files in deploy/ are checked by the real programs that read them.

gunicorn loads its config and serves a tiny WSGI app (tests/harness/deploy_app.py);
tor verifies the torrc; systemd-analyze verifies the units. Where a program
is missing the test skips locally and fails in CI (tests/harness/tools.py).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness.deploy_app import CANARY
from tests.harness.tools import cannot_run, missing, require_program

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
TORRC = DEPLOY / "torrc"
GUNICORN = (sys.executable, "-m", "gunicorn")
# The fixtures postgres_server, postgres_url and fresh_postgres_url.
pytest_plugins = ["tests.harness.postgres_server"]

UNITS = ("refuge-intake.service", "refuge-intake-purge.service", "refuge-intake-purge.timer")


# --- gunicorn ------------------------------------------------------------------


def gunicorn_env(home: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_GUNICORN_", "GUNICORN_"))}
    # gunicorn 25.1+ would put a control socket under $HOME unless told not to;
    # a private HOME lets the test see that it did not.
    env["HOME"] = str(home)
    env.pop("XDG_RUNTIME_DIR", None)
    env.update(overrides)
    return env


def check_config(home: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GUNICORN, "--check-config", "-c", str(GUNICORN_CONF), "tests.harness.deploy_app:app"],
        cwd=REPO,
        env=gunicorn_env(home, **overrides),
        capture_output=True,
        text=True,
        timeout=60,
    )


def load_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The settings as gunicorn itself resolves them from the config file."""
    from gunicorn.app.base import Application

    class Probe(Application):  # type: ignore[misc]
        def init(self, parser: Any, opts: Any, args: Any) -> None:
            return None

        def load_config(self) -> None:
            self.load_config_from_file(str(GUNICORN_CONF))

        def load(self) -> None:
            return None

    for name in list(os.environ):
        if name.startswith("INTAKE_GUNICORN_"):
            monkeypatch.delenv(name)
    # gunicorn registers the file as module "__config__"; do not leak it.
    monkeypatch.setitem(sys.modules, "__config__", None)
    return Probe().cfg


def test_gunicorn_check_config_passes(tmp_path: Path) -> None:
    result = check_config(tmp_path)
    assert result.returncode == 0, result.stderr


def test_gunicorn_settings_as_gunicorn_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_gunicorn_config(monkeypatch)
    assert cfg.accesslog is None  # no access log, ever
    assert cfg.errorlog == "-"
    assert cfg.logger_class.__name__ == "RedactingLogger"
    assert cfg.bind == ["127.0.0.1:8000"]
    # gthread with a deadline on slow requests (intake/gunicorn_worker.py), and enough
    # threads and connections that 200 slow clients do not fill it (tests/system/test_proof_slow.py).
    assert cfg.worker_class_str == "intake.gunicorn_worker.PacedThreadWorker"
    assert 2 <= cfg.workers <= 4
    assert cfg.threads >= 200
    assert cfg.worker_connections >= 2 * cfg.threads
    assert cfg.timeout >= 300
    assert 0 < cfg.graceful_timeout <= cfg.timeout
    assert cfg.max_requests > 0 and cfg.max_requests_jitter > 0
    assert cfg.limit_request_line <= 4094 and cfg.limit_request_fields <= 100
    assert cfg.forwarded_allow_ips == []  # Tor delivers applicants from 127.0.0.1
    assert cfg.umask == 0o077


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "192.0.2.10:80", "[::]:8000", "example.org:80", "8000"])
def test_gunicorn_refuses_a_bind_off_loopback(tmp_path: Path, bind: str) -> None:
    result = check_config(tmp_path, INTAKE_GUNICORN_BIND=bind)
    assert result.returncode != 0
    assert "INTAKE_GUNICORN_BIND" in result.stderr


@pytest.mark.parametrize("bind", ["127.0.0.1:9000", "[::1]:8000", "localhost:8000", "unix:/run/x.sock"])
def test_gunicorn_accepts_a_loopback_bind(tmp_path: Path, bind: str) -> None:
    result = check_config(tmp_path, INTAKE_GUNICORN_BIND=bind)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("INTAKE_GUNICORN_WORKERS", "0"), ("INTAKE_GUNICORN_WORKERS", "two"),
     ("INTAKE_GUNICORN_THREADS", "2000"), ("INTAKE_BODY_MIN_RATE", "slow"),
     ("INTAKE_BODY_GRACE_SECONDS", "0")],
)
def test_gunicorn_refuses_a_bad_count(tmp_path: Path, name: str, value: str) -> None:
    result = check_config(tmp_path, **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RunningGunicorn:
    """gunicorn with the production config serving tests/harness/deploy_app.py on a free port.

    Use as a context manager; after it exits, `output` holds everything the
    server wrote (its error log goes to stderr, as under systemd).
    """

    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.env = env
        self.port = free_port()
        self.output = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> RunningGunicorn:
        self._proc = subprocess.Popen(
            [*GUNICORN, "-c", str(GUNICORN_CONF), "tests.harness.deploy_app:app"],
            cwd=REPO,
            env=gunicorn_env(
                self.home,
                INTAKE_GUNICORN_BIND=f"127.0.0.1:{self.port}",
                INTAKE_GUNICORN_WORKERS="1",
                **self.env,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise AssertionError("gunicorn did not start:\n" + self.output) from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        try:
            self.output, _ = self._proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.output, _ = self._proc.communicate()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def test_gunicorn_serves_and_ignores_forwarding_headers(tmp_path: Path) -> None:
    with RunningGunicorn(tmp_path) as server:
        # What any applicant could send through Tor, which connects from 127.0.0.1.
        forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-For": "203.0.113.9"}
        status, body = server.get("/page", forged)
    assert status == 200
    seen = json.loads(body)
    assert seen["scheme"] == "http"
    assert seen["script_name"] == ""
    assert seen["remote_addr"] == "127.0.0.1"


def test_gunicorn_tells_systemd_it_is_ready(tmp_path: Path) -> None:
    """refuge-intake.service is Type=notify: gunicorn must send READY=1 on $NOTIFY_SOCKET."""
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(30)
        with RunningGunicorn(tmp_path, NOTIFY_SOCKET=address):
            message = listener.recv(4096)
    assert b"READY=1" in message.split(b"\n")


def test_gunicorn_logs_no_request_data(tmp_path: Path) -> None:
    with RunningGunicorn(tmp_path) as server:
        assert server.get("/page?q=" + CANARY)[0] == 200
        assert server.get("/boom")[0] == 500  # the app fails with CANARY in its message
        # A malformed header, which gunicorn's own message would quote.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01Header: " + CANARY.encode() + b"\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 400")
    output = server.output
    assert CANARY not in output
    assert "/boom" not in output and "/page" not in output
    assert "GET" not in output  # no access-log lines
    # The failures are still reported, by kind and code location.
    assert "Error handling request (details withheld): RuntimeError" in output
    assert 'deploy_app.py", line' in output
    assert "Invalid request refused (details withheld)" in output
    assert not (tmp_path / ".gunicorn").exists(), "gunicorn made a control socket"


# --- the Python stack under MemoryDenyWriteExecute --------------------------------

# Run in a child: turn on the kernel's W^X policy for the process (prctl
# PR_SET_MDWE, Linux 6.3+, the same rule systemd's MemoryDenyWriteExecute=
# enforces with seccomp), prove it is on, then exercise every compiled
# dependency the server loads.
MDWE_PROBE = r"""
import ctypes, importlib.util, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    pass
else:
    sys.exit("W+X memory was still allowed: the probe proves nothing")

from crypto import codename, envelope, keys, params
key = keys.PrivateKey.generate()
assert envelope.decrypt_bytes(envelope.encrypt_bytes(b"x" * 200000, [key.public_key]), [key]) == b"x" * 200000
codename.derive(codename.generate_codename(), b"s" * 16, limits=params.TEST_LIMITS)

import sqlalchemy
engine = sqlalchemy.create_engine("sqlite://")
with engine.begin() as conn:
    assert conn.execute(sqlalchemy.text("select 41 + 1")).scalar() == 42
import psycopg
assert psycopg.pq.__impl__ in ("binary", "c"), psycopg.pq.__impl__
import flask, flask_wtf, gunicorn.workers.gthread
app = flask.Flask("probe")
app.get("/")(lambda: "ok")
assert app.test_client().get("/").data == b"ok"
if importlib.util.find_spec("intake") is not None:  # the server, once merged
    import intake
pg_url = os.environ.get("PROBE_PG_URL")
if pg_url:  # libpq from psycopg's binary wheel, talking to a real server
    engine = sqlalchemy.create_engine(pg_url)
    with engine.begin() as conn:
        assert conn.execute(sqlalchemy.text("select 41 + 1")).scalar() == 42
    engine.dispose()
print("ok")
"""


def run_mdwe_probe(**env: str) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_MDWE is Linux only")
    result = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_python_stack_runs_without_writable_executable_memory() -> None:
    run_mdwe_probe()


def test_postgresql_client_runs_without_writable_executable_memory(postgres_url: str) -> None:
    run_mdwe_probe(PROBE_PG_URL=postgres_url)


# --- tor -------------------------------------------------------------------------


def torrc_options(text: str) -> list[tuple[str, str]]:
    options = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            options.append((key, value.strip()))
    return options


def runnable_torrc(tmp_path: Path, extra: str = "") -> Path:
    """deploy/torrc with its directories moved under tmp_path (0700, as tor insists)."""
    data = tmp_path / "tor-data"
    service = tmp_path / "tor-service"
    for d in (data, service):
        d.mkdir(mode=0o700)
    text = TORRC.read_text()
    text, n_data = re.subn(r"(?m)^DataDirectory .*$", f"DataDirectory {data}", text)
    text, n_service = re.subn(r"(?m)^HiddenServiceDir .*$", f"HiddenServiceDir {service}/", text)
    assert n_data == 1 and n_service == 1
    torrc = tmp_path / "torrc"
    torrc.write_text(text + extra)
    return torrc


def verify_torrc(tor: str, torrc: Path, defaults: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tor, "--verify-config", "--defaults-torrc", str(defaults), "-f", str(torrc)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_torrc_verifies(tmp_path: Path) -> None:
    tor = require_program("tor")
    defaults = tmp_path / "empty-defaults"
    defaults.write_text("")
    result = verify_torrc(tor, runnable_torrc(tmp_path), defaults)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout


def test_torrc_verifies_under_debians_service_defaults(tmp_path: Path) -> None:
    """As tor@default runs it: Debian's defaults file first, as user debian-tor."""
    tor = require_program("tor")
    defaults = Path("/usr/share/tor/tor-service-defaults-torrc")
    if not defaults.exists():
        missing(f"Debian's tor package ({defaults})")
    if os.geteuid() != 0:
        cannot_run("needs root, to hand the directories to debian-tor")
    # tor drops to debian-tor before it checks the directories, so they must
    # sit where that user can reach them (pytest's tmp_path is root-only).
    with tempfile.TemporaryDirectory(prefix="torrc-") as base:
        os.chmod(base, 0o711)
        torrc = runnable_torrc(Path(base))
        for d in ("tor-data", "tor-service"):
            shutil.chown(Path(base) / d, user="debian-tor", group="debian-tor")
        result = verify_torrc(tor, torrc, defaults)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tor_rejects_a_broken_torrc(tmp_path: Path) -> None:
    """The check above can fail: a bad value in the same file is refused."""
    tor = require_program("tor")
    defaults = tmp_path / "empty-defaults"
    defaults.write_text("")
    result = verify_torrc(tor, runnable_torrc(tmp_path, "HiddenServicePoWDefensesEnabled 2\n"), defaults)
    assert result.returncode != 0


def test_torrc_points_at_gunicorn_with_defences_on(monkeypatch: pytest.MonkeyPatch) -> None:
    options = torrc_options(TORRC.read_text())
    single = dict(options)
    assert len(single) == len(options), "an option is set twice"
    cfg = load_gunicorn_config(monkeypatch)
    assert single["HiddenServicePort"] == f"80 {cfg.bind[0]}"
    assert single["HiddenServiceVersion"] == "3"
    assert single["HiddenServicePoWDefensesEnabled"] == "1"
    assert int(single["HiddenServicePoWQueueRate"]) > 0
    assert int(single["HiddenServicePoWQueueBurst"]) >= int(single["HiddenServicePoWQueueRate"])
    assert single["HiddenServiceEnableIntroDoSDefense"] == "1"
    assert single["SocksPort"] == "0"
    assert single["HiddenServiceNonAnonymousMode"] == "0"
    assert single["SafeLogging"] == "1"
    keys = [k for k, _ in options]
    assert keys.index("HiddenServiceDir") < keys.index("HiddenServicePort")  # the port belongs to it


# --- systemd -----------------------------------------------------------------------


def unit_settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}}; systemd allows repeated keys."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: setting outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a setting: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


HARDENING = {
    "User": "refuge-intake",
    "EnvironmentFile": "/etc/refuge-intake/env",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/refuge-intake",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
    "LimitCORE": "0",  # a core dump holds whatever plaintext was in memory
    "MemoryDenyWriteExecute": "yes",
}


@pytest.mark.parametrize("unit", ["refuge-intake.service", "refuge-intake-purge.service"])
def test_service_units_are_confined(unit: str) -> None:
    service = unit_settings(DEPLOY / unit)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], key
    assert service["SystemCallFilter"][0] == "@system-service"


def test_server_unit_runs_gunicorn_with_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    service = unit_settings(DEPLOY / "refuge-intake.service")["Service"]
    (exec_start,) = service["ExecStart"]
    assert exec_start.split()[0].endswith("/bin/gunicorn")
    assert "-c /opt/refuge-intake/src/deploy/gunicorn.conf.py" in exec_start
    assert exec_start.endswith("intake:create_app()")
    # systemd must wait for gunicorn's graceful stop before it kills.
    cfg = load_gunicorn_config(monkeypatch)
    assert int(service["TimeoutStopSec"][0]) > cfg.graceful_timeout
    assert service["KillMode"] == ["mixed"]


def test_purge_runs_daily() -> None:
    service = unit_settings(DEPLOY / "refuge-intake-purge.service")["Service"]
    assert service["ExecStart"] == ["/opt/refuge-intake/bin/flask --app intake purge"]
    assert service["Type"] == ["oneshot"]
    timer = unit_settings(DEPLOY / "refuge-intake-purge.timer")
    assert timer["Timer"]["OnCalendar"] == ["daily"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert "Unit" not in timer["Timer"]  # so it starts the service of the same name
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = require_program("systemd-analyze")
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        # verify checks that ExecStart's program exists; the venv is not installed here.
        text = re.sub(r"/opt/refuge-intake/bin/\S+", "/bin/true", text)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Unknown keys and bad values are only warnings (exit 0), so any output fails.
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


# --- the skip-locally, fail-in-CI rule (tests/harness/tools.py) ----------------------------


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_missing_program_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require_program("refuge-intake-no-such-program")


def gave_up_with(check: Callable[[], None]) -> str:
    """How `check` stopped: "failed: ..." or "skipped: ..." (pytest's outcomes)."""
    try:
        check()
    except pytest.fail.Exception as e:
        return f"failed: {e}"
    except pytest.skip.Exception as e:
        return f"skipped: {e}"
    raise AssertionError("the check ran to the end")


def test_the_deploy_checks_fail_in_ci_without_their_program_or_root(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    real_which = shutil.which

    def without_systemd(name: str, *args: object, **kwargs: object) -> str | None:
        return None if name == "systemd-analyze" else real_which(name)

    monkeypatch.setattr(shutil, "which", without_systemd)
    outcome = gave_up_with(lambda: test_systemd_analyze_verifies_the_units(tmp_path))
    assert outcome.startswith("failed: systemd-analyze is not installed"), outcome
    monkeypatch.setattr(shutil, "which", real_which)
    if real_which("tor") is None and real_which("tor", path="/usr/sbin:/sbin") is None:
        return  # the check below stops at the missing tor (the test above covers that)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    outcome = gave_up_with(lambda: test_torrc_verifies_under_debians_service_defaults(tmp_path))
    assert outcome.startswith(("failed: needs root", "failed: Debian's tor package")), outcome


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_a_missing_program_skips_locally(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception):
        require_program("refuge-intake-no-such-program")


# --- docs/deploy.md says what the files in deploy/ do ------------------------------

DEPLOY_DOC = REPO / "docs" / "deploy.md"


def test_deploy_doc_agrees_with_the_deploy_files(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = DEPLOY_DOC.read_text()
    server = unit_settings(DEPLOY / "refuge-intake.service")["Service"]
    torrc = dict(torrc_options(TORRC.read_text()))
    cfg = load_gunicorn_config(monkeypatch)

    # The environment file the doc writes is the one the units read, and its
    # data directory is the one the units may write.
    (env_file,) = server["EnvironmentFile"]
    assert f"install -m 0640 -g refuge-intake /dev/null {env_file}" in doc
    (data_dir,) = server["ReadWritePaths"]
    assert f"\nINTAKE_DATA_DIR={data_dir}\n" in doc
    assert f"install -d -o refuge-intake -g refuge-intake -m 0700 {data_dir}" in doc

    # The venv and source paths the doc installs to are the ones the units run.
    assert "python3 -m venv /opt/refuge-intake\n" in doc
    assert "git clone https://REPOSITORY-URL/refuge-intake.git /opt/refuge-intake/src" in doc
    venv_gunicorn = "/opt/refuge-intake/bin/gunicorn -c /opt/refuge-intake/src/deploy/"
    assert server["ExecStart"][0].startswith(venv_gunicorn)

    # Tor: where the address appears, and the numbers the doc explains.
    assert f"cat {torrc['HiddenServiceDir']}hostname" in doc
    for key in (
        "HiddenServicePoWQueueRate",
        "HiddenServicePoWQueueBurst",
        "HiddenServiceMaxStreams",
        "HiddenServicePoWDefensesEnabled",
    ):
        assert f"{key} {torrc[key]}" in doc, key
    assert f"beyond {torrc['HiddenServiceEnableIntroDoSRatePerSec']} a second" in doc
    assert f"(bursts of {torrc['HiddenServiceEnableIntroDoSBurstPerSec']})" in doc

    # gunicorn's defaults as the doc's table states them.
    assert f"| `INTAKE_GUNICORN_BIND` | `{cfg.bind[0]}` |" in doc
    assert f"| `INTAKE_GUNICORN_WORKERS` | `{cfg.workers}` |" in doc
    assert f"| `INTAKE_GUNICORN_THREADS` | `{cfg.threads}` |" in doc
    assert f"about {cfg.workers * cfg.threads} requests at a time" in doc

    # Every file the doc tells the operator to copy exists.
    for name in re.findall(r"/opt/refuge-intake/src/deploy/([\w.-]+)", doc):
        assert (DEPLOY / name).is_file(), name
