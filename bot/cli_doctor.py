"""`nashra doctor`: check the installation, one line a check (see :mod:`bot.doctor`)."""

from __future__ import annotations

import os

import click

from bot.cli import EXIT_FAILURE, main
from bot.doctor import MIN_FREE_BYTES, Options, run_checks


@main.command()
@click.option("--offline", is_flag=True,
              help="Skip the checks that need the network (the token and the feeds).")
@click.option("--skip-feeds", is_flag=True, help="Skip fetching each feed.")
@click.option("--min-free", "min_free_mb", type=click.IntRange(0), metavar="MB",
              default=MIN_FREE_BYTES >> 20, show_default=True,
              help="Fail the disk check below this much free space.")
@click.pass_context
def doctor(ctx: click.Context, offline: bool, skip_feeds: bool, min_free_mb: int) -> None:
    """Check the configuration, the database, the translation models, the bot token, every
    feed and the free disk space, and say how to fix what is wrong.

    Prints ✔ or ✘ and one line a check; changes nothing (the database is not migrated, no
    model is downloaded). Exits 1 when any check fails, 0 otherwise.
    """
    options = Options(network=not offline, feeds=not skip_feeds,
                      min_free_bytes=min_free_mb << 20, environ=os.environ)
    failed = False
    for check in run_checks(ctx.find_root().obj, options):
        click.echo(check.line)
        failed = failed or not check.ok
    if failed:
        ctx.exit(EXIT_FAILURE)
