"""The commands of a Nashra split in processes on PostgreSQL: `nashra worker`, `nashra bot`.

`nashra run` does both in one process and stays the default; on SQLite it is the only way
(one file has one writer, so more processes would only wait for each other).
"""

from __future__ import annotations

import asyncio
import logging

import click

from bot import console, metrics
from bot.cli import EXIT_CONFIG, _guard, _settings, ensure_model, main, telegram_start
from bot.config import Settings
from bot.dburl import is_postgres
from bot.feed_leases import process_name
from bot.fetch import Fetcher
from bot.stages import engine_settings, fetch_settings
from bot.store import Store
from bot.translate import Translator
from bot.worker import work_until_signalled, worker_claim

NEEDS_POSTGRES = ("{command}: needs PostgreSQL (storage.url or $NASHRA_DATABASE_URL): on "
                  "SQLite one process does everything, so use `nashra run`")


def _require_postgres(ctx: click.Context, settings: Settings, command: str) -> None:
    if not is_postgres(str(settings.database)):
        click.echo(NEEDS_POSTGRES.format(command=command), err=True)
        ctx.exit(EXIT_CONFIG)


@main.command()
@click.option("--name", default=None, help="This worker's name in feed leases (default: "
              "host:pid:random, which lets a worker on the same machine take a dead one's "
              "feeds at once; under another name they wait for the lease to pass). Give "
              "each worker its own.")
@click.pass_context
def worker(ctx: click.Context, name: str | None) -> None:
    """Fetch, translate and store due feeds, beside any number of other workers and
    `nashra bot` processes on the same PostgreSQL database. Stops on SIGINT or SIGTERM
    and prints what it did."""
    settings = _settings(ctx)
    _require_postgres(ctx, settings, "worker")
    logging.getLogger("bot").setLevel(logging.INFO)
    model = _guard(ctx, lambda: ensure_model(settings))
    claim = worker_claim(settings, name or process_name())
    with _guard(ctx, lambda: metrics.serving(settings.metrics.listen, settings.database)), \
            _guard(ctx, lambda: Store(settings.database)) as store:
        translator = Translator(model, engine_settings(settings), store)
        try:
            totals = asyncio.run(work_until_signalled(
                settings, store, translator, claim, Fetcher(fetch_settings(settings))))
        finally:
            translator.close()
    click.echo(console.redact(totals.summary(claim.owner)), err=True)


@main.command("bot")
@click.pass_context
def bot_command(ctx: click.Context) -> None:
    """Answer Telegram, schedule digests and alerts, and deliver, while `nashra worker`
    processes refresh the feeds (PostgreSQL only). Two may run: one leads (schedules, and
    polls unless in webhook mode), both deliver, each message is sent once; when the
    leader stops, the other takes over within a digest tick."""
    settings = _settings(ctx)
    _require_postgres(ctx, settings, "bot")
    model = telegram_start(ctx, settings)
    from bot.telegram.app import run_telegram_side  # the bot's imports are only needed here

    run_telegram_side(settings, model)
