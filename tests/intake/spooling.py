"""Catching plaintext spooled to a temporary file, where it happens.

Werkzeug's default stream factory keeps a file part in a SpooledTemporaryFile
that rolls over to `tempfile.TemporaryFile` past 500 KB. On Linux that file is
opened with O_TMPFILE: it has no name in any directory, so scanning the temp
directory afterwards cannot see it. Instead, while a request of a watched app
runs, this module refuses and records

- constructing a spooled or temporary file through `tempfile` or Werkzeug's
  stream factory (even one small enough to stay in memory: it is the wrong
  path for a file part all the same);
- any `open` with O_TMPFILE, and `tempfile.mkstemp` / `mkdtemp` (seen by an
  audit hook, below every Python wrapper);
- any file opened for writing under the temp directory but outside the data
  directory (the data directory is where staged ciphertext belongs).

A refusal raises `Spooled` inside the request and is recorded, so a test fails
even where the app turns the exception into an error page.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import werkzeug.formparser
import werkzeug.wrappers.request
from flask import Flask

_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND


class Spooled(AssertionError):
    """A temporary file was created while a watched request ran."""


class SpoolWatch:
    """Records every temporary file made while one of its apps answers a request."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.temp_dir = os.path.abspath(tempfile.gettempdir())
        self.seen: list[str] = []

    def refuse(self, what: str) -> NoReturn:
        self.seen.append(what)
        raise Spooled(f"{what} while answering a request: plaintext could reach the disk")

    def allowed(self, path: str) -> bool:
        return path == self.data_dir or path.startswith(self.data_dir + os.sep)

    def check_open(self, path: object, flags: int) -> None:
        if _O_TMPFILE and flags & _O_TMPFILE == _O_TMPFILE:
            self.refuse(f"open({path!r}, O_TMPFILE)")
        if not flags & _WRITES or not isinstance(path, str | bytes | os.PathLike):
            return
        where = os.path.abspath(os.fsdecode(path))
        in_temp = where.startswith(self.temp_dir + os.sep)
        if in_temp and not self.allowed(where):
            self.refuse(f"open({where!r}) for writing in the temp directory")

    @contextmanager
    def active(self) -> Iterator[None]:
        with _lock:
            _active.append(self)
        try:
            yield
        finally:
            with _lock:
                _active.remove(self)

    def watch(self, app: Flask) -> Flask:
        """Watch every request `app` answers from now on (returns `app`)."""
        inner = app.wsgi_app

        def watched(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            with self.active():
                return inner(environ, start_response)

        app.wsgi_app = watched  # type: ignore[method-assign]
        return app


_active: list[SpoolWatch] = []
_lock = threading.Lock()
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    watch = _active[-1]
    if event in ("tempfile.mkstemp", "tempfile.mkdtemp"):
        path = os.path.abspath(os.fsdecode(args[0]))
        if not watch.allowed(path):
            watch.refuse(f"{event}({path!r})")
    elif event == "open" and len(args) == 3 and isinstance(args[2], int):
        watch.check_open(args[0], args[2])


def _refusing(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _active:
            _active[-1].refuse(name)
        return real(*args, **kwargs)

    return guarded


#: Every place a file part can be handed to a spooled or temporary file.
FACTORIES = [
    (tempfile, "SpooledTemporaryFile"),
    (tempfile, "TemporaryFile"),
    (tempfile, "NamedTemporaryFile"),
    (werkzeug.formparser, "SpooledTemporaryFile"),
    (werkzeug.formparser, "default_stream_factory"),
    (werkzeug.wrappers.request, "default_stream_factory"),
]


def install(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> SpoolWatch:
    """A watch for `data_dir`, with the factories guarded for this test."""
    global _hooked
    if not _hooked:
        # An audit hook cannot be removed: it stays, inert while nothing is watched.
        sys.addaudithook(_audit)
        _hooked = True
    for module, name in FACTORIES:
        if hasattr(module, name):
            real = getattr(module, name)
            monkeypatch.setattr(module, name, _refusing(f"{module.__name__}.{name}", real))
    return SpoolWatch(data_dir)
