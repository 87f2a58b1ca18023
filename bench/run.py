"""Measure the performance figures (docs/performance.md) side by side, in one run, on the same files.

Run: `python bench/run.py` (full) or `python bench/run.py --quick` (under a
minute: smaller files, shorter intake run). Prints one `name: value` line per
figure, then a table with each target. Only 127.0.0.1 is used. Not a test:
timings depend on the machine (docs/performance.md has this machine's).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import (
    APPLICATION,
    REPO,
    Client,
    Server,
    apply,
    reset_peak,
    start_server,
    status_kib,
)
from crypto.keys import PrivateKey

MIB = 1024 * 1024


@dataclass
class Figure:
    name: str
    value: float | None
    target: str
    ok: bool | None
    note: str = ""


FIGURES: list[Figure] = []


def report(name: str, value: float | None, target: str = "",
           check: Callable[[float], bool] | None = None, note: str = "") -> None:
    ok = None if value is None or check is None else check(value)
    FIGURES.append(Figure(name, value, target, ok, note))
    shown = "n/a" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")
    print(f"{name}: {shown}" + (f"  ({note})" if note else ""), flush=True)


def timed(argv: list[str], **kw: object) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - start


def make_file(path: Path, size: int) -> Path:
    """Incompressible bytes (like photos and PDFs), written once and reused."""
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 8 * MIB)
            out.write(os.urandom(n))
            left -= n
    return path


# --- ingest and memory ------------------------------------------------------------


class PeakWatcher:
    """Polls VmRSS of the given processes; VmHWM (reset first) catches the rest."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_kib = 0
        self._stop = threading.Event()
        for pid in pids:
            reset_peak(pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.pids:
                self.peak_kib = max(self.peak_kib, status_kib(pid, "VmRSS"))

    def stop(self) -> int:
        """The highest per-process peak, in KiB."""
        self._stop.set()
        self._thread.join()
        return max(self.peak_kib, *(status_kib(p, "VmHWM") for p in self.pids))


def store_bytes(server: Server) -> int:
    """The ciphertext bytes in a server's local store."""
    return sum(p.stat().st_size for p in (server.data_dir / "store").iterdir())


def upload(server: Server, path: Path, *, new_application: bool = False,
           on_send: Callable[[], object] | None = None,
           stored: Callable[[Server], int] = store_bytes) -> float:
    """Seconds from the first byte sent to the answer, which comes after the ciphertext
    is stored and fsync'd.

    By default the file goes to an existing case as a follow-up (the applicant
    signed in first, untimed), so the figure is the upload path alone; with
    `new_application` it is sent with a new application, which adds one
    codename derivation (Argon2id, 64 MiB) to the time and the memory.
    """
    client = Client(server.port)
    size = path.stat().st_size
    if new_application:
        fields = {**APPLICATION, "csrf_token": client.token("/apply")}
        target, expect = "/apply", 200
    else:
        status, _ = apply(client)
        if status != 200:
            raise RuntimeError(f"application refused with status {status}")
        fields = {"message": "", "csrf_token": client.token("/case")}
        target, expect = "/case", 302
    before = stored(server)
    with open(path, "rb") as handle:
        if on_send is not None:
            on_send()
        start = time.perf_counter()
        status, _body = client.post_form(target, fields, ("attachments", handle, size))
        elapsed = time.perf_counter() - start
    client.close()
    if status != expect:
        raise RuntimeError(f"upload refused with status {status}")
    if stored(server) - before < size:
        raise RuntimeError("the ciphertext was not stored")
    return elapsed


def durable_write(source: Path, target: Path) -> float:
    """Seconds to copy `source` to a new file in 1 MiB writes and fsync it.

    The floor for anything that stores those bytes durably on this disk, as
    the server does with every upload and the decrypt command with its output.
    """
    start = time.perf_counter()
    with open(source, "rb") as src, open(target, "wb") as dst:
        while block := src.read(MIB):
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def cipher_only(size: int) -> float:
    """Seconds for libsodium's XChaCha20-Poly1305 secretstream alone over `size` bytes.

    The envelope's own cipher in 64 KiB chunks, in memory, no I/O: the floor
    of encrypting or decrypting that much with PyNaCl on one core.
    """
    import nacl.bindings as sodium

    chunk = os.urandom(64 * 1024)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, os.urandom(32))
    start = time.perf_counter()
    for _ in range(size // len(chunk)):
        sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, None, 0)
    return time.perf_counter() - start


