"""The countries an applicant can choose: ISO 3166-1 alpha-2 codes, shared data.

The application's `country` answer is one of these codes, or `other` with the
applicant's own words in `country_other` (docs/format.md, "The questions"). The
list is data (crypto/data/countries.json, written from CLDR by
tools/countries.py), so that the server offers and accepts exactly the codes the
reviewer tool can name. The server names them in the page's language with Babel;
the reviewer, which does not install Babel, names them in English from here.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

DATA = "data/countries.json"
FORMAT = "refuge-intake countries"
#: The value of the "another place / I prefer to write it" choice.
OTHER = "other"
#: What a version 2 answers document may hold as `country`, whatever the table
#: lists (a code this copy does not know is shown as it is).
CODE = re.compile(r"[A-Z]{2}")


@functools.cache
def english_names() -> dict[str, str]:
    """Code -> English name, for every code an applicant can choose, in code order."""
    doc = json.loads(resources.files("crypto").joinpath(DATA).read_bytes().decode("utf-8"))
    if doc.get("format") != FORMAT or doc.get("version") != 1:
        raise ValueError(f"{DATA} is not {FORMAT!r} version 1")
    names = doc["countries"]
    if not isinstance(names, dict) or not names or not all(
        isinstance(k, str) and CODE.fullmatch(k) and isinstance(v, str) and v.strip()
        for k, v in names.items()
    ):
        raise ValueError(f"{DATA} is malformed: countries is not a table of codes to names")
    return dict(names)


@functools.cache
def codes() -> frozenset[str]:
    return frozenset(english_names())


def english_name(code: str) -> str:
    """The English name of a listed code; any other value as it is."""
    return english_names().get(code, code)
