"""The `nashra` command line. Each command's docstring is its --help."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click

from bot import __version__, console, logs, progress
from bot.config import PAIR_PATTERN, Settings, load_settings
from bot.dburl import url_password
from bot.digest import PlainText, render_digest
from bot.errors import ConfigError, NashraError
from bot.fetch import Fetcher
from bot.languages import configured_pairs, install_pair
from bot.models import ModelInfo, Translation
from bot.modelstore import ModelStore
from bot.pipeline import RefreshReport, refresh
from bot.search import search as search_archive
from bot.selection import recent_stories
from bot.stages import engine_settings, fetch_settings
from bot.store import Store
from bot.translate import Translator

T = TypeVar("T")
EXIT_FAILURE, EXIT_CONFIG = 1, 2


class DurationType(click.ParamType[timedelta, Any]):
    """A duration such as 90m, 24h or 7d."""

    name = "duration"
    _units: ClassVar[dict[str, str]] = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        unit = self._units.get(text[-1:])
        if unit is None or not text[:-1].isdigit() or int(text[:-1]) <= 0:
            self.fail(f"{value!r} is not a duration like 30m, 24h or 7d", param, ctx)
        return timedelta(**{unit: int(text[:-1])})


DURATION = DurationType()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML config file (default: $NASHRA_CONFIG, then ./config.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.option("--log-format", type=click.Choice(logs.FORMATS), default="text",
              envvar=logs.FORMAT_ENV, show_default=True,
              help="Log lines as plain text or one JSON object each ($NASHRA_LOG_FORMAT).")
@click.version_option(__version__, prog_name="nashra")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool, log_format: str) -> None:
    """Nashra: Arabic news feeds, translated offline, as English digests."""
    logs.setup(verbose, log_format)
    ctx.obj = config_path


def _settings(ctx: click.Context) -> Settings:
    try:
        settings = load_settings(ctx.find_root().obj)
        # The database password is a secret like the token: never in a log or an error.
        console.protect_secret(url_password(settings.storage.url))
        return settings
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(EXIT_CONFIG)
        raise  # unreachable: ctx.exit raises


def _guard(ctx: click.Context, action: Callable[[], T]) -> T:
    """Run a command body; Nashra errors become one line and exit 1, never a traceback."""
    try:
        return action()
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(EXIT_CONFIG)
    except NashraError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_FAILURE)
    raise AssertionError("unreachable")


def ensure_model(settings: Settings) -> ModelInfo:
    """The configured model; installs the pair from the Argos index on first use."""
    t = settings.translation
    models = ModelStore(settings.models_path)
    model = models.resolve(t.model, t.source, t.target)
    if model is None:
        click.echo(f"No {t.source}→{t.target} translation model installed; "
                   "installing it from the Argos index…", err=True)
        model = _install_from_index(models, t.source, t.target, if_missing=True)
    return model


def _install_from_index(models: ModelStore, source: str, target: str, *,
                        if_missing: bool = False) -> ModelInfo:
    with progress.download_bar() as update:
        return models.install_from_index(source, target, progress=update,
                                         if_missing=if_missing)


# run --------------------------------------------------------------------------------------------

@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Start the Telegram bot: long polling, scheduled refreshes and per-chat digests.

    Needs a bot token ($NASHRA_TELEGRAM_TOKEN or telegram.token). Stops cleanly on SIGINT or
    SIGTERM; pending digest messages are resumed at the next start.
    """
    settings = _settings(ctx)
    model = telegram_start(ctx, settings)
    from bot.telegram.app import run as run_bot  # the bot's imports are only needed here

    run_bot(settings, model)


def telegram_start(ctx: click.Context, settings: Settings) -> ModelInfo:
    """What a command talking to Telegram checks first: a token (protected from now on),
    INFO logs, the model."""
    if not settings.telegram.token:
        click.echo("config: telegram.token is empty; set $NASHRA_TELEGRAM_TOKEN "
                   "(or telegram.token in the config file)", err=True)
        ctx.exit(EXIT_CONFIG)
    console.protect_secret(settings.telegram.token)
    logging.getLogger("bot").setLevel(logging.INFO)
    return _guard(ctx, lambda: ensure_model(settings))


# fetch ----------------------------------------------------------------------------------------

@main.command()
@click.option("--force", is_flag=True, help="Also fetch feeds that are backing off after errors.")
@click.pass_context
def fetch(ctx: click.Context, force: bool) -> None:
    """Refresh every feed once: fetch, parse, dedupe, extract, translate and store.

    Prints a line per feed as it finishes and a summary table at the end. Exits 0 when the
    run completed, even if some feeds failed; 2 for a configuration error.
    """
    settings = _settings(ctx)
    report = _guard(ctx, lambda: _run_fetch(settings, force))
    click.echo(console.refresh_table(report))


