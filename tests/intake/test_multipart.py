"""The block-reading multipart parser gives exactly Werkzeug's results and limits.

intake/multipart.py changes only how the request body is read (large blocks,
served to Werkzeug's parser in its own 64 KiB steps). These tests parse the
same bodies with both and compare everything: fields, files and their bytes,
and which bodies are refused. The bodies are built to be awkward: boundaries
and CRLFs split across reads, bare CR or LF line breaks, partial boundaries
inside file data, many parts, and parts at the limits.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from intake.multipart import PARSER_STEP, BlockFormDataParser, BlockReader

BOUNDARY = "b0undary"


class Trickle(io.RawIOBase):
    """A body that arrives in short reads of the given sizes (then the rest)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = data
        self._pos = 0
        self._sizes = list(sizes)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        step = self._sizes.pop(0) if self._sizes else size
        if size < 0:
            size = len(self._data)
        n = min(size, max(1, step))
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


def bytes_factory(**_kw: Any) -> io.BytesIO:
    return io.BytesIO()


def parse(cls: type[FormDataParser], body: bytes, sizes: list[int], **limits: Any) -> Any:
    parser = cls(stream_factory=bytes_factory, silent=False, **limits)  # type: ignore[arg-type]
    try:
        _stream, form, files = parser.parse(
            Trickle(body, sizes),  # type: ignore[arg-type]
            "multipart/form-data", len(body), {"boundary": BOUNDARY},
        )
    except RequestEntityTooLarge:
        return "413"
    except ValueError as e:
        return f"ValueError: {e}"
    return (
        list(form.items(multi=True)),
        [(k, f.filename, f.content_type, f.read()) for k, f in files.items(multi=True)],
    )


def same(body: bytes, sizes: list[int] | None = None, **limits: Any) -> Any:
    ours = parse(BlockFormDataParser, body, sizes or [], **limits)
    theirs = parse(FormDataParser, body, sizes or [], **limits)
    assert ours == theirs
    return ours


def part(name: str, value: bytes, filename: str | None = None, nl: bytes = b"\r\n") -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = (f"--{BOUNDARY}".encode() + nl + disposition.encode() + nl)
    if filename is not None:
        head += b"Content-Type: application/octet-stream" + nl
    return head + nl + value + nl


def body(*parts: bytes, nl: bytes = b"\r\n") -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--".encode() + nl


TRICKY = [
    b"",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n--",
    f"\r\n--{BOUNDARY}".encode()[:-1],  # a partial boundary that is not one
    f"--{BOUNDARY[:-1]}x\r\n".encode(),
    f"x\r\n--{BOUNDARY}-".encode()[:-1],
    b"\r\r\n\n\r\n\r",
]


@pytest.mark.parametrize("value", TRICKY)
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"])
def test_tricky_values_parse_the_same(value: bytes, nl: bytes) -> None:
    data = body(part("a", value, nl=nl), part("f", value * 3 + b"end", "x.bin", nl=nl),
                part("b", b"after", nl=nl), nl=nl)
    result = same(data)
    assert isinstance(result, tuple)
    if BOUNDARY.encode() not in value and not value.endswith(b"\r"):
        assert result[0][0] == ("a", value.decode())
        assert result[1][0][3] == value * 3 + b"end"


