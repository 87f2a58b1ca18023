"""A real S3 endpoint on loopback for tests: moto's `moto_server` (bench/s3_server.py).

It runs as a subprocess.

Why: the bucket store (intake/s3store.py) must be proved against something
that speaks the S3 protocol over HTTP, as MinIO, Garage or AWS would, not an
in-process mock of boto3. moto's server is that, with its S3 backend (the
test extra installs `moto[s3]` and flask-cors, what `moto_server` needs for
S3). It keeps everything in memory: stopping it proves nothing about what a
failure leaves behind, so the fault tests cut connections with `CuttingProxy`
instead.

Offer its fixtures by naming this module as a plugin (tests/conftest.py).
`s3_server` is one server for the session; `fresh_bucket` an empty bucket per
test, with the environment set as an operator would (credentials in the
standard AWS variables, nothing read from ~/.aws). Without moto installed the
tests using them skip, except under CI, where they fail (tests/harness/tools.py).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.s3_server import ACCESS_KEY, SECRET_KEY, S3Server
from tests.harness.tools import missing

# SO_LINGER on, 0 seconds: close() sends a reset.
_RESET = b"\x01\x00\x00\x00\x00\x00\x00\x00"


@dataclass(frozen=True)
class Bucket:
    """An empty bucket on the test server: its name, the INTAKE_* settings, a client."""

    name: str
    server: S3Server
    prefix: str = "envelopes"

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def config(self) -> dict[str, str]:
        """What make_app takes to use this bucket (INTAKE_STORE_URL, INTAKE_S3_ENDPOINT_URL)."""
        return {"STORE_URL": self.url, "S3_ENDPOINT_URL": self.endpoint}

    def client(self) -> Any:
        return self.server.client()

    def keys(self) -> list[str]:
        """Every object name in the bucket, the prefix included."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(str(o["Key"]) for page in pages for o in page.get("Contents", []))

    def uploads(self) -> list[str]:
        """The object names of multipart uploads begun and neither completed nor aborted."""
        found = self.client().list_multipart_uploads(Bucket=self.name).get("Uploads", [])
        return sorted(str(u["Key"]) for u in found)

    def read(self, key: str) -> bytes:
        data: bytes = self.client().get_object(Bucket=self.name, Key=key)["Body"].read()
        return data


def credentials_env(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """The standard AWS variables as an operator sets them; nothing from ~/.aws."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


class CuttingProxy:
    """A TCP proxy to `target_port` that resets a connection once `cut_after` bytes went up.

    Every connection that carries that many bytes towards the server is cut
    (both sides reset), so a large upload fails mid-way however often the
    client retries, while small requests (an abort, a delete) pass. With
    `down_after_cut`, once one connection was cut every later one is refused:
    the store is gone, and whatever the server wanted to undo must wait for the
    next start. `port` 0 takes a free one.
    """

    def __init__(self, target_port: int, cut_after: int, *, down_after_cut: bool = False,
                 port: int = 0) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.down_after_cut = down_after_cut
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.down_after_cut and self.cuts:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        done = threading.Event()

        def down() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    client.sendall(data)
            done.set()
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

        threading.Thread(target=down, daemon=True).start()
        sent = 0
        try:
            while data := client.recv(65536):
                sent += len(data)
                if sent >= self.cut_after:
                    with self._lock:
                        self.cuts += 1
                    for s in (client, upstream):  # closed with a reset, not a FIN
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                    return
                upstream.sendall(data)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
            done.wait(60)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)


# -- pytest fixtures --------------------------------------------------------------


@contextlib.contextmanager
def share_parsed_models() -> Iterator[None]:
    """Let every botocore session in this process share one cache of the JSON files it
    parses (the S3 service model, endpoints, partitions), as clients of one session do.

    The server makes a boto3 session for each app (intake/s3store.py), and the tests make
    hundreds of apps: parsing the models again took ~0.4 s of each on two cores. Each
    session keeps its own loader and search paths; only what they read is shared.
    """
    import botocore.session

    real = botocore.session.create_loader
    parsed: dict[Any, Any] = {}

    def create_loader(search_path_string: str | None = None) -> Any:
        loader = real(search_path_string)
        assert isinstance(loader._cache, dict), "botocore's Loader changed: remove this"
        loader._cache = parsed
        return loader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", create_loader)
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto_server for the whole session."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto and boto3 (the test and server extras)")
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        with share_parsed_models():
            yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> Bucket:
    """An empty bucket for this test, and the AWS variables set to reach it."""
    credentials_env(monkeypatch, tmp_path)
    bucket = Bucket("t-" + secrets.token_hex(8), s3_server)
    s3_server.client().create_bucket(Bucket=bucket.name)
    return bucket
