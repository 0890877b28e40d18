"""Hostile or careless users: every argument and every button press gets a short, specific
answer; nothing reaches the chat as an exception; state only changes when it may."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    button_data,
    press,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram

from bot.models import Chat
from bot.query import parse_query
from bot.telegram.admin import REFUSAL
from bot.telegram.common import INVALID_BUTTON, NOT_MANAGER
from bot.telegram.handlers import SORRY, SUBSCRIBE_USAGE
from bot.telegram.preferences import USAGE
from bot.telegram.searching import SEARCH_EXPIRED

T = TypeVar("T")
# Two groups: python-telegram-bot's AIORateLimiter allows about 20 calls a minute per group
# (permission checks included), so one group per scenario keeps the test fast.
GROUP, OTHER_GROUP = -200400, -200500
GROUP_ADMIN, GROUP_MEMBER = 4001, 4002
NO_WORDS = "There are no words to search for in that. Try e.g. /search central bank."
UNKNOWN_ZONE = "Unknown timezone {}. Use an IANA name such as Africa/Cairo or Europe/London."
ITEMS = "Items per digest must be a number from 1 to 30."
NOT_A_SOURCE = "That source is no longer available."


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def settings_of(site: BotSite, chat_id: int) -> tuple[Any, ...]:
    with site.store() as store:
        chat: Chat | None = store.get_chat(chat_id)
    assert chat is not None
    return chat.subscribed, chat.times, chat.timezone, chat.max_items, chat.excluded_feeds


def active_feeds(site: BotSite) -> list[int]:
    with site.store() as store:
        return [f.id for f in store.feeds(active_only=True)]


def assert_clean_chat(tg: FakeTelegram, chat: int) -> None:
    """No generic error notice and nothing that looks like a stack trace, ever."""
    for message in tg.sent(chat):
        assert message["text"] != SORRY, tg.describe()
        assert "Traceback" not in message["text"], message["text"]


async def settle(tg: FakeTelegram, chat: int = READER) -> None:
    """Wait until every update sent so far was handled: updates are handled in order, so
    once /help is answered, everything before it was too."""
    help_text = await say(tg, "/help", chat=chat)
    assert help_text["text"].startswith("Commands"), help_text["text"]


ARGUMENT_CASES = [
    ("/search " + "x" * 4000, "That search is too long (max 200 characters)."),
    ("/search " + "word " * 41, "That search is too long (max 200 characters)."),
    ("/search *** ;;; ---", NO_WORDS),
    ("/settings timezone " + "A" * 4000, "That value is too long (max 64 characters)."),
    ("/settings timezone Mars/Base", UNKNOWN_ZONE.format("Mars/Base")),
    ("/settings timezone ../../../etc/passwd", UNKNOWN_ZONE.format("../../../etc/passwd")),
    ("/settings timezone <b>UTC</b>", UNKNOWN_ZONE.format("<b>UTC</b>")),
    ("/settings timezone Africa/Cairo Europe/London",
     "Give one timezone, e.g. /settings timezone Africa/Cairo."),
    ("/settings times 25:00", "25:00 is not a time; use HH:MM such as 07:30."),
    ("/settings times 12:60", "12:60 is not a time; use HH:MM such as 07:30."),
    ("/settings times 7h30", "7h30 is not a time; use HH:MM such as 07:30."),
    ("/settings times 08:00 noon", "noon is not a time; use HH:MM such as 07:30."),
    ("/settings times 1:00 2:00 3:00 4:00 5:00 6:00 7:00", "At most 6 digest times, please."),
    ("/settings items lots", ITEMS),
    ("/settings items 0", ITEMS),
    ("/settings items 31", ITEMS),
    ("/settings items -5", ITEMS),
    ("/settings items ²", ITEMS),
    ("/settings items 99999999999999999999999999", ITEMS),
    ("/settings items 5 6", "Give one number from 1 to 30, e.g. /settings items 10."),
    ("/settings colour blue", USAGE),
    ("/settings " + "x" * 4000, USAGE),
    ("/settings times", USAGE),
    ("/subscribe now please", SUBSCRIBE_USAGE),
    ("/subscribe @abc", SUBSCRIBE_USAGE),
    ("/subscribe @" + "a" * 4000, SUBSCRIBE_USAGE),
    ("/subscribe '; DROP TABLE chats; --", SUBSCRIBE_USAGE),
    ("/unsubscribe please", "/unsubscribe takes no arguments — send just /unsubscribe."),
    ("/digest everything", "/digest takes no arguments — send just /digest."),
    ("/sources all", "/sources takes no arguments — send just /sources."),
    ("/nonsense " + "z" * 3000, "I don't know that command. /help lists what I can do."),
]


def test_every_bad_argument_gets_a_short_specific_reply(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            await say(tg, "/start")
            before = settings_of(site, READER)
            for text, expected in ARGUMENT_CASES:
                answer = await say(tg, text)
                assert answer["text"] == expected, (text[:60], answer["text"])
                assert len(answer["text"]) < 120
            assert settings_of(site, READER) == before  # nothing was changed by any of them
            # Long but valid: 500 copies of one time are one time.
            saved = await say(tg, "/settings times " + "09:00 " * 500)
            assert saved["text"] == "Saved. Digests at 09:00 (UTC), up to 10 stories each."
            assert settings_of(site, READER)[1] == ("09:00",)
            assert_clean_chat(tg, READER)

    run(scenario())


HOSTILE_QUERIES = [
    '"unbalanced', 'NEAR(a b, 5)', "a OR b AND NOT c", "title:* ^start", "{a b}: c",
    "'; DROP TABLE articles; --", "x' OR 1=1 --", '" OR ""="', "في*", "%_% \\ ' \"",
    "* - + ( ) : ^", "<b>bold</b> & في", "في OR NEAR(", "a\u202eb \u200f", "0x00 \\x00",
]


def test_fts_and_sql_syntax_in_search_are_plain_words(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            with site.store() as store:
                articles = store.count_articles()
            for query in HOSTILE_QUERIES:
                answer = await say(tg, f"/search {query}")
                text = answer["text"]
                if parse_query(query, datetime.now(UTC)).empty:
                    assert text == NO_WORDS, (query, text)
                else:
                    assert text.startswith(("No results for ", "🔎 ")), (query, text)
            # Markup in a query is text: the echo of the query and of a bad operator value
            # reach the chat as typed (escaped), never as formatting.
            markup = await say(tg, "/search <b>bold</b> & في since:<i>x</i>")
            assert markup["text"].startswith('🔎 في · "b bold b" — results 1–5\n'
                                              '"since:<i>x</i>" is not a date'), markup["text"]
            with site.store() as store:
                assert store.count_articles() == articles
            normal = await say(tg, "/search في")
            assert "results 1–5" in normal["text"]
            assert_clean_chat(tg, READER)

    run(scenario())


def test_forged_buttons_are_answered_briefly_and_change_nothing(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            menu = await say(tg, "/settings")
            found = await say(tg, "/search في")
            token = button_data(found, "Next").split(":")[1]
            before, feeds = settings_of(site, READER), active_feeds(site)
            mid = menu["message_id"]
            cases = [
                ("bogus:1", INVALID_BUTTON), ("x", INVALID_BUTTON),
                ("subscribe:evil", INVALID_BUTTON),
                ("set:", INVALID_BUTTON), ("set:nope", INVALID_BUTTON),
                ("set:menu:extra", INVALID_BUTTON), ("set:custom:nope", INVALID_BUTTON),
                ("set:time:", INVALID_BUTTON),
                ("set:time:99:99", "99:99 is not a time; use HH:MM such as 07:30."),
                ("set:time:" + "9" * 50,
                 "9999999999999999999… is not a time; use HH:MM such as 07:30."),
                ("set:zone:Mars/Base", UNKNOWN_ZONE.format("Mars/Base")),
                ("set:n:999999999999999999999999999", ITEMS), ("set:n:²", ITEMS),
                ("set:n:-1", ITEMS),
                ("src:abc", NOT_A_SOURCE), ("src:-1", NOT_A_SOURCE), ("src:999999", NOT_A_SOURCE),
                ("src:" + "9" * 40, NOT_A_SOURCE), ("src:١", NOT_A_SOURCE),
                ("search:deadbeef:5", SEARCH_EXPIRED), ("search:", INVALID_BUTTON),
                (f"search:{token}:abc", INVALID_BUTTON), (f"search:{token}:7", INVALID_BUTTON),
                (f"search:{token}:" + "9" * 40, INVALID_BUTTON),
                (f"search:{token}:1000", "No more results."),
                ("rmfeed:1", REFUSAL), ("rmfeed:" + "9" * 40, REFUSAL),
            ]
            for data, expected in cases:
                answered = await press(tg, READER, mid, data, check_button=False)
                assert answered["text"] == expected, (data, answered)
            admin_menu = await say(tg, "/settings", chat=ADMIN)
            for data in ("rmfeed:abc", "rmfeed:999999", "rmfeed:" + "9" * 40):
                answered = await press(tg, ADMIN, admin_menu["message_id"], data,
                                       check_button=False)
                assert answered["text"] == "That source no longer exists.", data
            await settle(tg)
            assert settings_of(site, READER) == before
            assert active_feeds(site) == feeds
            assert tg.message(READER, mid)["text"] == menu["text"]  # type: ignore[index]
            assert_clean_chat(tg, READER)

    run(scenario())


def test_stale_buttons_after_a_restart(site: BotSite) -> None:
    """In-memory state (search tokens, a pending "Custom…") is gone after a restart; the
    old buttons say so briefly. Stateless buttons keep working."""
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            found = await say(tg, "/search في")
            menu = await say(tg, "/settings")
            await press(tg, READER, menu["message_id"], "set:times")
            await tg.wait_for_async(lambda: "Custom" in str(
                (tg.message(READER, menu["message_id"]) or {}).get("reply_markup")))
            await press(tg, READER, menu["message_id"], "set:custom:times")
            await tg.wait_for_async(lambda: tg.sent(READER)[-1]["text"].startswith("Send "))
            listing = await say(tg, "/removefeed", chat=ADMIN)
            remove = listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            assert (await press(tg, ADMIN, listing["message_id"], remove))["text"] == "Removed"
        before = settings_of(site, READER)
        async with running_bot(site):
            answered = await press(tg, READER, found["message_id"], button_data(found, "Next"))
            assert answered == {**answered, "text": SEARCH_EXPIRED, "show_alert": True}
            tg.push_message(READER, "06:30")  # the answer to a prompt the old process asked
            await settle(tg)
            assert settings_of(site, READER) == before
            answered = await press(tg, ADMIN, listing["message_id"], remove,
                                   check_button=False)
            assert answered["text"] == "That source no longer exists."
            # Telegram refuses to answer a press that waited too long: still no error.
            tg.fail_next("answerCallbackQuery", description="Bad Request: query is too old "
                         "and response timeout expired or query ID is invalid")
            tg.push_callback(READER, menu["message_id"], "set:menu")  # "Back", still there
            await tg.wait_for_async(lambda: "Timezone" in str(
                (tg.message(READER, menu["message_id"]) or {}).get("reply_markup")))
            await settle(tg)
            assert_clean_chat(tg, READER)

    run(scenario())


async def ask_custom(tg: FakeTelegram, message_id: int, what: str) -> None:
    """The group administrator presses "Custom…"; returns once the prompt is sent."""
    count = len(tg.sent(OTHER_GROUP))
    # The button is on the times/timezone menu; the main menu shows under the message.
    await press(tg, OTHER_GROUP, message_id, f"set:custom:{what}", user_id=GROUP_ADMIN,
                check_button=False)
    prompt = await tg.wait_for_messages_async(OTHER_GROUP, count + 1)
    assert prompt[-1]["text"].startswith("Send "), prompt[-1]["text"]


def test_group_members_cannot_change_the_group(site: BotSite) -> None:
    tg = site.telegram
    tg.set_admin(GROUP, GROUP_ADMIN)
    tg.set_member(GROUP, GROUP_MEMBER)

    async def scenario() -> None:
        async with running_bot(site):
            start = await say(tg, "/start", chat=GROUP, user_id=GROUP_MEMBER)
            menu = await say(tg, "/settings", chat=GROUP, user_id=GROUP_MEMBER)  # may look
            listing = await say(tg, "/sources", chat=GROUP, user_id=GROUP_MEMBER)
            before = settings_of(site, GROUP)
            for command in ("/subscribe", "/unsubscribe", "/settings items 5",
                            "/settings timezone Africa/Cairo"):
                refused = await say(tg, command, chat=GROUP, user_id=GROUP_MEMBER)
                assert refused["text"] == NOT_MANAGER, command
            source = listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            presses = [(start, "subscribe"), (listing, source), (menu, "set:times"),
                       (menu, "set:custom:times"), (menu, "set:n:5"), (menu, "set:zone:UTC")]
            for message, data in presses:
                answered = await press(tg, GROUP, message["message_id"], data,
                                       user_id=GROUP_MEMBER, check_button=False)
                assert answered["text"] == NOT_MANAGER and answered["show_alert"], data
            assert settings_of(site, GROUP) == before
            assert_clean_chat(tg, GROUP)

    run(scenario())


def test_only_who_pressed_custom_may_answer_it(site: BotSite) -> None:
    tg = site.telegram
    tg.set_admin(OTHER_GROUP, GROUP_ADMIN)
    tg.set_member(OTHER_GROUP, GROUP_MEMBER)

    async def scenario() -> None:
        async with running_bot(site):
            menu = await say(tg, "/settings", chat=OTHER_GROUP, user_id=GROUP_MEMBER)
            # An administrator asks for a custom time; only their own answer is taken.
            await ask_custom(tg, menu["message_id"], "times")
            prompts = len(tg.sent(OTHER_GROUP))
            tg.push_message(OTHER_GROUP, "03:00", user_id=GROUP_MEMBER)
            await settle(tg, OTHER_GROUP)
            assert len(tg.sent(OTHER_GROUP)) == prompts + 1  # only the /help answer
            saved = await say(tg, "06:30 21:15", chat=OTHER_GROUP, user_id=GROUP_ADMIN)
            assert saved["text"] == ("Saved. Digests at 06:30, 21:15 (UTC), up to 10 stories "
                                     "each.")

            # Demoted between pressing "Custom…" and answering: refused.
            await ask_custom(tg, menu["message_id"], "tz")
            tg.set_member(OTHER_GROUP, GROUP_ADMIN, "member")
            refused = await say(tg, "Asia/Dubai", chat=OTHER_GROUP, user_id=GROUP_ADMIN)
            assert refused["text"] == NOT_MANAGER
            # Telegram cannot tell who is an administrator: refused, not an error.
            tg.set_admin(OTHER_GROUP, GROUP_ADMIN)
            tg.fail_next("getChatMember", code=400, description="Bad Request: chat not found")
            refused = await say(tg, "/unsubscribe", chat=OTHER_GROUP, user_id=GROUP_ADMIN)
            assert refused["text"] == NOT_MANAGER
            assert settings_of(site, OTHER_GROUP)[1:3] == (("06:30", "21:15"), "UTC")
            assert_clean_chat(tg, OTHER_GROUP)

    run(scenario())


def test_admin_commands_and_their_arguments(site: BotSite) -> None:
    tg = site.telegram
    long_url = "https://example.com/" + "a" * 4000

    async def scenario() -> None:
        async with running_bot(site):
            feeds = active_feeds(site)
            for command in (f"/addfeed {long_url}", "/removefeed", f"/removefeed {feeds[0]}",
                            "/stats", "/stats now"):
                assert (await say(tg, command))["text"] == REFUSAL, command
            listing = await say(tg, "/removefeed", chat=ADMIN)
            remove = listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            forged = await press(tg, READER, (await say(tg, "/start"))["message_id"], remove,
                                 check_button=False)
            assert forged["text"] == REFUSAL and forged["show_alert"]
            assert active_feeds(site) == feeds
            invalid = ("That is not a valid feed URL; it should look like "
                       "https://example.com/rss.xml")
            usage = "Usage: /addfeed https://example.com/rss.xml [name]"
            cases = [
                (f"/addfeed {long_url}", "That URL is too long (max 2048 characters)."),
                ("/addfeed https://example.com/rss " + "n" * 150,
                 "That name is too long (max 100 characters)."),
                ("/addfeed", usage), ("/addfeed ftp://example.com/rss", usage),
                ("/addfeed javascript:alert(1)", usage), ("/addfeed https://", invalid),
                ("/addfeed http://[::1/rss", invalid), ("/addfeed https:///rss.xml", invalid),
                ("/removefeed 1 2", "Usage: /removefeed shows buttons; or /removefeed "
                 "followed by one feed URL."),
                ("/removefeed 99999999999999999999999", "No such source. /removefeed "
                 "without arguments lists them."),
                ("/stats now", "/stats takes no arguments — send just /stats."),
            ]
            for command, expected in cases:
                assert (await say(tg, command, chat=ADMIN))["text"] == expected, command
            assert active_feeds(site) == feeds
            assert_clean_chat(tg, ADMIN)

    run(scenario())
