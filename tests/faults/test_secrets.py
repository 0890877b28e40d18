"""The bot token never appears in logs, error messages, the chat or `nashra` output, in any
of its forms (as is, URL-encoded, or its secret half), even with debug logging and while
Telegram fails in the ways that put URLs and tokens into exception messages."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from support.bot_harness import (
    READER,
    BotSite,
    bot_process,
    button_data,
    press,
    running_bot,
    say,
)
from support.fake_telegram import DROPPED
from telegram.error import InvalidToken, NetworkError

from bot import console
from bot.telegram import handlers, searching
from bot.telegram.handlers import SORRY


def token_forms(token: str) -> list[str]:
    key = token.split(":", 1)[1]
    return [token, quote(token, safe=""), quote(token, safe="").replace("%3A", "%3a"), key]


def assert_no_token(text: str, token: str) -> None:
    for form in token_forms(token):
        assert form not in text, f"{form!r} leaked:\n{text[-3000:]}"


def test_redact_covers_every_form_of_a_token() -> None:
    token = "7000000002:AAAnotherFakeToken_abcdefghijklmnopq"
    console.protect_secret(token)
    url = f"https://api.telegram.org/bot{token}/getUpdates"
    lower_hex = quote(token, safe="").replace("%3A", "%3a")
    text = f"{url} {quote(url, safe='')} {lower_hex} key={token.split(':')[1]}"
    redacted = console.redact(text)
    assert_no_token(redacted, token)
    assert redacted.count(console.REDACTED) == 4
    assert console.redact("nothing secret here") == "nothing secret here"


def test_log_records_are_redacted_for_handlers_added_later(site: BotSite,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    """The error handler logs the exception (message and traceback) of a failed update; a
    handler added after protection, on any logger, and pytest's own capture see no token."""
    token = site.telegram.token
    console.protect_secret(token)
    late = io.StringIO()
    late_handler = logging.StreamHandler(late)
    logger = logging.getLogger("bot.telegram.handlers")
    logger.addHandler(late_handler)
    url = f"{site.telegram.base_url}{token}/sendMessage"
    try:
        raise NetworkError(f"httpx.ConnectError: {url} ({quote(url, safe='')})")
    except NetworkError as exc:
        error = exc
    context: Any = type("Context", (), {"error": error})()
    try:
        with caplog.at_level(logging.DEBUG):
            asyncio.run(handlers.on_error(object(), context))
            logging.getLogger("telegram.ext.Updater").error("polling %s", InvalidToken(
                f"The token `{token}` was rejected by the server."), exc_info=error)
    finally:
        logger.removeHandler(late_handler)
    assert "update failed" in caplog.text and console.REDACTED in caplog.text
    assert "Traceback" in caplog.text
    assert_no_token(caplog.text, token)
    assert_no_token(late.getvalue(), token)
    for record in caplog.records:
        assert_no_token(record.getMessage(), token)


def test_httpx_request_urls_are_redacted(site: BotSite, caplog: pytest.LogCaptureFixture
                                         ) -> None:
    """httpx logs every request URL at INFO (muted by `nashra`); even when shown, the
    token in the URL is not."""
    tg = site.telegram
    console.protect_secret(tg.token)

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            await bot.get_me()

    with caplog.at_level(logging.DEBUG, logger="httpx"):
        asyncio.run(scenario())
    assert "HTTP Request: POST" in caplog.text and "/getMe" in caplog.text
    assert_no_token(caplog.text, tg.token)
    assert tg.calls("getMe")[0]["token_ok"]


def test_errors_in_handlers_reach_the_chat_as_one_short_line(
        site: BotSite, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg = site.telegram

    def broken_search(*args: Any, **kwargs: Any) -> Any:
        raise NetworkError(f"httpx.ReadError: {tg.base_url}{tg.token}/getChat")

    def broken_schedule_text(*args: Any) -> str:
        raise RuntimeError(f"boom {tg.token}")

    async def scenario() -> None:
        async with running_bot(site):
            found = await say(tg, "/search في")
            start = await say(tg, "/start")
            monkeypatch.setattr(searching, "search", broken_search)
            answer = await say(tg, "/search في")
            assert answer["text"] == SORRY
            # A button whose handler fails before answering: the answer is the notice.
            pressed = await press(tg, READER, found["message_id"], button_data(found, "Next"))
            assert pressed["text"] == SORRY and pressed["show_alert"]
            # ... after answering: the notice goes to the chat instead.
            monkeypatch.setattr(handlers, "schedule_text", broken_schedule_text)
            tg.push_callback(READER, start["message_id"], "subscribe")
            notice = await tg.wait_for_messages_async(READER, 4)
            assert notice[3]["text"] == SORRY
            monkeypatch.undo()
            assert (await say(tg, "/help"))["text"].startswith("Commands")

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert "update failed" in caplog.text
    assert_no_token(caplog.text, tg.token)
    for message in tg.sent(READER):
        assert_no_token(message["text"], tg.token)


def test_nashra_v_run_never_prints_the_token(site: BotSite, tmp_path: Path) -> None:
    """`nashra -v run` (debug logging) as a process, through commands, a dropped connection,
    a 502 and a 401 on getUpdates/sendMessage, then SIGTERM: the token is nowhere."""
    tg = site.telegram
    output = tmp_path / "nashra.log"
    tg.drop_next("getUpdates")  # the first poll: connection closed without an answer
    tg.fail_next("getUpdates", code=502)  # the retry: Bad Gateway
    with bot_process(site, "-v", output=output) as process:
        tg.wait_for(lambda: 502 in [c["status"] for c in tg.calls("getUpdates")], 60)
        assert DROPPED in [c["status"] for c in tg.calls("getUpdates")]
        for text in ("/start", "/search في", "/subscribe"):
            tg.push_message(READER, text)
        tg.wait_for_messages(READER, 3, timeout=30)
        tg.fail_next("sendMessage", code=401, chat_id=READER)
        tg.push_message(READER, "/help")  # its reply is refused: the error notice follows
        sorry = tg.wait_for_messages(READER, 4, timeout=30)[3]
        assert sorry["text"] == SORRY
        tg.push_message(READER, "/help")
        assert tg.wait_for_messages(READER, 5, timeout=30)[4]["text"].startswith("Commands")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    log = output.read_text(encoding="utf-8")
    assert " DEBUG " in log and "update failed" in log  # debug logging was on, errors logged
    assert "RemoteProtocolError" in log and "Bad Gateway" in log
    assert f"bot{console.REDACTED}" in log  # PTB logs the API URL at DEBUG: redacted
    assert_no_token(log, tg.token)
    calls = tg.calls()
    assert calls and all(c["token_ok"] for c in calls)  # the token was the one in use


def test_rejected_token_is_one_line_without_the_token(site: BotSite, tmp_path: Path) -> None:
    """A 401 at start-up: PTB's InvalidToken message contains the token; Nashra prints one
    line without it and exits 2."""
    tg = site.telegram
    tg.fail_next("getMe", code=401)
    output = tmp_path / "nashra.log"
    with bot_process(site, "-v", output=output) as process:
        assert process.wait(timeout=60) == 2
    log = output.read_text(encoding="utf-8")
    assert_no_token(log, tg.token)
    assert "Traceback" not in log
    assert log.strip().splitlines()[-1] == (
        "telegram: the Bot API rejected the bot token; check $NASHRA_TELEGRAM_TOKEN "
        "(or telegram.token)")
    assert tg.calls("getMe")[0]["status"] == 401
