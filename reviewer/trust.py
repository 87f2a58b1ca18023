"""The reviewer keys this home trusts: its own, and colleagues' a person confirmed.

A bundle names the reviewer keys its envelopes were sealed to, but bundles are
not signed: anyone who can rewrite one on its way (or a compromised server)
can add a key of their own and recompute the digests without any secret. So
a key named by a bundle is never trusted for that. Verification records and
replies are sealed only to the keys here: the home's own keys (every key file
in keys/, made by `reviewer init` in this home) and the colleagues' keys a
person added with `reviewer keys add` after comparing fingerprints over a
separate channel. A key a bundle names that is neither is reported, with its
fingerprint, and nothing is sealed to it.

The confirmed keys are kept in state.json ("reviewers": name, key, day
added), as bookkeeping beside the rest; names are the colleagues' names as the
reviewer typed them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crypto.errors import InvalidPublicKey
from crypto.keys import PublicKey

MAX_NAME = 100


class TrustError(ValueError):
    """state.json's list of confirmed keys is malformed."""


@dataclass(frozen=True)
class ConfirmedKey:
    """A colleague's public key that a person confirmed by fingerprint."""

    name: str
    key: PublicKey
    added: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "key": self.key.to_text(), "added": self.added}


def confirmed_keys(state: dict[str, Any]) -> list[ConfirmedKey]:
    """The confirmed colleague keys recorded in `state`, checked."""
    entries = state.get("reviewers", [])
    if not isinstance(entries, list):
        raise TrustError("its confirmed reviewer keys are not a list")
    keys: list[ConfirmedKey] = []
    for entry in entries:
        if not (
            isinstance(entry, dict)
            and set(entry) == {"name", "key", "added"}
            and all(isinstance(v, str) for v in entry.values())
        ):
            raise TrustError("a confirmed reviewer key entry is malformed")
        try:
            key = PublicKey.from_text(entry["key"])
        except InvalidPublicKey:
            raise TrustError("a confirmed reviewer key is not a valid public key") from None
        keys.append(ConfirmedKey(entry["name"], key, entry["added"]))
    return keys


def set_confirmed(state: dict[str, Any], keys: Iterable[ConfirmedKey]) -> None:
    state["reviewers"] = [k.to_json() for k in keys]


def named_keys(state: dict[str, Any]) -> list[PublicKey]:
    """The reviewer keys the last imported bundle named (trusted or not)."""
    return [PublicKey.from_text(text) for text in state.get("server_keys", [])]


def unconfirmed(named: Iterable[PublicKey], trusted: Iterable[PublicKey]) -> list[PublicKey]:
    """The keys in `named` that are not `trusted`, in order, each once."""
    seen = {k.raw for k in trusted}
    out: list[PublicKey] = []
    for key in named:
        if key.raw not in seen:
            seen.add(key.raw)
            out.append(key)
    return out
