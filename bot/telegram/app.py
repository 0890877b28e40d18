"""The python-telegram-bot Application: resources, handlers, jobs, polling."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import console
from bot.config import Settings
from bot.digests import MORE_DATA
from bot.due import reschedule
from bot.fetch import Fetcher
from bot.i18n import LANGUAGES
from bot.metrics import MetricsError
from bot.models import ModelInfo
from bot.stages import engine_settings, fetch_settings
from bot.store import Store
from bot.store.leader import LeaderLock
from bot.telegram import (
    admin,
    feedadmin,
    handlers,
    health,
    inline,
    language,
    marks,
    opml_chat,
    preferences,
    ratelimit,
    reading,
    searching,
    webhook,
    wordlists,
)
from bot.telegram.delivery import Outbox
from bot.telegram.digests import more_button
from bot.telegram.limits import TelegramLimits
from bot.telegram.schedule import (
    schedule_digests,
    schedule_refresh,
    schedule_tidy,
    stop_refresh,
    tick_interval,
)
from bot.telegram.services import ALL_IN_ONE, SERVICES_KEY, NashraApp, Role, Services
from bot.translate import Translator

log = logging.getLogger(__name__)
START_UP_RETRIES = 3
# Opt in to python-telegram-bot's future behaviour: durations such as RetryAfter.retry_after
# are timedeltas (delivery handles both), without a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")


def build_application(settings: Settings, model: ModelInfo,
                      role: Role = ALL_IN_ONE) -> NashraApp:
    """The bot, talking to ``telegram.api_base_url``, with all handlers registered."""
    console.protect_secret(settings.telegram.token)  # before anything can log or raise it

    async def post_init(app: NashraApp) -> None:
        await _open(app, settings, model, role)

    app = (Application.builder()
           .token(settings.telegram.token)
           .base_url(settings.telegram.api_base_url)
           .base_file_url(settings.telegram.api_base_url.replace("/bot", "/file/bot"))
           # Telegram's flood limits for every message; the outbox handles 429 itself
           # (wait, then resend in order), so there are no hidden retries.
           .rate_limiter(TelegramLimits())
           .post_init(post_init)
           .post_stop(_stop_work)
           .post_shutdown(_close)
           .build())
    app.bot_data[ratelimit.LIMITER_KEY] = ratelimit.RateLimiter()
    _add_handlers(app)
    return app


def _add_handlers(app: NashraApp) -> None:
    app.add_handler(ratelimit.handler(), group=-1)
    commands = {
        "start": handlers.start, "help": handlers.help_command,
        "subscribe": handlers.subscribe, "unsubscribe": handlers.unsubscribe,
        "digest": handlers.digest_now, "search": searching.search_command,
        "sources": preferences.sources, "settings": preferences.settings,
        "addfeed": admin.add_feed, "removefeed": admin.remove_feed, "stats": admin.stats,
        "resumefeed": feedadmin.resume_feed, "export": opml_chat.export_command,
        "read": reading.read_command, "language": language.language_command,
        "filter": wordlists.filter_command, "alert": wordlists.alert_command,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback))
    buttons = {
        r"^subscribe$": handlers.subscribe_button, r"^search:": searching.search_page_button,
        r"^src:": preferences.source_button, r"^set:": preferences.settings_button,
        r"^rmfeed:": admin.remove_feed_button, r"^stats:": admin.stats_button,
        r"^resume:": feedadmin.resume_feed_button, r"^opml:": opml_chat.import_button,
        f"^{MORE_DATA}$": more_button,
        r"^orig:": reading.original_pressed, r"^lang:": language.language_button,
        r"^flt:": wordlists.filter_button, r"^alr:": wordlists.alert_button,
    }
    for pattern, callback in buttons.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    app.add_handler(CallbackQueryHandler(handlers.unknown_button))  # forged or outdated
    app.add_handler(InlineQueryHandler(inline.inline_search))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, handlers.chat_migrated))
    # Posts in a channel are the channel's own content, never meant for the bot: no answer.
    people = ~filters.UpdateType.CHANNEL_POSTS
    # The tappable /read_<id> form; before the catch-all, which would call it unknown.
    app.add_handler(MessageHandler(filters.Regex(r"^/read_\d+(@\w+)?(\s|$)") & people,
                                   reading.read_link))
    # A command pasted out of an Arabic reply with its invisible direction marks.
    app.add_handler(MessageHandler(filters.Regex(marks.MARKED_COMMAND) & people,
                                   marks.marked_command))
    app.add_handler(MessageHandler(filters.COMMAND & people, handlers.unknown_command))
    app.add_handler(MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE,
                                   opml_chat.document_received))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & people,
                                   preferences.typed_value))
    app.add_error_handler(handlers.on_error)


async def _open(app: NashraApp, settings: Settings, model: ModelInfo, role: Role) -> None:
    """post_init: open the database, HTTP client and model; schedule; resume delivery."""
    health.start(app, settings)  # first: a metrics address in use stops the start at once
    store = Store(settings.database)
    fetcher = Fetcher(fetch_settings(settings))
    translator = Translator(model, engine_settings(settings), store)

    jobs = app.job_queue
    assert jobs is not None, "python-telegram-bot needs its job-queue extra"

    def chat_changed(chat_id: int) -> None:  # migrated to a new id, or deactivated
        chat = store.get_chat(chat_id)
        if chat is not None:
            reschedule(store, chat)

    # Undeliverable messages and a failing database are operational alerts too.
    outbox = Outbox(app.bot, store, settings.telegram.alert_chats, on_chat_change=chat_changed)
    svc = Services(settings, store, fetcher, translator, outbox, role=role,
                   leader=LeaderLock(settings.database))
    app.bot_data[SERVICES_KEY] = svc
    await app.bot.set_my_commands(handlers.bot_commands())
    for code in LANGUAGES[1:]:  # Telegram shows each user the menu in their own language
        await app.bot.set_my_commands(handlers.bot_commands(code), language_code=code)
    if role.refreshes:
        schedule_refresh(jobs, settings.fetch.interval_minutes)
    # Due times live in the database: nothing per chat to rebuild; the first tick runs at
    # once and serves what fell due while the bot was down (within the catch-up time).
    schedule_digests(jobs, tick_interval())
    if not store.postgres:   # PostgreSQL's GIN indexes need no merging (autovacuum)
        schedule_tidy(jobs)
    outbox.start()  # resumes messages left pending by a crash or restart
    log.info("Nashra started as @%s", app.bot.username)


async def _stop_work(app: NashraApp) -> None:
    """post_stop: end delivery (letting a send in flight be answered and recorded) and any
    refresh while the Bot API connection is still open: PTB closes it at shutdown, and a send
    cut off there would be sent again at the next start."""
    svc: Services | None = app.bot_data.get(SERVICES_KEY)
    if svc is None:
        return
    await svc.outbox.stop()
    await stop_refresh(svc)


async def _close(app: NashraApp) -> None:
    """post_shutdown: stop whatever post_stop did not (a failed start), then close everything."""
    health.stop(app)
    svc: Services | None = app.bot_data.get(SERVICES_KEY)
    if svc is None:
        return
    await _stop_work(app)
    await svc.fetcher.aclose()
    svc.translator.close()
    if svc.leader is not None:
        svc.leader.close()
    svc.store.close()
    log.info("Nashra stopped")


def run(settings: Settings, model: ModelInfo) -> None:
    """Long polling, or the webhook server when ``telegram.webhook_url`` is set, until
    SIGINT/SIGTERM; then a clean shutdown."""
    hook = _webhook(settings)
    app = build_application(settings, model)
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    with start_up_failures(hook):
        # A network blip while starting is retried a few times before giving up. Polling
        # deletes a webhook left from webhook mode before its first getUpdates.
        if hook is None:
            app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
                            bootstrap_retries=START_UP_RETRIES, stop_signals=stop_signals)
        else:
            app.run_webhook(listen=hook.host, port=hook.port, url_path=hook.route,
                            webhook_url=hook.webhook_url, secret_token=hook.secret,
                            allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
                            bootstrap_retries=START_UP_RETRIES, stop_signals=stop_signals)


def _webhook(settings: Settings) -> webhook.WebhookSettings | None:
    """The webhook settings (their secret protected like the token), logged; None: polling."""
    hook = webhook.webhook_settings(settings.telegram)
    if hook is not None:
        console.protect_secret(hook.secret)  # like the token: never in a log or an error
    # PTB logs start-up failures with long tracebacks; the one line below says it all.
    logging.getLogger("telegram.ext").addFilter(_short_start_up_errors)
    log.info("%s", webhook.describe(hook))
    return hook


@contextmanager
def start_up_failures(hook: webhook.WebhookSettings | None) -> Iterator[None]:
    """A bot that cannot start says why in one line and exits non-zero."""
    try:
        yield
    except MetricsError as exc:
        _fail(str(exc), 1)
    except InvalidToken:
        _fail("telegram: the Bot API rejected the bot token; check $NASHRA_TELEGRAM_TOKEN "
              "(or telegram.token)", 2)
    except TelegramError as exc:
        _fail(f"telegram: could not start: {exc}", 1)
    except OSError as exc:  # the webhook server could not bind (address in use, no such host)
        where = hook.listen if hook is not None else "?"
        _fail(f"telegram: could not listen on {where}: {exc.strerror or exc}", 1)


def run_telegram_side(settings: Settings, model: ModelInfo) -> None:
    """`nashra bot`: updates, scheduling (when leading) and delivery, no refreshes, until
    SIGINT/SIGTERM. Webhook mode: every process receives updates; polling: the leader."""
    hook = _webhook(settings)
    role = Role(refreshes=False, polls_when_leading=hook is None, shares_delivery=True)
    app = build_application(settings, model, role)
    with start_up_failures(hook):
        asyncio.run(_serve(app, hook))


async def _serve(app: NashraApp, hook: webhook.WebhookSettings | None) -> None:
    """PTB's run_polling, by hand: polling starts only once this process leads."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        if hook is not None:
            await webhook.start_updates(app, hook, bootstrap_retries=START_UP_RETRIES)
        await stop.wait()
    finally:
        svc: Services | None = app.bot_data.get(SERVICES_KEY)
        if svc is not None:
            svc.stopping = True
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await _stop_work(app)
        await app.shutdown()
        await _close(app)


def _short_start_up_errors(record: logging.LogRecord) -> bool:
    """Drop PTB's traceback for a rejected token; shorten start-up retries to one line."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, InvalidToken):
        return False
    if error is not None and "Bootstrap" in record.getMessage():
        record.msg, record.args = f"{record.getMessage()} ({error})", ()
        record.exc_info, record.exc_text = None, None
    return True


def _fail(line: str, code: int) -> None:
    """One clear line on stderr (never the token) and the exit code; no traceback."""
    sys.stderr.write(console.redact(line) + "\n")
    raise SystemExit(code)
