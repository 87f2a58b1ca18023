"""Checking each new submission of a bundle against what its manifest says.

Why a module of its own: this check is most of an import's work (per
submission an X25519 sealed-box open, the envelope's MACs and stream, a JSON
parse; about 2 s for 10,000 submissions on one core), and each submission's
check is independent of the others. A large import spreads it over the
machine's cores in forked worker processes; a small one runs them in the
calling process. Either way the caller gets the results in manifest order and
uses them only once every check has passed; the first failure in manifest
order is the one the reviewer is told.

The workers are forked: they inherit the unlocked keys in memory, exactly as
the parent holds them, and are gone when the import ends, however it ends
(killed outright, they see a pipe only the parent writes to close, and
exit; Ctrl-C is left to the parent, which stops them). They write nothing;
each reads the pack being built (read-only, through a reader bounded to each
envelope's range) and sends the decrypted answers document back through a
pipe, because the index needs it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crypto import documents, envelope
from crypto.bundle import SubmissionRecord
from crypto.errors import DecryptError, DocumentError, NoMatch
from crypto.keys import PrivateKey
from reviewer.errors import BadInput, ReviewerError
from reviewer.packs import open_range, pread_range, read_range

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

#: Below this many submissions the checks run in the calling process: starting
#: workers costs more than it saves.
PARALLEL_MIN = 1000
#: Submissions sent to a worker at a time (fewer round trips through the pipe).
CHUNK = 100
#: At most this many workers, whatever the machine.
MAX_WORKERS = 8

_T = TypeVar("_T")


@dataclass(frozen=True)
class Task:
    """One new submission and where its envelopes lie in the pack."""

    case: str
    sub: SubmissionRecord
    answers: tuple[int, int]  # offset, length
    attachments: tuple[tuple[str, int, int], ...]  # blob id, offset, length


class Verdict(Enum):
    """What the check of one submission found."""

    CHECKED = "checked"  # it matches its manifest entry; its answers document comes with it
    NOT_FOR_US = "not for us"  # sealed to other reviewers only: stored, shown with a note
    BAD = "bad"  # it refuses the whole bundle; the sentence says why


@dataclass(frozen=True)
class Outcome:
    """One submission's check, as a worker process sends it back (pickled)."""

    verdict: Verdict
    #: The decrypted answers document, for CHECKED only.
    document: dict[str, Any] | None = None
    #: The sentence the reviewer is told, for BAD only.
    problem: str = ""

    @classmethod
    def checked(cls, document: dict[str, Any]) -> Outcome:
        return cls(Verdict.CHECKED, document=document)

    @classmethod
    def bad(cls, problem: str) -> Outcome:
        return cls(Verdict.BAD, problem=problem)


NOT_FOR_US = Outcome(Verdict.NOT_FOR_US)


def check(pack: Path, task: Task, keys: Sequence[PrivateKey], fd: int | None = None) -> Outcome:
    """Decrypt a submission's answers, compare them with the manifest, authenticate its files.

    `fd`, if given, is the pack already open for reading.
    """
    sub = task.sub
    where = f"submission {sub.submission}"
    answers = read_range(pack, *task.answers) if fd is None else pread_range(fd, *task.answers)
    try:
        data = envelope.decrypt_bytes(answers, keys)
    except NoMatch:
        return NOT_FOR_US
    except DecryptError as e:
        return Outcome.bad(f"{where}: {e}; nothing was imported")
    try:
        doc = documents.parse_submission(data)
    except DocumentError as e:
        return Outcome.bad(f"{where}: {e}; nothing was imported")
    problem = answers_problem(doc, task.case, sub)
    if problem:
        return Outcome.bad(f"{where} does not match the manifest ({problem}); nothing was imported")
    # Authenticate every attachment now, so a damaged one refuses the bundle
    # instead of surprising the reviewer at `extract`. Output is discarded.
    for blob, offset, length in task.attachments:
        try:
            with open_range(pack, offset, length) as f:
                for _ in envelope.decrypt_stream(f, keys):
                    pass
        except NoMatch:
            continue  # shown as "not addressed to your key" at extract
        except DecryptError as e:
            return Outcome.bad(f"{where}: attachment {blob}: {e}; nothing was imported")
    return Outcome.checked(doc)


