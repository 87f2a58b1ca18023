"""The reviewer's own key files (keys/key-0001.key …, the highest number current)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crypto.atomic import atomic_output
from crypto.errors import KeyFileError, WrongPassphrase
from crypto.keyfile import open_private_key, read_public_key, seal_private_key
from crypto.keys import PrivateKey, PublicKey
from crypto.params import Argon2Limits
from reviewer.errors import KeyProblem, NotFound


@dataclass
class Keys:
    """The reviewer's unlocked private keys (newest first) for one command."""

    private: list[PrivateKey] = field(default_factory=list)


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

    def unlock(self, passphrase: str) -> Keys:
        """Open every key file this passphrase opens; at least one must."""
        self.require()
        opened: list[PrivateKey] = []
        for path in reversed(self.files()):
            try:
                opened.append(open_private_key(path.read_bytes(), passphrase))
            except WrongPassphrase:
                continue  # an old key may have another passphrase
            except KeyFileError as e:
                raise KeyProblem(f"{path.name}: {e}") from None
        if not opened:
            raise KeyProblem("wrong passphrase: it opens none of the keys in this home")
        return Keys(opened)


