"""gunicorn's own answers carry the app's headers and quote nothing; no response names the server.

gunicorn refuses some requests itself before the app sees them (a malformed header:
400, a request line over `limit_request_line`: 414, too many header fields: 431).
deploy/gunicorn.conf.py replaces its error writer and drops its `Server` line; these
tests send such requests over a raw socket to the real server with the production
config, and read the answer byte for byte.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.parser import BytesHeaderParser

import pytest

from crypto.keys import PrivateKey
from intake.security import SECURITY_HEADERS
from tests.harness.gunicorn_intake import IntakeServer, prepare_data_dir, require_gunicorn

CANARY = "CANARYgunicornpage"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntakeServer]:
    require_gunicorn()
    root = tmp_path_factory.mktemp("pages")
    prepare_data_dir(root / "data", PrivateKey.generate())
    with IntakeServer(root / "data", root / "home", workers=1, threads=2) as running:
        yield running


def raw_answer(server: IntakeServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as it is and read until the server closes: the status, the
    headers (lower-case names) and the body."""
    data = bytearray()
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as conn:
        conn.sendall(request)
        try:
            while part := conn.recv(65536):
                data += part
        except ConnectionResetError:
            pass
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    message = BytesHeaderParser().parsebytes(header_block + b"\r\n\r\n")
    headers: dict[str, str] = {}
    for name, value in message.items():
        assert name.lower() not in headers, f"{name} sent twice"
        headers[name.lower()] = value
    return int(status_line.split()[1]), headers, body


def check_headers(headers: dict[str, str]) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, name
    assert "server" not in headers, headers.get("server")


REFUSED = {
    "bad header": (400, b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01Header: " + CANARY.encode()
                   + b"\r\n\r\n"),
    "request line too long": (414, b"GET /?" + CANARY.encode() * 200 + b" HTTP/1.1\r\n"
                              b"Host: x\r\n\r\n"),
    "too many header fields": (431, b"GET / HTTP/1.1\r\nHost: x\r\n"
                               + b"".join(f"X-{CANARY}-{i}: y\r\n".encode() for i in range(60))
                               + b"\r\n"),
    "header field too large": (431, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
                               + CANARY.encode() * 600 + b"\r\n\r\n"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REFUSED))
def test_gunicorn_refusals_carry_the_app_headers_and_quote_nothing(
        server: IntakeServer, case: str) -> None:
    expected, request = REFUSED[case]
    status, headers, body = raw_answer(server, request)
    assert status == expected, (case, status, body[:200])
    check_headers(headers)
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    assert CANARY.encode() not in body  # gunicorn's page quoted the request
    assert b"gunicorn" not in body.lower()


@pytest.mark.slow
def test_app_responses_do_not_name_the_server(server: IntakeServer) -> None:
    for path in ("/", "/apply", "/nowhere", "/static/style.css"):
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        status, headers, _body = raw_answer(server, request)
        assert status in (200, 404), (path, status)
        check_headers(headers)

