"""Checking each new submission of a bundle against what its manifest says.

Why a module of its own: this check is most of an import's work (per
submission an X25519 sealed-box open, the envelope's MACs and stream, a JSON
parse; about 2 s for 10,000 submissions on one core), and each submission's
check is independent of the others. A large import spreads it over the
machine's cores in forked worker processes; a small one runs them in the
calling process. Either way the checks start while the bundle is still being
read (`Checks`: a submission is checked as soon as its envelopes are in the
pack), the caller gets the results in manifest order and uses them only once
the whole bundle has been read and every check has passed; the first failure
in manifest order is the one the reviewer is told.

The workers are forked: they inherit the unlocked keys in memory, exactly as
the parent holds them, and are gone when the import ends, however it ends
(killed outright, they see a pipe only the parent writes to close, and
exit; Ctrl-C is left to the parent, which stops them). They write nothing;
each reads the pack being built (read-only, through a reader bounded to each
envelope's range) and sends back through a pipe what the index needs of
each decrypted answers document (reviewer.index.AnswersFacts), not the
document.
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
from reviewer.index import AnswersFacts, answers_facts
from reviewer.packs import open_range, pread_range, read_range

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from reviewer.packs import PackWriter

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

    CHECKED = "checked"  # it matches its manifest entry; its answers' facts come with it
    NOT_FOR_US = "not for us"  # sealed to other reviewers only: stored, shown with a note
    BAD = "bad"  # it refuses the whole bundle; the sentence says why


@dataclass(frozen=True)
class Outcome:
    """One submission's check, as a worker process sends it back (pickled)."""

    verdict: Verdict
    #: What the index needs of the decrypted answers document, for CHECKED only.
    facts: AnswersFacts | None = None
    #: The sentence the reviewer is told, for BAD only.
    problem: str = ""

    @classmethod
    def checked(cls, facts: AnswersFacts) -> Outcome:
        return cls(Verdict.CHECKED, facts=facts)

    @classmethod
    def bad(cls, problem: str) -> Outcome:
        return cls(Verdict.BAD, problem=problem)


NOT_FOR_US = Outcome(Verdict.NOT_FOR_US)


def check(pack: Path, task: Task, keys: Sequence[PrivateKey], fd: int | None = None) -> Outcome:
    """Decrypt a submission's answers, compare them with the manifest, authenticate its files.

    The outcome carries what the index needs of the answers, not the document
    (reviewer.index.answers_facts). `fd`, if given, is the pack already open
    for reading.
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
    return Outcome.checked(answers_facts(doc, sub.kind))


class Checker:
    """Runs an import's per-case work, here or in forked workers.

    Use as a context manager around the import: the workers start on the first
    job large enough to be worth them (PARALLEL_MIN items) and stop when the
    context ends. `start` sets up the checks of an import's new submissions.
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

    def start(self, pack: PackWriter, new: Sequence[tuple[str, SubmissionRecord]]) -> Checks:
        """The checks of the new submissions (case id, record), in manifest order,
        each started once its envelopes are in `pack` (see Checks)."""
        return Checks(pack, new, self._keys, self._parallel(len(new)))


class Checks:
    """One import's checks, started while the bundle is still being read.

    The import reads the manifest first and the members after it, each
    appended to the pack. It tells this object of each member written
    (`landed`); every submission whose envelopes are all in the pack is then
    checked, in manifest order, CHUNK at a time: by the workers, or at once
    in this process when there are none (a small import). This is the only
    way the checks run, so there is one path for every bundle.

    What it buys: the parent reads the bundle (hashing each member, writing
    the pack; about 1.3 s of a 10,000-case import on one core) while the
    workers check what has already landed, instead of starting them only
    after the last member (see docs/performance.md, 2026-12-02).

    Nothing is used before the whole bundle has been read: `results`, called
    after read_bundle returned, yields what the checks found.
    """

    def __init__(
        self,
        pack: PackWriter,
        new: Sequence[tuple[str, SubmissionRecord]],
        keys: Sequence[PrivateKey],
        pool: ProcessPoolExecutor | None,
    ) -> None:
        self._pack = pack
        self._new = new
        self._keys = keys
        self._pool = pool
        #: Per new submission, how many of its envelopes are not yet in the pack.
        self._missing = [1 + len(sub.attachments) for _, sub in new]
        #: Each envelope of a new submission -> that submission's place in `new`.
        self._of_blob = {
            blob: i for i, (_, sub) in enumerate(new) for blob in (sub.answers, *sub.attachments)
        }
        self._next = 0  # the first submission of `new` not yet checked or handed out
        self._ready: list[Task] = []
        #: Per chunk handed out, in order: a call that returns its outcomes.
        self._chunks: list[Callable[[], list[Outcome]]] = []

    def landed(self, blob: str) -> None:
        """The member `blob` has been written to the pack (not necessarily flushed)."""
        i = self._of_blob.get(blob)
        if i is None:
            return  # a team member, or a member this home already holds
        self._missing[i] -= 1
        entries = self._pack.entries
        while self._next < len(self._new) and not self._missing[self._next]:
            case, sub = self._new[self._next]
            self._ready.append(
                Task(case, sub, entries[sub.answers],
                     tuple((b, *entries[b]) for b in sub.attachments))
            )
            self._next += 1
            if len(self._ready) == CHUNK:
                self._hand_out()

    def _hand_out(self) -> None:
        if not self._ready:
            return
        tasks, self._ready = self._ready, []
        self._pack.flush()  # the checks read the pack by its name
        pack = self._pack.staged_path
        if self._pool is None:
            outcomes = [check(pack, t, self._keys) for t in tasks]
            self._chunks.append(lambda: outcomes)
            return
        from concurrent.futures.process import BrokenProcessPool

        try:
            self._chunks.append(self._pool.submit(_worker_check, (pack, tasks)).result)
        except BrokenProcessPool as e:  # a worker died: told with the results
            broken = e

            def fail() -> list[Outcome]:
                raise broken

            self._chunks.append(fail)

    def results(
        self, *, meanwhile: Callable[[], object] | None = None
    ) -> Iterator[AnswersFacts | None]:
        """The facts of each answers document (None: not for our keys), in manifest order.

        Call once every member has landed (read_bundle returned). A generator:
        submission's facts come as soon as it and those before it are checked, so
        the caller can work on it while workers check the rest. It raises
        BadInput at the first submission, in order, that failed: a caller
        must use nothing it was given unless the iteration ends normally.
        When the checks run in workers, `meanwhile` is called here once they
        have all been handed out (the import syncs its pack to disk then).
        """
        if self._next != len(self._new):
            raise RuntimeError("the checks' results were asked for before every member landed")
        self._hand_out()
        outcomes = (o for chunk in self._chunks for o in chunk())
        if self._pool is None:
            yield from _collect(outcomes)
            return
        if meanwhile is not None:
            meanwhile()
        yield from _collect(_unbroken(outcomes))


def _unbroken(results: Iterator[_T]) -> Iterator[_T]:
    """The results, with a worker that died turned into one readable line."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        yield from results
    except BrokenProcessPool:
        raise ReviewerError(
            "a checking process stopped unexpectedly (out of memory?); nothing was imported"
        ) from None


def _collect(outcomes: Iterable[Outcome]) -> Iterator[AnswersFacts | None]:
    for outcome in outcomes:
        if outcome.verdict is Verdict.BAD:
            raise BadInput(outcome.problem)
        yield outcome.facts


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
