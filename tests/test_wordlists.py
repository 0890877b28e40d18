"""/filter and /alert end to end: the real bot, the fake Bot API server, a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from support.bot_harness import READER, BotSite, button_data, press, running_bot, say

from bot.telegram.common import INVALID_BUTTON, NOT_MANAGER
from bot.telegram.wordlists import GONE, MAX_WORDS

T = TypeVar("T")
GROUP = -200600
GROUP_ADMIN, GROUP_MEMBER = 6001, 6002
# Words are wrapped in bidi isolates (FSI … PDI) so Arabic keeps the line in order.
FSI, PDI = "\u2068", "\u2069"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def plain(message: dict[str, Any] | None) -> str:
    """The text as users read it, without the invisible isolates."""
    assert message is not None
    return str(message["text"]).replace(FSI, "").replace(PDI, "")


def words(site: BotSite, chat: int) -> list[tuple[str, str]]:
    with site.store() as store:
        return [(w.kind, w.word) for w in store.chat_words(chat)]


def labels(message: dict[str, Any] | None) -> list[str]:
    assert message is not None
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


def test_filter_add_list_and_remove_by_button(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            empty = await say(tg, "/filter")
            assert "None: every story is sent." in empty["text"]
            assert "reply_markup" not in empty["message"]
            added = await say(tg, "/filter +oil +central   bank -football")
            assert plain(added) == (
                "Filters\nAdded to the include words: “oil”, “central bank”.\n"
                "Added to the exclude words: “football”.\n/filter shows the list.")
            assert words(site, READER) == [("include", "oil"), ("include", "central bank"),
                                           ("exclude", "football")]
            for text, expected in [
                ("/filter +OIL", "Already there: “oil”."),
                ("/filter + Central Bank", "Already there: “central bank”."),
                ("/filter -oil", "Already an include word, remove it first: “oil”."),
                ("/filter +(.*)", "Not added, no letters or digits: “(.*)”."),
                ("/filter +a.*b, \u202eevil\u200f", "Added to the include words: “a.*b”, "
                 "“evil”."),
            ]:
                assert expected in plain(await say(tg, text)), text
            usage = await say(tg, "/filter oil")
            assert usage["text"].startswith("Start each word with + (include) or - (exclude)")

            listing = await say(tg, "/filter")
            text = plain(listing)
            assert "Only stories matching one of these are sent:\n• oil\n• central bank" in text
            assert "Stories matching these are never sent:\n• football" in text
            assert "/filter +central bank -football" in text  # the rule for phrases
            assert labels(listing) == ["✖ +oil", "✖ +central bank", "✖ +a.*b", "✖ +evil",
                                       "✖ -football"]
            data = button_data(listing, "central bank")
            assert data.startswith("flt:") and "@" not in data
            answered = await press(tg, READER, listing["message_id"], data)
            assert answered["text"] == "Removed: central bank"
            await tg.wait_for_async(lambda: "• central" not in plain(
                tg.message(READER, listing["message_id"])))
            assert len(labels(tg.message(READER, listing["message_id"]))) == 4
            again = await press(tg, READER, listing["message_id"], data, check_button=False)
            assert again["text"] == GONE and again["show_alert"]
            forged = await press(tg, READER, listing["message_id"], "flt:x", check_button=False)
            assert forged["text"] == INVALID_BUTTON
            assert ("include", "central bank") not in words(site, READER)

    run(scenario())


def test_word_limits(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            long = await say(tg, "/filter +" + "x" * 51)
            clipped = "x" * 39 + "…"
            assert plain(long).startswith(f"Filters\nToo long (max 50 characters): “{clipped}”.")
            assert "Added" in plain(await say(tg, "/filter +" + "y" * 50))
            many = await say(tg, "/filter +" + ", ".join(f"w{n}" for n in range(MAX_WORDS + 1)))
            assert many["text"] == "That is 51 entries; a chat can have at most 50."
            assert words(site, READER) == [("include", "y" * 50)]
            await say(tg, "/filter +" + ", ".join(f"w{n}" for n in range(44)))
            await say(tg, "/alert " + ", ".join(f"a{n}" for n in range(5)))
            assert len(words(site, READER)) == MAX_WORDS
            full = await say(tg, "/alert zz, a1")
            assert plain(full) == (
                "Alerts\nNot added, the list is full (50 words per chat, filters and alerts "
                "together): “zz”.\nAlready there: “a1”.\n/alert shows the list.")
            assert "the list is full" in (await say(tg, "/filter -zz"))["text"]
            assert len(words(site, READER)) == MAX_WORDS

    run(scenario())


def test_only_group_administrators_change_filters(site: BotSite) -> None:
    tg = site.telegram
    tg.set_admin(GROUP, GROUP_ADMIN)
    tg.set_member(GROUP, GROUP_MEMBER)

    async def scenario() -> None:
        async with running_bot(site):
            refused = await say(tg, "/filter +oil", chat=GROUP, user_id=GROUP_MEMBER)
            assert refused["text"] == NOT_MANAGER
            refused = await say(tg, "/alert oil", chat=GROUP, user_id=GROUP_MEMBER)
            assert refused["text"] == NOT_MANAGER
            assert words(site, GROUP) == []
            await say(tg, "/filter -sport", chat=GROUP, user_id=GROUP_ADMIN)
            listing = await say(tg, "/filter", chat=GROUP, user_id=GROUP_MEMBER)  # may look
            assert "• sport" in plain(listing)
            data = button_data(listing, "sport")
            answered = await press(tg, GROUP, listing["message_id"], data, user_id=GROUP_MEMBER)
            assert answered["text"] == NOT_MANAGER and answered["show_alert"]
            assert words(site, GROUP) == [("exclude", "sport")]
            answered = await press(tg, GROUP, listing["message_id"], data, user_id=GROUP_ADMIN)
            assert answered["text"] == "Removed: sport"
            assert words(site, GROUP) == []

    run(scenario())


def test_alert_add_list_and_remove(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            empty = await say(tg, "/alert")
            assert "No alert words yet." in empty["text"]
            assert "at most 10 an hour, the rest wait for the next digest" in empty["text"]
            added = await say(tg, "/alert oil, central bank، الذهب")
            assert plain(added) == ("Alerts\nAdded to the alert words: “oil”, “central bank”, "
                                    "“الذهب”.\n/alert shows the list.")
            assert "Already there: “oil”." in plain(await say(tg, "/alert OIL"))
            assert "Added to the include words" in plain(await say(tg, "/filter +oil"))
            removed = await say(tg, "/alert -oil, -gas")
            assert plain(removed) == ("Alerts\nRemoved from the alert words: “oil”.\n"
                                      "Not an alert word: “gas”.\n/alert shows the list.")
            assert (await say(tg, "/alert ,,,"))["text"].startswith("/alert word adds one")
            listing = await say(tg, "/alert")
            assert labels(listing) == ["✖ central bank", "✖ الذهب"]
            gold = button_data(listing, "الذهب")
            assert gold.startswith("alr:")
            # A filter button cannot remove an alert word (nor the other way round).
            wrong = await press(tg, READER, listing["message_id"], "flt:" + gold[4:],
                                check_button=False)
            assert wrong["text"] == GONE
            for data in (gold, button_data(listing, "central bank")):
                await press(tg, READER, listing["message_id"], data)
            await tg.wait_for_async(lambda: "No alert words yet." in plain(
                tg.message(READER, listing["message_id"])))
            assert "reply_markup" not in (tg.message(READER, listing["message_id"]) or {})
            assert words(site, READER) == [("include", "oil")]

    run(scenario())
