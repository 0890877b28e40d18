"""`nashra search` from the command line: the query language, stems, one result per story;
on an SQLite file and on PostgreSQL (``[storage] url``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import FeedConfig
from bot.models import Article
from bot.store import Store

NOW = datetime.now(UTC)


def article(feed: int, n: int, title: str, text: str, original: str, *,
            age: timedelta = timedelta(hours=1)) -> Article:
    return Article(
        feed_id=feed, key=f"k{n}", url=f"https://news{feed}.example/{n}",
        canonical_url=f"https://news{feed}.example/{n}", published=NOW - age, fetched=NOW,
        language="ar", title_original=original, text_original=original,
        title_translated=title, text_translated=text, lead=text, model="ar-en@1.0")


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    database = tmp_path / "nashra.db"
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    with Store(url or database) as store:
        feeds = store.sync_feeds([FeedConfig("https://www.bbc.com/arabic/rss", "BBC Arabic"),
                                  FeedConfig("https://aljazeera.example/rss", "Al Jazeera")],
                                 NOW)
        bbc, jazeera = (feed.id for feed in feeds)
        store.insert_articles([
            article(bbc, 1, "Parliament elections set for March",
                    "The commission said the elections will be held in March.",
                    "الانتخابات البرلمانية في مارس"),
            article(jazeera, 2, "Voters elected a new council",
                    "Turnout was high as voters elected the council.",
                    "الناخبون انتخبوا مجلسا جديدا", age=timedelta(days=20)),
            article(jazeera, 3, "Central bank raises interest rates",
                    "The central bank raised interest rates by half a point.",
                    "البنك المركزي يرفع أسعار الفائدة وسط دعم للحكومات"),
        ])
    path = tmp_path / "config.toml"
    storage = f'path = "{database}"\n' + (f'url = "{url}"\n' if url else "")
    path.write_text(f"[storage]\n{storage}", encoding="utf-8")
    return path


def titles(config: Path, *query: str) -> list[str]:
    result = CliRunner().invoke(main, ["--config", str(config), "search", *query])
    assert result.exit_code == 0, result.output
    return [line.split(". ", 1)[1] for line in result.stdout.splitlines()
            if line[:1].isdigit() and ". " in line]


def test_stems_filters_and_phrases_from_the_command_line(config: Path) -> None:
    assert titles(config, "election") == ["Parliament elections set for March",
                                          "Voters elected a new council"]
    assert titles(config, "election", "source:bbc") == ["Parliament elections set for March"]
    assert titles(config, "election", "since:7d") == ["Parliament elections set for March"]
    assert titles(config, "election", "-council") == ["Parliament elections set for March"]
    assert titles(config, '"interest rates"') == ["Central bank raises interest rates"]
    assert titles(config, '"rates interest"') == []
    assert titles(config, "حكومة") == ["Central bank raises interest rates"]


def test_an_unknown_source_and_a_bad_date_are_explained(config: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config), "search", "bank",
                                       "source:reuters", "since:someday"])
    assert result.exit_code == 0, result.output
    assert "No source matches 'reuters'" in result.stdout
    assert '"since:someday" is not a date' in result.stdout
