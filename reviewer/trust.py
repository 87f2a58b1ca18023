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
added), as bookkeeping beside the rest (reviewer.state.ConfirmedKey, read and
written by reviewer.state); names are the colleagues' names as the reviewer
typed them.
"""

from __future__ import annotations

from collections.abc import Iterable

from crypto.keys import PublicKey
from reviewer.state import ConfirmedKey

__all__ = ["MAX_NAME", "ConfirmedKey", "unconfirmed"]

MAX_NAME = 100


def unconfirmed(named: Iterable[PublicKey], trusted: Iterable[PublicKey]) -> list[PublicKey]:
    """The keys in `named` that are not `trusted`, in order, each once."""
    seen = {k.raw for k in trusted}
    out: list[PublicKey] = []
    for key in named:
        if key.raw not in seen:
            seen.add(key.raw)
            out.append(key)
    return out
