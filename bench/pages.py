"""Every page an applicant can be shown, rendered through the Flask test client.

Used by bench/run.py for `page_bytes_max` and `page_requests_max`: over Tor
each byte and each request costs, so the pages are measured as a browser
would fetch them (the HTML, then every subresource it references).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app, db

TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
CODENAME = re.compile(rb'id="codename">([^<]+)<')

Page = tuple[str, bytes, Callable[[str], bytes]]

ANSWERS = {
    "name": "Ayşe Example",
    "country": "SY",
    "profession": "poet",
    "languages": "Turkish",
    "work": "Poems.",
    "threat": "Charged.",
    "situation": "In hiding.",
    "urgency": "weeks",
    "acknowledge": "y",
}


def applicant_pages(data_dir: Path) -> Iterator[Page]:
    """(name, html, fetch) for each page; fetch(url) returns a subresource's bytes."""
    key = PrivateKey.generate()
    app = create_app({"TESTING": True, "DATA_DIR": data_dir, "ARGON2_LIMITS": TEST_LIMITS,
                      "MAX_CONTENT_LENGTH": 1024 * 1024})
    client = app.test_client()

    def fetch(url: str) -> bytes:
        return bytes(client.get(url).data)

    def token(path: str) -> str:
        found = TOKEN.search(client.get(path).data)
        if found is None:
            raise RuntimeError(f"no CSRF token on {path}")
        return found.group(1).decode()

    yield "not ready (no schema)", client.get("/").data, fetch
    with app.app_context():
        db.create_schema(db.engine())
    app.extensions["intake_schema_ready"] = False
    yield "closed (no reviewer key)", client.get("/apply").data, fetch
    result = app.test_cli_runner().invoke(
        args=["keys", "add", key.public_key.to_text(), "--name", "bench"])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    yield "landing", client.get("/").data, fetch
    yield "apply", client.get("/apply").data, fetch
    yield "apply with errors", client.post(
        "/apply", data={"csrf_token": token("/apply")}).data, fetch
    yield "not found", client.get("/no-such-page").data, fetch
    yield "too large", client.post(
        "/apply", data={"csrf_token": token("/apply"), "work": "x" * (2 * 1024 * 1024)}).data, fetch
    yield "signin", client.get("/signin").data, fetch
    yield "signin wrong codename", client.post(
        "/signin", data={"csrf_token": token("/signin"), "codename": "a b c d e f g"}).data, fetch
    done = client.post("/apply", data={**ANSWERS, "csrf_token": token("/apply")}).data
    yield "codename", done, fetch
    yield "case", client.get("/case").data, fetch
    client.post("/case", data={"csrf_token": token("/case"), "message": "More news."})
    yield "case with a follow-up", client.get("/case").data, fetch
    yield "signout", client.get("/signout").data, fetch
    yield "signed out", client.post("/signout", data={"csrf_token": token("/signout")}).data, fetch
    yield "turned away", client.post(
        "/apply", data={**ANSWERS, "homepage": "spam", "csrf_token": token("/apply")}).data, fetch
