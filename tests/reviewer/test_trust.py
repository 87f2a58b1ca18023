"""Which reviewer keys the tool seals to: its own and those a person confirmed (reviewer.trust).

The attack: bundles are not signed, so whoever rewrites one (on the stick, or a
compromised server) can name a key of their own among its recipients. Before
confirmed keys, `import` took that list as the team's keys and `verify` and
`reply` sealed to it: the attacker's key alone then opened every record and
reply.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bench.server_sim import Applicant, submit, write_bundle
from crypto import bundle, envelope
from crypto.errors import NoMatch
from crypto.keys import PrivateKey, PublicKey
from reviewer.cli import cli
from reviewer.errors import EXIT_ERROR, EXIT_KEY, EXIT_NOT_FOUND, EXIT_USAGE
from reviewer.state import STATE_VERSION
from tests.harness.bundles import read_members
from tests.reviewer.test_cli import CANARY_NOTE, CANARY_REPLY, Env, home_files, make_env
from tests.vectors import gen_bundle

VERIFY = ("--identity", "i", "--work", "w", "--persecution", "p", "--risk", "low",
          "--recommendation", "proceed", "--notes", CANARY_NOTE)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def one_case(env: Env, tmp_path: Path, sealed_to: list[PublicKey], named: list[PublicKey],
             name: str = "pickup.bundle") -> tuple[Path, Applicant]:
    a = Applicant()
    submit(a, sealed_to)
    return write_bundle(tmp_path / name, [(a, a.submissions)], named), a


def name_in_manifest(path: Path, key: PublicKey) -> None:
    """Rewrite a bundle as someone with the stick can: one more key in the manifest's
    recipients, and the manifest digest recomputed (it needs no secret)."""
    data = path.read_bytes()
    start = len(bundle.MAGIC) + bundle.LENGTH.size
    (length,) = bundle.LENGTH.unpack_from(data, len(bundle.MAGIC))
    manifest = json.loads(data[start : start + length])
    manifest["recipients"].append(key.to_text())
    members = data[start + length + bundle.DIGEST_BYTES :]
    path.write_bytes(gen_bundle.raw(gen_bundle.canon(manifest), [members]))


def sealed_blobs(env: Env) -> dict[str, bytes]:
    """The envelopes the reviewer sealed itself: records and replies (blobs/)."""
    return {p.name: p.read_bytes() for p in (env.home / "blobs").iterdir()}


def recipients_of(data: bytes) -> set[bytes]:
    return set(envelope.recipient_key_ids(io.BytesIO(data)))


def replies_bundle_members(path: Path) -> tuple[list[PublicKey], dict[str, bytes]]:
    manifest, members = read_members(path, "replies")
    return list(manifest.recipients), members


def unconfirmed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "Unconfirmed reviewer key" in line]


@pytest.mark.parametrize("attacker_is", ["server", "stick"])
def test_a_key_a_bundle_adds_is_reported_and_never_sealed_to(env: Env, tmp_path: Path,
                                                             attacker_is: str) -> None:
    attacker = PrivateKey.generate()
    # A compromised server seals the submissions to its key too; someone rewriting
    # the bundle on the stick can only add the key to the manifest.
    if attacker_is == "stick":
        path, a = one_case(env, tmp_path, [env.public], [env.public])
        name_in_manifest(path, attacker.public_key)
        # The reader checks the manifest's recipients against the envelopes' stanzas
        # (docs/bundle.md): a key no envelope is sealed to refuses the whole bundle.
        refused = env.run("import", str(path))
        assert refused.exit_code == 4 and refused.output.count("\n") == 1, refused.output
        assert attacker.public_key.fingerprint in refused.output
        assert "no envelope in it is sealed to" in refused.output
        assert json.loads(env.run("list", "--json").stdout) == []
        return
    path, a = one_case(env, tmp_path, [env.public, attacker.public_key],
                       [env.public, attacker.public_key])
    imported = env.run("import", str(path))
    assert imported.exit_code == 0, imported.output
    (line,) = unconfirmed_lines(imported.output)
    assert attacker.public_key.fingerprint in line and "nothing is sealed to it" in line

    assert env.run("verify", a.case, *VERIFY).exit_code == 0
    replied = env.run("reply", a.case, input=CANARY_REPLY + "\n")
    assert replied.exit_code == 0, replied.output
    (line,) = unconfirmed_lines(replied.output)
    assert attacker.public_key.fingerprint in line
    bundle = tmp_path / "replies.bundle"
    assert env.run("export-replies", str(bundle), key=False).exit_code == 0

    own = env.public.key_id
    for data in sealed_blobs(env).values():
        assert recipients_of(data) - {a.reply_key.public_key.key_id} == {own}
        with pytest.raises(NoMatch):
            envelope.decrypt_bytes(data, [attacker])
    recipients, members = replies_bundle_members(bundle)
    assert recipients == [env.public]
    for data in members.values():
        with pytest.raises(NoMatch):
            envelope.decrypt_bytes(data, [attacker])
        assert CANARY_REPLY in envelope.decrypt_bytes(data, [a.reply_key]).decode()
    # Importing the same bundle again reports the key again.
    again = env.run("import", str(path))
    assert "Nothing new" in again.output and len(unconfirmed_lines(again.output)) == 1


def test_a_confirmed_colleague_gets_records_and_replies(env: Env, tmp_path: Path) -> None:
    colleague = PrivateKey.generate()
    path, a = one_case(env, tmp_path, [env.public, colleague.public_key],
                       [env.public, colleague.public_key])
    assert len(unconfirmed_lines(env.run("import", str(path)).output)) == 1

    listed = env.run("keys", "list", key=False)
    assert listed.exit_code == 0, listed.output
    own_line, unconfirmed_line = listed.output.splitlines()
    assert own_line == f"(your key)\t{env.public.fingerprint}\t-\town"
    assert unconfirmed_line.startswith(f"(unconfirmed)\t{colleague.public_key.fingerprint}")
    assert unconfirmed_line.endswith(colleague.public_key.to_text())

    # Not confirmed when asked: nothing added.
    declined = env.run("keys", "add", colleague.public_key.to_text(), "--name", "Sara",
                       input="n\n")
    assert declined.exit_code == EXIT_ERROR and "nothing was added" in declined.output
    assert colleague.public_key.fingerprint in declined.stderr
    assert "confirmed" not in env.run("keys", "list", key=False).output.replace("unconfirmed", "")

    added = env.run("keys", "add", colleague.public_key.to_text(), "--name", "Sara",
                    input="y\n")
    assert added.exit_code == 0, added.output
    assert "Confirmed 'Sara'" in added.output
    lines = env.run("keys", "list", key=False).output.splitlines()
    assert lines[1].startswith(f"Sara\t{colleague.public_key.fingerprint}\t")
    assert lines[1].endswith("\tconfirmed") and len(lines) == 2

    verified = env.run("verify", a.case, *VERIFY)
    assert "Sealed to your key and 1 confirmed colleague key." in verified.output
    assert unconfirmed_lines(verified.output) == []
    assert env.run("reply", a.case, input="hello\n").exit_code == 0
    for data in sealed_blobs(env).values():
        assert {env.public.key_id, colleague.public_key.key_id} <= recipients_of(data)
        envelope.decrypt_bytes(data, [colleague])
    assert unconfirmed_lines(env.run("import", str(path)).output) == []

    # Removed: nothing new is sealed to it, and it is reported again.
    removed = env.run("keys", "remove", colleague.public_key.fingerprint)
    assert removed.exit_code == 0, removed.output
    before = set(sealed_blobs(env))
    verified = env.run("verify", a.case, *VERIFY)
    assert len(unconfirmed_lines(verified.output)) == 1
    (record,) = set(sealed_blobs(env)) - before
    assert recipients_of(sealed_blobs(env)[record]) == {env.public.key_id}


def test_keys_add_refuses_with_one_line(env: Env, tmp_path: Path) -> None:
    colleague = PrivateKey.generate().public_key
    other = PrivateKey.generate().public_key
    ok = env.run("keys", "add", colleague.to_text(), "--name", "Sara", "--yes")
    assert ok.exit_code == 0, ok.output
    cases = [
        ((colleague.to_text(), "--name", "Omid", "--yes"), EXIT_ERROR, "already confirmed as 'Sara'"),
        ((other.to_text(), "--name", "Sara", "--yes"), EXIT_ERROR, "already named 'Sara'"),
        ((env.public.to_text(), "--name", "me", "--yes"), EXIT_ERROR, "own keys"),
        (("refuge-pk1-nonsense", "--name", "X", "--yes"), EXIT_ERROR, "not a valid"),
        ((other.to_text(), "--name", "a\u202eb", "--yes"), EXIT_ERROR, "nothing invisible"),
        ((other.to_text(), "--name", " ", "--yes"), EXIT_ERROR, "1 to 100"),
        ((other.to_text(),), EXIT_USAGE, "--name"),
    ]
    for args, code, message in cases:
        result = env.run("keys", "add", *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
        if code == EXIT_ERROR:  # the error is one line, after the fingerprint if shown
            assert result.stderr.splitlines()[-1] == f"Error: {result.output.splitlines()[-1][7:]}"
            assert len(result.stderr.splitlines()) <= 2
    gone = env.run("keys", "remove", "Nobody")
    assert gone.exit_code == EXIT_NOT_FOUND and "no confirmed key" in gone.output
    own = env.run("keys", "remove", env.public.fingerprint)
    assert own.exit_code == EXIT_ERROR and "cannot be removed" in own.output
    assert env.run("keys", "remove", "Sara").exit_code == 0
    assert len(env.run("keys", "list", key=False).output.splitlines()) == 1
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    refused = env.runner.invoke(cli, ["keys", "add", "--home", str(env.home), "--passphrase-file",
                                      str(wrong), other.to_text(), "--name", "Omid", "--yes"])
    assert refused.exit_code == EXIT_KEY and "wrong passphrase" in refused.output
    assert len(env.run("keys", "list", key=False).output.splitlines()) == 1


@pytest.mark.parametrize("first", ["list", "import", "verify", "export-replies"])
def test_home_made_before_confirmed_keys_trusts_only_its_own(env: Env, tmp_path: Path,
                                                             first: str) -> None:
    # A home the tool wrote before confirmed keys (state version 2): the keys its
    # last bundle named were sealed to. Now they are reported, never trusted.
    colleague = PrivateKey.generate()
    path, a = one_case(env, tmp_path, [env.public, colleague.public_key],
                       [env.public, colleague.public_key])
    assert env.run("import", str(path)).exit_code == 0
    state_path = env.home / "state.json"
    state = json.loads(state_path.read_text())
    del state["reviewers"]
    state["version"] = 2
    state_path.write_text(json.dumps(state))
    # Its next bundle no longer names the colleague: the earlier key is still reported.
    later, _ = one_case(env, tmp_path, [env.public], [env.public], "later.bundle")

    before = set(sealed_blobs(env))
    if first == "list":
        result = env.run("list", "--json")
        assert [r["case"] for r in json.loads(result.stdout)] == [a.case]
    elif first == "import":
        result = env.run("import", str(later))
    elif first == "verify":
        result = env.run("verify", a.case, *VERIFY)
    else:
        result = env.run("export-replies", str(tmp_path / "r.bundle"), key=False)
    assert result.exit_code == 0, result.output
    (line,) = unconfirmed_lines(result.stderr)
    assert colleague.public_key.fingerprint in line and "earlier bundle" in line
    migrated = json.loads(state_path.read_text())
    assert migrated["version"] == STATE_VERSION and migrated["reviewers"] == []
    assert unconfirmed_lines(env.run("list", "--json").stderr) == []  # said once

    env.run("verify", a.case, *VERIFY)
    assert len(set(sealed_blobs(env)) - before) == 1 + (first == "verify")
    for data in sealed_blobs(env).values():
        assert recipients_of(data) == {env.public.key_id}


def test_damaged_confirmed_keys_are_one_line(env: Env) -> None:
    state_path = env.home / "state.json"
    assert env.run("keys", "add", PrivateKey.generate().public_key.to_text(), "--name", "S",
                   "--yes").exit_code == 0
    state = json.loads(state_path.read_text())
    state["reviewers"][0]["key"] = "refuge-pk1-bad"
    state_path.write_text(json.dumps(state))
    for args in (("keys", "list"), ("list",)):
        result = env.run(*args, key=args[0] != "keys")
        assert result.exit_code == EXIT_ERROR and "is damaged" in result.output
        assert result.output.count("\n") == 1


def test_confirmed_keys_never_hold_plaintext(env: Env, tmp_path: Path) -> None:
    colleague = PrivateKey.generate().public_key
    env.run("keys", "add", colleague.to_text(), "--name", "Sara", "--yes")
    path, a = one_case(env, tmp_path, [env.public, colleague], [env.public, colleague])
    env.run("import", str(path))
    env.run("reply", a.case, input=CANARY_REPLY)
    for p in home_files(env.home):
        assert CANARY_REPLY.encode() not in p.read_bytes()