def _run_fetch(settings: Settings, force: bool) -> RefreshReport:
    model = ensure_model(settings)
    with Store(settings.database) as store:
        translator = Translator(model, engine_settings(settings), store)
        try:
            return asyncio.run(_refresh_once(settings, store, translator, force))
        finally:
            translator.close()


async def _refresh_once(settings: Settings, store: Store, translator: Translator,
                        force: bool) -> RefreshReport:
    before = translator.misses
    with progress.refresh_progress(lambda: translator.misses - before) as shown:
        async with Fetcher(fetch_settings(settings)) as fetcher:
            return await refresh(settings, store, fetcher, translator, force=force,
                                 progress=shown.feed_done, started=shown.started)


# digest, search, export -----------------------------------------------------------------------

@main.command()
@click.option("--since", type=DURATION, default="24h", show_default=True,
              help="Only articles published within this window (30m, 24h, 7d).")
@click.option("--limit", type=click.IntRange(1, 500), default=None,
              help="At most this many stories (default: digest.max_items).")
@click.pass_context
def digest(ctx: click.Context, since: timedelta, limit: int | None) -> None:
    """Print the top stories of a window as a digest, as readers will get it.

    Articles about one event from several sources are one story ("Also:" lists the other
    sources); the stories carried by the most sources come first, then the newest.
    """
    settings = _settings(ctx)
    now = datetime.now(UTC)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        stories = recent_stories(store, since=now - since)
    if not stories:
        click.echo(f"No articles in the last {console.describe(since)}. "
                   "Run `nashra fetch` first, or widen --since.")
        return
    shown = stories[:limit or settings.digest.max_items]
    more = len(stories) - len(shown)
    for message in render_digest(shown, PlainText(), now=now, more=more,
                                 timezone=settings.digest.timezone):
        click.echo(message + "\n")
    if more:
        click.echo("(--limit shows more; `nashra read ID` opens one in full)")


# -word excludes a word: unknown options are passed on as query text, not refused.
@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], limit: int, page: int) -> None:
    """Search the archive in English or Arabic.

    Every word must match, in any form: election finds elections, حكومة finds والحكومة.
    Also: "exact phrase", -word to leave out, source:NAME, since:7d or since:2026-11-01,
    until:2026-11-20. One result per story, best first.
    """
    settings = _settings(ctx)
    text = " ".join(query)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        result = _guard(ctx, lambda: search_archive(store.reader(), text, limit=limit,
                                                    offset=(page - 1) * limit))
    click.echo(console.search_results(result, color=sys.stdout.isatty()))


@main.command()
@click.option("--since", type=DURATION, default=None, help="Only articles within this window.")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@click.pass_context
def export(ctx: click.Context, since: timedelta | None, fmt: str, output: Any) -> None:
    """Write the archive as JSON lines, one article per line, oldest first."""
    settings = _settings(ctx)
    cutoff = datetime.now(UTC) - since if since else None
    with _guard(ctx, lambda: Store(settings.database)) as store:
        for article in store.iter_articles(since=cutoff):
            output.write(json.dumps(console.export_record(article), ensure_ascii=False) + "\n")


# models, feeds --------------------------------------------------------------------------------

@main.group()
def models() -> None:
    """Install and list translation models (Argos packages)."""


@models.command("install")
@click.option("--from", "source_path", type=click.Path(exists=True, path_type=Path),
              default=None, help="A local .argosmodel file or unpacked package folder.")
@click.option("--pair", "pairs", multiple=True, metavar="SRC-TGT",
              help="A language pair such as fa-en (default: translation.source-target); "
                   "repeat for several.")
@click.option("--all", "all_pairs", is_flag=True,
              help="The main pair and every pair of translation.models.")
@click.pass_context
def models_install(ctx: click.Context, source_path: Path | None, pairs: tuple[str, ...],
                   all_pairs: bool) -> None:
    """Install models from the Argos index or a local file: the configured source→target
    pair, or the pairs given. A pair whose setting (translation.model, translation.models)
    names a file or folder is installed from it."""
    settings = _settings(ctx)
    chosen = _pairs_to_install(ctx, settings, pairs, all_pairs, source_path)
    for pair in chosen:
        with progress.download_bar() as update:
            model = _guard(ctx, partial(install_pair, settings, pair, source_path, update))
        click.echo(f"Installed {model.source}→{model.target} {model.version} ({model.id}) "
                   f"in {model.path}")


