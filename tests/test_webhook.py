"""Webhook mode: the telegram.webhook_url / listen / webhook_secret keys, python-telegram-bot's
webhook server in a real `nashra run` and in-process, its secret token, and the way back to
long polling. Everything talks to the fake Bot API server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.bot_harness import (
    READER,
    BotSite,
    bot_process,
    make_bot_site,
    running_bot,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer
from telegram import Update
from telegram.error import Conflict

from bot.config import Settings, TelegramSettings, load_settings, settings_from_mapping
from bot.errors import ConfigError
from bot.telegram.services import NashraApp
from bot.telegram.webhook import (
    WebhookSettings,
    derived_secret,
    start_updates,
    webhook_settings,
)

T = TypeVar("T")
TOKEN = "7000000001:AAFakeTokenForNashraTests_0123456789"
SECRET = "Configured_Secret-0123456789abcdef"
START_TIMEOUT = 90.0  # a loaded CI machine starts the bot slowly
WELCOME = "Nashra — Arabic news, in English."


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def telegram_config(**keys: Any) -> TelegramSettings:
    return settings_from_mapping({"telegram": keys}).telegram


# -- configuration --------------------------------------------------------------------------


def test_defaults_mean_long_polling() -> None:
    telegram = Settings().telegram
    assert (telegram.webhook_url, telegram.listen, telegram.webhook_secret) == (
        "", "127.0.0.1:8443", "")
    assert webhook_settings(telegram) is None


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"listen": "8443"}, "telegram.listen must be host:port with a port from 1 to 65535"),
        ({"listen": ":8443"}, "telegram.listen must be host:port"),
        ({"listen": "0.0.0.0:0"}, "telegram.listen must be host:port"),
        ({"listen": "0.0.0.0:65536"}, "telegram.listen must be host:port"),
        ({"listen": "localhost:https"}, "telegram.listen must be host:port"),
        ({"listen": 8443}, "telegram.listen must be a string"),
        ({"webhook_url": "ftp://bot.example/hook"}, "telegram.webhook_url must be an http(s)"),
        ({"webhook_url": "bot.example/hook"}, "telegram.webhook_url must be an http(s) URL"),
        ({"webhook_url": "https:///hook"}, "telegram.webhook_url must be an http(s) URL"),
        ({"webhook_url": "https://bot.example:99999/hook"}, "telegram.webhook_url must be"),
        ({"webhook_url": "https://bot.example/a hook"}, "telegram.webhook_url must be"),
    ],
)
def test_bad_listen_and_url_name_the_key(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        telegram_config(**keys)
    assert str(caught.value).startswith(f"config: {message}")


@pytest.mark.parametrize("secret", ["short_secret", "x" * 257, "has spaces in the secret ok",
                                    "Ünïcode_secret_0123456789", "colons:are:not:allowed:here"])
def test_bad_secret_is_refused_without_showing_it(secret: str,
                                                  tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        telegram_config(webhook_secret=secret)
    assert str(caught.value).startswith("config: telegram.webhook_secret must be 16 to 256 "
                                        "characters of A-Z, a-z, 0-9, _ and -")
    assert secret not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"NASHRA_WEBHOOK_SECRET": secret,
                               "NASHRA_CONFIG": str(_config(tmp_path, []))})
    assert str(caught.value).startswith("config: $NASHRA_WEBHOOK_SECRET must be 16 to 256")
    assert secret not in str(caught.value)


def _config(tmp_path: Path, telegram_lines: list[str]) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("\n".join(["[telegram]", *telegram_lines]) + "\n", encoding="utf-8")
    return path


def test_environment_overrides_the_configured_secret(tmp_path: Path) -> None:
    config = _config(tmp_path, [f'webhook_secret = "{SECRET}"',
                                'webhook_url = "https://bot.example/hook"'])
    assert load_settings(str(config), environ={}).telegram.webhook_secret == SECRET
    from_env = "From_The_Environment_0123456789"
    settings = load_settings(str(config), environ={"NASHRA_WEBHOOK_SECRET": f" {from_env}\n",
                                                   "NASHRA_TELEGRAM_TOKEN": TOKEN})
    assert settings.telegram.webhook_secret == from_env
    hook = webhook_settings(settings.telegram)
    assert hook is not None and hook.secret == from_env
    # An empty variable changes nothing, as for the token.
    assert load_settings(str(config), environ={"NASHRA_WEBHOOK_SECRET": ""}) \
        .telegram.webhook_secret == SECRET


def test_derived_secret_is_stable_per_token_and_valid_for_telegram() -> None:
    other = "7000000002:AAAnotherFakeTokenForNashraTests_987"
    first = derived_secret(TOKEN)
    assert first == derived_secret(TOKEN)  # every process with this token agrees
    assert first != derived_secret(other)
    assert TOKEN not in first and TOKEN.split(":")[1] not in first
    # Telegram's secret_token: 1-256 characters of A-Za-z0-9_- (and Nashra's own minimum).
    assert settings_from_mapping({"telegram": {"webhook_secret": first}})
    hook = webhook_settings(TelegramSettings(token=TOKEN, webhook_url="https://b.example/h"))
    assert hook is not None and hook.secret == first
    configured = webhook_settings(TelegramSettings(token=TOKEN, webhook_secret=SECRET,
                                                   webhook_url="https://b.example/h"))
    assert configured is not None and configured.secret == SECRET
    with pytest.raises(ValueError, match="no bot token"):
        derived_secret("")


def test_secrets_are_not_in_repr() -> None:
    telegram = TelegramSettings(token=TOKEN, webhook_secret=SECRET,
                                webhook_url="https://bot.example/nashra/hook")
    shown = repr(Settings(telegram=telegram))
    assert SECRET not in shown and TOKEN not in shown
    assert "https://bot.example/nashra/hook" in shown
    hook = webhook_settings(telegram)
    assert hook is not None
    assert SECRET not in repr(hook) and SECRET not in str(hook)


def test_settings_follow_the_url_path_and_listen_address() -> None:
    hook = webhook_settings(telegram_config(
        webhook_url="https://bot.example/nashra/hook?x=1", listen="0.0.0.0:8081",
        webhook_secret=SECRET))
    assert hook == WebhookSettings(host="0.0.0.0", port=8081, url_path="/nashra/hook",
                                   webhook_url="https://bot.example/nashra/hook?x=1",
                                   secret=SECRET)
    assert hook.listen == "0.0.0.0:8081"
    ipv6 = webhook_settings(dataclasses.replace(
        telegram_config(webhook_url="https://bot.example", listen="[::1]:8443"), token=TOKEN))
    assert ipv6 is not None and (ipv6.host, ipv6.port, ipv6.url_path) == ("::1", 8443, "/")
    assert ipv6.listen == "[::1]:8443"
    odd = webhook_settings(TelegramSettings(token=TOKEN, webhook_url="https://b.example/a+b(1)"))
    assert odd is not None and odd.route == r"/a\+b\(1\)"  # PTB's route is a regex


# -- the fake Bot API's webhook --------------------------------------------------------------


def test_fake_refuses_get_updates_while_a_webhook_is_set(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            assert await bot.set_webhook("https://bot.example/hook", secret_token=SECRET,
                                         allowed_updates=["message"])
            with pytest.raises(Conflict, match="can't use getUpdates method while webhook is "
                                               "active; use deleteWebhook"):
                await bot.get_updates()
            info = await bot.get_webhook_info()
            assert info.url == "https://bot.example/hook"
            assert info.allowed_updates == ("message",)
            assert await bot.delete_webhook()
            assert await bot.get_updates() == ()

    run(scenario())
    assert fake_telegram.webhook() is None
    recorded = fake_telegram.calls("setWebhook")[0]["params"]
    assert recorded["secret_token"] == SECRET
    with pytest.raises(AssertionError, match="no webhook is set"):
        fake_telegram.deliver_to_webhook(fake_telegram.message_update(READER, "/start"))


# -- the bot ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_webhook(site: BotSite, port: int, *lines: str) -> BotSite:
    """The site in webhook mode: the keys go into its [telegram] section."""
    keys = [f'webhook_url = "http://127.0.0.1:{port}/nashra/hook"',
            f'listen = "127.0.0.1:{port}"', *lines]
    text = site.config.read_text(encoding="utf-8")
    assert text.startswith("[telegram]\n")
    site.config.write_text(text.replace("[telegram]\n", "\n".join(["[telegram]", *keys, ""]),
                                        1), encoding="utf-8")
    settings = load_settings(str(site.config),
                             environ={"NASHRA_TELEGRAM_TOKEN": site.telegram.token})
    return dataclasses.replace(site, settings=settings)


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path) -> BotSite:
    return with_webhook(make_bot_site(tmp_path, fake_telegram, feed_server, argos_package),
                        free_port())


def receiving(site: BotSite,
              hook: WebhookSettings | None) -> AbstractAsyncContextManager[NashraApp]:
    """The application started as `nashra run` starts it, receiving by ``start_updates``."""
    return running_bot(site, receive=lambda app: start_updates(app, hook, bootstrap_retries=0))


def test_start_updates_by_webhook_then_back_to_long_polling(site: BotSite) -> None:
    tg = site.telegram
    hook = webhook_settings(site.settings.telegram)
    assert hook is not None and hook.secret == derived_secret(tg.token)

    async def scenario() -> None:
        async with receiving(site, hook):
            assert tg.webhook() == {
                "url": hook.webhook_url, "secret_token": hook.secret,
                "allowed_updates": list(Update.ALL_TYPES), "drop_pending_updates": False,
                "max_connections": 40}
            update = tg.message_update(READER, "/start")
            assert await tg.deliver_to_webhook_async(update, secret="") == 403
            assert await tg.deliver_to_webhook_async(update) == 200
            answer = (await tg.wait_for_messages_async(READER, 1, timeout=30))[0]
            assert answer["text"].startswith(WELCOME)
        assert tg.calls("getUpdates") == []
        # The same bot without webhook_url: polling deletes the webhook, then gets updates.
        async with receiving(site, None):
            assert tg.webhook() is None
            assert tg.calls("deleteWebhook")
            tg.push_message(READER, "/help")
            await tg.wait_for_messages_async(READER, 2, timeout=30)
        assert [c["status"] for c in tg.calls("getUpdates")][:1] == [200]

    run(scenario())
    assert len(tg.sent(READER)) == 2


def wait_listening(port: int, process: subprocess.Popen[str], output: Path) -> None:
    """Until the webhook server accepts connections (it binds right after setWebhook)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the webhook server never listened:\n"
                                     + output.read_text(encoding="utf-8")) from None
            time.sleep(0.05)


