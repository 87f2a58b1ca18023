"""The two plain values both formats carry: ids and days.

An id (a case, submission, reply or blob) is 16 random bytes as 32 lowercase hex
digits; a day is `YYYY-MM-DD`, a real date (docs/format.md, docs/bundle.md).

Defined once because both sides rely on it: the server names stored
envelopes by blob id and journals ids before it stores them; the bundle
manifest (docs/bundle.md) carries ids; the reviewer names packs and files by
them. An id is also a file name, so whatever checks a name from outside (a
manifest, a journal, a directory listing) uses `is_id`, which admits nothing
else: no separator, no dot, no newline.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import TypeGuard

_ID = re.compile(r"[0-9a-f]{32}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def new_id() -> str:
    """A fresh random id."""
    return secrets.token_hex(16)


def is_id(value: object) -> TypeGuard[str]:
    """True for a case, submission, reply or blob id: 32 lowercase hex digits."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def is_day(value: object) -> TypeGuard[str]:
    """`YYYY-MM-DD`, a real date of the proleptic Gregorian calendar, 0001-01-01 to 9999-12-31."""
    if not isinstance(value, str) or _DAY.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