def _pairs_to_install(ctx: click.Context, settings: Settings, pairs: tuple[str, ...],
                      all_pairs: bool, source_path: Path | None) -> list[str]:
    t = settings.translation
    chosen = list(dict.fromkeys([*pairs, *(configured_pairs(settings) if all_pairs else [])]))
    bad = [pair for pair in chosen if not PAIR_PATTERN.match(pair)]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a language pair such as fa-en",
                                 ctx, param_hint="--pair")
    if source_path is not None and len(chosen) > 1:
        raise click.BadParameter("one file holds one pair: give a single --pair with it",
                                 ctx, param_hint="--from")
    return chosen or [f"{t.source}-{t.target}"]


@models.command("list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """List installed models with their language pair, version and size."""
    settings = _settings(ctx)
    installed = ModelStore(settings.models_path).installed()
    if not installed:
        click.echo(f"No models installed in {settings.models_path}. "
                   "Run `nashra models install` (or --from FILE).")
        return
    click.echo(console.models_table(installed))


@main.group()
def feeds() -> None:
    """The feeds: list them, import or export them as OPML."""


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """Configured feeds with last fetch time, article count and error count."""
    settings = _settings(ctx)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        states = store.sync_feeds(settings.feeds, datetime.now(UTC))
    click.echo(console.feeds_table(states, datetime.now(UTC)))


# translate ------------------------------------------------------------------------------------

ARTICLE_SEPARATOR = "---"
_SEPARATOR_LINE = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)


def split_articles(text: str) -> list[str]:
    """Articles of `nashra translate`'s input: separated by lines holding only ``---``."""
    return [a.strip() for a in _SEPARATOR_LINE.split(text) if a.strip()]


@main.command("translate")
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.pass_context
def translate_text(ctx: click.Context, file: Any) -> None:
    """Translate Arabic text from FILE (default: standard input) to English on standard output.

    Articles are separated by a line holding only ---. Within an article a blank line
    separates paragraphs and every line break ends a sentence. The output keeps the layout:
    one translated article per input article, separated by --- lines. Uses the configured
    model and the same sentence cache as `nashra fetch`, so a sentence translated once comes
    from the cache afterwards. A one-line summary goes to standard error; a sentence the model
    cannot translate (even after a retry) is left in Arabic and counted there.
    """
    settings = _settings(ctx)
    articles = split_articles(file.read())
    if not articles:
        click.echo("Nothing to translate: the input is empty.", err=True)
        return
    results, translator = _guard(ctx, lambda: _translate_articles(settings, articles))
    click.echo(f"\n\n{ARTICLE_SEPARATOR}\n\n".join(r.text for r in results))
    untranslated = sum(r.untranslated for r in results)
    click.echo(f"{len(articles)} articles, {translator.hits + translator.misses} sentences: "
               f"{translator.hits} from the cache, {translator.misses} by the model"
               f"{f', {untranslated} left untranslated' if untranslated else ''} "
               f"({translator.model.id})", err=True)


def _translate_articles(settings: Settings,
                        articles: list[str]) -> tuple[list[Translation], Translator]:
    model = ensure_model(settings)
    with Store(settings.database) as store:
        translator = Translator(model, engine_settings(settings), store)
        try:
            return translator.translate_sync(articles), translator
        finally:
            translator.close()


# read -----------------------------------------------------------------------------------------

@main.command("read")
@click.argument("article_id", metavar="ID", type=int)
@click.option("--original", is_flag=True, help="The Arabic original instead of the English.")
@click.pass_context
def read_article(ctx: click.Context, article_id: int, original: bool) -> None:
    """Print one article in full, by the id `nashra export` gives (as /read ID in the bot).

    Sentences the model could not translate are marked [not translated].
    """
    from bot.reader import render_article, render_original, valid_article_id  # this command only

    settings = _settings(ctx)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        article = store.get_article(article_id) if valid_article_id(article_id) else None
    if article is None:
        click.echo(f"No article {article_id}.", err=True)
        ctx.exit(EXIT_FAILURE)
        return
    zone = settings.digest.timezone
    messages = (render_original(article, PlainText(), timezone=zone) if original
                else render_article(article, PlainText(), datetime.now(UTC), timezone=zone))
    click.echo("\n\n".join(messages))


# The database commands (migrate, copy, backup, tidy) and those of several processes on
# PostgreSQL (worker, bot) register themselves on ``main``.
from bot import cli_database, cli_doctor, cli_feeds, cli_processes  # noqa: E402, F401
