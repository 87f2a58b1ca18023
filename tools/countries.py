"""Write crypto/data/countries.json: the countries an applicant can choose, from CLDR.

    python tools/countries.py            write the table
    python tools/countries.py --check    exit 1 if the committed table is not what this writes

The application form's country question stores an ISO 3166-1 alpha-2 code
(docs/format.md, "The questions"). The server names each code in the page's
language with Babel's CLDR data; the reviewer tool names it in English from this
small committed table, so that Babel (a 10 MB wheel, 36 MB installed) stays out of
the reviewer's offline install (requirements/reviewer.txt). Both programs offer
and accept exactly the codes listed here.

The codes are CLDR's two-letter territories less those that name no place an
applicant lives in, or a part of another country's territory that ISO only
reserves: `EU` `EZ` `UN` `QO` `XA` `XB` `ZZ` (unions, pseudo-locales, unknown)
and `AC` `CP` `CQ` `DG` `EA` `IC` `TA` (ISO 3166 "exceptionally reserved").
`XK` (Kosovo) is kept: not assigned by ISO, but the code CLDR, the EU and
passport issuers use for it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import babel
from babel import Locale
from babel.core import get_cldr_version

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "crypto" / "data" / "countries.json"
LEFT_OUT = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ",
                      "AC", "CP", "CQ", "DG", "EA", "IC", "TA"})


def table() -> bytes:
    names = Locale.parse("en").territories
    codes = sorted(c for c in names if isinstance(c, str) and len(c) == 2 and c.isascii()
                   and c.isalpha() and c.isupper() and c not in LEFT_OUT)
    doc = {
        "format": "refuge-intake countries",
        "version": 1,
        "source": f"CLDR {get_cldr_version()} English territory names, through Babel"
                  f" {babel.__version__} (tools/countries.py)",
        "countries": {code: names[code] for code in codes},
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    return (text + "\n").encode("utf-8")


def main(argv: list[str]) -> int:
    data = table()
    if "--check" in argv:
        current = TABLE.read_bytes() if TABLE.exists() else b""
        if json.loads(current or b"{}").get("countries") != json.loads(data)["countries"]:
            print(f"{TABLE} is not what tools/countries.py writes", file=sys.stderr)
            return 1
        return 0
    TABLE.write_bytes(data)
    print(f"{TABLE}: {len(json.loads(data)['countries'])} countries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
