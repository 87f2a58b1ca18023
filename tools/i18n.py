"""Extract, update and compile the applicant-page translations (`make translations`).

    python tools/i18n.py            extract messages.pot, update every catalog, compile .mo
    python tools/i18n.py --check    exit 1 (one line per problem) if anything is stale

Why a script instead of bare `pybabel extract/update/compile`: Babel drops unknown
header fields when it rewrites a catalog, and every catalog must keep saying
`X-Review-Status: machine-drafted, needs native-speaker review` until a native
speaker has reviewed it. The script also never marks anything fuzzy (compilation
would silently skip fuzzy entries) and fills the English catalog with the msgids.

Both the .po (what people edit and review) and the compiled .mo (what the app loads,
so an installed copy needs no build step) are committed; tests/intake/test_i18n.py
fails if a .mo does not mean what its .po says: the same messages, translations and
plural rule, read back with Babel's own reader. Bytes are not compared: another Babel
release may lay out the same catalog differently.
"""

from __future__ import annotations

import copy
import io
import re
import struct
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "intake" / "translations"
POT = CATALOGS / "messages.pot"
LOCALES = ("en", "fr", "es", "ar", "fa", "ru", "tr", "zh_Hans")
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
REVIEW_FIELD = "X-Review-Status"
REVIEW_VALUE = "machine-drafted, needs native-speaker review"
HEADER_COMMENT = (
    "# Translations for refuge-intake's applicant pages.\n"
    "# NEEDS REVIEW: machine-drafted; a native speaker must review every entry\n"
    "# before it is relied on (see docs/translations.md). Keep placeholders such as\n"
    "# %(name)s and {name} and any HTML tags exactly as in the msgid."
)
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|</?[a-z]+[^>]*>")


def extract() -> Catalog:
    """The template catalog, extracted from the sources as babel.cfg says."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    pot = Catalog(project="refuge-intake", version="1", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return pot


def review_status(path: Path) -> str:
    """The catalog's X-Review-Status value (kept as a reviewer set it), or the default."""
    if path.exists():
        found = re.search(rf'^"{REVIEW_FIELD}: (.*?)\\n"$', path.read_text("utf-8"), re.M)
        if found:
            return found.group(1)
    return REVIEW_VALUE


def _po_bytes(catalog: Catalog, status: str = REVIEW_VALUE) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, omit_header=False, sort_output=False,
             include_previous=False, ignore_obsolete=True)
    text = buf.getvalue().decode("utf-8")
    # Babel would drop this field: put it back after the standard ones.
    marker = '"Content-Transfer-Encoding: 8bit\\n"\n'
    if catalog.locale is not None:
        text = text.replace(marker, marker + f'"{REVIEW_FIELD}: {status}\\n"\n', 1)
    return text.encode("utf-8")


def mo_bytes(po_path: Path) -> bytes:
    """What a .po compiles to (fuzzy entries would be left out; there must be none)."""
    with po_path.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


Meaning = tuple[str, dict[tuple[object, object], object]]


def meaning(catalog: Catalog) -> Meaning:
    """What a compiled catalog gives the app: its plural rule and every translated message.

    Keys are (context, msgid), msgid a tuple for plurals; untranslated and fuzzy
    messages are left out, as compilation leaves them out.
    """
    messages: dict[tuple[object, object], object] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        string = message.string
        if not (any(string) if isinstance(string, tuple | list) else string):
            continue
        key_id = tuple(message.id) if isinstance(message.id, tuple | list) else message.id
        value = tuple(string) if isinstance(string, tuple | list) else string
        messages[(message.context, key_id)] = value
    return str(catalog.plural_forms), messages


def mo_meaning(mo_path: Path) -> Meaning | None:
    """The meaning of a compiled .mo, or None if it cannot be read as one."""
    try:
        with mo_path.open("rb") as f:
            return meaning(read_mo(f))
    except (OSError, ValueError, IndexError, UnicodeDecodeError, struct.error):
        return None


def po_path(locale: str) -> Path:
    return CATALOGS / locale / "LC_MESSAGES" / "messages.po"


def update(pot: Catalog, locale: str, status: str = REVIEW_VALUE) -> Catalog:
    path = po_path(locale)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale)
    else:
        catalog = Catalog(locale=locale, project="refuge-intake", version="1", fuzzy=False)
    # Babel adopts new template messages by reference: give each catalog its own copy.
    catalog.update(copy.deepcopy(pot), no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    if status == REVIEW_VALUE:  # a reviewed catalog keeps the comment its reviewer wrote
        catalog.header_comment = HEADER_COMMENT
    for message in catalog:
        if not message.id:
            continue
        message.flags.discard("fuzzy")
        if locale == "en" and not message.string:
            message.string = message.id  # English is the source language
    return catalog


def problems(pot: Catalog) -> list[str]:
    """Every way the committed catalogs fall short of the sources: for tests and --check."""
    out: list[str] = []
    wanted = {m.id for m in pot if m.id}
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            out.append(f"{locale}: no catalog at {path}")
            continue
        raw = path.read_text("utf-8")
        if f'"{REVIEW_FIELD}: ' not in raw:
            out.append(f"{locale}: the {REVIEW_FIELD} header field is missing")
        with path.open("rb") as f:
            catalog = read_po(f)
        have = {m.id: m for m in catalog if m.id}
        for msgid in sorted(wanted - set(have)):
            out.append(f"{locale}: missing {msgid[:60]!r}")
        for msgid, message in have.items():
            text = message.string if isinstance(message.string, str) else ""
            if msgid in wanted and not text.strip():
                out.append(f"{locale}: empty translation for {msgid[:60]!r}")
            if message.fuzzy:
                out.append(f"{locale}: fuzzy (compilation would skip it) {msgid[:60]!r}")
            if text and sorted(PLACEHOLDER.findall(str(msgid))) != sorted(PLACEHOLDER.findall(text)):
                out.append(f"{locale}: placeholders or tags differ in {msgid[:60]!r}")
        mo = path.with_suffix(".mo")
        if mo_meaning(mo) != meaning(catalog):
            out.append(f"{locale}: {mo.name} is not what the .po compiles to")
    return out


def main(argv: list[str]) -> int:
    pot = extract()
    if "--check" in argv:
        found = problems(pot)
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    CATALOGS.mkdir(parents=True, exist_ok=True)
    if POT.exists():
        with POT.open("rb") as f:
            old = read_po(f)
        if {m.id for m in old} == {m.id for m in pot}:
            pot.creation_date = old.creation_date  # nothing new: no date churn in every file
    buf = io.BytesIO()
    write_po(buf, pot, width=100, omit_header=False, sort_output=False)
    POT.write_bytes(buf.getvalue())
    for locale in LOCALES:
        path = po_path(locale)
        status = review_status(path)
        catalog = update(pot, locale, status)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_po_bytes(catalog, status))
        path.with_suffix(".mo").write_bytes(mo_bytes(path))
    left = problems(pot)
    for line in left:
        print(line, file=sys.stderr)
    print(f"{len(LOCALES)} catalogs updated; {len(left)} problems left", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
