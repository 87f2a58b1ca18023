"""Run every dossier vector in tests/vectors/dossier/ (docs/dossier.md, "Test vectors").

Each file is one scenario: the reader's key, the keys it trusts to sign, the
kind (a dossier or an answer), then the expected outcome and, on success,
the SHA-256 and size of every file the reader extracts. The exact error
class is checked, so a dossier built to fail its signature cannot pass by
failing a frame rule instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest

from crypto import dossier, errors
from crypto.keys import PrivateKey, PublicKey
from tests.crypto.test_vectors import error_class, one, parse

VECTORS = Path(__file__).parents[1] / "vectors" / "dossier"
GENERATOR = Path(__file__).parents[2] / "tools" / "make_dossier_vectors.py"
FILES = sorted(VECTORS.glob("*.txt"))


def _open(fields: dict[str, list[str]], body: bytes) -> tuple[dossier.Verified, list[str]]:
    reader = [PrivateKey(bytes.fromhex(one(fields, "identity")))]
    trusted = [PublicKey.from_text(t) for t in fields.get("trusted", [])]
    verified = dossier.read_bytes(body, reader, trusted, kind=one(fields, "kind"))
    got = [f"{hashlib.sha256(c).hexdigest()} {len(c)}"
           for _entry, c in dossier.dossier_files(io.BytesIO(body), reader, verified)]
    return verified, got


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_dossier_vector(path: Path) -> None:
    fields, body = parse(path)
    outcome, value = one(fields, "expect").split(" ")
    if outcome == "success":
        verified, got = _open(fields, body)
        assert verified.id == value
        assert got == fields.get("file", [])
        return
    assert outcome == "failure"
    with pytest.raises(errors.CryptoError) as info:
        _open(fields, body)
    assert type(info.value) is error_class(value), str(info.value)


def test_the_required_scenarios_are_all_there() -> None:
    """Valid, tampered, for another key, a file member cut short: the spec's four kinds."""
    names = {p.stem for p in FILES}
    assert {"valid", "valid_colleague", "answer_valid", "tampered_envelope", "tampered_note",
            "tampered_file", "another_key", "file_cut_short", "unknown_signer"} <= names


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_dossier_vectors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_generator_makes_the_same_headers(tmp_path: Path) -> None:
    """The committed vectors are what the generator makes (headers; envelopes are random)."""
    gen = _generator()
    gen.write_all(tmp_path, log=lambda _line: None)
    made = {p.name: gen.header_of(p.read_bytes()) for p in tmp_path.glob("*.txt")}
    assert made == {p.name: gen.header_of(p.read_bytes()) for p in FILES}
