"""Feed list commands: `nashra feeds import` and `nashra feeds export` (OPML)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.cli import EXIT_FAILURE, _guard, _settings, feeds
from bot.opml import ImportPlan, export_opml, parse_opml, plan_import, state_feeds
from bot.store import Store

MAX_OPML_BYTES = 50 * 1024 * 1024   # far beyond any reader's export; a wrong file stops here
SHOWN_SKIPS = 20


@feeds.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only say what would be added.")
@click.pass_context
def feeds_import(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Follow the feeds of an OPML file (exported by Feedly, Inoreader, Miniflux,
    NetNewsWire, Thunderbird...), their folders as categories. Feeds followed already are
    left as they are; removed ones come back. Takes effect at the next refresh."""
    settings = _settings(ctx)
    if file.stat().st_size > MAX_OPML_BYTES:
        click.echo(f"error: {file} is larger than {MAX_OPML_BYTES // 2**20} MB", err=True)
        ctx.exit(EXIT_FAILURE)
    found = _guard(ctx, lambda: parse_opml(file.read_bytes(), file.name))
    now = datetime.now(UTC)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        plan = plan_import(found, store.feeds(), (f.url for f in settings.feeds))
        if not dry_run:
            _guard(ctx, lambda: store.import_feeds(plan.new, now))
    click.echo(import_summary(plan, dry_run=dry_run))


def import_summary(plan: ImportPlan, *, dry_run: bool) -> str:
    """What an import did (or would do), with every skipped outline up to a limit."""
    verb = "would be added" if dry_run else "added"
    feeds_word = _plural(len(plan.new), "feed", "feeds")
    categories = plan.categories
    lines = [f"{len(plan.new)} {feeds_word} {verb}"
             + (f" in {len(categories)} {_plural(len(categories), 'category', 'categories')}"
                if categories else "")
             + f", {len(plan.present)} already followed, {len(plan.skipped)} skipped"]
    lines += [f"  skipped {s.what or '(no address)'}: {s.reason}"
              for s in plan.skipped[:SHOWN_SKIPS]]
    if len(plan.skipped) > SHOWN_SKIPS:
        lines.append(f"  … and {len(plan.skipped) - SHOWN_SKIPS} more skipped")
    return "\n".join(lines)


@feeds.command("export")
@click.option("--output", "-o", type=click.File("wb"), default="-",
              help="Write to this file instead of standard output.")
@click.pass_context
def feeds_export(ctx: click.Context, output: Any) -> None:
    """Write the feeds Nashra follows (configured and added by admins) as OPML 2.0, with
    their categories as folders: for Feedly, Inoreader, Miniflux or a backup."""
    settings = _settings(ctx)
    now = datetime.now(UTC)
    with _guard(ctx, lambda: Store(settings.database)) as store:
        followed = _guard(ctx, lambda: store.sync_feeds(settings.feeds, now))
    try:
        output.write(export_opml(state_feeds(followed), created=now))
        output.flush()
    except OSError as exc:
        raise click.ClickException(f"cannot write the OPML file: {exc}") from exc
    name = getattr(output, "name", "-")
    if name not in ("-", "<stdout>"):
        click.echo(f"Exported {len(followed)} feeds to {name}", err=True)



def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many
