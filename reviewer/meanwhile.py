"""Making bytes in a forked child while the command goes on; a speed trick only.

`made_meanwhile` runs a piece of work that returns bytes (here: the index,
encoded and sealed) in a forked copy of this process while the caller goes on
(here: writing state.json); the caller takes the bytes when it needs them and
writes them itself, so what is written, and when, is exactly as without the
trick. The child writes no file: it sends the bytes through a pipe and ends
with os._exit, so it runs no exit handler and flushes none of the caller's
output. Where fork is not available the work runs in place, first. Removing
it changes speed, never what is written.

What it buys: an import of 10,000 cases ends by encoding and writing
state.json and encoding and sealing the index (about 0.1 s each of one core),
one after the other while the other core is idle; the index is now made
meanwhile (reviewer.home, `import_bundle`; docs/performance.md, 2026-12-02).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator

from reviewer.errors import ReviewerError

_OK = b"ok\n"
_FAILED = b"failed\n"


@contextlib.contextmanager
def made_meanwhile(make: Callable[[], bytes], what: str) -> Iterator[Callable[[], bytes]]:
    """Run `make` in a forked child during the `with` block; the block gets the call
    that returns what it made, waiting for it if need be.

    That call raises what `make` raised: an OSError as an OSError with the same
    errno, message and file name, anything else as a ReviewerError naming
    `what`; a child that ended without saying how it went is a ReviewerError.
    Nothing the child sent is returned unless it ended normally. A block that
    does not take the result (it raised) leaves the child to end; it is still
    waited for.
    """
    if not hasattr(os, "fork"):
        made = make()
        yield lambda: made
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: make the bytes, send them or the failure, end at once
        os.close(read_end)
        code = 0
        try:
            try:
                message = _OK + make()
            except BaseException as e:  # every failure is told to the parent
                code = 1
                message = _FAILED + _report(e)
            with open(write_end, "wb") as out:
                out.write(message)
        finally:
            os._exit(code)
    os.close(write_end)
    pipe = open(read_end, "rb")  # noqa: SIM115  # closed in the finally below
    reaped: list[int] = []

    def result() -> bytes:
        message = pipe.read()
        pipe.close()
        _, status = os.waitpid(pid, 0)
        reaped.append(pid)
        state, _, body = message.partition(b"\n")
        if os.waitstatus_to_exitcode(status) == 0 and state + b"\n" == _OK:
            return body
        if state + b"\n" == _FAILED:
            raise _failure(body, what)
        raise ReviewerError(f"making {what} stopped unexpectedly")

    try:
        yield result
    finally:
        if not reaped:
            pipe.close()  # a child still sending gets a broken pipe and ends
            os.waitpid(pid, 0)


def _report(error: BaseException) -> bytes:
    if isinstance(error, OSError):
        return json.dumps(
            {"errno": error.errno, "strerror": error.strerror or str(error),
             "filename": str(error.filename) if error.filename is not None else None}
        ).encode("utf-8")
    return json.dumps({"error": f"{type(error).__name__}: {error}"}).encode("utf-8")


def _failure(report: bytes, what: str) -> Exception:
    try:
        told = json.loads(report.decode("utf-8"))
    except ValueError:
        return ReviewerError(f"making {what} stopped unexpectedly")
    if "errno" in told:
        return OSError(told["errno"], told["strerror"], told["filename"])
    return ReviewerError(f"making {what} failed: {told['error']}")
