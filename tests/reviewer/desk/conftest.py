"""A reviewer home with three cases (one in Arabic, one with a follow-up) and a desk on it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from bench.server_sim import APPLICATION, Applicant, jpeg_with_exif, png_with_text, submit, write_bundle
from crypto.keys import PublicKey
from reviewer.cli import cli
from reviewer.desk import Desk, create_app
from reviewer.home import Home

PASSPHRASE = "correct horse battery staple"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
CANARY_ANSWER = "CANARY-ANSWER-d35k"
CANARY_FILE = "CANARY-FILENAME-d35k"
CANARY_CONTENT = b"CANARY-CONTENT-d35k"
CANARY_NOTE = "CANARY-NOTE-d35k"
CANARY_REPLY = "CANARY-REPLY-d35k"
CANARY_TEAM_NOTE = "CANARY-TEAM-NOTE-d35k"
CANARY_REASON = "CANARY-REASON-d35k"
ARABIC_NAME = "ليلى حسن"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    home_dir: Path
    pass_file: Path
    public: PublicKey
    a: Applicant
    b: Applicant
    c: Applicant
    bundle: Path
    clock: Clock = field(default_factory=Clock)


def init_home(home: Path, pass_file: Path) -> PublicKey:
    out = CliRunner().invoke(cli, ["init", "--home", str(home), "--passphrase-file",
                                   str(pass_file), "--insecure-test-limits"])
    assert out.exit_code == 0, out.output
    return PublicKey.from_text(out.output.splitlines()[2])


def make_home(tmp_path: Path, *, imported: bool = True,
              also: list[PublicKey] | None = None, home_name: str = "home") -> World:
    """A home with three cases; ALSO: more reviewers' keys the cases are sealed to."""
    runner = CliRunner()
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    home = tmp_path / home_name
    public = init_home(home, pass_file)
    keys = [public, *(also or [])]
    a = Applicant()
    submit(a, keys, answers={**APPLICATION, "name": "Ayşe", "urgency": "months",
                             "threat": CANARY_ANSWER + "\n<script>alert(1)</script>"},
           files=[(CANARY_FILE + ".jpg", "image/jpeg", jpeg_with_exif()),
                  ("notes.txt", "text/plain", CANARY_CONTENT)])
    b = Applicant()
    submit(b, keys, day="2026-11-21", answers={**APPLICATION, "name": ARABIC_NAME,
                                               "country": "السودان", "urgency": "immediate",
                                               "threat": "تهديدات متكررة"},
           files=[("poem.png", "image/png", png_with_text())])
    submit(b, keys, kind="followup", day="2026-11-22")
    c = Applicant()
    submit(c, keys, day="2026-11-19", answers={**APPLICATION, "name": "Omid", "country": "Iran",
                                               "profession": "other",
                                               "profession_other": "cartoonist",
                                               "urgency": "weeks"})
    bundle = write_bundle(tmp_path / "pickup.bundle",
                          [(a, a.submissions), (b, b.submissions), (c, c.submissions)], keys)
    if imported:
        out = runner.invoke(cli, ["import", "--home", str(home), "--passphrase-file",
                                  str(pass_file), str(bundle)])
        assert out.exit_code == 0, out.output
    return World(home, pass_file, public, a, b, c, bundle)


def confirm(world: World, key: PublicKey, name: str) -> None:
    out = CliRunner().invoke(cli, ["keys", "add", "--home", str(world.home_dir),
                                   "--passphrase-file", str(world.pass_file), key.to_text(),
                                   "--name", name, "--yes"])
    assert out.exit_code == 0, out.output


def make_team(tmp_path: Path) -> tuple[World, World]:
    """Two homes with the same three cases, each with the other's key confirmed: Ana's
    (A, which knows B as "Bea") and Bea's (B, which knows A as "Ana")."""
    b_pass = tmp_path / "pass-b"
    b_pass.write_text(PASSPHRASE + "\n")
    b_home = tmp_path / "home-b"
    b_public = init_home(b_home, b_pass)
    a = make_home(tmp_path, also=[b_public], home_name="home-a")
    out = CliRunner().invoke(cli, ["import", "--home", str(b_home), "--passphrase-file",
                                   str(b_pass), str(a.bundle)])
    assert out.exit_code == 0, out.output
    b = World(b_home, b_pass, b_public, a.a, a.b, a.c, a.bundle)
    confirm(a, b.public, "Bea")
    confirm(b, a.public, "Ana")
    return a, b


def export_outbox(world: World, name: str = "outbox") -> Path:
    """`reviewer export-replies`: the home's outbox bundle (replies, team envelopes)."""
    bundle = world.home_dir.parent / f"{name}-{world.home_dir.name}.bundle"
    bundle.unlink(missing_ok=True)
    out = CliRunner().invoke(cli, ["export-replies", "--home", str(world.home_dir),
                                   "--passphrase-file", str(world.pass_file), str(bundle)])
    assert out.exit_code == 0 and bundle.exists(), out.output
    return bundle


def import_outbox(world: World, bundle: Path) -> str:
    """`reviewer import` of a colleague's outbox bundle, straight from a stick."""
    out = CliRunner().invoke(cli, ["import", "--home", str(world.home_dir),
                                   "--passphrase-file", str(world.pass_file), str(bundle)])
    assert out.exit_code == 0, out.output
    assert "Refused" not in out.output and "Kept aside" not in out.output, out.output
    return out.output


def carry(src: World, dst: World) -> None:
    """SRC's outbox carried to DST through the real commands, as on a stick."""
    import_outbox(dst, export_outbox(src))


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_home(tmp_path)


@pytest.fixture
def desk(world: World) -> Desk:
    home = Home(world.home_dir)
    return Desk(home, home.unlock(PASSPHRASE), port=PORT, idle_seconds=60, clock=world.clock)


@pytest.fixture
def app(desk: Desk) -> Flask:
    return create_app(desk, {"TESTING": True})


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """A browser that has not opened the printed address."""
    return app.test_client()


@pytest.fixture
def client(app: Flask, desk: Desk) -> FlaskClient:
    """The browser that opened the printed address (it holds the cookie)."""
    c = app.test_client()
    r = c.get(f"/cases?token={desk.token}", base_url=BASE)
    assert r.status_code == 303
    return c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def page(client: FlaskClient, path: str) -> str:
    r = client.get(path, base_url=BASE)
    assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, object], *, status: int = 200,
         token_from: str = "/cases", **kw: object):
    form = {"csrf": csrf(page(client, token_from)), **data}
    r = client.post(path, data=form, base_url=BASE, **kw)
    assert r.status_code == status, (path, r.status_code, r.get_data(as_text=True)[:800])
    return r
