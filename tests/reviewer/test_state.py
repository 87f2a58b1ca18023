"""The reviewer's bookkeeping, typed (reviewer/state.py): read once, written back exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
import pytest

from crypto.keys import PrivateKey
from reviewer import errors
from reviewer import state as state_json
from reviewer.home import Home
from reviewer.state import Reply, State, StateError, Verification
from tests.reviewer.test_cli import Env, bundle_two, make_env

#: A state.json as the tool wrote it before reviewer/state.py (import with
#: attachments and a follow-up, verify, reply, export-replies, a second reply,
#: keys add): what every later version must read and write back unchanged.
WRITTEN_BEFORE = Path(__file__).parent / "data" / "reviewer-state-v3.json"

VERIFY = ("--identity", "i", "--work", "w", "--persecution", "p", "--risk", "low",
          "--recommendation", "refer", "--notes", "n")


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def busy_home(env: Env, tmp_path: Path) -> tuple[bytes, str]:
    """A home with cases, a follow-up, a record, a reply (exported) and a confirmed key."""
    path, a, b = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    assert env.run("verify", a.case, *VERIFY).exit_code == 0
    assert env.run("reply", b.case, input="Thank you.").exit_code == 0
    assert env.run("export-replies", str(tmp_path / "r.bundle")).exit_code == 0
    assert env.run("reply", b.case, input="A second reply.").exit_code == 0
    colleague = PrivateKey.generate().public_key
    assert env.run("keys", "add", colleague.to_text(), "--name", "Sara", "--yes").exit_code == 0
    return (env.home / "state.json").read_bytes(), b.case


def test_a_state_read_and_written_back_is_byte_identical(env: Env, tmp_path: Path) -> None:
    data, case_id = busy_home(env, tmp_path)
    state = state_json.parse(data)
    case = state.cases[case_id]
    assert [s.kind for s in case.submissions] == ["application", "followup"]
    assert [r.exported for r in case.replies] == [True, False]
    assert [c.name for c in state.reviewers] == ["Sara"] and not state.predates_trust
    assert state_json.dump(state) == data
    # and through the home, as every command reads and writes it
    home = Home(env.home)
    home.save_state(home.load_state())
    assert (env.home / "state.json").read_bytes() == data


def test_parsed_records_are_frozen_with_tuples(env: Env, tmp_path: Path) -> None:
    data, _ = busy_home(env, tmp_path)
    state = state_json.parse(data)
    for case in state.cases.values():
        for sub in case.submissions:
            assert type(sub.attachments) is tuple
        with pytest.raises(dataclasses.FrozenInstanceError):
            case.received = "2000-01-01"  # type: ignore[misc]


def test_a_state_the_earlier_tool_wrote_is_written_back_byte_identical(
        env: Env, tmp_path: Path) -> None:
    """A home that uses nothing of version 4 (no team records, removed colleague, city,
    referral or consent) is written back exactly as the version 3 tool wrote it."""
    data = WRITTEN_BEFORE.read_bytes()
    state = state_json.parse(data)
    assert sum(len(c.submissions) for c in state.cases.values()) == 3
    assert sum(len(s.attachments) for c in state.cases.values() for s in c.submissions) == 2
    assert state_json.dump(state) == data
    (env.home / "state.json").write_bytes(data)
    home = Home(env.home)
    home.save_state(home.load_state())
    assert (env.home / "state.json").read_bytes() == data


def test_the_earlier_cities_referrals_and_consents_are_read_and_dropped() -> None:
    """Before any release, version 4 kept the register, referrals and consents in
    state.json; they are team records now: such a state still reads, without them."""
    key = PrivateKey.generate().public_key
    earlier = {
        "version": 4, "server_keys": [], "reviewers": [], "packs": {},
        "team": {"1" * 32: "2026-12-01"}, "team_outbox": [],
        "cities": [{"name": "Stavanger", "country": "NO", "key": key.to_text(),
                    "added": "2026-12-01"}],
        "cases": {"a" * 32: {
            "reply_key": "refuge-pk1-x", "received": "2026-12-01", "submissions": [],
            "verifications": [], "replies": [],
            "referrals": [{"dossier": "b" * 32, "day": "2026-12-01", "blob": "c" * 32,
                           "answers": [{"id": "d" * 32, "day": "2026-12-02", "blob": "e" * 32}]}],
            "consents": [{"day": "2026-12-01", "blob": "f" * 32}]}},
    }
    state = state_json.parse(json.dumps(earlier).encode())
    assert state.cases["a" * 32] == state_json.Case("refuge-pk1-x", "2026-12-01")
    written = json.loads(state_json.dump(state))
    assert "cities" not in written and set(written["cases"]["a" * 32]) == {
        "reply_key", "received", "submissions", "verifications", "replies"}
    assert written["version"] == 4 and written["team"] == earlier["team"]


def test_changes_are_new_states(env: Env, tmp_path: Path) -> None:
    data, case_id = busy_home(env, tmp_path)
    state = state_json.parse(data)
    changed = state.with_verification(case_id, Verification("ab" * 16, "2026-12-01"))
    changed = changed.with_reply(case_id, Reply("cd" * 16, "2026-12-01", "ef" * 16, False))
    assert state_json.dump(state) == data  # the state it was made from is unchanged
    doc = json.loads(state_json.dump(changed))["cases"][case_id]
    assert doc["verifications"][-1] == {"blob": "ab" * 16, "day": "2026-12-01"}
    assert doc["replies"][-1] == {"id": "cd" * 16, "day": "2026-12-01", "blob": "ef" * 16,
                                  "exported": False}
    exported = changed.with_exported(["cd" * 16])
    assert exported.cases[case_id].replies[-1].exported
    assert not exported.cases[case_id].replies[-2].exported


@pytest.mark.parametrize("version", [1, 2])
def test_older_versions_still_read(env: Env, tmp_path: Path, version: int) -> None:
    data, _ = busy_home(env, tmp_path)
    doc = json.loads(data)
    doc["version"] = version
    doc["reviewers"] = []
    del doc["team"], doc["team_outbox"]  # version 4's (the verification's team record)
    expected = json.loads(json.dumps(doc))
    del doc["reviewers"]
    if version == 1:
        del doc["packs"]
        expected["packs"] = {}
    state = state_json.parse(json.dumps(doc).encode())
    assert state.predates_trust and state.reviewers == ()
    expected["version"] = 3
    written = state_json.dump(state)
    assert written == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()


def test_a_home_before_confirmed_keys_is_written_back_as_version_3(env: Env,
                                                                   tmp_path: Path) -> None:
    path, _, _ = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    colleague = PrivateKey.generate().public_key
    doc = json.loads((env.home / "state.json").read_bytes())
    del doc["reviewers"]
    doc["version"] = 2
    doc["server_keys"] = [env.public.to_text(), colleague.to_text()]  # sealed to, then
    (env.home / "state.json").write_text(json.dumps(doc))
    listed = env.run("list", "--json")
    assert listed.exit_code == 0, listed.output
    assert colleague.fingerprint in listed.stderr and "earlier bundle" in listed.stderr
    migrated = json.loads((env.home / "state.json").read_bytes())
    assert migrated["version"] == 3 and migrated["reviewers"] == []
    assert env.run("list", "--json").stderr == ""  # said once


@pytest.mark.parametrize("damage", [
    lambda d, c: d["cases"][c]["submissions"][0].update(attachments=[7]),
    lambda d, c: d["cases"][c]["submissions"][0].update(kind="appeal"),
    lambda d, c: d["cases"][c]["submissions"][0].pop("readable"),
    lambda d, c: d["cases"][c].update(replies={"not": "a list"}),
    lambda d, c: d["cases"][c]["verifications"].append({"blob": 7, "day": "x"}),
    lambda d, c: d["cases"][c].update(received=None),
    lambda d, c: d.update(cases=[]),
    lambda d, c: d["cases"].update({c.upper(): d["cases"].pop(c)}),
    lambda d, c: d["cases"].update({c + "0": d["cases"].pop(c)}),
    lambda d, c: d["cases"].update({"../" + c[3:]: d["cases"].pop(c)}),
    lambda d, c: d["cases"].update({"x": [1]}),
    lambda d, c: d["cases"][c]["submissions"][0].update(readable=1),
    lambda d, c: d["cases"][c]["submissions"][0].update(id=None),
    lambda d, c: d["cases"][c]["replies"].append({"id": "r", "day": "d", "blob": "b",
                                                   "exported": "yes"}),
    lambda d, c: d["packs"][next(iter(d["packs"]))].update({"A" * 32: [0, 1]}),
    lambda d, c: d["packs"][next(iter(d["packs"]))].update({"a" * 31: [0, 1]}),
    lambda d, c: d["packs"][next(iter(d["packs"]))].update({"a" * 32: [0, -1]}),
])
def test_a_damaged_state_is_one_clear_line(env: Env, tmp_path: Path, damage: object) -> None:
    data, case_id = busy_home(env, tmp_path)
    doc = json.loads(data)
    damage(doc, case_id)  # type: ignore[operator]
    (env.home / "state.json").write_text(json.dumps(doc))
    with pytest.raises(StateError):
        state_json.parse(json.dumps(doc).encode())
    result = env.run("list")
    assert result.exit_code == errors.EXIT_ERROR, result.output
    assert "state.json is damaged" in result.output and "Traceback" not in result.output
    assert result.output.count("\n") == 1


def test_unknown_version_is_refused(env: Env, tmp_path: Path) -> None:
    data, _ = busy_home(env, tmp_path)
    (env.home / "state.json").write_bytes(data.replace(b'"version":4', b'"version":5'))
    result = env.run("list")
    assert result.exit_code == errors.EXIT_ERROR
    assert "written by an unknown version" in result.output


def test_library_errors_are_plain_exceptions() -> None:
    # Only reviewer.cli turns them into click's errors (one dispatcher).
    for kind in (errors.ReviewerError, errors.KeyProblem, errors.BadInput, errors.NotFound,
                 errors.HomeBusy, StateError):
        assert not issubclass(kind, click.ClickException)


def test_empty_state_dumps_as_the_first_save_did() -> None:
    assert state_json.dump(State()) == (
        b'{"cases":{},"packs":{},"reviewers":[],"server_keys":[],"version":3}'
    )
