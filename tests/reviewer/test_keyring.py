"""The reviewer's key files: a version 1 file gains a signing key on first unlock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.keyfile import key_file_version, open_key_file, seal_private_key_v1
from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from reviewer.errors import KeyProblem
from reviewer.home import Home


def old_home(tmp_path: Path, *passphrases: str) -> tuple[Home, list[PrivateKey]]:
    home = Home(tmp_path / "home")
    home.create_key(passphrases[0], TEST_LIMITS)  # the layout; its key is replaced below
    keys = []
    for number, passphrase in enumerate(passphrases, start=1):
        key = PrivateKey.generate()
        keys.append(key)
        path = home.keys.dir / f"key-{number:04d}.key"
        path.write_bytes(seal_private_key_v1(key, passphrase, limits=TEST_LIMITS))
    return home, keys


def test_a_version_1_key_file_is_upgraded_on_first_unlock(tmp_path: Path) -> None:
    home, [key] = old_home(tmp_path, "pw")
    path = home.keys.files()[0]
    unlocked = home.unlock("pw")
    assert [k.raw() for k in unlocked.private] == [key.raw()]
    assert len(unlocked.signing) == 1
    data = path.read_bytes()
    assert key_file_version(data) == 2
    opened = open_key_file(data, "pw")  # the same passphrase and limits
    assert opened.private.raw() == key.raw() and opened.limits == TEST_LIMITS
    assert opened.signing is not None
    assert opened.signing.seed() == unlocked.signing[0].seed()
    # The next unlock reads the signing key kept, and rewrites nothing.
    again = home.unlock("pw")
    assert again.signing[0].seed() == unlocked.signing[0].seed()
    assert path.read_bytes() == data


def test_the_upgrade_happens_with_the_home_held(tmp_path: Path) -> None:
    home, _ = old_home(tmp_path, "pw")
    held: list[bool] = []

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        held.append(True)
        assert key_file_version(home.keys.files()[0].read_bytes()) == 1
        yield
        held.append(False)

    home.keys.unlock("pw", hold=hold)
    assert held == [True, False]
    assert key_file_version(home.keys.files()[0].read_bytes()) == 2
    # A home busy with another command: the upgrade waits for another day, the
    # file is left as it was.
    home2, _ = old_home(tmp_path / "two", "pw")
    with home2.lock(), pytest.raises(Exception, match="another reviewer command"):
        home2.unlock("pw")
    assert key_file_version(home2.keys.files()[0].read_bytes()) == 1


def test_only_the_files_this_passphrase_opens_are_upgraded(tmp_path: Path) -> None:
    home, _ = old_home(tmp_path, "old one", "new one")
    first, second = home.keys.files()
    unlocked = home.unlock("new one")
    assert len(unlocked.private) == 1 == len(unlocked.signing)
    assert key_file_version(second.read_bytes()) == 2
    assert key_file_version(first.read_bytes()) == 1
    with pytest.raises(KeyProblem):
        home.unlock("neither")


def test_a_new_home_has_a_version_2_key_file(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create_key("pw", TEST_LIMITS)
    assert key_file_version(home.keys.files()[0].read_bytes()) == 2
    assert len(home.unlock("pw").signing) == 1
