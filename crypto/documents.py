"""The documents inside the envelopes: a submission's answers and a reply.

An envelope carries bytes; what the server and the reviewer tool put in the
answers envelope of a submission, and in a reply envelope, is a small JSON
document (docs/format.md, "Documents"). Both readers, the reviewer's import
and the applicant's case page, parse it here, by one set of rules, so that
what one program accepts the other does too, and a second implementation can
be written from the spec alone.

A reader checks, in order: size, UTF-8, JSON (no repeated key, no number
that is not an integer, no lone surrogate), an object, `format`, `version`,
exactly the fields of that format, then each field. The parsed document is
returned as the plain dict it was, only once every rule has passed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crypto.errors import DocumentError, UnsupportedDocumentVersion
from crypto.ids import is_day, is_id

SUBMISSION_FORMAT = "refuge-intake submission"
REPLY_FORMAT = "refuge-intake reply"
#: The answers document the server writes. Version 2: `answers.country` is a
#: country code (crypto.countries) or "other", no longer the applicant's text.
SUBMISSION_VERSION = 2
#: What a reader reads: version 1 (country as the applicant wrote it) too.
SUBMISSION_VERSIONS = (1, 2)
REPLY_VERSION = 1
#: 4 MiB: far above what the forms allow (a dozen answers of at most 20,000
#: characters, at most 64 parts a request) and what a reply needs.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
#: At most this many attachments in one submission (the server's form takes
#: at most 64 parts a request, so it never comes close).
MAX_ATTACHMENTS = 1000
MAX_ATTACHMENT_SIZE = 1 << 40
SUBMISSION_KINDS = ("application", "followup")

SUBMISSION_FIELDS = frozenset(
    {"format", "version", "case", "submission", "kind", "day", "answers", "attachments"}
)
ATTACHMENT_FIELDS = frozenset({"blob", "name", "type", "size"})
REPLY_FIELDS = frozenset({"format", "version", "case", "reply", "day", "text"})

_ANSWER_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: Version 2's `country`: an ISO 3166-1 alpha-2 code (two capital ASCII letters;
#: any such code, so that a list grown later stays readable) or "other".
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
OTHER_COUNTRY = "other"


def _fail(detail: str) -> DocumentError:
    return DocumentError(f"the document inside this envelope is malformed ({detail})")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f"the field {key!r} appears twice")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise _fail(f"{text!r} is not an integer")


def strict_decoder() -> json.JSONDecoder:
    """The JSON decoder of every document: no repeated key, no number but an integer.

    A speed trick: `json.loads(text, object_pairs_hook=..., parse_float=...)`,
    the plain code, builds a new JSONDecoder and its scanner on every call;
    this one is built once (`_DECODER`), and its `decode` gives the same result
    and raises the same errors (json.loads's one test more, for a text that
    starts with U+FEFF, cannot apply: `load` refuses a byte order mark first;
    tests/crypto/test_format_checks.py compares the two). What it buys (CPU
    time, one answers document of the benchmark's bundle, min of 12 alternated
    timeit runs on a shared 2-core machine): 14.3 microseconds with json.loads,
    9.3 with the decoder built once, about 50 ms of the workers' CPU for a
    10,000-case import. (Building the dict in the hook with dict() instead of
    a loop was measured too: no difference, 14.29 against 14.28.)
    """
    return json.JSONDecoder(
        object_pairs_hook=_no_duplicates, parse_float=_no_float, parse_constant=_no_float
    )


_DECODER = strict_decoder()


#: The only way a string parsed from UTF-8 text can hold a lone surrogate is a
#: JSON escape \uD800 to \uDFFF; without one, `_check_strings` has nothing to
#: find. (An escaped backslash before "u" matches too: the walk then runs, and
#: finds nothing.) Skipping it saves 0.35 s of CPU for 10,000 answers documents.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_strings(value: Any) -> None:
    """Refuse a lone surrogate (a JSON escape such as \\ud800) in any string."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _fail("a string holds a lone surrogate") from None
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def load(data: bytes) -> dict[str, Any]:
    """The encoding rules shared by every document: bytes to a JSON object."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _fail(f"it is longer than {MAX_DOCUMENT_BYTES} bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        raise _fail("it starts with a byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("it is not UTF-8") from None
    try:
        obj = _DECODER.decode(text)
    except DocumentError:
        raise
    except (ValueError, RecursionError):
        raise _fail("it is not JSON") from None
    if not isinstance(obj, dict):
        raise _fail("it is not a JSON object")
    if _SURROGATE_ESCAPE.search(text):
        _check_strings(obj)
    return obj


def _head(obj: dict[str, Any], name: str, fields: frozenset[str],
          versions: tuple[int, ...]) -> None:
    if obj.get("format") != name:
        raise _fail(f"its format is not {name!r}")
    version = obj.get("version")
    if type(version) is not int or version not in versions:
        raise UnsupportedDocumentVersion()
    if set(obj) != fields:
        raise _fail(f"it does not have exactly the fields {sorted(fields)}")


def _id(obj: dict[str, Any], field: str, where: str = "its") -> None:
    if not is_id(obj[field]):
        raise _fail(f"{where} {field} is not 32 lowercase hex digits")


def _day(obj: dict[str, Any]) -> None:
    if not is_day(obj["day"]):
        raise _fail("its day is not a date YYYY-MM-DD")


def parse_submission(data: bytes) -> dict[str, Any]:
    """A submission's answers document, checked; raises DocumentError."""
    obj = load(data)
    _head(obj, SUBMISSION_FORMAT, SUBMISSION_FIELDS, SUBMISSION_VERSIONS)
    _id(obj, "case")
    _id(obj, "submission")
    if obj["kind"] not in SUBMISSION_KINDS:
        raise _fail("its kind is not application or followup")
    _day(obj)
    answers = obj["answers"]
    if not isinstance(answers, dict):
        raise _fail("its answers are not an object")
    for key, value in answers.items():
        if _ANSWER_KEY.fullmatch(key) is None:
            raise _fail(f"the answer name {key!r} is not 1 to 64 of a-z 0-9 _")
        if not isinstance(value, str) and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise _fail(f"the answer {key!r} is not text")
    if obj["version"] >= 2 and "country" in answers:
        country = answers["country"]
        if not isinstance(country, str) or not (
            country in ("", OTHER_COUNTRY) or _COUNTRY_CODE.fullmatch(country)
        ):
            raise _fail("its country is not a country code, other or empty")
    attachments = obj["attachments"]
    if not isinstance(attachments, list):
        raise _fail("its attachments are not a list")
    if len(attachments) > MAX_ATTACHMENTS:
        raise _fail(f"it lists more than {MAX_ATTACHMENTS} attachments")
    blobs: set[str] = set()
    for i, a in enumerate(attachments):
        where = f"attachment {i}"
        if not isinstance(a, dict) or set(a) != ATTACHMENT_FIELDS:
            raise _fail(f"{where} does not have exactly the fields {sorted(ATTACHMENT_FIELDS)}")
        _id(a, "blob", where)
        if a["blob"] in blobs:
            raise _fail("an attachment blob is listed twice")
        blobs.add(a["blob"])
        if not isinstance(a["name"], str) or not isinstance(a["type"], str):
            raise _fail(f"{where} name or type is not a string")
        size = a["size"]
        if type(size) is not int or not 0 <= size <= MAX_ATTACHMENT_SIZE:
            raise _fail(f"{where} size is not an integer in 0..{MAX_ATTACHMENT_SIZE}")
    return obj


def parse_reply(data: bytes) -> dict[str, Any]:
    """A reply document, checked; raises DocumentError."""
    obj = load(data)
    _head(obj, REPLY_FORMAT, REPLY_FIELDS, (REPLY_VERSION,))
    _id(obj, "case")
    _id(obj, "reply")
    _day(obj)
    text = obj["text"]
    if not isinstance(text, str) or not text.strip():
        raise _fail("its text is not a non-empty string")
    return obj


def encode(doc: dict[str, Any]) -> bytes:
    """How the writers serialise a document: UTF-8 JSON, non-ASCII left as it is."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