class Checker:
    """Runs an import's per-case work, here or in forked workers.

    Use as a context manager around the import: the workers start on the first
    job large enough to be worth them (PARALLEL_MIN items) and stop when the
    context ends. `check_all` checks the new submissions.
    """

    def __init__(self, keys: Sequence[PrivateKey], *, workers: int | None = None) -> None:
        self._keys = list(keys)
        self._workers = min(workers if workers is not None else _usable_cores(), MAX_WORKERS)
        self._pool: ProcessPoolExecutor | None = None
        #: A pipe only this process writes to: when it ends, however it ends,
        #: the workers read end of file and exit (see _exit_with_parent).
        self._lifeline: tuple[int, int] | None = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._lifeline is not None:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None

    def _parallel(self, items: int) -> ProcessPoolExecutor | None:
        if items < PARALLEL_MIN or self._workers < 2 or "fork" not in _start_methods():
            return None
        if self._pool is None:
            # Imported here: `list`, `show` and small imports never need them.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # A forked child flushes the standard streams it inherits when it
            # ends: empty them first, or buffered output would appear twice.
            sys.stdout.flush()
            sys.stderr.flush()
            self._lifeline = os.pipe()
            # Forked, so the workers get the keys without their being pickled
            # or written anywhere (initargs are not serialised under fork).
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_worker_init,
                initargs=(self._keys, *self._lifeline),
            )
        return self._pool

    def check_all(
        self,
        pack: Path,
        tasks: Sequence[Task],
        *,
        meanwhile: Callable[[], object] | None = None,
    ) -> Iterator[dict[str, Any] | None]:
        """Check every task; yield the answers documents (None: not for our keys) in order.

        A generator: nothing starts until it is first advanced, and each
        document comes as soon as it and those before it are checked, so the
        caller can work on it while workers check the rest. It raises
        BadInput at the first task, in order, that fails: a caller must use
        nothing it was given unless the iteration ends normally. When the
        checks run in workers, `meanwhile` is called here once they have all
        been handed out (the import syncs its pack to disk then).
        """
        pool = self._parallel(len(tasks))
        if pool is None:
            yield from _collect(check(pack, t, self._keys) for t in tasks)
            return
        results = pool.map(_worker_check, _chunks(pack, tasks))  # all submitted now
        if meanwhile is not None:
            meanwhile()
        yield from _collect(o for chunk in _unbroken(results) for o in chunk)


def _unbroken(results: Iterator[_T]) -> Iterator[_T]:
    """The results, with a worker that died turned into one readable line."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        yield from results
    except BrokenProcessPool:
        raise ReviewerError(
            "a checking process stopped unexpectedly (out of memory?); nothing was imported"
        ) from None


def _collect(outcomes: Iterable[Outcome]) -> Iterator[dict[str, Any] | None]:
    for outcome in outcomes:
        if outcome.verdict is Verdict.BAD:
            raise BadInput(outcome.problem)
        yield outcome.document


def _chunks(pack: Path, tasks: Sequence[Task]) -> Iterator[tuple[Path, Sequence[Task]]]:
    for start in range(0, len(tasks), CHUNK):
        yield pack, tasks[start : start + CHUNK]


_worker_keys: list[PrivateKey] = []


def _worker_init(keys: list[PrivateKey], lifeline_read: int, lifeline_write: int) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it (and
    # shuts the workers down); a worker printing its own traceback would not.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Without this, a parent killed outright would leave its workers waiting
    # for work forever, holding the keys in memory and the home's lock.
    os.close(lifeline_write)
    threading.Thread(target=_exit_with_parent, args=(lifeline_read,), daemon=True).start()
    _worker_keys[:] = keys


def _exit_with_parent(lifeline: int) -> None:
    """Block until the parent's end of the lifeline closes, then end this worker."""
    while os.read(lifeline, 1):
        pass
    os._exit(1)


def _worker_check(job: tuple[Path, Sequence[Task]]) -> list[Outcome]:
    pack, tasks = job
    fd = os.open(pack, os.O_RDONLY)
    try:
        return [check(pack, t, _worker_keys, fd) for t in tasks]
    finally:
        os.close(fd)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def answers_problem(doc: dict[str, Any], case: str, sub: SubmissionRecord) -> str | None:
    """What differs between a checked answers document and its manifest entry, or None.

    The document's own rules (crypto.documents) have passed; the manifest's
    `format` ("refuge-intake bundle") is another format and is not compared.
    """
    expected = {
        "case": case,
        "submission": sub.submission,
        "kind": sub.kind,
        "day": sub.day,
    }
    for key, value in expected.items():
        if doc[key] != value:
            return f"its {key} is not {value!r}"
    # Compared as sets: the server need not keep the applicant's order in the manifest.
    if sorted(a["blob"] for a in doc["attachments"]) != sorted(sub.attachments):
        return "its attachments[].blob are not the manifest's attachments"
    return None
