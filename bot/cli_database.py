"""Database commands: migrate, copy (SQLite to PostgreSQL), backup, tidy."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bot.cli import EXIT_FAILURE, _guard, _settings, main
from bot.store import Store
from bot.store.copy import copy_database
from bot.store.index import tidy_index


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database (SQLite or PostgreSQL) to this version's schema and say which.
    Every command does this when it opens the database; this does only that."""
    settings = _settings(ctx)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        click.echo(f"{store.location}: schema {store.schema_version}")


@main.command()
@click.option("--to", "url", required=True, metavar="postgresql://…",
              help="An empty PostgreSQL database (created with the schema if new).")
@click.pass_context
def copy(ctx: click.Context, url: str) -> None:
    """Copy the SQLite database into PostgreSQL, ids kept, checked by counting every table
    and by a search. Stop the bot first; then set storage.url and start it again."""
    settings = _settings(ctx)
    if not isinstance(settings.database, Path):
        click.echo("error: storage.url is set: copy reads the SQLite file (storage.path)",
                   err=True)
        ctx.exit(EXIT_FAILURE)
    start = time.perf_counter()
    with _guard(ctx, lambda: Store(settings.database_path)) as source, \
            _guard(ctx, lambda: Store(url)) as target:
        counts = _guard(ctx, lambda: copy_database(source, target, _progress))
        click.echo(", ".join(f"{table} {n}" for table, n in counts.items() if n), err=True)
        _check_search(ctx, source, target)
    click.echo(f"Copied {counts['articles']} articles to {target.location} in "
               f"{time.perf_counter() - start:.0f} s (counts match on every table)")


def _progress(table: str, rows: int) -> None:
    if table == "articles" and rows % 5000 == 0:
        click.echo(f"  {rows} articles…", err=True)


def _check_search(ctx: click.Context, source: Store, target: Store) -> None:
    """A word of the newest article's title finds it in the copy too."""
    from bot.search import search  # this command only

    newest = source.recent_articles(limit=1)
    words = newest[0].title_translated.split() if newest else []
    if not words:
        return
    query = f'"{max(words, key=len).strip(chr(34))}"'
    found = {hit.article.id for hit in search(target.reader(), query, limit=50).hits}
    if newest[0].story_id not in found and newest[0].id not in found:
        click.echo(f"error: the copy does not find article {newest[0].id} by {query}",
                   err=True)
        ctx.exit(EXIT_FAILURE)


@main.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite DESTINATION if it exists.")
@click.pass_context
def backup(ctx: click.Context, destination: Path, force: bool) -> None:
    """Copy the database to DESTINATION, consistently, while Nashra keeps running."""
    settings = _settings(ctx)
    if destination.exists() and not force:
        click.echo(f"error: {destination} exists; use --force to overwrite it", err=True)
        ctx.exit(EXIT_FAILURE)
    if destination.resolve() == settings.database_path.resolve():
        click.echo("error: the backup must not replace the live database", err=True)
        ctx.exit(EXIT_FAILURE)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        check = _guard(ctx, lambda: store.backup(destination))
        articles = store.count_articles()
    click.echo(f"Backed up {articles} articles to {destination} (integrity: {check})")


@main.command()
@click.option("--vacuum", is_flag=True,
              help="Also give free space back to the disk (stop the bot first; needs as "
                   "much free disk as the database).")
@click.pass_context
def tidy(ctx: click.Context, vacuum: bool) -> None:
    """Merge the search index into one piece for faster searches (the bot does this daily);
    worth running after a large import. Nashra may keep running meanwhile."""
    settings = _settings(ctx)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        start = time.perf_counter()
        steps = _guard(ctx, lambda: tidy_index(store.path))
        if steps:
            click.echo(f"Search index merged in {time.perf_counter() - start:.1f} s "
                       f"({steps} steps)")
        else:
            click.echo("Search index already in one piece")
        if vacuum:
            before, after = _guard(ctx, store.vacuum)
            click.echo(f"Database file {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
