"""Replies in the outbox: edited or withdrawn until exported, then final (Home verbs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crypto import envelope
from crypto.errors import CryptoError
from reviewer import state as state_json
from reviewer.blobs import BlobStore
from reviewer.errors import NotFound, ReplyFinal, ReviewerError
from reviewer.home import Home, today
from tests.harness.bundles import read_members

from .test_cli import PASSPHRASE, Env, bundle_two, home_files, make_env

OLD = "CANARY-OLD-REPLY-5e1f"
NEW = "The corrected reply.\n\nWith a second paragraph."


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def with_replies(env: Env, tmp_path: Path) -> tuple[Home, str, list[str]]:
    """A case with two replies in the outbox; (home, case id, reply ids)."""
    path, a, _ = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    for text in (OLD, "Another reply."):
        assert env.run("reply", a.case, input=text).exit_code == 0
    home = Home(env.home)
    replies = home.load_state().cases[a.case].replies
    return home, a.case, [r.id for r in replies]


def readable_texts(env: Env) -> list[str]:
    """Every reply text any envelope file in the home opens to, with this home's key."""
    keys = Home(env.home).unlock(PASSPHRASE)
    texts = []
    for p in home_files(env.home):
        if p.parent.name != "blobs":
            continue
        try:
            doc = json.loads(envelope.decrypt_bytes(p.read_bytes(), keys.private))
        except CryptoError:
            continue
        if doc.get("format") == "refuge-intake reply":
            texts.append(doc["text"])
    return texts


def test_edit_keeps_id_and_place_and_deletes_the_old_envelope(env: Env, tmp_path: Path) -> None:
    home, case_id, (first, second) = with_replies(env, tmp_path)
    old_blob = home.load_state().cases[case_id].replies[0].blob
    state = home.edit_reply(case_id, first, "  " + NEW + "\n")
    replies = state.cases[case_id].replies
    assert [r.id for r in replies] == [first, second]
    assert replies[0].blob != old_blob and replies[0].day == today() and not replies[0].exported
    assert home.load_state() == state
    assert not (env.home / "blobs" / old_blob).exists()
    assert sorted(readable_texts(env)) == sorted([NEW, "Another reply."])  # OLD is gone
    assert NEW in env.run("show", case_id).output.replace("\n   ", "\n")

    # What goes out is the edited text, under the same id, for the applicant.
    bundle = tmp_path / "replies.bundle"
    assert env.run("export-replies", str(bundle)).exit_code == 0
    manifest, members = read_members(bundle, "replies")
    by_id = {r.reply: members[r.blob] for r in manifest.replies}
    assert set(by_id) == {first, second}
    keys = Home(env.home).unlock(PASSPHRASE)
    assert json.loads(envelope.decrypt_bytes(by_id[first], keys.private))["text"] == NEW.strip()


def test_withdraw_removes_the_reply_and_its_envelope(env: Env, tmp_path: Path) -> None:
    home, case_id, (first, second) = with_replies(env, tmp_path)
    old_blob = home.load_state().cases[case_id].replies[0].blob
    state = home.withdraw_reply(case_id, first)
    assert [r.id for r in state.cases[case_id].replies] == [second]
    assert not (env.home / "blobs" / old_blob).exists()
    assert readable_texts(env) == ["Another reply."]
    out = env.run("export-replies", str(tmp_path / "r.bundle")).output
    assert "Wrote 1 reply" in out


def test_an_exported_reply_is_final(env: Env, tmp_path: Path) -> None:
    home, case_id, (first, second) = with_replies(env, tmp_path)
    assert env.run("export-replies", str(tmp_path / "r.bundle")).exit_code == 0
    before = (env.home / "state.json").read_bytes()
    exported = home.load_state().cases[case_id].replies
    assert [(r.exported, r.exported_on) for r in exported] == [(True, today())] * 2
    with pytest.raises(ReplyFinal, match=f"the reply was exported on {today()} and is final"):
        home.edit_reply(case_id, first, NEW)
    with pytest.raises(ReplyFinal, match="is final"):
        home.withdraw_reply(case_id, second)
    assert (env.home / "state.json").read_bytes() == before
    assert all((env.home / "blobs" / r.blob).exists() for r in exported)
    assert "(exported, final;" in env.run("show", case_id).output
    # Exporting again (--all) keeps the day of the first export.
    state = home.load_state().with_exported([first], "2099-01-01")
    assert state.cases[case_id].replies[0].exported_on == today()


def test_a_reply_exported_before_the_day_was_kept_says_so_without_a_day() -> None:
    assert str(ReplyFinal("")) == ("the reply was exported and is final: it can no longer be"
                                   " edited or withdrawn (write a new reply instead)")


def test_refused_edits_change_nothing(env: Env, tmp_path: Path) -> None:
    home, case_id, (first, _) = with_replies(env, tmp_path)
    before = {p: p.read_bytes() for p in home_files(env.home)}
    with pytest.raises(ReviewerError, match="empty"):
        home.edit_reply(case_id, first, " \n ")
    with pytest.raises(ReviewerError, match="cannot save this reply"):
        home.edit_reply(case_id, first, "x" * (4 * 1024 * 1024))
    with pytest.raises(NotFound):
        home.edit_reply(case_id, "0" * 32, NEW)
    with pytest.raises(NotFound):
        home.withdraw_reply("f" * 32, first)
    assert {p: p.read_bytes() for p in home_files(env.home)} == before


def test_a_packed_envelope_is_not_removed(env: Env, tmp_path: Path) -> None:
    path, a, _ = bundle_two(env, tmp_path)
    assert env.run("import", str(path)).exit_code == 0
    state = Home(env.home).load_state()
    answers = state.cases[a.case].submissions[0].answers
    store = BlobStore(env.home, state.packs)
    packs = {p: p.read_bytes() for p in (env.home / "packs").iterdir()}
    assert store.remove_loose(answers) is False
    assert {p: p.read_bytes() for p in (env.home / "packs").iterdir()} == packs
    assert store.read_blob(answers)


def test_the_export_day_is_kept_in_the_state_and_optional(env: Env, tmp_path: Path) -> None:
    _, case_id, _ = with_replies(env, tmp_path)
    assert env.run("export-replies", str(tmp_path / "r.bundle")).exit_code == 0
    data = (env.home / "state.json").read_bytes()
    raw = json.loads(data)
    assert [r["exported_on"] for r in raw["cases"][case_id]["replies"]] == [today()] * 2
    assert state_json.dump(state_json.parse(data)) == data
    for r in raw["cases"][case_id]["replies"]:
        del r["exported_on"]  # as a tool before the export day wrote it
    older = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    parsed = state_json.parse(older)
    assert all(r.exported and r.exported_on == "" for r in parsed.cases[case_id].replies)
    assert state_json.dump(parsed) == older