def test_run_receives_by_webhook_with_the_secret_and_stops_on_sigterm(site: BotSite,
                                                                       tmp_path: Path) -> None:
    tg = site.telegram
    hook = webhook_settings(site.settings.telegram)
    assert hook is not None
    output = tmp_path / "run.log"
    with bot_process(site, output=output) as process:
        webhook = tg.wait_for(tg.webhook, timeout=START_TIMEOUT, message="setWebhook")
        assert webhook == {"url": f"http://127.0.0.1:{hook.port}/nashra/hook",
                           "secret_token": derived_secret(tg.token),
                           "allowed_updates": list(Update.ALL_TYPES),
                           "drop_pending_updates": False, "max_connections": 40}
        wait_listening(hook.port, process, output)
        update = tg.message_update(READER, "/start")
        assert tg.deliver_to_webhook(update, secret="") == 403  # no secret header
        assert tg.deliver_to_webhook(update, secret=derived_secret("1:other-token")) == 403
        assert tg.deliver_to_webhook(update) == 200
        tg.wait_for_messages(READER, 1, timeout=30)
        # The refused requests never reached the bot: one answer, to the accepted one.
        assert [m["text"].startswith(WELCOME) for m in tg.sent(READER)] == [True]
        assert tg.calls("getUpdates") == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    log = output.read_text(encoding="utf-8")
    assert (f"receiving updates by webhook at http://127.0.0.1:{hook.port}/nashra/hook "
            f"(listening on 127.0.0.1:{hook.port})") in log
    assert "Nashra stopped" in log and "Traceback" not in log
    assert hook.secret not in log and tg.token not in log
    with pytest.raises(OSError):  # the server is gone with the process
        socket.create_connection(("127.0.0.1", hook.port), timeout=1).close()


