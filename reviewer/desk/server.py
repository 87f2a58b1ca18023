"""Serving the desk: waitress on 127.0.0.1, configured never to spill to disk.

waitress buffers a request body over `inbuf_overflow` (512 KiB by default) and
a response over `outbuf_overflow` (1 MiB) in temporary files; here those would
hold plaintext (a saved attachment, a reply, an uploaded bundle's answers are
ciphertext but a form's fields are not). `WAITRESS` sets both above anything the
desk handles: the request cap (`max_request_body_size`, the same
MAX_REQUEST_BYTES the Flask side enforces) bounds what is buffered on the way
in, and the way out is bounded by the largest file the desk hands out, which
it already holds in memory. `outbuf_high_watermark` makes waitress wait for a
slow reader instead of piling up more.
"""

from __future__ import annotations

import sys
import threading
import webbrowser
from collections.abc import Callable
from typing import Any

from waitress.server import create_server

from reviewer.desk.app import create_app
from reviewer.desk.security import MAX_REQUEST_BYTES
from reviewer.desk.session import Desk
from reviewer.home import Home, Keys

#: Every buffer in memory, never a temporary file (module docstring).
WAITRESS: dict[str, Any] = {
    "host": "127.0.0.1",
    "max_request_body_size": MAX_REQUEST_BYTES,
    "inbuf_overflow": MAX_REQUEST_BYTES + (1 << 20),
    # A saved file is at most an attachment; attachments are below 2**40 bytes
    # (crypto.documents.MAX_ATTACHMENT_SIZE), so this is never reached.
    "outbuf_overflow": 1 << 62,
    "outbuf_high_watermark": 16 * 1024 * 1024,
    # One reviewer, one browser: a few threads, so a slow download does not block a page.
    "threads": 4,
    "ident": "reviewer-desk",
    "clear_untrusted_proxy_headers": True,
}


def make_server(desk: Desk, port: int = 0) -> Any:
    """A waitress server for `desk` on 127.0.0.1:`port` (0: a free port), not yet running."""
    app = create_app(desk)
    server = create_server(app, port=port, **WAITRESS)
    desk.port = int(server.effective_port)
    return server


def stop(server: Any) -> None:
    """Stop a running server from another thread (its loop closes everything itself)."""
    from waitress import wasyncore

    def close_all() -> None:
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)

    server.trigger.pull_trigger(close_all)


def watch_idle(desk: Desk, stop: threading.Event, every: float) -> threading.Thread:
    """Lock the desk when idle even if no request comes to notice it."""

    def run() -> None:
        while not stop.wait(every):
            desk.lock_if_idle()

    thread = threading.Thread(target=run, name="desk-idle", daemon=True)
    thread.start()
    return thread


def _open(address: str, say: Callable[[str], None]) -> None:
    try:
        if not webbrowser.open(address):
            say("No browser could be opened: open the address above yourself.")
    except webbrowser.Error:
        say("No browser could be opened: open the address above yourself.")


def serve(home: Home, keys: Keys, *, port: int = 0, idle_minutes: float = 15,
          open_browser: bool = True, say: Callable[[str], None] = print) -> None:
    """Run the desk until Ctrl-C; the keys are forgotten when it stops."""
    desk = Desk(home, keys, idle_seconds=idle_minutes * 60)
    server = make_server(desk, port)
    if desk.token is None:  # a new Desk always holds its one-time token
        raise RuntimeError("the desk has no token to print")
    address = f"http://127.0.0.1:{desk.port}/cases?token={desk.token}"
    say(f"The reviewer's desk is open at {address}")
    say("Open it once, in a private window; it locks after"
        f" {idle_minutes:g} minute{'s' * (idle_minutes != 1)} unused. Ctrl-C stops it.")
    stopped = threading.Event()
    watch_idle(desk, stopped, min(30.0, max(1.0, idle_minutes * 60 / 4)))
    if open_browser:
        # In a thread: a browser that runs in this terminal would otherwise keep the
        # server from starting until it exits.
        threading.Thread(target=_open, args=(address, say), name="desk-browser",
                         daemon=True).start()
    try:
        server.run()  # returns on Ctrl-C (waitress catches KeyboardInterrupt itself)
    except KeyboardInterrupt:
        pass
    finally:
        stopped.set()
        server.close()
        desk.lock()
    print("The desk has stopped; the keys are forgotten.", file=sys.stderr)
