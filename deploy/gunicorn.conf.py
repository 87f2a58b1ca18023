"""Production gunicorn configuration for refuge-intake.

Run as:  gunicorn -c deploy/gunicorn.conf.py 'intake:create_app()'

Why this file exists: the intake server is reached only through a Tor onion
service on the same machine, by applicants on slow links, and it must never
write what they send to a log. gunicorn's defaults assume the opposite (a
public socket, a reverse proxy that can be trusted, fast clients, access logs
welcome), so every setting that matters is stated here with its reason.

Three settings may be overridden from the environment (e.g. the systemd
EnvironmentFile), each validated so that a typo stops the server at start-up
instead of running it in an unsafe shape:

  INTAKE_GUNICORN_BIND     default 127.0.0.1:8000; loopback or unix: only
                           (deploy/refuge-intake.service is set up for loopback
                           TCP: its system-call filter refuses the chown that
                           gunicorn does on a unix socket)
  INTAKE_GUNICORN_WORKERS  default 2; 1..8
  INTAKE_GUNICORN_THREADS  default 256; 1..1024

The worker's deadline on slow requests reads two more (intake/pacing.py):
INTAKE_BODY_MIN_RATE (bytes a second, default 1024) and
INTAKE_BODY_GRACE_SECONDS (default 30).
"""

from __future__ import annotations

import ipaddress
import os
import sys
import traceback
from typing import Any

from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.http import wsgi as gunicorn_wsgi

from intake.pacing import pace_from_env

# --- where it listens ------------------------------------------------------

_DEFAULT_BIND = "127.0.0.1:8000"


def _loopback_bind(value: str) -> str:
    """Accept only a loopback TCP address or a unix socket.

    An onion service whose web server also answers on a public address can be
    found and linked to its host, which defeats the point of running it
    behind Tor. Refusing anything else here makes that mistake impossible to
    make from the environment file.
    """
    if value.startswith("unix:"):
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"INTAKE_GUNICORN_BIND must be HOST:PORT or unix:PATH, not {value!r}")
    host = host.strip("[]")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"INTAKE_GUNICORN_BIND must be a loopback address (the server is reached only "
                f"through Tor on this machine), not {value!r}"
            )
    return value


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


# The torrc's HiddenServicePort points here. Loopback only (see _loopback_bind).
bind = [_loopback_bind(os.environ.get("INTAKE_GUNICORN_BIND", "").strip() or _DEFAULT_BIND)]

# --- how many requests run at once ----------------------------------------

# Two processes: one crashing or being recycled (max_requests below) leaves
# the other serving, and two Argon2 derivations can run on two cores. Memory
# is what bounds this: a codename derivation takes 64 MiB, and the app caps
# concurrent derivations per process, so the worst case is roughly
# workers * (app baseline ~100 MiB + cap * 64 MiB). With 2 workers and a cap
# of 2 that is about 0.5 GiB, which fits the small VPS an onion service
# usually runs on. Raise to 3-4 only on a machine with cores and memory to
# spare; Tor, not gunicorn, is the throughput limit of an onion service.
workers = _bounded_int("INTAKE_GUNICORN_WORKERS", 2, 1, 8)

# Threads, not the default sync worker: an upload over Tor can take minutes,
# and a sync worker is occupied for the whole of it. With threads each
# request holds one thread while the process keeps accepting; Argon2 runs in
# libsodium with the GIL released, and the app's derivation cap (not the
# thread count) bounds its memory.
#
# The worker is gunicorn's gthread with two changes against slow clients
# (intake/gunicorn_worker.py): a request that falls behind a minimum average
# rate is dropped (intake/pacing.py), and closing a connection never stalls
# the thread that accepts new ones.
worker_class = "intake.gunicorn_worker.PacedThreadWorker"

# Many threads, because a thread is held for as long as a request takes to
# arrive, and a held thread costs little (tens of KiB; docs/performance.md).
# With 8 per worker, sixteen clients trickling bodies shut everyone else out
# for minutes; with 256 per worker, 200 such clients (more than twelve Tor
# circuits' worth, HiddenServiceMaxStreams in deploy/torrc) leave the pages
# answering in milliseconds, and each must keep sending at the minimum rate
# to stay. Memory is bounded by the derivation cap, not by this number.
threads = _bounded_int("INTAKE_GUNICORN_THREADS", 256, 1, 1024)

# Connections a worker holds open at once (in flight, waiting for their first
# byte, or kept alive). Twice the threads, so that connections waiting in the
# poller (they hold no thread) do not stop the worker accepting while threads
# are free; still a bound on file descriptors (deploy/refuge-intake.service
# raises LimitNOFILE to fit the largest setting).
worker_connections = 2 * threads

# The worker's minimum rate (INTAKE_BODY_MIN_RATE, INTAKE_BODY_GRACE_SECONDS;
# intake/pacing.py, docs/deploy.md for the defaults), read here too so that a
# mistyped value stops the server at start-up.
pace_from_env()

# Each worker builds the app itself (the default, stated because it matters):
# create_app opens the database and reads the reviewer keys, and doing that
# in the master before forking would share database connections between
# processes.
preload_app = False

# --- timeouts suited to slow uploads over Tor -----------------------------

# A worker that does not report to the master for this long is killed and
# replaced. With gthread the worker's main loop reports while requests run in
# threads, so a long upload does not trip it by itself; it is the ceiling
# for a worker that is truly wedged. Generous, because killing a worker
# cuts every upload it carries, and over Tor a 10 MB upload can take minutes.
timeout = 300

# On restart or stop, a worker finishes the uploads it has before exiting;
# this long, then they are cut (and the app must then store nothing of them).
# The systemd unit's TimeoutStopSec is set above this.
graceful_timeout = 180

