"""The interface catalogs: every message of bot/ in English and Arabic, compiled and current;
right-to-left templates isolate what runs left to right; a chat's language is stored."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot import i18n_tools
from bot.i18n import (
    FSI,
    LRI,
    PDI,
    bidi_template,
    isolate,
    isolate_for,
    language_for,
    ngettext_for,
    translation,
)
from bot.store import Store

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
ARABIC = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    """The messages of bot/ as Babel's extractor (babel.messages.extract) finds them now."""
    return i18n_tools.extract()


def test_extraction_finds_messages_plurals_and_marked_constants(extracted: Catalog) -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id}
    assert "Choose the language of my messages and digests:" in ids  # _()
    assert "Sorry, something went wrong with that. Please try again in a moment." in ids  # N_
    assert "How to use Nashra" in ids  # N_ in a tuple of commands
    assert any(m.pluralizable for m in extracted)  # ngettext
    assert len(ids) > 100


def test_no_gettext_call_hides_in_an_f_string() -> None:
    """Babel cannot see ``f"{_('x')}"`` (an f-string is one token before Python 3.12)."""
    assert i18n_tools.hidden_calls() == []


def test_both_catalogs_have_every_message_and_arabic_for_each(extracted: Catalog) -> None:
    """The test that fails when a string lacks a catalog entry or an Arabic translation;
    `python -m bot.i18n_tools update`, then translate, fixes it."""
    assert i18n_tools.problems(extracted) == []


def test_catalog_headers_give_each_language_its_plural_rule() -> None:
    english = i18n_tools.read_catalog(i18n_tools.po_path("en"), "en")
    arabic = i18n_tools.read_catalog(i18n_tools.po_path("ar"), "ar")
    assert (english.num_plurals, arabic.num_plurals) == (2, 6)
    assert arabic.plural_expr == ("(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 "
                                  ": n%100>=11 ? 4 : 5)")
    assert not english.fuzzy and not arabic.fuzzy
    # English is the source: its entries stay empty (identity), never a stale copy.
    assert all(not m.string or m.string == m.id for m in english if m.id
               and isinstance(m.id, str))


def test_the_check_catches_what_a_catalog_can_get_wrong(extracted: Catalog) -> None:
    catalog = i18n_tools.read_catalog(i18n_tools.po_path("ar"), "ar")
    plural = next(m for m in catalog if m.pluralizable and m.id)
    catalog.delete("Subscribe")
    catalog["Stop the digests"].string = ""
    catalog["Subscribed %(name)s."].string = "تم الاشتراك."  # the name lost
    catalog["<b>Commands</b>"].string = "الأوامر"  # the tag lost
    plural.string = ("واحد", "اثنان")  # 2 forms where Arabic has 6
    found = list(i18n_tools._catalog_problems(extracted, catalog, "ar"))
    assert "missing 'Subscribe'" in found
    assert "untranslated 'Stop the digests'" in found
    assert "placeholders [] instead of ['%(name)s'] in 'Subscribed %(name)s.'" in found
    assert "HTML tags differ in '<b>Commands</b>'" in found
    assert any(line.startswith("2 plural forms instead of 6") for line in found)
    english = i18n_tools.read_catalog(i18n_tools.po_path("en"), "en")
    english.delete("Subscribe")
    assert "missing 'Subscribe'" in i18n_tools._catalog_problems(extracted, english, "en")


