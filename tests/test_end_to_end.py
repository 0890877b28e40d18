"""The whole pipeline from the command line: loopback feeds, the synthetic model, a real DB.

`nashra fetch` against good and bad feeds, a second fetch that translates nothing, then
`nashra digest`, `nashra search` and `nashra export` as a user would run them, on each
store engine (``store_location``: SQLite, then PostgreSQL through ``storage.url``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.arabic_samples import (
    ARTICLES,
    article_page_html,
    article_path,
    atom_feed,
    legacy_encoded_page,
    rss_with_content_encoded,
    summary_only_rss,
)
from support.bot_harness import postgres_url_of
from support.feed_server import FeedServer

from bot.cli import main
from bot.textnorm import arabic_ratio

BOILERPLATE = ("نهاية الرسالة", "زر الذهاب إلى الأعلى", "جميع الحقوق محفوظة",
               "فيسبوك تويتر واتساب", "اشترك في النشرة", "اقرأ أيضا", "ملفات تعريف الارتباط")
BAD_FEEDS = {
    "missing": "HTTP 404",
    "broken server": "HTTP 500",
    "slow": "timed out",
    "huge": "larger than",
    "web page": "not a feed",
    "truncated": "malformed XML",
}


@dataclass
class Site:
    server: FeedServer
    config: Path
    content_feed: str


def _serve_good_feeds(server: FeedServer) -> dict[str, str]:
    base = server.base_url
    for article in ARTICLES[:6]:
        server.add(article_path(article), article_page_html(article).encode("utf-8"),
                   headers={"Content-Type": "text/html; charset=utf-8"})
    legacy = ARTICLES[6]
    server.add("/legacy" + article_path(legacy), legacy_encoded_page(legacy, "cp1256"),
               headers={"Content-Type": "text/html"})
    rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
    return {
        "content": server.add_conditional(
            "/content.xml", rss_with_content_encoded(ARTICLES[:2], base,
                                                     link_suffix="?utm_source=rss&utm_medium=x"),
            etag='"v1"', headers=rss),
        "summary": server.add("/summary.xml", summary_only_rss(ARTICLES[2:4], base), headers=rss),
        # The Atom feed repeats ARTICLES[0]: same article, other id, stored once.
        "atom": server.add("/atom.xml", atom_feed([ARTICLES[0], *ARTICLES[4:6]], base),
                           headers={"Content-Type": "application/atom+xml"}),
        "legacy": server.add("/legacy.xml", summary_only_rss([legacy], base + "/legacy"),
                             headers=rss),
    }


def _serve_bad_feeds(server: FeedServer) -> dict[str, str]:
    whole = rss_with_content_encoded(ARTICLES[:3], server.base_url)
    return {
        "missing": server.url("/missing.xml"),
        "broken server": server.add("/error.xml", b"oops", status=500),
        "slow": server.add_delay("/slow.xml", 3.0, whole),
        "huge": server.add_large("/huge.xml", 400_000, content_length=False),
        "web page": server.add("/page.html", b"<!DOCTYPE html><html><body><p>Hello</p></body>"
                               b"</html>", headers={"Content-Type": "text/html"}),
        "truncated": server.add("/truncated.xml", whole[: len(whole) // 2],
                                headers={"Content-Type": "application/rss+xml"}),
    }


@pytest.fixture
def site(feed_server: FeedServer, argos_package: Path, tmp_path: Path,
         store_location: Path | str) -> Iterator[Site]:
    """The feeds and a config; the store is SQLite in ``tmp_path`` or the PostgreSQL
    database of ``store_location`` (the model folder stays beside ``storage.path``)."""
    feeds = {**_serve_good_feeds(feed_server), **_serve_bad_feeds(feed_server)}
    lines = [
        "[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"',
        f'url = "{postgres_url_of(store_location)}"',
        "[translation]", f'model = "{argos_package}"', "threads = 2",
        "[fetch]", "timeout_seconds = 1", "max_bytes = 200000", "min_text_chars = 300",
    ]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    yield Site(feed_server, config, feeds["content"])
    if postgres_url_of(store_location):  # everything went to PostgreSQL
        assert not (tmp_path / "data" / "nashra.db").exists()


def nashra(site: Site, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--config", str(site.config), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def export(site: Site) -> list[dict[str, object]]:
    result = nashra(site, "export")
    return [json.loads(line) for line in result.stdout.splitlines()]


def summary_row(output: str, feed: str) -> str:
    rows = [line for line in output.splitlines() if line.startswith(feed + " ")]
    assert rows, output
    return rows[0]


def test_fetch_stores_good_feeds_and_reports_each_bad_one(site: Site) -> None:
    result = nashra(site, "fetch")
    assert result.exit_code == 0, result.output
    for feed, reason in BAD_FEEDS.items():
        assert reason in summary_row(result.stdout, feed), feed
        assert re.search(rf"✗ {feed}: .*{reason}", result.stderr), feed
    assert "0 new" not in result.stdout.splitlines()[-1]
    articles = export(site)
    assert len(articles) == len(ARTICLES)  # ARTICLES[0] reached twice, stored once
    by_title = {a["title_original"]: a for a in articles}
    for sample in ARTICLES:
        stored = by_title[sample.title]
        assert stored["text_original"] == sample.text, sample.slug  # pages cleaned fully
        assert stored["language"] == "ar"
        assert "utm_" not in str(stored["url"])
        for text in (stored["title_translated"], stored["text_translated"], stored["lead"]):
            assert text and arabic_ratio(str(text)) < 0.05
        assert str(stored["model"]).startswith("ar-en@1.0")
    assert not any(marker in str(a["text_original"]) for a in articles for marker in BOILERPLATE)


def test_second_fetch_translates_nothing_and_sends_validators(site: Site) -> None:
    assert nashra(site, "fetch").exit_code == 0
    before = export(site)
    second = nashra(site, "fetch", "--force")
    assert second.exit_code == 0
    assert "sentences translated: 0" in second.stdout
    assert re.search(r"^0 new articles", second.stdout.splitlines()[-1])
    assert "not modified (304)" in summary_row(second.stdout, "content")
    requests = site.server.requests_for("/content.xml")
    assert requests[-1].headers.get("if-none-match") == '"v1"'
    assert export(site) == before


def test_digest_shows_clean_translated_items(site: Site) -> None:
    nashra(site, "fetch")
    result = nashra(site, "digest", "--since", "3650d", "--limit", "20")
    assert result.exit_code == 0
    items = re.findall(r"^\d+\. (.+)$", result.stdout, re.M)
    assert len(items) == len(ARTICLES)
    for headline in items:
        assert arabic_ratio(headline) < 0.05
    for marker in BOILERPLATE:
        assert marker not in result.stdout
    assert f"{site.server.base_url}/articles/" in result.stdout
    sources = re.findall(r"^\u2068(.+)\u2069 · (.+) · nashra read \d+$", result.stdout, re.M)
    assert {name for name, _age in sources} == {"content", "summary", "atom", "legacy"}
    assert all(re.fullmatch(r"\d\d \w{3} 2026|\d+ days ago", age) for _n, age in sources)


def test_search_by_english_word_and_by_arabic_with_or_without_diacritics(site: Site) -> None:
    nashra(site, "fetch")
    sports = next(a for a in export(site) if "المُنتخب" in str(a["title_original"]))
    word = max(re.findall(r"[A-Za-z]{4,}", str(sports["title_translated"])), key=len)
    found = nashra(site, "search", word, "--limit", "50")
    assert str(sports["url"]) in found.stdout
    for query in ("المنتخب الوطني", "المُنتخَب الوَطني", "الاقتصاد", "الاقتِصاد"):
        result = nashra(site, "search", query)
        assert result.exit_code == 0
        assert "No results" not in result.stdout, query
    assert str(sports["url"]) in nashra(site, "search", "المنتخب").stdout
    economy = nashra(site, "search", "الاقتصاد").stdout
    assert "/articles/central-bank-rates.html" in economy


def test_python_dash_m_and_hostile_search(site: Site) -> None:
    nashra(site, "fetch")
    for query in ('"', "AND (", "x' OR 1=1 --", "NEAR(a b)*"):
        result = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(site.config), "search", query],
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr


def test_config_error_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[fetch]\ntimeout_seconds = -3\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "fetch"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "config: fetch.timeout_seconds must be > 0, got -3"


def test_feeds_list_and_models_list(site: Site) -> None:
    nashra(site, "fetch")
    feeds = nashra(site, "feeds", "list").stdout
    assert re.search(r"^content .* just now +2 +0 +active$", feeds, re.M), feeds
    assert re.search(r"^missing .* 0 +1 \(fetch: HTTP 404", feeds, re.M), feeds
    models = nashra(site, "models", "list").stdout
    assert "ar→en" in models and "1.0" in models