@pytest.mark.parametrize("split", [1, 2, 3, PARSER_STEP - 1, PARSER_STEP, PARSER_STEP + 1])
def test_boundary_split_across_reads(split: int) -> None:
    # A file whose data puts the next boundary (and its CRLF) right across a
    # read edge, at several offsets around Werkzeug's 64 KiB step.
    head = part("f", b"", "x.bin")[:-2]  # up to the start of the data
    for offset in range(-6, 7):
        size = max(0, 3 * PARSER_STEP - len(head) + offset)
        data = body(part("f", b"\x00\r" * (size // 2) + b"z" * (size % 2), "x.bin"),
                    part("t", b"tail"))
        result = same(data, [split] * 8)
        assert isinstance(result, tuple) and result[0] == [("t", "tail")]


def test_large_file_in_many_reads() -> None:
    payload = bytes(range(256)) * 20_000  # about 5 MiB, every byte value
    data = body(part("f", payload, "big.bin"), part("g", b"x", "small.bin"))
    result = same(data)
    assert [f[3] for f in result[1]] == [payload, b"x"]


def test_block_reader_answers_like_its_source() -> None:
    src = bytes(range(256)) * 1000
    for block in (1, 7, 1000, 1 << 20):
        reader = BlockReader(io.BytesIO(src), block)
        plain = io.BytesIO(src)
        for size in (1, 5, 64, 1000, 3, 99_999, 10):
            assert reader.read(size) == plain.read(size)
        assert reader.read() == plain.read()
        assert reader.read(10) == b""


def test_many_parts_and_the_parts_limit() -> None:
    parts = [part(f"p{i}", str(i).encode()) for i in range(64)]
    ok = same(body(*parts), max_form_parts=64)
    assert isinstance(ok, tuple) and len(ok[0]) == 64
    assert same(body(*parts, part("extra", b"1")), max_form_parts=64) == "413"


def test_form_memory_limit_still_applies_to_text_not_files() -> None:
    limit = 256 * 1024
    assert same(body(part("t", b"a" * limit)), max_form_memory_size=limit) != "413"
    assert same(body(part("t", b"a" * (limit + 1))), max_form_memory_size=limit) == "413"
    # A file larger than the limit streams to its container as before.
    result = same(body(part("f", b"a" * (4 * limit), "x.bin")), max_form_memory_size=limit)
    assert result != "413" and len(result[1][0][3]) == 4 * limit
    # A header block longer than the limit is refused, as by Werkzeug.
    huge = f'--{BOUNDARY}\r\nX-Pad: {"p" * (2 * limit)}\r\n'.encode()
    assert same(huge + body(part("t", b"v")), max_form_memory_size=limit) == "413"


@pytest.mark.parametrize("data", [
    b"no boundary at all",
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated".encode(),
    f"--{BOUNDARY}\r\nX: y\r\n\r\nno disposition\r\n--{BOUNDARY}--\r\n".encode(),
])
def test_broken_bodies_fail_the_same(data: bytes) -> None:
    assert str(same(data)).startswith("ValueError")


def test_content_length_limit_through_a_request() -> None:
    class Ours(Request):
        form_data_parser_class = BlockFormDataParser

    data = body(part("f", b"x" * 5000, "x.bin"))
    for cls in (Ours, Request):
        env = EnvironBuilder(method="POST", data=data,
                             content_type=f"multipart/form-data; boundary={BOUNDARY}").get_environ()
        request = cls(env)
        request.max_content_length = 1000
        with pytest.raises(RequestEntityTooLarge):
            _ = request.files
        request = cls(EnvironBuilder(method="POST", data=data, content_type=(
            f"multipart/form-data; boundary={BOUNDARY}")).get_environ())
        upload = request.files["f"]
        assert upload.read() == b"x" * 5000
        upload.close()


piece = st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"-", b"--", BOUNDARY.encode(),
                         b"\x00", b"\xff", b" ", f"\r\n--{BOUNDARY}".encode()[:-2]])
value = st.lists(piece, max_size=30).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.tuples(value, st.booleans()), min_size=0, max_size=6),
    pad=st.integers(min_value=0, max_value=2 * PARSER_STEP),
    sizes=st.lists(st.integers(min_value=1, max_value=3 * PARSER_STEP), max_size=20),
    nl=st.sampled_from([b"\r\n", b"\n", b"\r"]),
)
def test_generated_bodies_parse_the_same(
    values: list[tuple[bytes, bool]], pad: int, sizes: list[int], nl: bytes
) -> None:
    parts = [part("pad", b"q" * pad, "pad.bin", nl=nl)]
    parts += [part(f"p{i}", v, "f.bin" if is_file else None, nl=nl)
              for i, (v, is_file) in enumerate(values)]
    same(body(*parts, nl=nl), sizes, max_form_memory_size=256 * 1024, max_form_parts=64)


def test_staged_envelope_with_early_writeback_decrypts_whole(
    tmp_path, monkeypatch, fadvise_calls
) -> None:
    # A small step makes every write start writeback, as a large upload does.
    import intake.storage as storage
    from crypto.envelope import decrypt_bytes
    from crypto.keys import PrivateKey

    calls = fadvise_calls
    monkeypatch.setattr(storage, "WRITEBACK_STEP", 1000)
    key = PrivateKey.generate()
    staged = storage.StagedEnvelope(tmp_path / "env", [key.public_key])
    data = os.urandom(300_000)
    for start in range(0, len(data), 7000):
        staged.write(data[start:start + 7000])
    staged.seek(0)
    assert calls and {advice for _, _, advice in calls} == {os.POSIX_FADV_DONTNEED}
    # Each call covers only what was written since the last one: ranges follow
    # one another from the start of the file, never re-walking the whole file.
    position = 0
    for offset, length, _ in calls:
        assert offset == position and length > 0
        position += length
    assert position <= staged.ciphertext_size
    assert staged.plaintext_size == len(data)
    assert decrypt_bytes((tmp_path / "env").read_bytes(), [key]) == data
