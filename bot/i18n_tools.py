"""Maintain the interface's message catalogs (development only: needs Babel, the dev group).

    uv run python -m bot.i18n_tools update     # extract from bot/, update every .po, compile
    uv run python -m bot.i18n_tools merge FILE.po [LANG]   # take translations from a fragment
    uv run python -m bot.i18n_tools compile    # .po -> .mo only
    uv run python -m bot.i18n_tools check      # what a catalog lacks; non-zero exit if any

``update`` runs the three steps of the usual Babel cycle (extract -> update -> compile, what
``pybabel extract -F babel.cfg``, ``pybabel update`` and ``pybabel compile`` do) with the
settings below, so that a re-run changes only what changed (no line numbers, fixed dates).
The English catalog lists every message with an empty translation: English is the source.
The ``.mo`` files are committed; tests/test_i18n.py fails when one is older than its ``.po``.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent
MAPPING = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
COMMENT_TAGS = ("Translators:",)
# Fixed, so that updating unchanged catalogs leaves the files as they were.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
# Babel's own table orders Arabic's forms oddly (100-102 before 11-99); this is GNU gettext's
# and CLDR's: zero, one, two, few (3-10), many (11-99), other (100-102…).
PLURAL_FORMS = {
    "ar": "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 "
          ": n%100>=11 ? 4 : 5);",
    "en": "nplurals=2; plural=(n != 1);",
}
_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[sdif]")
_TAG = re.compile(r"</?[a-z]+[^>]*>")
_F_STRING = re.compile(r"[rRbB]?[fF][rR]?['\"]")
_CALL = re.compile(r"\b(?:_|gettext|ngettext|N_)\(")


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def extract() -> Catalog:
    """Every message of bot/ as Babel's extractor finds it, per babel.cfg."""
    with MAPPING.open(encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)  # type: ignore[no-untyped-call]
    catalog = Catalog(project="Nashra", domain=DOMAIN, creation_date=FIXED_DATE,
                      revision_date=FIXED_DATE, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS,
            comment_tags=COMMENT_TAGS, strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def read_catalog(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def write_catalog(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=96, include_lineno=False, ignore_obsolete=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())


def new_catalog(language: str) -> Catalog:
    """An empty catalog for a new language (its plural rule from PLURAL_FORMS if listed)."""
    catalog = Catalog(locale=language, domain=DOMAIN, project="Nashra",
                      creation_date=FIXED_DATE, revision_date=FIXED_DATE, charset="utf-8")
    _set_header(catalog, language)
    return catalog


def _set_header(catalog: Catalog, language: str) -> None:
    """The same header on every run (no dates, no template placeholders)."""
    catalog.header_comment = (f"# Nashra's Telegram interface: {language} messages.\n"
                              "# Maintained with `python -m bot.i18n_tools update`.")
    catalog.project, catalog.version = "Nashra", "1"
    catalog.copyright_holder = catalog.language_team = catalog.last_translator = \
        "Nashra contributors"
    catalog.msgid_bugs_address = ""
    catalog.fuzzy = False
    if language in PLURAL_FORMS:
        headers = [(k, v) for k, v in catalog.mime_headers if k.lower() != "plural-forms"]
        catalog.mime_headers = [*headers, ("Plural-Forms", PLURAL_FORMS[language])]


def update(template: Catalog) -> None:
    """Write the template, then bring every language's .po in line with it."""
    _set_header(template, "template")
    write_catalog(TEMPLATE, template)
    for language in LANGUAGES:
        path = po_path(language)
        catalog = read_catalog(path, language) if path.exists() else new_catalog(language)
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        catalog.revision_date = FIXED_DATE
        _set_header(catalog, language)
        write_catalog(path, catalog)


def compile_catalogs() -> None:
    """.po -> .mo for every translated language (English needs none)."""
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        compiled, path = _mo_bytes(language), mo_path(language)
        if not path.exists() or path.read_bytes() != compiled:
            path.write_bytes(compiled)


def _mo_bytes(language: str) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(po_path(language), language))
    return buffer.getvalue()


def _compiled(data: bytes) -> dict[object, object]:
    """A .mo's messages (not its header, whose dates may differ)."""
    return {m.id if isinstance(m.id, str) else tuple(m.id): m.string
            for m in read_mo(io.BytesIO(data)) if m.id}


def merge(fragment: Path, language: str) -> int:
    """Take the non-empty translations of ``fragment`` for messages the catalog has;
    returns how many were taken."""
    path = po_path(language)
    catalog = read_catalog(path, language)
    taken = 0
    for message in read_catalog(fragment, language):
        if not message.id or not _translated(message):
            continue
        existing = catalog.get(message.id, message.context)
        if existing is None:
            continue
        existing.string = message.string
        existing.flags.discard("fuzzy")
        taken += 1
    write_catalog(path, catalog)
    return taken


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def problems(extracted: Catalog | None = None) -> list[str]:
    """Everything a catalog lacks or gets wrong, one line each (empty: all complete)."""
    extracted = extracted if extracted is not None else extract()
    found: list[str] = []
    for language in LANGUAGES:
        path = po_path(language)
        if not path.exists():
            found.append(f"{path}: missing")
            continue
        catalog = read_catalog(path, language)
        found.extend(f"{language}: {line}" for line in _catalog_problems(extracted, catalog,
                                                                         language))
    found.extend(_stale_mo())
    found.extend(f"{place}: a gettext call inside an f-string is not extracted"
                 for place in hidden_calls())
    return found


def _catalog_problems(extracted: Catalog, catalog: Catalog, language: str) -> Iterator[str]:
    for message in _messages(extracted):
        entry = catalog.get(message.id, message.context)
        if entry is None:
            yield f"missing {_key(message)!r}"
            continue
        if entry.id != message.id:
            yield f"plural of {_key(message)!r} differs from the source"
            continue
        if language == DEFAULT_LANGUAGE:
            continue
        if not _translated(entry) or entry.fuzzy:
            yield f"untranslated {_key(message)!r}"
            continue
        yield from (f"{reason} in {_key(message)!r}" for reason in _mismatches(entry, catalog))


def _messages(catalog: Catalog) -> Iterable[Message]:
    return (m for m in catalog if m.id)


def _mismatches(entry: Message, catalog: Catalog) -> Iterator[str]:
    """Placeholders and HTML tags must survive translation."""
    if isinstance(entry.id, str):
        sources, strings = [entry.id], [str(entry.string)]
    else:
        sources, strings = [entry.id[1]], [str(s) for s in entry.string or ()]
        if len(strings) != catalog.num_plurals:
            yield f"{len(strings)} plural forms instead of {catalog.num_plurals}"
    source = sources[0]
    wanted = sorted(set(_PLACEHOLDER.findall(source)))
    if len(_PLACEHOLDER.findall(source)) > 1 and any("(" not in p for p in wanted):
        yield "positional placeholders (use %(name)s)"
    for index, string in enumerate(strings):
        have = sorted(set(_PLACEHOLDER.findall(string)))
        last = index == len(strings) - 1
        # Forms for 0, 1 or 2 may spell the number out ("خبران"), so omit the count.
        if have != wanted and not (not last and set(have) <= set(wanted)):
            yield f"placeholders {have} instead of {wanted}"
        if sorted(_TAG.findall(string)) != sorted(_TAG.findall(source)):
            yield "HTML tags differ"


def _stale_mo() -> Iterator[str]:
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        path = mo_path(language)
        if not path.exists():
            yield f"{path}: missing (run: python -m bot.i18n_tools compile)"
            continue
        if _compiled(path.read_bytes()) != _compiled(_mo_bytes(language)):
            yield f"{path}: older than its .po (run: python -m bot.i18n_tools compile)"


def hidden_calls() -> list[str]:
    """``_("…")`` inside an f-string, which Babel cannot see (Python 3.11 keeps an f-string
    as one token): "file:line" of each."""
    found: list[str] = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        with path.open("rb") as file:
            for token in tokenize.tokenize(file.readline):
                if token.type == tokenize.STRING and _F_STRING.match(token.string) \
                        and _CALL.search(token.string):
                    found.append(f"{path.relative_to(ROOT)}:{token.start[0]}")
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update(extract())
        compile_catalogs()
    elif command == "compile":
        compile_catalogs()
    elif command == "merge" and len(argv) in (2, 3):
        taken = merge(Path(argv[1]), argv[2] if len(argv) == 3 else "ar")
        compile_catalogs()
        print(f"{taken} translations taken from {argv[1]}")
    elif command != "check":
        print(__doc__)
        return 2
    found = problems()
    for line in found:
        print(line)
    print(f"{len(found)} problems" if found else "catalogs complete")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