def test_secret_and_token_never_appear_in_verbose_output(site: BotSite, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tg = site.telegram
    monkeypatch.setenv("NASHRA_WEBHOOK_SECRET", SECRET)  # bot_process passes os.environ on
    hook = webhook_settings(site.settings.telegram)
    assert hook is not None
    output = tmp_path / "run.log"
    with bot_process(site, "-v", output=output) as process:
        assert tg.wait_for(tg.webhook, timeout=START_TIMEOUT)["secret_token"] == SECRET
        wait_listening(hook.port, process, output)
        assert tg.deliver_to_webhook(tg.message_update(READER, "/help")) == 200
        tg.wait_for_messages(READER, 1, timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    log = output.read_text(encoding="utf-8")
    # The setWebhook call is logged at -v, with the secret hidden.
    assert [line for line in log.splitlines() if "setWebhook" in line and "<redacted>" in line]
    for secret in (SECRET, tg.token, tg.token.split(":")[1], derived_secret(tg.token)):
        assert secret not in log


def test_a_port_in_use_stops_start_up_with_one_line(site: BotSite) -> None:
    hook = webhook_settings(site.settings.telegram)
    assert hook is not None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", hook.port))
        taken.listen()
        with bot_process(site) as process:
            _, stderr = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        f"telegram: could not listen on 127.0.0.1:{hook.port}: Address already in use")
    assert "Traceback" not in stderr and site.telegram.token not in stderr
