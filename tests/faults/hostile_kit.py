"""Shared by the hostile-source fault tests: a config on loopback feeds, `nashra` runs, and the
check that the good feed beside the hostile ones lost nothing.

Every scenario serves one well-behaved feed (``good``, two full-text articles) next to the
hostile ones, runs the real CLI, and asserts both the hostile feed's one-line reason and that
the good feed's articles were stored, translated, as if nothing had happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result
from support.arabic_samples import ARTICLES, rss_with_content_encoded
from support.feed_server import FeedServer

from bot.cli import main
from bot.textnorm import arabic_ratio

GOOD_ARTICLES = ARTICLES[:2]
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def serve_good_feed(server: FeedServer) -> str:
    """The well-behaved feed every scenario keeps beside its hostile ones."""
    return server.add("/good.xml", rss_with_content_encoded(GOOD_ARTICLES, server.base_url),
                      headers=RSS_TYPE)


def write_config(path: Path, model: Path, feeds: Mapping[str, str],
                 fetch: Mapping[str, object] | None = None) -> Path:
    """A config file with ``feeds`` (name -> URL) and ``[fetch]`` overrides."""
    settings: dict[str, object] = {"timeout_seconds": 2, "max_bytes": 200_000,
                                   "per_host": 32, "concurrency": 32, **(fetch or {})}
    lines = ["[storage]", f'path = "{path / "data" / "nashra.db"}"',
             "[translation]", f'model = "{model}"', "threads = 2", "[fetch]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"']
    config = path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@dataclass
class Run:
    """One `nashra` invocation and what it printed."""

    result: Result
    seconds: float

    def progress(self, feed: str) -> str:
        """The feed's progress line on stderr (``✓ name: ...`` or ``✗ name: reason``)."""
        lines = [line for line in self.result.stderr.splitlines()
                 if line[2:].startswith(feed + ": ")]
        assert len(lines) == 1, self.result.stderr
        return lines[0]

    def reason(self, feed: str) -> str:
        """The feed's one-line failure reason; fails the test if the feed did not fail."""
        line = self.progress(feed)
        assert line.startswith("✗ "), line
        return line.split(": ", 1)[1]

    def row(self, feed: str) -> str:
        rows = [line for line in self.result.stdout.splitlines() if line.startswith(feed + " ")]
        assert len(rows) == 1, self.result.stdout
        return rows[0]


def nashra(config: Path, *args: str) -> Run:
    started = time.monotonic()
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    seconds = time.monotonic() - started
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return Run(result, seconds)


def export(config: Path) -> list[dict[str, object]]:
    run = nashra(config, "export")
    assert run.result.exit_code == 0, run.result.output
    return [json.loads(line) for line in run.result.stdout.splitlines()]


def assert_good_feed_intact(run: Run, config: Path) -> None:
    """The run completed (exit 0), and the good feed's articles are all stored, translated."""
    assert run.result.exit_code == 0, run.result.output
    assert run.progress("good").startswith("✓ "), run.result.stderr
    stored = {str(a["title_original"]): a for a in export(config)}
    for sample in GOOD_ARTICLES:
        article = stored.get(sample.title)
        assert article is not None, f"good article lost: {sample.slug}"
        assert article["text_original"] == sample.text
        assert article["title_translated"] and arabic_ratio(str(article["title_translated"])) < 0.05
