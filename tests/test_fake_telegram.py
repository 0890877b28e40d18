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
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
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
