"""How the bot receives updates: long polling, or python-telegram-bot's webhook server.

Webhook mode is on when ``telegram.webhook_url`` is set: Telegram POSTs every update to that
URL, a reverse proxy or load balancer forwards it to ``telegram.listen``, and the server
refuses (403) any request without the secret token in ``X-Telegram-Bot-Api-Secret-Token``.
The secret is ``telegram.webhook_secret`` or, when that is empty, derived from the bot token,
so that every process started with the same token and config agrees on it.

Importing this module has no side effects; :func:`start_updates` starts either mode on an
application that is already initialized and started.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application

from bot.config import TelegramSettings, listen_address

# Fixed label of the derived secret: changing it changes every derived secret.
_SECRET_LABEL = b"nashra webhook secret v1"
# Retries of the start-up calls (setWebhook / deleteWebhook) after a network error.
BOOTSTRAP_RETRIES = 3


@dataclass(frozen=True)
class WebhookSettings:
    """Where the webhook server listens and what it tells Telegram."""

    host: str           # address the server binds
    port: int
    url_path: str       # the path of ``webhook_url``, routed to the server ("/" if none)
    webhook_url: str    # the public URL given to Telegram's setWebhook
    secret: str = field(repr=False)  # expected in X-Telegram-Bot-Api-Secret-Token

    @property
    def route(self) -> str:
        """``url_path`` as python-telegram-bot's ``url_path``: it becomes a regular expression
        of the server's route, so characters such as ``+`` or ``(`` are escaped."""
        return re.escape(self.url_path)

    @property
    def listen(self) -> str:
        """``host:port`` as configured (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def derived_secret(token: str) -> str:
    """The webhook secret for a bot token: HMAC-SHA256 of a fixed label keyed by the token,
    64 hex characters (within Telegram's 1-256 of ``A-Za-z0-9_-``). Stable across processes
    and restarts; a different token gives a different secret; the token cannot be recovered
    from it."""
    if not token:
        raise ValueError("no bot token to derive the webhook secret from")
    return hmac.new(token.encode("utf-8"), _SECRET_LABEL, hashlib.sha256).hexdigest()


def webhook_settings(telegram: TelegramSettings) -> WebhookSettings | None:
    """The webhook server's settings, or None for long polling (``webhook_url`` empty).

    Expects validated settings (``bot.config``); the secret is the configured one or
    :func:`derived_secret` of the token.
    """
    if not telegram.webhook_url:
        return None
    host, port = listen_address(telegram.listen)
    return WebhookSettings(
        host=host, port=port, url_path=urlsplit(telegram.webhook_url).path or "/",
        webhook_url=telegram.webhook_url,
        secret=telegram.webhook_secret or derived_secret(telegram.token))


def describe(settings: WebhookSettings | None) -> str:
    """One line for the log: how updates arrive (never the secret)."""
    if settings is None:
        return "receiving updates by long polling"
    return (f"receiving updates by webhook at {settings.webhook_url} "
            f"(listening on {settings.listen})")


async def start_updates(app: Application[Any, Any, Any, Any, Any, Any],
                        settings: WebhookSettings | None, *,
                        bootstrap_retries: int = BOOTSTRAP_RETRIES) -> None:
    """Start receiving updates on an initialized application: the webhook server (which
    calls setWebhook with the secret) or long polling (which deletes any webhook first, so
    switching back from webhook mode needs nothing else). Stop with ``app.updater.stop()``.

    Pending updates are kept either way: nothing sent while the bot was down is dropped.
    """
    updater = app.updater
    if updater is None:
        raise RuntimeError("the application was built without an updater")
    if settings is None:
        await updater.start_polling(allowed_updates=Update.ALL_TYPES,
                                    drop_pending_updates=False,
                                    bootstrap_retries=bootstrap_retries)
        return
    await updater.start_webhook(
        listen=settings.host, port=settings.port, url_path=settings.route,
        webhook_url=settings.webhook_url, secret_token=settings.secret,
        allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
        bootstrap_retries=bootstrap_retries)
