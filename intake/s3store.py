"""Envelopes in an S3-compatible bucket: `INTAKE_STORE_URL=s3://BUCKET/PREFIX`.

The second kind of `intake.store.Store`, for several intake hosts sharing one
bucket and one PostgreSQL. Each envelope is the object `<PREFIX>/<blob id>`:
the name carries the blob id and nothing else, and no metadata is set.
Staging stays on this host's disk (intake.storage); `place` uploads a finished
envelope from its staged file, in one PUT up to PART_SIZE and in parts beyond
it, each part read from the file as it is sent, so that no envelope is ever
held whole in memory. For an upload's attachments the parts begin earlier:
`PartsAhead` sends each full part of the envelope while the rest of the body
is still arriving, and `place` sends only the last one and completes the
upload. `Store.committing` commits the rows only after `place` has returned,
that is after the bucket confirmed every object.

What a bucket adds to the protocol of intake.store:

- A multipart upload the bucket has begun but that was neither completed nor
  aborted is kept by the bucket (and billed) although no listing of the prefix
  shows it. Its id is journalled in staging (`StagingArea.write_note`) from
  its creation until it is completed or aborted; recovery at the next start
  aborts what a dead process journalled (`undo_notes`), and the purge aborts
  any upload under the prefix begun more than its grace period ago
  (`unfinished`). An upload begun while the body arrived (`PartsAhead`) is
  aborted at once when the body is abandoned or the store fails.
- A bucket with versioning or object lock keeps what `remove` deletes. Such a
  bucket is refused at start, in one line (ConfigError).
- The bucket cannot be reached: the server still starts, intake is closed
  (`available` is False; views show the closed page) and one log line says
  why; it asks again every RETRY_SECONDS. Missing or refused credentials are a
  ConfigError naming the variables to set.
- A bucket stamps each object with the exact time it was uploaded, and sees
  the address of the host that sent it: SECURITY.md says so, and what to do.

Every failure of the bucket reaches callers as `intake.store.StoreFailed`, an
OSError whose message holds the operation and the bucket's error code only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from crypto.atomic import fsync_dir
from crypto.ids import is_id
from intake.config import ConfigError
from intake.storage import Committed, StagingArea, clean_abandoned_staging, remove_files
from intake.store import Staged, Store, StoreFailed

logger = logging.getLogger("intake")

MIB = 1024 * 1024
#: Envelopes up to this size are one PUT; larger ones go in parts of this size
#: (S3's parts are 5 MiB to 5 GiB, at most 10,000: 16 MiB parts allow 156 GiB).
PART_SIZE = 16 * MIB
#: How long intake stays closed after the bucket could not be reached before asking again.
RETRY_SECONDS = 30.0
#: A journalled multipart upload: `s3-upload <blob id> <upload id>`.
UPLOAD_NOTE = "s3-upload"
# Upload ids are opaque; one is journalled only if it is one plain token.
_UPLOAD_ID = re.compile(r"[A-Za-z0-9._~+/=-]{1,1024}")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET = {"NoSuchBucket"}
_REFUSED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
            "InvalidToken", "ExpiredToken", "InvalidClientTokenId", "UnrecognizedClientException"}
CREDENTIALS = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"


def parse_url(url: str) -> tuple[str, str]:
    """The bucket and the key prefix ("" or ending in "/") of an s3://BUCKET/PREFIX URL."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"INTAKE_STORE_URL must be s3://BUCKET or s3://BUCKET/PREFIX, not {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def payload_signing(endpoint: str | None) -> bool:
    """Whether each request's body is hashed (SHA-256) into its signature: only on a bare wire.

    SigV4 can sign a body's SHA-256, and botocore does so for every request
    unless a checksum header rides with it over HTTPS; the bucket then
    refuses a body that changed on the way. That costs a SHA-256 pass over
    every envelope in the worker (0.3-0.7 s for 256 MiB on the bench machine,
    on a core the request's own encryption and the bucket also need). It buys
    nothing where the transport already guarantees the bytes: over HTTPS,
    TLS authenticates every record (AES-GCM or ChaCha20-Poly1305), so a
    changed byte breaks the connection; on loopback (127.0.0.1, ::1,
    localhost) there is no wire. There the signature still covers the
    method, the object's name and the headers, and the body goes as
    `UNSIGNED-PAYLOAD`. On plain HTTP to another host the body stays signed.

    The envelope needs none of this for its own safety: any change to its
    bytes is found when it is decrypted (authenticated encryption, and the
    bundle's digests), never taken for the applicant's data. What the signed
    body adds over an unreliable wire is that such a change is refused when
    it is stored, not found later by the reviewer with the submission lost.

    Measured on the bench machine (2 December 2026, 2 cores shared with other
    jobs): sixteen 16 MiB parts sent to moto on loopback one after the other
    took a median 2.76 s signed and 1.54 s unsigned (three rounds each, in
    turn). In bench/run.py `--only s3` the gain is within the noise
    (docs/performance.md, "Envelopes in a bucket"): moto joining the parts
    after the last one costs more than all of it. Return True here and every
    request is signed with its body again.
    """
    if endpoint is None:
        return False  # AWS's own endpoint: HTTPS
    parts = urlsplit(endpoint)
    if parts.scheme == "https":
        return False
    return parts.hostname not in ("127.0.0.1", "::1", "localhost")


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", "") or
               e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _reason(e: Exception) -> str:
    """What the bucket said, as an error code or exception name: never a key or a body."""
    if isinstance(e, ClientError):
        return _code(e) or "ClientError"
    return type(e).__name__


