"""The Argon2id limits, named once.

Every Argon2id call in the project takes its opslimit and memlimit from here
(PyNaCl's default is SENSITIVE: 1 GiB, which would let a handful of sign-in
attempts exhaust a small server). SECURITY.md gives the reasons for each pair.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Argon2Limits:
    opslimit: int
    memlimit: int  # bytes


#: Reviewer private-key files: unlocked once per command on an offline laptop,
#: so we can afford libsodium's MODERATE pair (3 passes over 256 MiB, ~0.5 s).
KEYFILE_LIMITS = Argon2Limits(opslimit=3, memlimit=256 * 1024 * 1024)

#: Codename derivation on the server, once per sign-in or first submission:
#: libsodium's INTERACTIVE pair (2 passes over 64 MiB). The codename itself
#: carries ~90 bits, so Argon2 here guards against a seized salt plus database,
#: not against a weak secret; the server caps concurrent derivations.
CODENAME_LIMITS = Argon2Limits(opslimit=2, memlimit=64 * 1024 * 1024)

#: Cheap limits for tests only. Never used by default anywhere.
TEST_LIMITS = Argon2Limits(opslimit=1, memlimit=8 * 1024 * 1024)

#: What a key file may ask for. Outside these bounds the file is refused
#: before any work is done, so a hostile file cannot demand 1 TiB of memory.
KEYFILE_OPSLIMIT_RANGE = (1, 10)
KEYFILE_MEMLIMIT_RANGE = (8 * 1024 * 1024, 1024 * 1024 * 1024)
