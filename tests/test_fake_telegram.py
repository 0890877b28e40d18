"""The fake Bot API server, driven by the real python-telegram-bot client.

pytest-asyncio is not installed, so each test runs its scenario with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from support.fake_telegram import FakeTelegram, parse_html
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    TypeHandler,
)

CHAT = 4242
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def start_polling(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)


async def stop_polling(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()


def seconds(value: int | float | dtm.timedelta) -> float:
    # PTB 22 returns an int (with a deprecation warning) or a timedelta (PTB_TIMEDELTA=1).
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def test_start_command_reply_arrives_with_parsed_entities(fake_telegram: FakeTelegram) -> None:
    handled: list[int] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        handled.append(update.update_id)
        reply = await update.message.reply_html("<b>Welcome</b> to <i>Nashra</i> &amp; friends")
        # PTB parsed the server's Message: the entities made the round trip.
        assert reply.text == "Welcome to Nashra & friends"
        assert [e.type for e in reply.entities] == ["bold", "italic"]

    async def scenario() -> list[dict[str, Any]]:
        app = fake_telegram.application_builder().build()
        app.add_handler(CommandHandler("start", start))
        async with app:
            await start_polling(app)
            fake_telegram.push_message(CHAT, "/start", username="reader")
            sent = await fake_telegram.wait_for_messages_async(CHAT, 1, timeout=5)
            await stop_polling(app)
        return sent

    started = time.monotonic()
    sent = run(scenario())
    assert time.monotonic() - started < 3
    assert len(sent) == 1
    assert sent[0]["text"] == "Welcome to Nashra & friends"
    assert sent[0]["raw_text"] == "<b>Welcome</b> to <i>Nashra</i> &amp; friends"
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["entities"] == [{"type": "bold", "offset": 0, "length": 7},
                                   {"type": "italic", "offset": 11, "length": 6}]
    assert sent[0]["message"]["from"]["username"] == "nashra_test_bot"
    assert len(handled) == 1  # delivered exactly once
    # PTB's shutdown confirmed the update, so nothing is left for a restarted bot.
    assert fake_telegram.pending_updates() == []
    assert fake_telegram.calls("getMe")
    assert all(c["token_ok"] for c in fake_telegram.calls())


@pytest.mark.parametrize("text", [
    "<b>unclosed",
    "<b>mismatched</i>",
    "<script>x</script>",
    "1 < 2",
    "AT&T",
    "stray </b>",
    '<span class="other">x</span>',
])
def test_malformed_html_is_rejected(fake_telegram: FakeTelegram, text: str) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(CHAT, text, parse_mode="HTML")

    run(scenario())
    assert fake_telegram.sent() == []
    assert fake_telegram.calls("sendMessage")[0]["status"] == 400


def test_text_limit_counts_utf16_after_parsing(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            with pytest.raises(BadRequest, match=r"(?i)message is too long"):
                await bot.send_message(CHAT, "a" * 4097)
            # Emoji outside the BMP count twice: 2049 of them are 4098 units.
            with pytest.raises(BadRequest, match=r"(?i)message is too long"):
                await bot.send_message(CHAT, "\U0001f600" * 2049)
            # Tags do not count, and exactly 4096 is fine.
            await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
            with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
                await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")

    run(scenario())
    assert [len(s["text"]) for s in fake_telegram.sent(CHAT)] == [4096]


# PTB warns about the int/timedelta migration whenever RetryAfter is built; not our concern.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_injected_429_raises_retry_after(fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", code=429, retry_after=2, count=1, chat_id=CHAT)

    async def scenario() -> float:
        async with fake_telegram.make_bot() as bot:
            await bot.send_message(CHAT + 1, "other chats are not throttled")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(CHAT, "hello")
            await bot.send_message(CHAT, "hello again")  # count=1: only one failure
            return seconds(caught.value.retry_after)

    assert run(scenario()) == 2
    assert [s["text"] for s in fake_telegram.sent(CHAT)] == ["hello again"]
    failed = [c for c in fake_telegram.calls("sendMessage") if c["status"] == 429]
    assert len(failed) == 1


def test_injected_403_migration_and_unknown_chat(fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", code=403)
    fake_telegram.fail_next("sendMessage", migrate_to_chat_id=-100123)
    fake_telegram.remove_chat(-5)

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
                await bot.send_message(CHAT, "x")
            with pytest.raises(ChatMigrated) as migrated:
                await bot.send_message(CHAT, "x")
            assert migrated.value.new_chat_id == -100123
            with pytest.raises(BadRequest, match=r"(?i)chat not found"):
                await bot.send_message(-5, "x")

    run(scenario())
    assert fake_telegram.sent() == []


def test_callback_query_is_answered_and_message_edited(fake_telegram: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Refresh", callback_data="refresh")]])

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data == "refresh"
        await query.answer("Updated")
        await query.edit_message_text("<b>Fresh</b> digest", parse_mode="HTML")

    async def scenario() -> int:
        app = fake_telegram.application_builder().build()
        app.add_handler(CallbackQueryHandler(on_button))
        async with app:
            await start_polling(app)
            message = await app.bot.send_message(CHAT, "Old digest", reply_markup=keyboard)
            fake_telegram.push_callback(CHAT, message.message_id, "refresh")
            await fake_telegram.wait_for_async(lambda: fake_telegram.edits(CHAT), timeout=5)
            await stop_polling(app)
        return int(message.message_id)

    message_id = run(scenario())
    answers = fake_telegram.calls("answerCallbackQuery")
    assert len(answers) == 1 and answers[0]["status"] == 200
    assert answers[0]["params"]["text"] == "Updated"
    (edit,) = fake_telegram.edits(CHAT)
    assert edit["method"] == "editMessageText" and edit["message_id"] == message_id
    assert edit["text"] == "Fresh digest"
    assert edit["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    # Like Telegram, editing the text without passing the keyboard again removes it.
    current = fake_telegram.message(CHAT, message_id)
    assert current is not None and "reply_markup" not in current
    with pytest.raises(ValueError, match="no button"):
        fake_telegram.push_callback(CHAT, message_id, "refresh")


def test_get_updates_offset_confirms_and_long_polls(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            first = fake_telegram.push_message(CHAT, "one")["update_id"]
            assert [u.update_id for u in await bot.get_updates()] == [first]
            # Unconfirmed updates are delivered again; offset confirms them.
            assert [u.update_id for u in await bot.get_updates(offset=first)] == [first]
            assert await bot.get_updates(offset=first + 1) == ()
            second = fake_telegram.push_message(CHAT, "two")["update_id"]
            updates = await bot.get_updates(offset=first + 1)
            assert [u.update_id for u in updates] == [second]
            assert updates[0].message is not None and updates[0].message.text == "two"

            # Long polling: the call waits until an update arrives, then returns at once.
            threading.Timer(0.2, fake_telegram.push_message, (CHAT, "three")).start()
            started = time.monotonic()
            updates = await bot.get_updates(offset=second + 1, timeout=5)
            assert 0.1 < time.monotonic() - started < 2
            assert [u.message.text for u in updates if u.message] == ["three"]

            # With nothing queued, the poll returns empty after its timeout.
            started = time.monotonic()
            last = updates[-1].update_id
            assert await bot.get_updates(offset=last + 1, timeout=dtm.timedelta(seconds=0.3)) == ()
            assert time.monotonic() - started >= 0.25

    run(scenario())
    assert fake_telegram.pending_updates() == []


def test_command_entities_and_group_admins(fake_telegram: FakeTelegram) -> None:
    group = -1001234
    fake_telegram.set_admin(group, 7, creator=True)
    fake_telegram.set_admin(group, 8)
    fake_telegram.set_member(group, 11, "restricted")
    update = fake_telegram.push_message(group, "/digest@nashra_test_bot now", user_id=9)
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 23}]
    assert update["message"]["chat"]["type"] == "supergroup"

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            assert (await bot.get_chat_member(CHAT, CHAT)).status == "creator"
            assert (await bot.get_chat_member(group, 8)).status == "administrator"
            assert (await bot.get_chat_member(group, 9)).status == "member"
            assert (await bot.get_chat_member(group, 10)).status == "left"
            assert (await bot.get_chat_member(group, 11)).status == "restricted"
            admins = await bot.get_chat_administrators(group)
            assert sorted(a.user.id for a in admins) == [7, 8]
            chat = await bot.get_chat(group)
            assert chat.type == "supergroup"

    run(scenario())


def test_commands_are_stored(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            await bot.set_my_commands([("start", "Subscribe"), ("digest", "Latest digest")])
            commands = await bot.get_my_commands()
            assert [(c.command, c.description) for c in commands] == [
                ("start", "Subscribe"), ("digest", "Latest digest")]
            with pytest.raises(BadRequest):
                await bot.set_my_commands([("Bad-Name", "x")])
            assert await bot.delete_webhook()
            assert await bot.set_my_description("Arabic news in English")

    run(scenario())
    assert fake_telegram.commands()[0]["command"] == "start"


def test_wrong_token_unknown_method_and_json_bodies(fake_telegram: FakeTelegram) -> None:
    bad = "7000000001:AAWrongTokenWrongTokenWrongToken_xyz"
    response = httpx.post(f"{fake_telegram.base_url}{bad}/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert fake_telegram.calls("getMe")[0]["token_ok"] is False

    root = f"{fake_telegram.base_url}{fake_telegram.token}"
    response = httpx.post(f"{root}/sendCarrierPigeon", json={"chat_id": CHAT})
    assert response.status_code == 404
    assert response.json()["description"] == "Not Found: method not found"

    # JSON bodies and multipart forms work too, not only PTB's urlencoded forms.
    response = httpx.post(f"{root}/sendMessage", json={"chat_id": CHAT, "text": "123"})
    assert response.json()["result"]["text"] == "123"
    response = httpx.post(f"{root}/sendMessage",
                          data={"chat_id": str(CHAT), "text": "multi"},
                          files={"photo": ("a.jpg", b"\xff\xd8", "image/jpeg")})
    assert response.json()["result"]["text"] == "multi"
    assert [s["message_id"] for s in fake_telegram.sent(CHAT)] == [1, 2]

    async def ptb_wrong_token() -> None:
        from telegram import Bot

        async with Bot(bad, base_url=fake_telegram.base_url) as bot:
            await bot.get_me()

    with pytest.raises(InvalidToken):
        run(ptb_wrong_token())


def test_wait_for_timeout_dumps_traffic(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            await bot.send_message(CHAT, "only one")

    run(scenario())
    with pytest.raises(AssertionError) as caught:
        fake_telegram.wait_for_messages(CHAT, 2, timeout=0.2)
    assert "only one" in str(caught.value) and "sendMessage" in str(caught.value)
    assert fake_telegram.wait_for_messages(CHAT, 1, timeout=0.2)[0]["text"] == "only one"


def test_parse_html_details() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre> '
        '<a href="https://e.x/?a=1&amp;b=2">link</a> &#1575;')
    assert text == "x = 1 link \u0627"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "text_link", "offset": 6, "length": 4, "url": "https://e.x/?a=1&b=2"},
    ]
    assert json.dumps(parse_html("AT&T", strict_ampersand=False)) == '["AT&T", []]'


def test_forum_topics_replies_and_deleted_topics(fake_telegram: FakeTelegram) -> None:
    forum, plain = -1005550001, -1005550002
    fake_telegram.add_chat(plain, title="No topics")

    async def in_topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.is_topic_message
        assert update.effective_chat is not None and update.effective_chat.is_forum
        await update.message.reply_text("in the topic")  # PTB keeps the reply in the topic

    async def scenario() -> None:
        app = fake_telegram.application_builder().build()
        app.add_handler(CommandHandler("here", in_topic))
        async with app:
            await start_polling(app)
            update = fake_telegram.push_message(forum, "/here", message_thread_id=7)
            assert update["message"]["message_thread_id"] == 7
            assert update["message"]["is_topic_message"] is True
            assert update["message"]["chat"]["is_forum"] is True
            await fake_telegram.wait_for_messages_async(forum, 1)
            bot = app.bot
            general = await bot.send_message(forum, "to General")
            assert general.message_thread_id is None and not general.is_topic_message
            fake_telegram.delete_topic(forum, 7)
            with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
                await bot.send_message(forum, "gone", message_thread_id=7)
            with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
                await bot.send_message(plain, "no topics here", message_thread_id=3)
            await stop_polling(app)

    run(scenario())
    sent = fake_telegram.sent(forum)
    assert [(s["text"], s["message_thread_id"]) for s in sent] == [
        ("in the topic", 7), ("to General", None)]
    assert sent[0]["message"]["is_topic_message"] is True
    assert fake_telegram.message(forum, sent[0]["message_id"])["message_thread_id"] == 7  # type: ignore[index]
    with pytest.raises(ValueError, match="deleted"):
        fake_telegram.push_message(forum, "hello?", message_thread_id=7)
    with pytest.raises(ValueError, match="only supergroups"):
        fake_telegram.push_message(4243, "private", message_thread_id=1)


def test_channel_posts_have_a_sender_chat_and_no_user(fake_telegram: FakeTelegram) -> None:
    channel = -1005550009
    seen: list[Update] = []

    async def on_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    async def scenario() -> None:
        app = fake_telegram.application_builder().build()
        app.add_handler(TypeHandler(Update, on_post))
        async with app:
            await start_polling(app)
            raw = fake_telegram.push_channel_post(channel, "/digest now", username="news_en")
            assert "from" not in raw["channel_post"]
            await fake_telegram.wait_for_async(lambda: seen)
            await stop_polling(app)

    run(scenario())
    (update,) = seen
    post = update.channel_post
    assert post is not None and update.message is None
    assert post.chat.type == "channel" and post.chat.username == "news_en"
    assert post.sender_chat is not None and post.sender_chat.id == channel
    assert post.from_user is None and update.effective_user is None
    assert [e.type for e in post.entities] == ["bot_command"]
    assert fake_telegram.sent() == []


# -- inline mode --------------------------------------------------------------------------------

def article(result_id: str, text: str = "<b>Gaza</b> ceasefire talks resume", *,
            title: str = "Ceasefire talks", **kwargs: Any) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        result_id, title, InputTextMessageContent(text, parse_mode="HTML"), **kwargs)


def test_inline_query_is_delivered_answered_and_recorded(fake_telegram: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:17")]])
    seen: list[tuple[str, str | None, str | None, str]] = []

    async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        assert query is not None
        seen.append((query.query, query.chat_type, query.from_user.language_code, query.offset))
        await query.answer(
            [article("story-17", description="Al Jazeera, 2 h ago", url="https://e.x/17",
                     thumbnail_url="https://e.x/17.jpg", reply_markup=keyboard)],
            cache_time=0, is_personal=True)

    async def scenario() -> tuple[str, dict[str, Any]]:
        app = fake_telegram.application_builder().build()
        app.add_handler(InlineQueryHandler(on_inline))
        async with app:
            await start_polling(app)
            query_id = fake_telegram.push_inline_query(CHAT, "gaza", language_code="ar")
            answer = await fake_telegram.wait_for_inline_answer_async(query_id, timeout=5)
            await stop_polling(app)
        return query_id, answer

    query_id, answer = run(scenario())
    assert seen == [("gaza", "private", "ar", "")]
    assert answer["inline_query_id"] == query_id and answer["query"] == "gaza"
    assert answer["user_id"] == CHAT
    assert (answer["next_offset"], answer["cache_time"], answer["is_personal"]) == ("", 0, True)
    assert answer["button"] is None
    # The results arrive decoded into plain JSON objects, exactly as PTB serialised them.
    assert answer["results"] == [{
        "type": "article", "id": "story-17", "title": "Ceasefire talks",
        "input_message_content": {"message_text": "<b>Gaza</b> ceasefire talks resume",
                                  "parse_mode": "HTML"},
        "description": "Al Jazeera, 2 h ago", "url": "https://e.x/17",
        "thumbnail_url": "https://e.x/17.jpg",
        "reply_markup": {"inline_keyboard": [[{"text": "More", "callback_data": "more:17"}]]},
    }]
    assert fake_telegram.inline_answers() == [answer]
    assert fake_telegram.inline_answers("someone-else") == []
    (call,) = fake_telegram.calls("answerInlineQuery")
    assert call["status"] == 200 and call["params"]["inline_query_id"] == query_id
    assert fake_telegram.pending_updates() == []


def _answer_kwargs(case: str) -> tuple[list[InlineQueryResultArticle], dict[str, Any]]:
    if case == "duplicate ids":
        return [article("same"), article("other"), article("same")], {}
    if case == "51 results":
        return [article(f"r{i}") for i in range(51)], {}
    if case == "bad HTML":
        return [article("ok"), article("bad", "<b>unclosed")], {}
    if case == "long next_offset":
        return [article("ok")], {"next_offset": "x" * 65}
    if case == "long callback_data":
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        return [article("ok", reply_markup=keyboard)], {}
    if case == "long id":
        return [article("i" * 65)], {}
    if case == "empty text":
        return [article("ok", "<b> </b>")], {}
    if case == "long text":
        return [article("ok", "\U0001f600" * 2049)], {}  # 4098 UTF-16 units
    raise AssertionError(case)


@pytest.mark.parametrize(("case", "error"), [
    ("duplicate ids", "RESULT_ID_DUPLICATE"),
    ("51 results", "RESULTS_TOO_MUCH"),
    ("bad HTML", "can't parse inline query result: Can't parse entities: can't find end tag "
                 'corresponding to start tag "b"'),
    ("long next_offset", "NEXT_OFFSET_INVALID"),
    ("long callback_data", "BUTTON_DATA_INVALID"),
    ("long id", "RESULT_ID_INVALID"),
    ("empty text", "message text is empty"),
    ("long text", "MESSAGE_TOO_LONG"),
])
def test_invalid_inline_answers_are_rejected(fake_telegram: FakeTelegram, case: str,
                                             error: str) -> None:
    results, kwargs = _answer_kwargs(case)

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            query_id = fake_telegram.push_inline_query(CHAT, "news")
            with pytest.raises(BadRequest) as caught:
                await bot.answer_inline_query(query_id, results, **kwargs)
            # PTB drops "Bad Request: " and capitalize()s the rest, so compare lower-cased.
            assert caught.value.message.lower() == error.lower()
            assert fake_telegram.inline_answers() == []
            # A rejected answer does not use the query up: a fixed one still goes through.
            assert await bot.answer_inline_query(query_id, [article("fixed")])

    run(scenario())
    assert [c["status"] for c in fake_telegram.calls("answerInlineQuery")] == [400, 200]
    (answer,) = fake_telegram.inline_answers()
    assert [r["id"] for r in answer["results"]] == ["fixed"]


def test_inline_limits_are_inclusive(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            query_id = fake_telegram.push_inline_query(CHAT, "all")
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 64)]])
            results = [article(f"{i:064d}", "<b>" + "a" * 4096 + "</b>", reply_markup=keyboard)
                       for i in range(50)]
            assert await bot.answer_inline_query(query_id, results, next_offset="o" * 64)

    run(scenario())
    (answer,) = fake_telegram.inline_answers()
    assert len(answer["results"]) == 50 and answer["next_offset"] == "o" * 64


def test_inline_query_answered_twice_or_too_late_is_too_old(fake_telegram: FakeTelegram) -> None:
    now = [1000.0]
    fake_telegram.clock = lambda: now[0]
    too_old = r"(?i)^query is too old and response timeout expired or query id is invalid$"

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            first = fake_telegram.push_inline_query(CHAT, "one")
            assert await bot.answer_inline_query(first, [article("a")])
            with pytest.raises(BadRequest, match=too_old):
                await bot.answer_inline_query(first, [article("b")])
            with pytest.raises(BadRequest, match=too_old):
                await bot.answer_inline_query("123456789", [article("a")])

            late = fake_telegram.push_inline_query(CHAT, "two")
            in_time = fake_telegram.push_inline_query(CHAT, "three")
            now[0] += 10.0  # exactly the deadline still counts
            assert await bot.answer_inline_query(in_time, [article("a")])
            now[0] += 0.5
            with pytest.raises(BadRequest, match=too_old):
                await bot.answer_inline_query(late, [article("a")])

            fake_telegram.inline_query_timeout = 0.1
            shrunk = fake_telegram.push_inline_query(CHAT, "four")
            now[0] += 0.2
            with pytest.raises(BadRequest, match=too_old):
                await bot.answer_inline_query(shrunk, [article("a")])

    run(scenario())
    assert [a["query"] for a in fake_telegram.inline_answers()] == ["one", "three"]
    assert fake_telegram.inline_answers()[0]["results"][0]["id"] == "a"


def test_inline_paging_offsets_round_trip(fake_telegram: FakeTelegram) -> None:
    stories = [article(f"s{i}", f"Story <i>{i}</i>", title=f"Story {i}") for i in range(120)]
    offsets: list[str] = []

    async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        assert query is not None
        offsets.append(query.offset)
        # PTB pages by itself: 50 results per page, next_offset = page number + 1.
        await query.answer(stories, auto_pagination=True)

    async def scenario() -> list[dict[str, Any]]:
        app = fake_telegram.application_builder().build()
        app.add_handler(InlineQueryHandler(on_inline))
        pages = []
        async with app:
            await start_polling(app)
            offset = ""
            while True:
                query_id = fake_telegram.push_inline_query(CHAT, "story", offset=offset)
                page = await fake_telegram.wait_for_inline_answer_async(query_id, timeout=5)
                pages.append(page)
                offset = page["next_offset"]
                if not offset:
                    break
            await stop_polling(app)
        return pages

    pages = run(scenario())
    assert offsets == ["", "1", "2"]
    assert [(p["offset"], p["next_offset"]) for p in pages] == [("", "1"), ("1", "2"), ("2", "")]
    assert [len(p["results"]) for p in pages] == [50, 50, 20]
    ids = [r["id"] for p in pages for r in p["results"]]
    assert ids == [f"s{i}" for i in range(120)]


def test_answer_inline_query_decodes_form_and_json_bodies(fake_telegram: FakeTelegram) -> None:
    root = f"{fake_telegram.base_url}{fake_telegram.token}"
    result: dict[str, Any] = {"type": "ARTICLE", "id": 7, "title": "Seven",
              "input_message_content": {"message_text": "123"}}
    # Form-encoded, as PTB sends it: results JSON-encoded, next_offset kept verbatim.
    form_id = fake_telegram.push_inline_query(CHAT, "form")
    response = httpx.post(f"{root}/answerInlineQuery", data={
        "inline_query_id": form_id, "results": json.dumps([result]), "next_offset": "1e3",
        "cache_time": "5", "button": json.dumps({"text": "Settings",
                                                 "start_parameter": "inline-settings"})})
    assert response.json() == {"ok": True, "result": True}
    # A JSON body, with the results as a real array.
    json_id = fake_telegram.push_inline_query(CHAT, "json", chat_type=None)
    response = httpx.post(f"{root}/answerInlineQuery", json={
        "inline_query_id": json_id, "results": [result], "is_personal": True})
    assert response.json() == {"ok": True, "result": True}
    form, body = fake_telegram.inline_answers()
    assert form["next_offset"] == "1e3" and form["cache_time"] == 5
    assert form["button"] == {"text": "Settings", "start_parameter": "inline-settings"}
    assert form["results"] == body["results"] == [result]
    assert (body["next_offset"], body["cache_time"], body["is_personal"]) == ("", 300, True)
    assert "chat_type" not in fake_telegram.pending_updates()[1]["inline_query"]

    # Results that are not an array, results Telegram cannot parse, a bad button.
    bad_id = fake_telegram.push_inline_query(CHAT, "bad")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"results": "[{"}, "Bad Request: can't parse JSON encoded inline query results"),
        ({"results": {"type": "article"}}, "Bad Request: expected an Array of inline query "
                                           "results"),
        ({"results": [{"type": "poll", "id": "1"}]},
         'Bad Request: can\'t parse inline query result: type "poll" is unsupported for the '
         "inline query result"),
        ({"results": [{k: v for k, v in result.items() if k != "title"}]},
         "Bad Request: can't parse inline query result: Can't find field \"title\""),
        ({"results": [{**result, "input_message_content": {}}]},
         "Bad Request: can't parse inline query result: Can't find field \"message_text\""),
        ({"results": [{**result, "title": " "}]}, "Bad Request: ARTICLE_TITLE_EMPTY"),
        ({"results": [], "button": {"text": "Go", "start_parameter": "no spaces"}},
         "Bad Request: START_PARAM_INVALID"),
        ({"results": [], "cache_time": -1}, "Bad Request: invalid cache_time specified"),
    ]
    for params, description in cases:
        response = httpx.post(f"{root}/answerInlineQuery",
                              json={"inline_query_id": bad_id, **params})
        assert response.status_code == 400
        assert response.json()["description"] == description
    assert len(fake_telegram.inline_answers()) == 2
    response = httpx.post(f"{root}/answerInlineQuery",
                          json={"inline_query_id": bad_id, "results": []})
    assert response.json() == {"ok": True, "result": True}  # none of those used it up


def test_get_me_reflects_inline_mode(fake_telegram: FakeTelegram) -> None:
    async def supports_inline(server: FakeTelegram) -> bool:
        async with server.make_bot() as bot:
            return bool((await bot.get_me()).supports_inline_queries)

    assert run(supports_inline(fake_telegram)) is True
    with FakeTelegram(inline_mode=False) as disabled:
        assert run(supports_inline(disabled)) is False
        with pytest.raises(AssertionError, match="BotFather"):
            disabled.push_inline_query(CHAT, "news")
        assert disabled.pending_updates() == []
        disabled.inline_mode = True  # /setinline in BotFather
        assert run(supports_inline(disabled)) is True
        assert disabled.push_inline_query(CHAT, "news")


def test_chosen_inline_result_is_posted_via_the_bot(fake_telegram: FakeTelegram) -> None:
    group = -1005550100
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Source", url="https://e.x/17")]])

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            query_id = fake_telegram.push_inline_query(CHAT, "gaza", chat_type="supergroup")
            (update,) = await bot.get_updates()
            assert update.inline_query is not None and update.inline_query.id == query_id
            assert update.inline_query.from_user.id == CHAT
            await bot.answer_inline_query(query_id, [
                article("17", "<b>Gaza</b> talks &amp; <a href=\"https://e.x/17\">more</a>",
                        reply_markup=keyboard),
                article("18", "Plain story")])

    run(scenario())
    fake_telegram.push_message(group, "earlier message")
    (query_id,) = {a["inline_query_id"] for a in fake_telegram.inline_answers()}
    posted = fake_telegram.choose_inline_result(query_id, "17", group)
    assert posted["message_id"] == 2  # the chat's own message sequence
    assert posted["chat"]["id"] == group and posted["from"]["id"] == CHAT
    assert posted["via_bot"] == {"id": fake_telegram.bot_id, "is_bot": True,
                                 "first_name": "Nashra Test", "username": "nashra_test_bot"}
    assert posted["text"] == "Gaza talks & more"
    assert posted["entities"] == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://e.x/17"}]
    assert posted["reply_markup"] == {
        "inline_keyboard": [[{"text": "Source", "url": "https://e.x/17"}]]}
    assert fake_telegram.message(group, 2) == posted
    plain = fake_telegram.choose_inline_result(query_id, "18", CHAT)
    assert plain["text"] == "Plain story" and "entities" not in plain
    assert "reply_markup" not in plain and plain["chat"]["type"] == "private"
    assert fake_telegram.sent() == []  # the user sent these, not the bot
    with pytest.raises(ValueError, match="no result '19'"):
        fake_telegram.choose_inline_result(query_id, "19", group)
    with pytest.raises(ValueError, match="no successful answer"):
        fake_telegram.choose_inline_result(fake_telegram.push_inline_query(CHAT, "x"), "17", group)
    with pytest.raises(ValueError, match="inline_message_id"):
        fake_telegram.push_callback(group, 2, "anything", check_button=False)
