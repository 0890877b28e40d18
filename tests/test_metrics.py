"""Prometheus metrics and /healthz, scraped over real HTTP on 127.0.0.1: after real refreshes
from loopback feeds with the synthetic model (both store engines), after deliveries through
the fake Bot API (a 429 on each path), and the start-up failure of a busy address."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from support.bot_harness import (
    READER,
    bot_process,
    make_bot_site,
    postgres_url_of,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer
from support.observability import GONE_FEED, GOOD_FEED, STORIES, free_port, get, write_config

from bot import metrics
from bot.cli import main
from bot.config import load_settings
from bot.metrics import Metrics, MetricsServer
from bot.store import Store
from bot.store.chats import SENT
from bot.telegram import health

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
@pytest.fixture
def fresh_metrics() -> Iterator[Metrics]:
    """A registry for this test alone (other tests in this process count elsewhere)."""
    mine = Metrics()
    previous = metrics.use(mine)
    yield mine
    metrics.use(previous)


def scrape(port: int) -> Samples:
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def fetch(config: Path) -> int:
    """`nashra fetch`; returns the sentences it says it translated."""
    result = CliRunner().invoke(main, ["--config", str(config), "fetch"])
    assert result.exit_code == 0, result.output
    found = re.search(r"sentences translated: (\d+)", result.output)
    assert found, result.output
    return int(found.group(1))


def test_refreshes_outbox_and_digest_lag_are_scraped_over_http(
        tmp_path: Path, feed_server: FeedServer, argos_package: Path,
        store_location: Path | str, fresh_metrics: Metrics) -> None:
    config = write_config(tmp_path, feed_server, argos_package, postgres_url_of(store_location))
    settings = load_settings(str(config))
    sentences = fetch(config)
    fetch(config)   # the same items again: read, known, not stored; the gone feed backs off
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    with Store(settings.database) as store:
        translated = sum(1 for a in store.iter_articles() if not a.untranslated)
        store.ensure_chat(READER, "private", "reader", times=("08:00",), timezone="UTC",
                          max_items=10, now=now)
        store.set_subscribed(READER, True, now)
        store.set_next_due(READER, now - timedelta(seconds=90))
        store.queue_digest(READER, [], ["موجز اليوم"], now, kind="notice")

    with MetricsServer(f"127.0.0.1:{free_port()}", settings.database,
                       clock=lambda: now).start() as server:
        samples = scrape(server.port)
        assert get(f"http://127.0.0.1:{server.port}/healthz") == (200, "ok\n")

    assert value(samples, "nashra_refreshes_total") == 2
    assert value(samples, "nashra_feed_fetches_total", result="ok") == 2
    # Fetched once: the second refresh left the failing feed to its back-off.
    assert value(samples, "nashra_feed_fetches_total", result="error") == 1
    assert value(samples, "nashra_feed_errors_total", feed=GONE_FEED) == 1
    assert value(samples, "nashra_feed_errors_total", feed=GOOD_FEED) == 0
    assert value(samples, "nashra_articles_fetched_total") == 2 * len(STORIES)
    assert value(samples, "nashra_articles_stored_total") == len(STORIES)
    assert value(samples, "nashra_articles_translated_total") == translated > 0
    assert value(samples, "nashra_articles_untranslated_total") == len(STORIES) - translated
    assert value(samples, "nashra_translation_sentences_total") == sentences > 0
    assert value(samples, "nashra_translation_cache_hits_total") == 0
    assert value(samples, "nashra_translation_seconds_total") > 0
    assert value(samples, "nashra_last_refresh_timestamp_seconds") > 0
    assert value(samples, "nashra_store_up") == 1
    assert value(samples, "nashra_outbox_messages", status="pending") == 1
    assert value(samples, "nashra_outbox_messages", status="failed") == 0
    assert value(samples, "nashra_digest_lag_seconds") == 90


def test_healthz_is_503_with_the_reason_when_the_database_is_unusable(
        tmp_path: Path, fresh_metrics: Metrics) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is no database, only text " * 200)
    with MetricsServer(f"127.0.0.1:{free_port()}", broken).start() as server:
        base = f"http://127.0.0.1:{server.port}"
        status, body = get(f"{base}/healthz")
        assert status == 503
        assert body.startswith("store: ") and "not a database" in body
        assert body.count("\n") == 1
        # The counters are still served; the database's part says it is down.
        samples = scrape(server.port)
        assert value(samples, "nashra_store_up") == 0
        assert ("nashra_outbox_messages", (("status", "pending"),)) not in samples
        assert get(f"{base}/other")[0] == 404

    missing = tmp_path / "nowhere" / "nashra.db"
    with MetricsServer(f"127.0.0.1:{free_port()}", missing).start() as server:
        status, body = get(f"http://127.0.0.1:{server.port}/healthz")
    assert status == 503 and body.startswith("store: cannot open database")


def test_deliveries_and_429_answers_are_counted_in_the_running_bot(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path, fresh_metrics: Metrics, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         extra=["[metrics]", f'listen = "127.0.0.1:{port}"'])
    base = f"http://127.0.0.1:{port}"
    tg = site.telegram

    async def scenario() -> Samples:
        async with running_bot(site):
            assert await asyncio.to_thread(get, f"{base}/healthz") == (200, "ok\n")
            # The digest's first send is told to wait: the outbox waits, then sends it.
            tg.fail_next("sendMessage", retry_after=1, chat_id=READER)
            digest = await say(tg, "/digest")
            assert "1." in digest["text"]
            # A reply told to wait is sent again by the rate limiter.
            tg.fail_next("sendMessage", retry_after=1, chat_id=READER)
            assert (await say(tg, "/help"))["text"]
            await tg.wait_for_async(lambda: [m for m in tg.sent(READER) if m is not None])
            samples = await asyncio.to_thread(scrape, port)
            # The event loop stopped ticking an hour ago, as far as the check can tell.
            later = datetime.now(UTC) + timedelta(hours=1)
            monkeypatch.setattr(health, "clock", lambda: later)
            status, body = await asyncio.to_thread(get, f"{base}/healthz")
            assert status == 503 and body.startswith("bot: the digest tick is "), body
            return samples

    samples = asyncio.run(scenario())
    with site.store() as store:
        delivered = [m for m in store.outbox_messages(READER) if m.status == SENT]
    assert delivered
    assert value(samples, "nashra_messages_sent_total") == len(delivered)
    assert value(samples, "nashra_telegram_429_total", path="outbox") == 1
    assert value(samples, "nashra_telegram_429_total", path="reply") == 1
    assert value(samples, "nashra_outbox_messages", status="pending") == 0
    assert value(samples, "nashra_refreshes_total") >= 1   # make_bot_site's `nashra fetch`
    with pytest.raises(urllib.error.URLError):   # closed with the bot
        urllib.request.urlopen(f"{base}/healthz", timeout=5)


def test_a_busy_metrics_address_stops_the_bot_at_start_with_one_line(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                             extra=["[metrics]", f'listen = "127.0.0.1:{port}"'])
        with bot_process(site) as process:
            try:
                _, errors = process.communicate(timeout=60)
            except BaseException:
                process.send_signal(signal.SIGTERM)
                raise
    assert process.returncode == 1
    lines = errors.strip().splitlines()
    assert lines[-1].startswith(f"metrics: could not listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in errors
    assert fake_telegram.token not in errors


def test_a_worker_serves_metrics_and_a_second_one_on_its_address_stops_at_once(
        tmp_path: Path, feed_server: FeedServer, argos_package: Path,
        postgres_url: str) -> None:
    port = free_port()
    config = write_config(tmp_path, feed_server, argos_package, postgres_url,
                          listen=f"127.0.0.1:{port}")
    command = [sys.executable, "-m", "bot", "--config", str(config), "worker"]
    log = (tmp_path / "worker.log").open("w", encoding="utf-8")
    worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        def refreshed() -> Samples | None:
            try:
                samples = scrape(port)
            except OSError:   # not listening yet
                return None
            return samples if value(samples, "nashra_refreshes_total") >= 1 else None

        deadline = time.monotonic() + 120
        while (samples := refreshed()) is None:
            assert worker.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "worker.log").read_text("utf-8")
            time.sleep(0.2)
        assert value(samples, "nashra_articles_stored_total") == len(STORIES)
        assert value(samples, "nashra_feed_errors_total", feed=GONE_FEED) == 1
        assert value(samples, "nashra_store_up") == 1
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")

        second = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert second.stderr.strip().splitlines()[-1].startswith(
            f"error: metrics: could not listen on 127.0.0.1:{port}: ")
        assert "Traceback" not in second.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()
    assert worker.returncode == 0