# Seconds an idle kept-alive connection is held. Tor Browser reuses a stream
# for the page's next request (the form after the page), so a short
# keep-alive saves a round trip over a slow circuit without holding a thread:
# gthread parks idle connections in its poller, not in a thread.
keepalive = 5

# --- request limits --------------------------------------------------------

# The app's URLs are short and carry no data in query strings; a long request
# line is an attack or a mistake. Headers from Tor Browser are few and
# uniform; the field size stays at gunicorn's default so that a session
# cookie fits. Body size is the app's job (MAX_CONTENT_LENGTH).
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 8190

# --- recycling workers -----------------------------------------------------

# Replace each worker after about this many requests, so memory fragmented by
# 64 MiB Argon2 buffers is handed back to the system and a slow leak cannot
# grow for months. The jitter keeps both workers from restarting at the same
# moment, so one is always serving.
max_requests = 1000
max_requests_jitter = 100

# --- who is trusted --------------------------------------------------------

# Trust no one to set X-Forwarded-* / SCRIPT_NAME headers. There is no
# reverse proxy: Tor delivers every applicant's connection from 127.0.0.1
# with their own headers untouched, so "trust 127.0.0.1" (gunicorn's
# default) would let any applicant set the scheme or the script path the app
# sees. An empty list means these headers are ignored from every address.
forwarded_allow_ips = ""
forwarder_headers = ""

# --- logs: never request data ----------------------------------------------

# No access log. An access log records when each request arrived, its path
# and its size: on a seized server that is a timeline of applicants. Nothing
# in operating the service needs it.
accesslog = None
disable_redirect_access_to_syslog = True

# Errors go to stderr, which systemd hands to the journal. "warning" keeps
# start-up chatter out; worker crashes and timeouts still show.
errorlog = "-"
loglevel = "warning"

# The app's stdout/stderr are not folded into gunicorn's log; the app logs
# through its own logger, which it keeps free of applicant data.
capture_output = False

# gunicorn 25.1+ opens a control socket in $HOME by default; the service has
# no home to write to and nothing needs runtime control. Ignored by older
# gunicorn (unknown names in a config file are skipped).
control_socket_disable = True

# Created files (the heartbeat file, nothing else) readable by the service only.
umask = 0o077

# Name the processes for `ps`, so an operator can tell them from other Pythons.
proc_name = "refuge-intake"


class RedactingLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger, minus the request data it puts in error lines.

    gunicorn logs a failed request as "Error handling request METHOD URI" with
    the exception text and traceback, and a malformed one as "Invalid request
    from ip=...: <what was wrong>", which can quote a header (a session cookie,
    say). Here those keep their shape (which kind of failure, where in the
    code) but lose the URI, the exception's message and the quoted input.
    """

    _INVALID_REQUEST = "Invalid request from"

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(self._INVALID_REQUEST):
            msg, args = "Invalid request refused (details withheld)", ()
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("exc_info", None)
        template = msg if isinstance(msg, str) else "Unhandled exception"
        head = template.split("%", 1)[0].rstrip() if args else template
        self.error_log.error("%s (details withheld)%s", head, _exception_shape())


def _exception_shape() -> str:
    """The current exception's type and code locations, without its message.

    A traceback's frames (file, line, function) say where things went wrong
    and contain no data; the final "Type: message" line can, so only the type
    is kept.
    """
    exc = sys.exc_info()[1]
    if exc is None:
        return ""
    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return f": {type(exc).__name__}\n" + "".join(frames).rstrip()


logger_class = RedactingLogger


# --- gunicorn's own answers: the app's headers, no quoting, no "Server" ------

# gunicorn answers some requests itself, before the app sees them: a malformed
# request line or header (400), a request line over limit_request_line (414),
# too many or too large header fields (431). Its page quotes the offending
# input and carries none of the app's headers (no CSP, no no-store, no
# nosniff); and every response, the app's too, says "Server: gunicorn".
# gunicorn has no setting for either, but this file is Python that the master
# runs before it forks the workers: below, its error writer is replaced by one
# that sends the app's headers and a page that quotes nothing, and the Server
# line is dropped. tests/system/test_proof_gunicorn_pages.py checks both against the
# real server, so a gunicorn that moved these functions fails there; here it
# stops the server at start rather than run without them.

# The same as intake/security.py SECURITY_HEADERS (the test compares them).
_ERROR_PAGE_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


def _write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error with the app's headers, and `mesg` (which quotes the
    request) left out: the status and gunicorn's fixed reason phrase say enough."""
    body = (f"<!doctype html>\n<html><head><title>{status_int} {reason}</title></head>\n"
            f"<body><h1>{reason}</h1></body></html>\n").encode("latin-1")
    head = [f"HTTP/1.1 {status_int} {reason}", "Connection: close",
            "Content-Type: text/html; charset=utf-8", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in _ERROR_PAGE_HEADERS]
    gunicorn_util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def _install_own_answers() -> None:
    response_class: Any = getattr(gunicorn_wsgi, "Response", None)
    if not (callable(getattr(gunicorn_util, "write_error", None))
            and callable(getattr(gunicorn_util, "write_nonblock", None))
            and callable(getattr(response_class, "default_headers", None))):
        raise RuntimeError("this gunicorn has no util.write_error or Response.default_headers: "
                           "update deploy/gunicorn.conf.py for it")
    gunicorn_util.write_error = _write_error
    original = response_class.default_headers
    if getattr(original, "_drops_server", False):
        return  # the file was read again (a reload): already installed

    def default_headers(self: Any) -> list[str]:
        return [h for h in original(self) if not h.lower().startswith("server:")]

    default_headers._drops_server = True  # type: ignore[attr-defined]
    response_class.default_headers = default_headers


_install_own_answers()