def age_recipient(work: Path) -> str | None:
    """The recipient of a throwaway age identity in `work/age.key`, or None without age."""
    if shutil.which("age") is None or shutil.which("age-keygen") is None:
        return None
    key = work / "age.key"
    if not key.exists():
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                          text=True).stdout.strip()


def gpg_setup(home: Path) -> str | None:
    if shutil.which("gpg") is None:
        return None
    home.mkdir(mode=0o700)
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
         "--passphrase", "", "--quick-gen-key", "bench@example.invalid", "default", "default",
         "never"],
        check=True, capture_output=True,
    )
    return "bench@example.invalid"


def bench_ingest(work: Path, size: int, runs: int, key: PrivateKey) -> None:
    sample = make_file(work / "sample.bin", size)
    recipient = age_recipient(work)
    age_times: list[float] = []
    if recipient is None:
        print("age_missing", flush=True)
    gpg_home = work / "gnupg"
    gpg_uid = gpg_setup(gpg_home)
    gpg_times: list[float] = []
    ingest: list[float] = []
    with_application: list[float] = []
    age_durable: list[float] = []
    disk: list[float] = []
    cipher: list[float] = []
    for i in range(runs):
        disk.append(durable_write(sample, work / "disk.out"))
        cipher.append(cipher_only(size))
        server = start_server(work / f"ingest{i}", key.public_key.to_text(),
                              max_upload_mb=size // MIB + 2)
        try:
            ingest.append(upload(server, sample))
            with_application.append(upload(server, sample, new_application=True))
        finally:
            server.close()
            shutil.rmtree(work / f"ingest{i}", ignore_errors=True)
        if recipient:
            out = work / "age.out"
            age_times.append(timed(["age", "-r", recipient, "-o", str(out), str(sample)]))
            out.unlink()
            # The server fsyncs what it stores; the same durability for age.
            start = time.perf_counter()
            subprocess.run(["age", "-r", recipient, "-o", str(out), str(sample)], check=True)
            fd = os.open(out, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            age_durable.append(time.perf_counter() - start)
            out.unlink()
        if gpg_uid and i == 0:  # slow (gzip on incompressible data), so once
            out = work / "gpg.out"
            start = time.perf_counter()
            subprocess.run(
                f"gzip -c {sample} | gpg --homedir {gpg_home} --batch --trust-model always "
                f"--compress-algo none -e -r {gpg_uid} -o {out}",
                shell=True, check=True, capture_output=True)
            gpg_times.append(time.perf_counter() - start)
            out.unlink()
    t_ingest = statistics.median(ingest)
    report("ingest_s", t_ingest, note=f"{size // MIB} MiB follow-up upload, median of {runs}")
    report("ingest_with_application_s", statistics.median(with_application),
           note="the same file sent with a new application (adds one Argon2id derivation)")
    report("disk_write_s", statistics.median(disk),
           note="the same bytes written to a new file and fsync'd: the durability floor")
    report("cipher_s", statistics.median(cipher),
           note="libsodium XChaCha20-Poly1305 alone over the same size, in memory")
    if age_times:
        t_age = statistics.median(age_times)
        report("age_s", t_age)
        report("ingest_vs_age", t_ingest / t_age, "<= 1.5", lambda v: v <= 1.5)
        report("disk_write_vs_age", statistics.median(disk) / t_age, "reference",
               note="the floor the fsync alone puts under ingest_vs_age")
        report("cipher_vs_age", statistics.median(cipher) / t_age, "reference",
               note="the floor the cipher alone puts under ingest_vs_age")
        report("age_fsync_s", statistics.median(age_durable))
        report("ingest_vs_age_fsync", t_ingest / statistics.median(age_durable), "reference",
               note="age's output fsync'd too, as the server's is")
        report("ingest_with_application_vs_age",
               statistics.median(with_application) / t_age, "reference")
    else:
        report("ingest_vs_age", None, "<= 1.5", note="age_missing")
    if gpg_times:
        report("gzip_gpg_s", statistics.median(gpg_times))
        report("ingest_vs_gzip_gpg", t_ingest / statistics.median(gpg_times), "reference")


def bench_rss(work: Path, big: int, key: PrivateKey) -> None:
    small_file = make_file(work / "small.bin", 10 * MIB)
    big_file = make_file(work / "big.bin", big)
    server = start_server(work / "rss", key.public_key.to_text(), max_upload_mb=big // MIB + 2)
    try:
        peaks = {}
        for label, path, new in (("small", small_file, False), ("big", big_file, False),
                                 ("small_apply", small_file, True)):
            watchers: list[PeakWatcher] = []

            def watch(into: list[PeakWatcher] = watchers) -> None:
                into.append(PeakWatcher(server.workers()))

            upload(server, path, new_application=new, on_send=watch)
            peaks[label] = watchers[0].stop() / 1024
    finally:
        server.close()
        shutil.rmtree(work / "rss", ignore_errors=True)
    report("rss_10m_mib", peaks["small"])
    report("rss_1g_mib", peaks["big"], "< 100", lambda v: v < 100,
           note=f"{big // MIB} MiB upload")
    report("rss_1g_over_10m", peaks["big"] / peaks["small"], "<= 1.1", lambda v: v <= 1.1)
    report("rss_10m_with_application_mib", peaks["small_apply"],
           note="10 MiB sent with a new application: adds Argon2id's 64 MiB")


# --- envelopes in a bucket (moto_server on loopback) ---------------------------------


@dataclass(frozen=True)
class S3Bench:
    """What `s3_environment` yields: the bucket's URL, a byte counter, two measures of moto alone."""

    url: str
    stored: Callable[[Server], int]  # bytes in the bucket, for `upload`
    put_alone: Callable[[Path], float]  # a plain boto3 PUT of a file into moto
    complete_alone: Callable[[Path], float]  # moto joining a file's parts, uploaded plainly


@contextlib.contextmanager
def s3_environment(work: Path) -> Iterator[S3Bench]:
    """moto_server on 127.0.0.1 with one bucket, and the environment that points intake at it."""
    from bench.s3_server import ACCESS_KEY, SECRET_KEY, S3Server

    server = S3Server(work / "moto.log").start()
    saved = dict(os.environ)
    try:
        os.environ.update({
            "INTAKE_STORE_URL": "s3://bench/envelopes",
            "INTAKE_S3_ENDPOINT_URL": server.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(work / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
        })
        client = server.client()
        client.create_bucket(Bucket="bench")

        def stored(_server: Server) -> int:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket="bench")
            return sum(int(o["Size"]) for page in pages for o in page.get("Contents", []))

        def put_alone(path: Path) -> float:
            key = f"alone/{path.name}"
            start = time.perf_counter()
            with open(path, "rb") as f:
                client.put_object(Bucket="bench", Key=key, Body=f)
            elapsed = time.perf_counter() - start
            client.delete_object(Bucket="bench", Key=key)
            return elapsed

        def complete_alone(path: Path) -> float:
            # The same parts intake sends (PART_SIZE each), uploaded by a plain
            # client; only CompleteMultipartUpload is timed: what follows the
            # last part, whoever sent them.
            from intake.s3store import PART_SIZE

            key = f"alone/{path.name}"
            upload_id = client.create_multipart_upload(Bucket="bench", Key=key)["UploadId"]
            parts = []
            size = path.stat().st_size
            with open(path, "rb") as f:
                for number in range(1, -(-size // PART_SIZE) + 1):
                    answer = client.upload_part(Bucket="bench", Key=key, UploadId=upload_id,
                                                PartNumber=number, Body=f.read(PART_SIZE))
                    parts.append({"ETag": answer["ETag"], "PartNumber": number})
            start = time.perf_counter()
            client.complete_multipart_upload(Bucket="bench", Key=key, UploadId=upload_id,
                                             MultipartUpload={"Parts": parts})
            elapsed = time.perf_counter() - start
            client.delete_object(Bucket="bench", Key=key)
            return elapsed

        yield S3Bench("s3://bench/envelopes", stored, put_alone, complete_alone)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def bench_s3(work: Path, size: int, big: int, runs: int, key: PrivateKey) -> None:
    """ingest_s3_vs_disk and rss_1g_s3_over_10m (docs/performance.md)."""
    sample = make_file(work / "s3_sample.bin", size)
    disk: list[float] = []
    bucket: list[float] = []
    alone: list[float] = []
    joins: list[float] = []
    peaks = {}
    limit = max(size, big) // MIB + 2
    with s3_environment(work) as moto:
        stored = moto.stored
        # Disk and bucket in turn, so that what else the machine does weighs on both alike.
        for i in range(runs):
            server = start_server(work / f"s3disk{i}", key.public_key.to_text(),
                                  max_upload_mb=limit, extra_env={"INTAKE_STORE_URL": ""})
            try:
                disk.append(upload(server, sample))
            finally:
                server.close()
                shutil.rmtree(work / f"s3disk{i}", ignore_errors=True)
            server = start_server(work / f"s3bucket{i}", key.public_key.to_text(),
                                  max_upload_mb=limit)
            try:
                bucket.append(upload(server, sample, stored=stored))
            finally:
                server.close()
                shutil.rmtree(work / f"s3bucket{i}", ignore_errors=True)
            alone.append(moto.put_alone(sample))
            joins.append(moto.complete_alone(sample))
        small_file = make_file(work / "s3_small.bin", 10 * MIB)
        big_file = make_file(work / "s3_big.bin", big)
        server = start_server(work / "s3rss", key.public_key.to_text(), max_upload_mb=big // MIB + 2)
        try:
            for label, path in (("small", small_file), ("big", big_file)):
                watchers: list[PeakWatcher] = []

                def watch(into: list[PeakWatcher] = watchers) -> None:
                    into.append(PeakWatcher(server.workers()))

                upload(server, path, on_send=watch, stored=stored)
                peaks[label] = watchers[0].stop() / 1024
        finally:
            server.close()
            shutil.rmtree(work / "s3rss", ignore_errors=True)
    t_disk, t_bucket, t_alone, t_join = (statistics.median(v) for v in (disk, bucket, alone, joins))
    report("ingest_disk_s", t_disk, note=f"{size // MIB} MiB follow-up into store/, median of {runs}")
    report("ingest_s3_s", t_bucket, note="the same upload into a bucket on moto_server, loopback")
    report("s3_put_alone_s", t_alone,
           note="moto's own cost: a plain boto3 PUT of the same file into moto, no intake")
    report("s3_complete_alone_s", t_join,
           note="moto joining the same file's parts (CompleteMultipartUpload alone), no intake")
    report("ingest_s3_vs_disk", t_bucket / t_disk, "<= 1.5", lambda v: v <= 1.5)
    report("rss_10m_s3_mib", peaks["small"])
    report("rss_1g_s3_mib", peaks["big"], note=f"{big // MIB} MiB upload into the bucket")
    report("rss_1g_s3_over_10m", peaks["big"] / peaks["small"], "<= 1.1", lambda v: v <= 1.1)


# --- intake rate and sign-in flood ----------------------------------------------------


def argon2_bound() -> None:
    """One codename derivation with the production limits, and the rate it allows."""
    from crypto.codename import derive, generate_codename

    times = []
    for _ in range(3):
        start = time.perf_counter()
        derive(generate_codename(), os.urandom(16))
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    cores = os.cpu_count() or 1
    report("argon2_derive_s", t, note="CODENAME_LIMITS: 64 MiB, 2 passes, one thread")
    report("intake_bound_per_s", cores / t, note=f"{cores} cores / one derivation each")


def bench_intake(work: Path, seconds: float, key: PrivateKey) -> None:
    argon2_bound()
    server = start_server(work / "intake", key.public_key.to_text(), workers=2)
    done = 0
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop() -> None:
        nonlocal done, errors
        while time.monotonic() < stop_at:
            client = Client(server.port)
            try:
                status, body = apply(client)
                good = status == 200 and b'id="codename"' in body
            except (OSError, RuntimeError):
                good = False
            client.close()
            with lock:
                if time.monotonic() <= stop_at + 30:
                    done += good
                    errors += not good

    try:
        start = time.monotonic()
        threads = [threading.Thread(target=client_loop) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    finally:
        server.close()
        shutil.rmtree(work / "intake", ignore_errors=True)
    report("intake_per_s", done / elapsed, ">= 8", lambda v: v >= 8,
           note=f"{done} in {elapsed:.1f} s, 20 clients, 2 workers")
    report("intake_errors", errors, "0", lambda v: v == 0)


def bench_flood(work: Path, key: PrivateKey, rounds: int) -> None:
    from crypto.codename import generate_codename

    server = start_server(work / "flood", key.public_key.to_text(), workers=2)
    try:
        pids = [server.proc.pid, *server.workers()]
        for pid in pids:
            reset_peak(pid)
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def attempt() -> None:
            for _ in range(rounds):
                client = Client(server.port)
                try:
                    token = client.token("/signin")
                    status, _ = client.post_form(
                        "/signin", {"csrf_token": token, "codename": generate_codename()})
                except (OSError, RuntimeError):
                    status = 0
                client.close()
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=attempt) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total_kib = sum(status_kib(p, "VmHWM") for p in pids)
    finally:
        server.close()
        shutil.rmtree(work / "flood", ignore_errors=True)
    # The bound: per worker a baseline plus ARGON2_CONCURRENCY (2) * 64 MiB.
    report("flood_rss_mib", total_kib / 1024, "<= 2 * (base + 2 * 64)",
           lambda v: v <= 2 * (100 + 2 * 64) + 60,
           note="sum of master and 2 workers' peaks; answers "
           + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))


# --- slow clients ------------------------------------------------------------------------


class Tricklers:
    """`count` connections that keep POSTing a body one byte at a time, reopened when dropped.

    Each sends the headers of a 100 000-byte application and its first byte,
    then one more byte every `every` seconds: the shape of a slow-body attack
    that wants to hold one of the server's threads per connection. A
    connection the server closes (it fell behind the minimum rate) is opened
    again at once, so the server always faces `count` of them.
    """

    def __init__(self, port: int, count: int, every: float) -> None:
        self.port = port
        self.count = count
        self.every = every
        self.dropped = 0
        self._stop = threading.Event()
        self._socks: dict[socket.socket, float] = {}
        self._selector = selectors.DefaultSelector()
        for _ in range(count):
            self._open()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _open(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(
            f"POST /apply HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            "Content-Length: 100000\r\n\r\n-".encode())
        sock.setblocking(False)
        self._socks[sock] = time.monotonic() + self.every
        self._selector.register(sock, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        del self._socks[sock]
        sock.close()
        self.dropped += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    sock.recv(65536)  # an answer or a close: either way, dropped
                    gone = True
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    self._drop(sock)
            now = time.monotonic()
            for sock, due in list(self._socks.items()):
                if due <= now:
                    try:
                        sock.send(b"-")
                        self._socks[sock] = now + self.every
                    except OSError:
                        self._drop(sock)
            while len(self._socks) < self.count and not self._stop.is_set():
                try:
                    self._open()
                except OSError:
                    break

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in list(self._socks):
            sock.close()
        self._selector.close()


def probe(port: int, timeout: float = 15) -> float | None:
    """Seconds for `GET /` on a new connection, or None if it failed or took over `timeout`."""
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        conn.close()
    except OSError:
        return None
    elapsed = time.perf_counter() - start
    return elapsed if response.status == 200 and elapsed <= timeout else None


def bench_slowloris(work: Path, key: PrivateKey, seconds: float, grace: int,
                    connections: int = 200) -> None:
    """Applicants' pages and an application while `connections` slow bodies trickle in."""
    server = start_server(work / "slow", key.public_key.to_text(), workers=2,
                          extra_env={"INTAKE_BODY_GRACE_SECONDS": str(grace)})
    try:
        workers = server.workers()
        idle_kib = sum(status_kib(p, "VmRSS") for p in workers)
        tricklers = Tricklers(server.port, connections, every=5)
        latencies: list[float] = []
        errors = 0
        held_kib = 0
        try:
            time.sleep(3)  # all of them read by the server, still inside the grace period
            held_kib = sum(status_kib(p, "VmRSS") for p in workers)
            stop_at = time.monotonic() + seconds
            submitted = False
            while time.monotonic() < stop_at:
                took = probe(server.port)
                if took is None:
                    errors += 1
                else:
                    latencies.append(took)
                if not submitted and time.monotonic() > stop_at - seconds / 2:
                    submitted = True
                    client = Client(server.port)
                    client.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                    try:
                        status, body = apply(client)
                        errors += not (status == 200 and b'id="codename"' in body)
                    except (OSError, RuntimeError):
                        errors += 1
                    client.close()
                time.sleep(0.5)
        finally:
            tricklers.close()
    finally:
        server.close()
        shutil.rmtree(work / "slow", ignore_errors=True)
    median = statistics.median(latencies) if latencies else None
    report("slowloris_probe_s", median, "<= 2", lambda v: v <= 2,
           note=f"median of {len(latencies)} GET / while {connections} connections trickle "
           f"bodies (1 byte / 5 s), {tricklers.dropped} dropped and reopened, grace {grace} s")
    report("slowloris_probe_max_s", max(latencies) if latencies else None)
    report("slowloris_errors", errors, "0", lambda v: v == 0,
           note="probes that failed or took over 15 s, plus a failed application")
    report("slowloris_kib_per_connection", (held_kib - idle_kib) / connections,
           note="both workers' RSS with the connections held, less idle, per connection")


# --- reviewer ----------------------------------------------------------------------------


def bench_reviewer(work: Path, cases: int, attachment: int) -> None:
    from bench.server_sim import Applicant, submit, write_bundle
    from crypto.envelope import encrypt
    from crypto.keyfile import open_private_key, seal_private_key
    from crypto.params import KEYFILE_LIMITS, TEST_LIMITS

    home = work / "reviewer-home"
    passfile = work / "pass"
    passfile.write_text("correct horse battery staple\n")
    base = ["--home", str(home), "--passphrase-file", str(passfile)]
    reviewer = [str(Path(sys.executable).with_name("reviewer"))]
    # The key file is sealed with the cheap test limits, so that the figures are
    # the work on cases and files; the real unlock (KEYFILE_LIMITS, a deliberate
    # cost paid once per command) is measured on its own below.
    out = subprocess.run([*reviewer, "init", *base, "--insecure-test-limits"], check=True,
                         capture_output=True, text=True,
                         cwd=REPO).stdout
    from crypto.keys import PublicKey

    pub = PublicKey.from_text(next(x for x in out.split() if x.startswith("refuge-pk1-")))
    people = []
    for _ in range(cases):
        a = Applicant()
        submit(a, [pub])
        people.append((a, a.submissions))
    bundle = write_bundle(work / "b.bundle", people, [pub])
    t_import = timed([*reviewer, "import", *base, str(bundle)], cwd=REPO, capture_output=True)
    t_list = timed([*reviewer, "list", *base], cwd=REPO, capture_output=True)
    report("reviewer_import_s", t_import)
    report("reviewer_list_s", t_list)
    report("reviewer_list_10k_s", t_import + t_list, "<= 3", lambda v: v <= 3,
           note=f"{cases} cases, import + list, key unlock excluded")
    t_stats = timed([*reviewer, "stats", *base], cwd=REPO, capture_output=True)
    report("stats_10k_s", t_stats, "<= 1", lambda v: v <= 1,
           note=f"`reviewer stats` over {cases} cases (index fresh), key unlock excluded")

    # decrypt_vs_age: the same plaintext, each tool writing to a file on the same disk.
    plain = make_file(work / "attach.bin", attachment)
    key = PrivateKey.generate()
    keyfile = work / "key.refuge"
    sealed = seal_private_key(key, "correct horse battery staple", limits=TEST_LIMITS)
    keyfile.write_bytes(sealed)
    real = seal_private_key(key, "correct horse battery staple", limits=KEYFILE_LIMITS)
    start = time.perf_counter()
    open_private_key(real, "correct horse battery staple")
    report("keyfile_unlock_s", time.perf_counter() - start,
           note="Argon2id with KEYFILE_LIMITS, once per reviewer command")
    with open(plain, "rb") as src, open(work / "attach.env", "wb") as dst:
        encrypt(src, dst, [key.public_key])
    ours = []
    theirs = []
    theirs_durable = []
    recipient = age_recipient(work)
    if recipient:
        subprocess.run(["age", "-r", recipient, "-o", str(work / "attach.age"), str(plain)],
                       check=True)
    for _ in range(3):
        target = work / "attach.out"
        ours.append(timed([sys.executable, "-m", "crypto", "decrypt", "-i", str(keyfile),
                           "--passphrase-file", str(passfile), str(work / "attach.env"),
                           str(target)], cwd=REPO))
        target.unlink()
        if recipient:
            theirs.append(timed(["age", "-d", "-i", str(work / "age.key"), "-o", str(target),
                                 str(work / "attach.age")]))
            target.unlink()
            # Our output is fsync'd before it is named (crypto/atomic.py); the same for age.
            start = time.perf_counter()
            subprocess.run(["age", "-d", "-i", str(work / "age.key"), "-o", str(target),
                            str(work / "attach.age")], check=True)
            fd = os.open(target, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            theirs_durable.append(time.perf_counter() - start)
            target.unlink()
    report("decrypt_s", statistics.median(ours), note="python -m crypto decrypt, key unlock cheap")
    if theirs:
        report("age_decrypt_s", statistics.median(theirs))
        report("decrypt_vs_age", statistics.median(ours) / statistics.median(theirs), "<= 1.25",
               lambda v: v <= 1.25)
        report("age_decrypt_fsync_s", statistics.median(theirs_durable))
        report("decrypt_vs_age_fsync", statistics.median(ours) / statistics.median(theirs_durable),
               "reference", note="age's output fsync'd too, as ours is")
    else:
        report("decrypt_vs_age", None, "<= 1.25", note="age_missing")


def bench_desk(work: Path, cases: int) -> None:
    from bench.desk import measure

    figures = measure(work, cases)
    note = f"{cases} cases, Flask test client, after unlock"
    report("desk_list_10k_s", figures["desk_list_10k_s"], "<= 1", lambda v: v <= 1, note=note)
    report("desk_search_10k_s", figures["desk_search_10k_s"], "<= 0.5", lambda v: v <= 0.5,
           note=note)
    report("desk_case_s", figures["desk_case_s"], "<= 0.2", lambda v: v <= 0.2,
           note="median of 5")


# --- applicant pages ---------------------------------------------------------------------


SUBRESOURCE = re.compile(rb'<(?:link|img|script|iframe|source|video|audio)\b[^>]*?'
                         rb'(?:href|src)="([^"]+)"')


def bench_pages(work: Path) -> None:
    from bench.pages import applicant_pages

    worst_bytes = 0
    worst_requests = 0
    for _name, html, fetch in applicant_pages(work / "pages"):
        # A data: URL (the page's empty icon) is inline: no request, no bytes fetched.
        refs = [r for r in SUBRESOURCE.findall(html) if not r.startswith(b"data:")]
        total = len(html) + sum(len(fetch(r.decode())) for r in refs)
        worst_bytes = max(worst_bytes, total)
        worst_requests = max(worst_requests, 1 + len(refs))
    report("page_bytes_max", worst_bytes, "<= 20480", lambda v: v <= 20480)
    report("page_requests_max", worst_requests, "<= 2", lambda v: v <= 2)


# --- main ---------------------------------------------------------------------------------


def table() -> None:
    print()
    print(f"{'figure':22} {'value':>12}  {'target':24} met")
    for f in FIGURES:
        shown = "n/a" if f.value is None else f"{f.value:.3f}"
        met = "" if f.ok is None else ("yes" if f.ok else "NO")
        print(f"{f.name:22} {shown:>12}  {f.target:24} {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--only", help="comma-separated: ingest,rss,s3,intake,flood,slowloris,reviewer,"
                        "desk,pages")
    args = parser.parse_args()
    quick = bool(args.quick)
    only = set(args.only.split(",")) if args.only else None
    key = PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="refuge-bench-", dir=os.environ.get("BENCH_DIR")) as t:
        work = Path(t)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("pages", lambda: bench_pages(work)),
            ("ingest", lambda: bench_ingest(work, (32 if quick else 256) * MIB,
                                            1 if quick else 3, key)),
            ("rss", lambda: bench_rss(work, (128 if quick else 1024) * MIB, key)),
            ("s3", lambda: bench_s3(work, (32 if quick else 256) * MIB,
                                    (128 if quick else 1024) * MIB, 1 if quick else 3, key)),
            ("intake", lambda: bench_intake(work, 5 if quick else 30, key)),
            ("flood", lambda: bench_flood(work, key, 1 if quick else 3)),
            ("slowloris", lambda: bench_slowloris(work, key, 15 if quick else 60,
                                                  5 if quick else 30)),
            ("reviewer", lambda: bench_reviewer(work, 300 if quick else 10_000,
                                                (32 if quick else 256) * MIB)),
            ("desk", lambda: bench_desk(work, 300 if quick else 10_000)),
        ]
        for name, step in steps:
            if only is None or name in only:
                step()
                for leftover in work.glob("*.bin"):
                    if name != "ingest":
                        leftover.unlink()
    table()


if __name__ == "__main__":
    main()
