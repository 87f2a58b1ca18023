"""The reviewer's own key files (keys/key-0001.key …, the highest number current).

Each key file holds an X25519 key and, from key-file version 2, the Ed25519
signing key of team records (crypto.keyfile, docs/team.md). A version 1 file
is upgraded the first time its passphrase opens it: a new signing key is
made and the file rewritten, atomically, under the same passphrase and
Argon2 limits. The rewrite happens with the home held (the caller's lock), and
the file is read again under it, so two commands unlocking at once cannot
each make a different signing key.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from crypto.atomic import atomic_output
from crypto.errors import KeyFileError, WrongPassphrase
from crypto.keyfile import OpenedKeyFile, open_key_file, read_public_key, seal_private_key
from crypto.keys import PrivateKey, PublicKey
from crypto.params import Argon2Limits
from crypto.signing import SigningKey
from reviewer.errors import KeyProblem, NotFound


@dataclass
class Keys:
    """The reviewer's unlocked private keys (newest first) for one command.

    `signing[i]` is the signing key kept in the same file as `private[i]`.
    """

    private: list[PrivateKey] = field(default_factory=list)
    signing: list[SigningKey] = field(default_factory=list)


class KeyRing:
    """The key files of the home at `home`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home / "keys"

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("key-*.key"))

    def require(self) -> None:
        if not self.files():
            raise NotFound(
                f"no reviewer key in {self.home}; run `reviewer init` (or give --home)"
            )

    def public_keys(self) -> list[PublicKey]:
        """Every key of this reviewer, newest first."""
        self.require()
        keys: list[PublicKey] = []
        for path in reversed(self.files()):
            try:
                keys.append(read_public_key(path.read_bytes()))
            except KeyFileError as e:
                raise KeyProblem(f"{path.name}: {e}") from None
        return keys

    def create(self, passphrase: str, limits: Argon2Limits) -> PublicKey:
        """Write a new key file, numbered after the existing ones (the home exists)."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        existing = self.files()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 1
        key = PrivateKey.generate()
        with atomic_output(self.dir / f"key-{number:04d}.key") as out:
            out.write(seal_private_key(key, passphrase, limits=limits))
        return key.public_key

    def unlock(
        self,
        passphrase: str,
        *,
        hold: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> Keys:
        """Open every key file this passphrase opens; at least one must.

        A version 1 file among them is upgraded to version 2 inside `hold()`
        (the home's lock).
        """
        self.require()
        opened = self._open_all(passphrase)
        if any(o.signing is None for _path, o in opened):
            with hold():
                opened = self._open_all(passphrase, upgrade=True)
        if not opened:
            raise KeyProblem("wrong passphrase: it opens none of the keys in this home")
        signing = [o.signing for _path, o in opened if o.signing is not None]
        return Keys([o.private for _path, o in opened], signing)

    def _open_all(
        self, passphrase: str, *, upgrade: bool = False
    ) -> list[tuple[Path, OpenedKeyFile]]:
        opened: list[tuple[Path, OpenedKeyFile]] = []
        for path in reversed(self.files()):
            try:
                key_file = open_key_file(path.read_bytes(), passphrase)
            except WrongPassphrase:
                continue  # an old key may have another passphrase
            except KeyFileError as e:
                raise KeyProblem(f"{path.name}: {e}") from None
            if upgrade and key_file.signing is None:
                key_file = self._upgrade(path, key_file, passphrase)
            opened.append((path, key_file))
        return opened

    @staticmethod
    def _upgrade(path: Path, old: OpenedKeyFile, passphrase: str) -> OpenedKeyFile:
        """Rewrite a version 1 key file as version 2 with a new signing key."""
        signing = SigningKey.generate()
        data = seal_private_key(old.private, passphrase, signing_key=signing, limits=old.limits)
        with atomic_output(path, overwrite=True) as out:
            out.write(data)
        return OpenedKeyFile(old.private, signing, old.limits, 2)
