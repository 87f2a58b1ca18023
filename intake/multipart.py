"""Werkzeug's multipart parser, fed from large reads of the request body.

Why: profiling a 256 MiB upload through gunicorn (docs/performance.md) showed
more than half the worker's time in gunicorn's body reader, not in parsing or
encryption. Werkzeug reads the body 64 KiB at a time; gunicorn receives up to
1 MiB per recv() and, on each 64 KiB read, hands back the rest by copying it
into a new buffer, so every byte was copied about sixteen times.

The fix keeps Werkzeug's parser whole and changes only where its bytes come
from: the body is read in `READ_SIZE` blocks, and the parser is given the
same 64 KiB slices it would have read itself. Its decoder, its events and all
its limits (MAX_FORM_PARTS, MAX_FORM_MEMORY_SIZE, the limited stream behind
MAX_CONTENT_LENGTH) see exactly the input they always did, so its semantics
cannot drift; tests/intake/test_multipart.py compares the two on tricky
bodies. Memory grows by one block per request in flight.
"""

from __future__ import annotations

from typing import IO, Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser, MultiPartParser

#: Bytes asked of the request body per read. gunicorn's recv() limit is 1 MiB.
READ_SIZE = 1024 * 1024
#: What Werkzeug's MultiPartParser reads per step (its default buffer_size).
PARSER_STEP = 64 * 1024


class BlockReader:
    """Reads `source` in large blocks and serves them in the sizes asked for.

    A read returns `size` bytes unless the source ends first, and an empty
    result only once the source is exhausted: the same answers the source
    would give to the same reads, from fewer and larger reads of it.
    """

    def __init__(self, source: IO[bytes], block_size: int = READ_SIZE) -> None:
        self._source = source
        self._block_size = block_size
        self._block = b""
        self._pos = 0
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            rest = self._block[self._pos:]
            self._block, self._pos = b"", 0
            return rest + (b"" if self._eof else self._source.read())
        while len(self._block) - self._pos < size and not self._eof:
            more = self._source.read(max(size, self._block_size))
            if not more:
                self._eof = True
                break
            # Usually the block is used up exactly, and this is just `more`.
            self._block, self._pos = self._block[self._pos:] + more, 0
        data = self._block[self._pos:self._pos + size]
        self._pos += len(data)
        return data


class BlockMultiPartParser(MultiPartParser):
    """Werkzeug's parser, reading through a `BlockReader`."""

    def parse(
        self, stream: IO[bytes], boundary: bytes, content_length: int | None
    ) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        reader: Any = BlockReader(stream)
        return super().parse(reader, boundary, content_length)


class BlockFormDataParser(FormDataParser):
    """Werkzeug's form parser with `BlockMultiPartParser` for multipart bodies."""

    def _parse_multipart(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> tuple[IO[bytes], MultiDict[str, Any], MultiDict[str, Any]]:
        parser = BlockMultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
            buffer_size=PARSER_STEP,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files
