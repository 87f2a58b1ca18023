"""Run every team record vector in tests/vectors/team/ (docs/team.md, "Test vectors").

Each file is one scenario: the reader's key, its book of signing keys, the
cases it has and the day of receipt, then one expected outcome per sealed
record, and what the fold makes of those that succeed. The exact error class
is checked, so a record built to fail its signature cannot pass by failing a
frame rule instead.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from crypto import errors, team
from crypto.keys import PrivateKey
from crypto.signing import SigningPublicKey
from reviewer.team import fold
from tests.crypto.test_vectors import error_class, one, parse

VECTORS = Path(__file__).parents[1] / "vectors" / "team"
GENERATOR = Path(__file__).parents[2] / "tools" / "make_team_vectors.py"
FILES = sorted(VECTORS.glob("*.txt"))


def records(body: bytes) -> list[bytes]:
    out = []
    while body:
        assert len(body) >= 4
        length = int.from_bytes(body[:4], "big")
        out.append(body[4 : 4 + length])
        assert len(out[-1]) == length
        body = body[4 + length :]
    return out


def book(lines: list[str]) -> list[team.KnownAuthor]:
    out = []
    for line in lines:
        name, key, *rest = line.split(" ")
        removed = rest[1] if rest else None
        assert rest in ([], ["removed", removed])
        out.append(team.KnownAuthor(name, SigningPublicKey.from_text(key), removed))
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_team_vector(path: Path) -> None:
    fields, body = parse(path)
    reader = PrivateKey(bytes.fromhex(one(fields, "identity")))
    known = book(fields["author"])
    cases = set(fields["case"])
    sealed = records(body)
    assert len(sealed) == len(fields["expect"]) >= 1
    ok: list[team.TeamRecord] = []
    for data, expect in zip(sealed, fields["expect"], strict=True):
        outcome, value = expect.split(" ")
        if outcome == "success":
            record = team.open_record(data, [reader], known, day=one(fields, "day"), cases=cases)
            assert record.id == value
            ok.append(record)
            continue
        assert outcome == "failure"
        expected = error_class(value)
        with pytest.raises(errors.CryptoError) as info:
            team.open_record(data, [reader], known, day=one(fields, "day"), cases=cases)
        assert type(info.value) is expected, str(info.value)
    if any(r.case == fields["case"][0] for r in ok):
        view = fold(fields["case"][0], ok)
        assert fields["fold"] == [f"records {len(view.history) + len(view.held)}",
                                  *(f"held {h.record.id}" for h in view.held)]
    else:
        assert "fold" not in fields


def test_the_issue_s_scenarios_are_all_there() -> None:
    names = {p.stem for p in FILES}
    kinds = {f"success_{k.replace('-', '_')}" for k in team.KINDS}
    assert kinds <= names
    assert {"forged_author", "altered", "removed_author", "replay", "unknown_case",
            "unknown_parents", "unknown_author"} <= names
    seen = {e.split(" ")[1] for p in FILES for e in parse(p)[0]["expect"]
            if e.startswith("failure")}
    assert {"ForgedAuthor", "BadSignature", "RemovedAuthor", "UnknownAuthor", "UnknownCase",
            "NotATeamRecord", "UnsupportedTeamRecord", "TeamRecordError"} <= seen


def test_comments_are_unique() -> None:
    comments = [one(parse(p)[0], "comment") for p in FILES]
    assert len(set(comments)) == len(comments) == len(FILES)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_team_vectors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_generator_matches_the_committed_vectors(tmp_path: Path) -> None:
    gen = load_generator()
    cases = gen.team_cases()
    assert {c.name for c in cases} == {p.stem for p in FILES}
    for case in cases:
        # Signatures are deterministic; the envelopes around them are not.
        committed = (VECTORS / f"{case.name}.txt").read_bytes()
        assert committed.partition(b"\n\n")[0] == case.render().partition(b"\n\n")[0]
    assert gen.write_all(tmp_path, log=lambda _: None) == len(FILES)