class _Part(io.RawIOBase):
    """Bytes [offset, offset + length) of an open file, read as sent (pread: no shared position)."""

    def __init__(self, f: BinaryIO | int, offset: int, length: int) -> None:
        super().__init__()
        self._fd = f if isinstance(f, int) else f.fileno()
        self._offset = offset
        self._length = length
        self._pos = 0

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._length - self._pos)
        if n <= 0:
            return 0
        data = os.pread(self._fd, n, self._offset + self._pos)
        view[:len(data)] = data
        self._pos += len(data)
        return len(data)


class _Body(io.RawIOBase):
    """An object's body as a raw stream; the bucket's failures become StoreFailed."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except (BotoCoreError, OSError, ValueError) as e:
            raise StoreFailed(f"the object store failed while reading an envelope ({_reason(e)})") \
                from None
        view[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store(Store):
    """Envelopes as objects `<prefix><blob id>` in one bucket without versioning or object lock."""

    def __init__(self, client: Any, bucket: str, prefix: str, staging: StagingArea,
                 *, where: str = "") -> None:
        super().__init__(staging)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.where = where  # the endpoint, for log lines; never credentials
        self._ready = False
        self._next_check = 0.0
        # Uploads begun while their body arrives, by staged file, until `place` or abandoned.
        self._ahead: dict[Path, PartsAhead] = {}
        self._ahead_lock = threading.Lock()
        self._probe = threading.Lock()

    @classmethod
    def from_config(cls, url: str, config: Mapping[str, Any], staging: StagingArea) -> S3Store:
        """The store for `url`, checked: ConfigError for what the operator must fix.

        An unreachable bucket is not an error here: intake starts closed (`available`).
        """
        bucket, prefix = parse_url(url)
        endpoint = config.get("S3_ENDPOINT_URL") or None
        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise ConfigError(f"INTAKE_STORE_URL names the bucket {bucket!r}, but no credentials "
                              f"for it were found: set {CREDENTIALS}")
        client = session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=session.region_name or "us-east-1",
            config=Config(
                # A bucket may take minutes to join the parts of a large upload.
                connect_timeout=5, read_timeout=300,
                retries={"mode": "standard", "max_attempts": 3},
                s3={
                    # A MinIO or Garage of one's own answers at one host name, not per bucket.
                    **({"addressing_style": "path"} if endpoint else {}),
                    "payload_signing_enabled": payload_signing(endpoint),
                },
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        store = cls(client, bucket, prefix, staging, where=endpoint or "AWS S3")
        store.check_or_close()
        return store

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    # --- reachability ------------------------------------------------------

    def check(self) -> None:
        """Ask the bucket whether it can be used: ConfigError if never, StoreFailed if not now."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            versioning = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            try:
                lock = self.client.get_object_lock_configuration(Bucket=self.bucket)
                locked = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError as e:
                if _code(e) != "ObjectLockConfigurationNotFoundError":
                    raise
                locked = False
        except NoCredentialsError:
            raise ConfigError(f"no credentials for the bucket {self.bucket!r}: set {CREDENTIALS}") \
                from None
        except ClientError as e:
            code = _code(e)
            if code in _REFUSED:
                raise ConfigError(
                    f"the object store at {self.where} refused the credentials for the bucket "
                    f"{self.bucket!r} ({code}): check {CREDENTIALS} and the key's rights on it"
                ) from None
            if code in _NO_BUCKET or code == "404":
                raise ConfigError(
                    f"there is no bucket {self.bucket!r} at {self.where}: create it (versioning "
                    "and object lock off) or correct INTAKE_STORE_URL"
                ) from None
            raise StoreFailed(f"the object store at {self.where} failed ({code})") from None
        except BotoCoreError as e:
            raise StoreFailed(
                f"the object store at {self.where} cannot be reached ({_reason(e)})") from None
        if versioning in ("Enabled", "Suspended") or locked:
            what = "object lock" if locked else f"versioning {versioning.lower()}"
            raise ConfigError(
                f"the bucket {self.bucket!r} has {what}: it would keep what the purge deletes; "
                "use a bucket with versioning and object lock never enabled (docs/deploy.md)"
            )

    def check_or_close(self) -> None:
        """`check`; an unreachable bucket closes intake (logged) instead of raising."""
        try:
            self.check()
        except StoreFailed as e:
            self._ready = False
            self._next_check = time.monotonic() + RETRY_SECONDS
            logger.error("%s: intake is closed until it answers (asked again every %d s)",
                         e, RETRY_SECONDS)
            return
        self._ready = True

    def available(self) -> bool:
        if self._ready:
            return True
        if time.monotonic() < self._next_check or not self._probe.acquire(blocking=False):
            return False
        try:
            try:
                self.check_or_close()
            except ConfigError as e:  # found versioning on, say: stays closed
                self._next_check = time.monotonic() + RETRY_SECONDS
                logger.error("%s; intake stays closed", e)
                return False
            if self._ready:
                logger.warning("the object store at %s answers again: intake is open", self.where)
            return self._ready
        finally:
            self._probe.release()

    def staging_must_be_durable(self) -> bool:
        """No: the bucket's confirmed object is the durable copy, not the staged file.

        The staged envelope is only what the upload reads its parts from: the
        rows are committed after the bucket confirmed the object
        (`Store.committing`), and a process that dies before that leaves its
        staged files to be deleted at the next start, unread (what it began in
        the bucket is aborted from the journal, which is still synced:
        `StagingArea.write_note`, `write_intent`). Syncing it bought no
        guarantee and cost the final fsync after the body (the disk's tail) plus
        writeback of every 8 MiB the disk never needed. Measured on the bench
        machine (2 December 2026): a 256 MiB envelope staged through
        `StagedEnvelope`, the fsync in `finish` 0.21-0.50 s (three runs) and
        0.02 s without; that fsync came after the body and before `place`, so
        it was waiting the applicant did. Return True and staging is synced as
        for the local store.
        """
        return False

    def recover(self, committed: Committed) -> int:
        if not self._ready:
            # Journals wait for a start that can reach the bucket; the rest is cleaned now.
            return clean_abandoned_staging(self.staging.root)
        return super().recover(committed)

    # --- the Store methods -------------------------------------------------

    def _key(self, blob_id: str) -> str:
        if not is_id(blob_id):  # a name from a row or a journal: nothing else
            raise ValueError("not a blob id")
        return self.prefix + blob_id

    def _call(self, what: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as e:
            raise StoreFailed(f"the object store failed to {what} ({_reason(e)})") from None

    def ahead(self, blob_id: str, path: Path) -> PartsAhead:
        self._key(blob_id)  # an id, or ValueError now
        ahead = PartsAhead(self, blob_id, path)
        with self._ahead_lock:
            self._ahead[path] = ahead
        return ahead

    def _take_ahead(self, path: Path) -> PartsAhead | None:
        with self._ahead_lock:
            return self._ahead.pop(path, None)

    def place(self, staged: Sequence[Staged], day: dt.date) -> None:
        # The bucket dates each object itself, to the second (SECURITY.md); `day` is unused.
        placed: list[str] = []
        begun = {source: self._take_ahead(source) for _blob_id, source in staged}
        try:
            for blob_id, source in staged:
                ahead = begun.pop(source)
                if ahead is not None and ahead.blob_id == blob_id:
                    ahead.finish()
                else:
                    if ahead is not None:
                        ahead.abandon()
                    self._upload(blob_id, source)
                placed.append(blob_id)
        except BaseException as e:
            for ahead in begun.values():
                if ahead is not None:
                    ahead.abandon()
            try:
                self.remove(placed)
            except (StoreFailed, ValueError):
                # The journal must stay: recovery at the next start removes them.
                if isinstance(e, StoreFailed):
                    e.leftover = True
                    raise e from None
                raise StoreFailed("the object store failed, and what was placed could not "
                                  "be removed again", leftover=True) from e
            raise
        remove_files([source for _blob_id, source in staged])

    def _begin_upload(self, blob_id: str) -> tuple[str, Path]:
        """Begin a multipart upload, journalled: its id and the note to clear once it is over."""
        key = self._key(blob_id)
        upload_id = str(self._call("begin an upload", self.client.create_multipart_upload,
                                   Key=key)["UploadId"])
        if not _UPLOAD_ID.fullmatch(upload_id):
            self._abort(key, upload_id)
            raise StoreFailed("the object store gave an upload id that cannot be journalled")
        return upload_id, self.staging.write_note(f"{UPLOAD_NOTE} {blob_id} {upload_id}")

    def _send_part(self, blob_id: str, upload_id: str, number: int, fd: BinaryIO | int,
                   offset: int, length: int) -> dict[str, Any]:
        answer = self._call("store part of an envelope", self.client.upload_part,
                            Key=self._key(blob_id), UploadId=upload_id, PartNumber=number,
                            Body=_Part(fd, offset, length), ContentLength=length)
        return {"ETag": answer["ETag"], "PartNumber": number}

    def _upload(self, blob_id: str, source: Path) -> None:
        key = self._key(blob_id)
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= PART_SIZE:
                self._call("store an envelope", self.client.put_object,
                           Key=key, Body=_Part(f, 0, size), ContentLength=size)
                return
            upload_id, note = self._begin_upload(blob_id)
            try:
                parts = []
                for number, offset in enumerate(range(0, size, PART_SIZE), start=1):
                    length = min(PART_SIZE, size - offset)
                    parts.append(self._send_part(blob_id, upload_id, number, f, offset, length))
                self._call("finish an upload", self.client.complete_multipart_upload,
                           Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
            except BaseException:
                try:
                    self._abort(key, upload_id)
                except StoreFailed:
                    raise  # the note stays in the journal: the next start aborts it
                self.staging.clear_intent(note)
                raise
        self.staging.clear_intent(note)

    def _abort(self, key: str, upload_id: str) -> bool:
        """Abort an upload; False when the bucket no longer has it (completed or aborted)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as e:
            if _code(e) in ("NoSuchUpload", "404"):
                return False
            raise StoreFailed(f"the object store failed to abort an upload ({_code(e)})") from None
        except BotoCoreError as e:
            raise StoreFailed(f"the object store failed to abort an upload ({_reason(e)})") from None
        return True

    def undo_notes(self, notes: Sequence[str]) -> int:
        aborted = 0
        for note in notes:
            fields = note.split(" ")
            if len(fields) != 3 or fields[0] != UPLOAD_NOTE or not _UPLOAD_ID.fullmatch(fields[2]):
                continue  # not ours: nothing to undo
            aborted += self._abort(self._key(fields[1]), fields[2])
        return aborted

    def unfinished(self, older_than: float) -> list[str]:
        notes = []
        pages = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    name = str(upload["Key"])[len(self.prefix):]
                    if is_id(name) and upload["Initiated"].timestamp() < older_than:
                        notes.append(f"{UPLOAD_NOTE} {name} {upload['UploadId']}")
        except (BotoCoreError, ClientError) as e:
            raise StoreFailed(f"the object store failed to list uploads ({_reason(e)})") from None
        return notes

    def remove(self, blob_ids: Iterable[str]) -> int:
        removed = 0
        for blob_id in blob_ids:
            key = self._key(blob_id)
            if not self.has(blob_id):
                continue
            self._call("delete an envelope", self.client.delete_object, Key=key)
            removed += 1
        return removed

    def has(self, blob_id: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(blob_id))
        except ClientError as e:
            if _code(e) in _NOT_FOUND:
                return False
            raise StoreFailed(f"the object store failed to look up an envelope ({_code(e)})") \
                from None
        except BotoCoreError as e:
            raise StoreFailed(f"the object store failed to look up an envelope ({_reason(e)})") \
                from None
        return True

    def open(self, blob_id: str) -> BinaryIO:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(blob_id))
        except ClientError as e:
            if _code(e) in _NOT_FOUND:
                raise FileNotFoundError(f"no envelope {blob_id} in {self}") from None
            raise StoreFailed(f"the object store failed to read an envelope ({_code(e)})") from None
        except BotoCoreError as e:
            raise StoreFailed(f"the object store failed to read an envelope ({_reason(e)})") \
                from None
        return cast(BinaryIO, io.BufferedReader(_Body(answer["Body"]), buffer_size=MIB))

    def names(self) -> list[tuple[str, float]]:
        """Every blob id under the prefix, with the time the bucket stamped on it."""
        found = []
        pages = self.client.get_paginator("list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(self.prefix):]
                    if is_id(name):
                        found.append((name, float(item["LastModified"].timestamp())))
        except (BotoCoreError, ClientError) as e:
            raise StoreFailed(f"the object store failed to list envelopes ({_reason(e)})") from None
        return found

    def orphans(self, named: set[str], older_than: float) -> list[str]:
        # A fresh object without a row may be a submission being stored now.
        return [name for name, stamped in self.names()
                if name not in named and stamped < older_than]


class PartsAhead:
    """Uploads an envelope's parts while the rest of its body is still arriving.

    What it buys: without it the bucket's time adds to the disk's, because the
    upload began only once the whole body had arrived and been encrypted into
    staging. With it the parts go up while the body arrives and `place` is
    left with the last part and the completion. Measured (bench/run.py
    `--only s3`, 256 MiB into moto on loopback, 2 shared cores, main's code
    and this in turn): 6.95 s -> 5.53 s (`ingest_s3_vs_disk` 2.70 -> 2.23) at
    load 1.5, 3.52 -> 2.56 at load 4 to 5; memory flat (`rss_1g_s3_over_10m`
    1.01 to 1.07). moto taking parts slower than the body arrives is what is
    left (docs/performance.md, "Envelopes in a bucket").

    How: the staged file only ever grows, and bytes once written never change
    (the envelope's header is written first and final, crypto/envelope.py),
    so each `grown` call tells how far the file may be read. Once PART_SIZE
    bytes are there a thread of its own begins the multipart upload,
    journalled like any other (`S3Store._begin_upload`), and sends each full
    part as soon as it is written, read from the staged file as it is sent:
    one part in flight, nothing held in memory, and the request's thread
    never waits for the bucket. An envelope that never reaches PART_SIZE
    starts nothing here and `finish` makes it one PUT, as `place` would.

    A failure of the bucket is kept and raised by the next `grown` (the
    request stops early, with the full-disk page) or by `finish`; `abandon`
    (a discarded body, a failed `place`) stops the thread and aborts the
    upload, leaving its note in the journal if the bucket cannot be told.
    Remove this class (and `Store.ahead`) and `place` uploads everything
    after the body, as before.
    """

    def __init__(self, store: S3Store, blob_id: str, path: Path) -> None:
        self.store = store
        self.blob_id = blob_id
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self._cond = threading.Condition()
        self._ready = 0  # bytes of the staged file written and final
        self._sent = 0  # bytes [0, sent) uploaded as parts
        self._final = False  # the file is whole: send every part but the last
        self._stop = False  # abandoned: send nothing more
        self._error: StoreFailed | None = None
        self._thread: threading.Thread | None = None
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._note: Path | None = None
        self._over = False  # finished or abandoned

    def grown(self, end: int) -> None:
        with self._cond:
            if self._error is not None:
                raise StoreFailed(str(self._error))
            self._ready = end
            if self._thread is None and end >= PART_SIZE:
                self._thread = threading.Thread(target=self._run, name="s3-parts", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _next_part(self) -> int | None:
        """The offset of the next part to send, once there is one; None when no more will be."""
        with self._cond:
            while True:
                if self._stop:
                    return None
                rest = self._ready - self._sent
                # While the file grows a full part may go; once it is whole the
                # last part (1 to PART_SIZE bytes) is left for `finish`.
                if rest > PART_SIZE or (rest == PART_SIZE and not self._final):
                    return self._sent
                if self._final:
                    return None
                self._cond.wait()

    def _run(self) -> None:
        try:
            upload_id, note = self.store._begin_upload(self.blob_id)
            with self._cond:
                self._upload_id, self._note = upload_id, note
            while (offset := self._next_part()) is not None:
                part = self.store._send_part(self.blob_id, upload_id, len(self._parts) + 1,
                                             self._fd, offset, PART_SIZE)
                with self._cond:
                    self._parts.append(part)
                    self._sent = offset + PART_SIZE
        except BaseException as e:
            with self._cond:
                self._error = e if isinstance(e, StoreFailed) else \
                    StoreFailed(f"the object store failed to store part of an envelope ({type(e).__name__})")

    def finish(self) -> None:
        """Send what is left of the whole staged file and complete the upload; StoreFailed if not."""
        with self._cond:
            self._final = True
            self._ready = os.fstat(self._fd).st_size
            thread = self._thread
            self._cond.notify()
        if thread is None:  # never reached a full part: one PUT, or parts, as `place` does
            self._over = True
            os.close(self._fd)
            self.store._upload(self.blob_id, self.path)
            return
        thread.join()
        try:
            if self._error is not None:
                raise self._error
            if self._upload_id is None or self._note is None:
                # The thread ends only after starting the upload and journalling it.
                raise StoreFailed("the bucket upload ended before it started")
            last = self.store._send_part(self.blob_id, self._upload_id, len(self._parts) + 1,
                                         self._fd, self._sent, self._ready - self._sent)
            self.store._call("finish an upload", self.store.client.complete_multipart_upload,
                             Key=self.store._key(self.blob_id), UploadId=self._upload_id,
                             MultipartUpload={"Parts": [*self._parts, last]})
        except BaseException:
            self.abandon()
            raise
        self._over = True
        os.close(self._fd)
        self.store.staging.clear_intent(self._note)

    def abandon(self) -> None:
        with self._cond:
            if self._over:
                return
            self._over = True
            self._stop = True
            thread = self._thread
            self._cond.notify()
        self.store._take_ahead(self.path)
        if thread is not None:
            thread.join()
        os.close(self._fd)
        if self._upload_id is None or self._note is None:
            return
        try:
            self.store._abort(self.store._key(self.blob_id), self._upload_id)
        except StoreFailed as e:
            logger.error("%s; the next start aborts it", e)  # the note stays in the journal
            return
        self.store.staging.clear_intent(self._note)


# --- moving a single host's store/ into a bucket ------------------------------------


def _digest(f: BinaryIO) -> str:
    h = hashlib.sha256()
    while chunk := f.read(MIB):
        h.update(chunk)
    return h.hexdigest()


def _local_ids(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if is_id(p.name) and p.is_file())


def _matches(target: S3Store, blob_id: str, local_digest: str) -> bool:
    """Whether the bucket holds this envelope with exactly the local file's bytes."""
    if not target.has(blob_id):
        return False
    with target.open(blob_id) as f:
        return _digest(f) == local_digest


@dataclass(frozen=True)
class MigrateResult:
    copied: int
    already: int


def migrate_to_bucket(root: Path, target: S3Store) -> MigrateResult:
    """Copy every envelope in the local store `root` into `target`, each verified; remove nothing.

    Resumable: an envelope the bucket already holds with the same SHA-256 is
    left as it is; one that differs (an upload cut short) is uploaded again.
    Each upload is read back and its digest compared before the next begins.
    """
    copied = already = 0
    for blob_id in _local_ids(root):
        path = root / blob_id
        with open(path, "rb") as f:
            local = _digest(f)
        if _matches(target, blob_id, local):
            already += 1
            continue
        target._upload(blob_id, path)
        if not _matches(target, blob_id, local):
            raise StoreFailed(f"the copy of {blob_id} in {target} does not match {path}; "
                              "nothing was removed, run the migration again")
        copied += 1
    return MigrateResult(copied, already)


def remove_migrated(root: Path, target: S3Store) -> tuple[int, list[str]]:
    """Delete each local envelope the bucket holds with the same digest; returns (removed, kept)."""
    removed = 0
    kept = []
    for blob_id in _local_ids(root):
        path = root / blob_id
        with open(path, "rb") as f:
            local = _digest(f)
        if not _matches(target, blob_id, local):
            kept.append(blob_id)
            continue
        path.unlink()
        removed += 1
    if removed:
        fsync_dir(root)
    return removed, kept