def test_a_stale_mo_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The .mo files are committed: one older than its .po fails the check."""
    locale = tmp_path / "locale"
    shutil.copytree(i18n_tools.LOCALE_DIR, locale)
    monkeypatch.setattr(i18n_tools, "LOCALE_DIR", locale)
    assert list(i18n_tools._stale_mo()) == []
    po = i18n_tools.po_path("ar")
    catalog = i18n_tools.read_catalog(po, "ar")
    catalog["Subscribe"].string = "اشترِك الآن"
    i18n_tools.write_catalog(po, catalog)
    assert [line.endswith("older than its .po (run: python -m bot.i18n_tools compile)")
            for line in i18n_tools._stale_mo()] == [True]
    i18n_tools.compile_catalogs()
    assert list(i18n_tools._stale_mo()) == []


def test_the_arabic_catalog_is_loaded_from_its_mo() -> None:
    _ = translation("ar").gettext
    assert _("Subscribe") == "اشترك"
    assert ARABIC.search(_("How to use Nashra"))
    assert translation("en").gettext("Subscribe") == "Subscribe"
    assert translation("xx").gettext("Subscribe") == "Subscribe"


def test_arabic_plural_forms() -> None:
    ngettext = ngettext_for("ar")
    singular = "Sources are checked every %(minutes)d minute."
    plural = "Sources are checked every %(minutes)d minutes."
    # one, two, few (3-10), many (11-99), other (100-102): each its own form.
    assert ngettext(singular, plural, 1) == "تُفحص المصادر كل دقيقة."
    assert ngettext(singular, plural, 2) == "تُفحص المصادر كل دقيقتين."
    assert ngettext(singular, plural, 5) % {"minutes": 5} == \
        f"تُفحص المصادر كل {FSI}5{PDI} دقائق."
    assert ngettext(singular, plural, 60) % {"minutes": 60} == \
        f"تُفحص المصادر كل {FSI}60{PDI} دقيقة."
    assert ngettext(singular, plural, 103) % {"minutes": 103} == \
        f"تُفحص المصادر كل {FSI}103{PDI} دقائق."
    english = ngettext_for("en")
    assert english(singular, plural, 1) % {"minutes": 1} == \
        "Sources are checked every 1 minute."
    assert english(singular, plural, 3) % {"minutes": 3} == \
        "Sources are checked every 3 minutes."


def test_language_follows_the_chat_then_the_user() -> None:
    assert language_for(None, "ar") == "ar"
    assert language_for(None, "ar-EG") == "ar"
    assert language_for(None, "AR") == "ar"
    assert language_for(None, "en-GB") == "en"
    assert language_for(None, "fr") == "en"
    assert language_for(None, None) == "en"
    assert language_for("en", "ar") == "en"
    assert language_for("ar", "en") == "ar"
    assert language_for("xx", "ar") == "ar"


# bidi ---------------------------------------------------------------------------------------

def test_placeholders_are_isolated_outside_tags_only() -> None:
    template = '<a href="%(url)s">%(title)s</a> من %(source)s: %(count)d'
    assert bidi_template(template) == (f'<a href="%(url)s">{FSI}%(title)s{PDI}</a> من '
                                       f"{FSI}%(source)s{PDI}: {FSI}%(count)d{PDI}")
    filled = bidi_template(template) % {"url": "https://example.com/a?b=1&amp;c=2",
                                        "title": "Gaza talks", "source": "BBC", "count": 3}
    assert '<a href="https://example.com/a?b=1&amp;c=2">' in filled
    assert f"{FSI}Gaza talks{PDI}</a>" in filled and f"{FSI}3{PDI}" in filled


def test_literal_commands_are_isolated_left_to_right() -> None:
    assert bidi_template("أرسل /settings times 07:30 19:00. ثم") == \
        f"أرسل {LRI}/settings times 07:30 19:00{PDI}. ثم"
    assert bidi_template("أدِر القناة: /sources %(name)s، /filter +كلمة") == \
        (f"أدِر القناة: {LRI}/sources {FSI}%(name)s{PDI}{PDI}، {LRI}/filter{PDI} +كلمة")
    assert bidi_template("اضغط /read_ID تحت الخبر") == f"اضغط {LRI}/read_ID{PDI} تحت الخبر"
    # Closing tags, URLs and a literal percent sign are left alone.
    assert bidi_template("<b>الأوامر</b> https://example.com/x 50%% فقط") == \
        "<b>الأوامر</b> https://example.com/x 50%% فقط"


def test_a_translator_placed_isolate_is_kept() -> None:
    prepared = f"أرسل {LRI}/settings @channel{PDI} ثم %(x)s"
    assert bidi_template(prepared) == f"أرسل {LRI}/settings @channel{PDI} ثم {FSI}%(x)s{PDI}"
    assert bidi_template(bidi_template("اشترك %(name)s")) == f"اشترك {FSI}%(name)s{PDI}"


def test_no_arabic_template_gets_an_isolate_inside_a_tag() -> None:
    for message in i18n_tools.read_catalog(i18n_tools.po_path("ar"), "ar"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            for tag in re.findall(r"<[^>]*>", bidi_template(string)):
                assert not set(tag) & set(LRI + FSI + PDI), (message.id, tag)


def test_isolate_helpers() -> None:
    assert isolate("BBC") == f"{FSI}BBC{PDI}"
    assert isolate("/help", ltr=True) == f"{LRI}/help{PDI}"
    assert isolate("") == ""
    assert isolate_for("ar")("CNN") == f"{FSI}CNN{PDI}"
    assert isolate_for("en")("CNN") == "CNN"


def test_english_templates_are_untouched() -> None:
    _ = translation("en").gettext
    assert _("Subscribed %(name)s.") == "Subscribed %(name)s."


# the stored language ------------------------------------------------------------------------

def test_a_chat_takes_its_first_users_language_and_keeps_a_chosen_one(
        store_location: Path | str) -> None:
    with Store(store_location) as store:
        def ensure(chat_id: int, language: str | None) -> str | None:
            return store.ensure_chat(chat_id, "group", "g", times=("08:00",), timezone="UTC",
                                     max_items=5, now=NOW, language=language).language

        assert ensure(-5, None) is None  # a channel post: no user, no language yet
        assert ensure(-5, "ar") == "ar"  # the first user seen
        assert ensure(-5, "en") == "ar"  # later users do not change it
        store.set_chat_language(-5, "en")
        assert ensure(-5, "ar") == "en"
        chat = store.get_chat(-5)
        assert chat is not None and chat.language == "en"
