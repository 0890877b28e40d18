"""Stories end to end: loopback feeds, `nashra fetch`, then `nashra export`'s ``story``.

Three outlets tell one parliament vote in their own words; other feeds carry another vote of
the same parliament a day later, an earthquake told by two outlets and one told by another
outlet a day later. The translation model is the synthetic random-weight one: its output is
gibberish, so stories can only come from the Arabic originals. Each test runs on both store
engines (``store_location``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.arabic_samples import SampleArticle, rss_with_content_encoded
from support.bot_harness import postgres_url_of
from support.feed_server import FeedServer
from support.story_samples import SAMPLES, StorySample

from bot.cli import main

# (sample, hours before the fetch): same-event reports hours apart, look-alikes a day apart.
PLAN: tuple[tuple[str, float], ...] = (
    ("budget-vote/wire", 30), ("budget-vote/daily", 29), ("budget-vote/channel", 28),
    ("elections-law-vote/portal", 5), ("elections-law-vote/wire", 4),
    ("quake-malatya/wire", 40), ("quake-malatya/portal", 37),
    ("quake-crete/channel", 10),
    ("uae-satellite/wire", 20),
)


def _serve(server: FeedServer, now: datetime) -> dict[str, str]:
    """One RSS feed per outlet (full text in content:encoded); returns name → URL."""
    by_outlet: dict[str, list[SampleArticle]] = {}
    for key, hours in PLAN:
        story = next(s for s in SAMPLES if s.key == key)
        by_outlet.setdefault(story.outlet, []).append(_as_item(story, now - timedelta(hours=hours)))
    return {outlet: server.add(f"/{outlet}.xml",
                               rss_with_content_encoded(items, server.url(f"/{outlet}")),
                               headers={"Content-Type": "application/rss+xml; charset=utf-8"})
            for outlet, items in by_outlet.items()}


def _as_item(story: StorySample, published: datetime) -> SampleArticle:
    slug = story.key.replace("/", "-")
    return SampleArticle(slug, "أخبار", story.title, tuple(story.text.split("\n\n")), published)


def _config(tmp_path: Path, argos_package: Path, feeds: dict[str, str],
            store_location: Path | str) -> Path:
    """SQLite in ``tmp_path``, or ``store_location``'s PostgreSQL database (``storage.url``)."""
    lines = [
        "[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"',
        f'url = "{postgres_url_of(store_location)}"',
        "[translation]", f'model = "{argos_package}"', "threads = 2",
        "[fetch]", "timeout_seconds = 5", "min_text_chars = 50",
        "[stories]", "window_hours = 48",
    ]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _nashra(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _stories(records: Sequence[dict[str, object]]) -> dict[str, object]:
    """Each record's story, keyed by "<event>/<outlet>" (from the article URL's slug)."""
    found: dict[str, object] = {}
    for record in records:
        outlet = str(record["feed"])
        slug = str(record["url"]).rsplit("/", 1)[-1].removesuffix(".html")
        event = slug.removesuffix("-" + outlet)
        found[f"{event}/{outlet}"] = record["story"]
    return found


def test_fetch_groups_one_event_across_feeds_and_export_shares_its_story(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        store_location: Path | str) -> None:
    now = datetime.now(UTC)
    config = _config(tmp_path, argos_package, _serve(feed_server, now), store_location)
    assert "9 new articles" in _nashra(config, "fetch")
    records = [json.loads(line) for line in _nashra(config, "export").splitlines()]
    story = _stories(records)
    assert set(story) == {key for key, _ in PLAN}
    by_id = {record["id"]: record for record in records}

    budget = {story[f"budget-vote/{o}"] for o in ("wire", "daily", "channel")}
    assert len(budget) == 1
    assert budget.pop() in by_id  # a story id is one of its articles' ids
    assert story["elections-law-vote/portal"] == story["elections-law-vote/wire"]
    assert story["quake-malatya/wire"] == story["quake-malatya/portal"]
    apart = {story["budget-vote/wire"], story["elections-law-vote/wire"],
             story["quake-malatya/wire"], story["quake-crete/channel"],
             story["uae-satellite/wire"]}
    assert len(apart) == 5
    # Alone: its story is its own id.
    satellite = next(r for r in records if "uae-satellite" in str(r["url"]))
    assert satellite["story"] == satellite["id"]

    # The digest shows each story once, the three-outlet one first, with "Also:".
    digest = _nashra(config, "digest", "--since", "3d", "--limit", "20")
    items = re.split(r"^\d+\. ", digest, flags=re.M)[1:]
    assert len(items) == 5
    assert "/budget-vote-wire" in items[0].split("\n")[1]
    also = next(line for line in items[0].splitlines() if line.startswith("Also: "))
    assert "budget-vote-daily" in also and "budget-vote-channel" in also
    assert "daily" in also and "channel" in also
    assert sum(item.count("budget-vote-") for item in items) == 3


@pytest.mark.parametrize("failure", [RuntimeError("bug"), "store"])
def test_a_failure_in_stories_never_loses_the_stored_articles(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, failure: object, store_location: Path | str) -> None:
    from bot.errors import StoreError
    from bot.stories import StoryAssigner

    def broken(self: StoryAssigner, articles: object) -> int:
        raise StoreError("database or disk is full") if failure == "store" else failure

    monkeypatch.setattr(StoryAssigner, "assign", broken)
    now = datetime.now(UTC)
    config = _config(tmp_path, argos_package, _serve(feed_server, now), store_location)
    output = CliRunner().invoke(main, ["--config", str(config), "fetch"])
    assert "9 new articles" in output.stdout, output.output
    if failure == "store":
        assert "database or disk is full" in output.output  # each feed reports it
    records = [json.loads(line) for line in _nashra(config, "export").splitlines()]
    assert len(records) == len(PLAN)
    assert all(record["story"] == record["id"] for record in records)
