"""crypto.dossier's writer and reader beyond the vectors: streaming, and what a writer refuses."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto import dossier, envelope, errors
from crypto.keys import PrivateKey
from crypto.signing import SigningKey

SIGNER, CITY, COLLEAGUE = (PrivateKey.generate() for _ in range(3))
SIGNING = SigningKey.generate()
BIG = bytes(range(256)) * 1000  # 256,000 bytes: four chunks


def pieces(data: bytes, size: int = 10_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def doc(**over: object) -> dict[str, object]:
    return {"id": "ab" * 16, "day": "2026-12-01", "city": "Stavanger",
            "coordinator": CITY.public_key.to_text(), "answers": [], "note": "",
            "verification": None, **over}


def write(files: list[dossier.FileSource], **over: object) -> bytes:
    out = io.BytesIO()
    dossier.write(out, dossier.DOSSIER, doc(**over), signer=SIGNER, signing_key=SIGNING,
                  recipients=[CITY.public_key, SIGNER.public_key, COLLEAGUE.public_key],
                  files=files)
    return out.getvalue()


def test_files_stream_through_and_come_back_whole() -> None:
    reads: list[int] = []

    def source() -> Iterator[bytes]:
        reads.append(1)
        return pieces(BIG)

    data = write([dossier.FileSource("big.bin", "application/octet-stream", len(BIG), source),
                  dossier.FileSource("empty", "", 0, lambda: iter(()))])
    assert len(reads) == 2  # once to hash, once to write
    for reader in (CITY, COLLEAGUE, SIGNER):
        verified = dossier.read_bytes(data, [reader], [SIGNER.public_key])
        got = list(dossier.dossier_files(io.BytesIO(data), [reader], verified))
        assert [c for _e, c in got] == [BIG, b""]
        assert [e["name"] for e, _c in got] == ["big.bin", "empty"]


def test_a_file_that_changes_between_the_two_reads_stops_the_writing() -> None:
    versions = iter([BIG, BIG[:-1] + b"\x00"])

    def source() -> Iterator[bytes]:
        return pieces(next(versions))

    with pytest.raises(errors.DossierError, match="changed while it was being written"):
        write([dossier.FileSource("big.bin", "", len(BIG), source)])


def test_a_size_other_than_announced_is_refused() -> None:
    with pytest.raises(errors.DossierError, match="not 5"):
        write([dossier.FileSource("x", "", 5, lambda: iter([b"abc"]))])


@pytest.mark.parametrize(("field", "value"), [
    ("city", " "), ("city", "Two\nlines"), ("city", "Two\u2028lines"), ("city", "x" * 101),
    ("coordinator", COLLEAGUE.public_key.to_text() + " "),
    ("answers", [{"name": "Work", "question": "q", "value": "v"}]),
    ("verification", {"risk": "high"}),
])
def test_the_writer_refuses_what_a_reader_would(field: str, value: object) -> None:
    with pytest.raises(errors.DossierError):
        write([], **{field: value})


def test_an_answer_is_not_a_dossier_and_back() -> None:
    out = io.BytesIO()
    dossier.write(out, dossier.ANSWER, {"id": "cd" * 16, "dossier": "ab" * 16,
                                        "day": "2026-12-02", "text": "Yes, from March."},
                  signer=CITY, signing_key=SIGNING, recipients=[CITY.public_key,
                                                                 SIGNER.public_key])
    data = out.getvalue()
    with pytest.raises(errors.NotADossier, match="answer, not a dossier"):
        dossier.read_bytes(data, [SIGNER], [CITY.public_key])
    assert dossier.read_bytes(data, [SIGNER], [CITY.public_key],
                              kind=dossier.ANSWER).document["text"] == "Yes, from March."


def test_a_dossier_changed_between_check_and_extraction_hands_out_nothing() -> None:
    data = write([dossier.FileSource("a", "", 3, lambda: iter([b"abc"]))])
    verified = dossier.read_bytes(data, [CITY], [SIGNER.public_key])
    other = write([dossier.FileSource("a", "", 3, lambda: iter([b"xyz"]))])
    with pytest.raises(errors.DossierBadSignature):
        list(dossier.dossier_files(io.BytesIO(other), [CITY], verified))
    assert envelope.MAGIC in data[:8]


def test_memory_stays_flat_whatever_the_file_size(tmp_path: Path) -> None:
    """Writing and checking a dossier of a 16 MiB file holds a few chunks, not the file."""
    size = 16 * 1024 * 1024
    chunk = bytes(range(256)) * 256  # 64 KiB

    def source() -> Iterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk

    path = tmp_path / "big.dossier"
    tracemalloc.start()
    try:
        with open(path, "wb") as out:
            dossier.write(out, dossier.DOSSIER, doc(), signer=SIGNER, signing_key=SIGNING,
                          recipients=[CITY.public_key, SIGNER.public_key],
                          files=[dossier.FileSource("big", "", size, source)])
        _, written_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with open(path, "rb") as src:
            dossier.read_dossier(src, [CITY], [SIGNER.public_key])
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written_peak < 1024 * 1024 and read_peak < 1024 * 1024, (written_peak, read_peak)


def test_every_byte_of_the_frame_is_covered() -> None:
    """A recipient knows the file key and can seal a changed frame again: whichever byte
    she changes (an announcement meant for another recipient included), it is refused."""
    data = write([dossier.FileSource("a.txt", "text/plain", 5, lambda: iter([b"hello"]))],
                 note="note", answers=[{"name": "work", "question": "q", "value": "v"}])
    frame = envelope.decrypt_bytes(data, [CITY])
    recipients = [CITY.public_key, SIGNER.public_key, COLLEAGUE.public_key]
    assert dossier.read_bytes(envelope.encrypt_bytes(frame, recipients), [CITY],
                              [SIGNER.public_key]).document["note"] == "note"
    for i in range(len(frame)):
        changed = frame[:i] + bytes([frame[i] ^ 0x01]) + frame[i + 1 :]
        with pytest.raises(errors.CryptoError):
            dossier.read_bytes(envelope.encrypt_bytes(changed, recipients), [CITY],
                               [SIGNER.public_key])
