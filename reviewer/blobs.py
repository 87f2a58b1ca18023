"""The stored envelopes: packed (reviewer.packs) or loose files in blobs/.

Every read of a stored envelope goes through `open_blob` / `read_blob`, which
find it in a pack or in blobs/ and never hand out a byte outside it. Where
the packed ones lie comes from the state (`State.packs`), handed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

from crypto import envelope
from crypto.atomic import atomic_output
from crypto.ids import is_id
from crypto.ids import new_id as new_id
from crypto.keys import PublicKey
from reviewer.errors import BadInput, ReviewerError
from reviewer.keyring import Keys
from reviewer.packs import open_range, read_range
from reviewer.state import Packs


class BlobStore:
    def __init__(self, home: Path, packs: Packs) -> None:
        self.loose = home / "blobs"
        self.packs_dir = home / "packs"
        self._packs = packs
        #: Blob id -> (pack, offset, length), built when a blob is first
        #: looked up (`list` with a fresh index reads none, and need not pay).
        self._packed: dict[str, tuple[str, int, int]] | None = None

    def loose_path(self, blob: str) -> Path:
        """Where a one-file envelope lives (written by the reviewer, or a pre-pack import)."""
        if not is_id(blob):  # state.py checks ids too, but never trust a path component
            raise ReviewerError("state.json names a blob with an invalid id")
        return self.loose / blob

    def _located(self, blob: str) -> tuple[Path, int, int] | None:
        if self._packed is None:
            self._packed = {
                b: (pack, offset, length)
                for pack, entries in self._packs.items()
                for b, (offset, length) in entries.items()
            }
        where = self._packed.get(blob)
        if where is None:
            return None
        pack, offset, length = where
        return self.packs_dir / pack, offset, length

    def open_blob(self, blob: str) -> BinaryIO:
        """A stored envelope as a binary file holding exactly its bytes."""
        where = self._located(blob)
        if where is None:
            return open(self.loose_path(blob), "rb")
        return open_range(*where)

    def read_blob(self, blob: str) -> bytes:
        """A stored envelope's bytes (for small ones: answers, records, replies)."""
        where = self._located(blob)
        if where is None:
            return self.loose_path(blob).read_bytes()
        return read_range(*where)

    def stored_ids(self) -> set[str]:
        """Every blob id stored, packed or loose."""
        loose = set(os.listdir(self.loose)) if self.loose.is_dir() else set()
        packed = {b for entries in self._packs.values() for b in entries}
        return {*packed, *filter(is_id, loose)}

    def open_json(self, blob: str, keys: Keys) -> dict[str, Any]:
        """Decrypt a small JSON envelope. Raises NoMatch if not addressed to us."""
        data = envelope.decrypt_bytes(self.read_blob(blob), keys.private)
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadInput(f"the envelope {blob} does not hold valid JSON") from None
        if not isinstance(doc, dict):
            raise BadInput(f"the envelope {blob} does not hold a JSON object")
        return doc

    def remove_loose(self, blob: str) -> bool:
        """Delete a loose envelope no longer named by the state; False if it is packed.

        A packed envelope stays where it is, inside its pack, which holds the
        envelopes of one import back to back and is never rewritten (replies
        and records are always loose, so in practice only they are removed).
        The caller saves a state that no longer names `blob` first: a crash in
        between leaves an unnamed envelope (ciphertext), never a named one missing.
        """
        if self._located(blob) is not None:
            return False
        path = self.loose_path(blob)
        path.unlink(missing_ok=True)
        fd = os.open(self.loose, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # the removal itself survives a crash
        finally:
            os.close(fd)
        return True

    def put_loose(self, sealed: bytes) -> str:
        """Keep an envelope received whole (a coordinator's answer) as a new loose blob; its id."""
        blob = new_id()
        self.loose.mkdir(mode=0o700, exist_ok=True)
        with atomic_output(self.loose_path(blob)) as out:
            out.write(sealed)
        return blob

    def seal_json(self, doc: dict[str, Any], recipients: list[PublicKey]) -> str:
        """Seal a small JSON document into a new loose envelope; its id."""
        blob = new_id()
        self.loose.mkdir(mode=0o700, exist_ok=True)
        with atomic_output(self.loose_path(blob)) as out:
            seal_bytes(out, json.dumps(doc, ensure_ascii=False).encode("utf-8"), recipients)
        return blob


def seal_bytes(out: BinaryIO, payload: bytes, recipients: list[PublicKey]) -> None:
    writer = envelope.EnvelopeWriter(out, recipients)
    writer.write(payload)
    writer.close()
