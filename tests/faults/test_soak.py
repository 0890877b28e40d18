"""Soak: rapid refresh cycles against changing feeds plus a stream of user commands.

Memory, open files, threads and asyncio tasks must stay flat. Runs for
$NASHRA_SOAK_SECONDS (default 30) after a short warm-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from pathlib import Path

from support.arabic_samples import ARTICLES, register_site
from support.bot_harness import READER, BotSite, running_bot

from bot.pipeline import refresh
from bot.telegram.services import Services

SOAK_SECONDS = float(os.environ.get("NASHRA_SOAK_SECONDS", "30"))
WARM_UP_CYCLES = 3
COMMANDS = ("/search البنك", "/digest", "/search central bank", "/settings items 7",
            "/start", "/sources", "/search " + "x" * 50)


def resources() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    return {"rss_mb": rss_kb // 1024, "fds": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count(), "tasks": len(asyncio.all_tasks())}


async def one_cycle(site: BotSite, svc: Services, cycle: int) -> None:
    stories = [dataclasses.replace(a, slug=f"{a.slug}-soak{cycle}", title=f"{a.title} #{cycle}")
               for a in ARTICLES[: 2 + cycle % 3]]
    register_site(site.feeds, stories, kind="content")
    report = await refresh(svc.settings, svc.store, svc.fetcher, svc.translator, force=True)
    assert report.failed_feeds == 0
    tg = site.telegram
    for command in COMMANDS:
        before = len(tg.sent(READER))
        tg.push_message(READER, command)
        await tg.wait_for_messages_async(READER, before + 1)


def test_soak_keeps_resources_flat(site: BotSite) -> None:
    async def scenario() -> tuple[dict[str, int], dict[str, int], int]:
        async with running_bot(site) as app:
            svc: Services = app.bot_data["nashra"]
            for cycle in range(WARM_UP_CYCLES):
                await one_cycle(site, svc, cycle)
            baseline = resources()
            cycle, deadline = WARM_UP_CYCLES, time.monotonic() + SOAK_SECONDS
            while time.monotonic() < deadline:
                await one_cycle(site, svc, cycle)
                cycle += 1
            return baseline, resources(), cycle

    baseline, end, cycles = asyncio.run(scenario())
    print(f"soak: {cycles} cycles, start {baseline}, end {end}")
    assert cycles > WARM_UP_CYCLES + 3, "the soak ran too few cycles to mean anything"
    assert end["fds"] <= baseline["fds"] + 3, (baseline, end)
    assert end["threads"] <= baseline["threads"] + 2, (baseline, end)
    assert end["tasks"] <= baseline["tasks"] + 2, (baseline, end)
    assert end["rss_mb"] <= baseline["rss_mb"] + 40, (baseline, end)
