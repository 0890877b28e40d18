"""Two `nashra bot` processes on one PostgreSQL database, through the fake Bot API: one
leads (schedules digests, polls), both deliver, and every message reaches Telegram exactly
once and in order, also when one of them stops in the middle of the fan-out."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support.bot_harness import ADMIN, READER, BotSite, article_variants, make_bot_site
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.dburl import url_password
from bot.store import Store
from bot.store.base import to_db_time
from bot.store.chats import PENDING, SENDING, SENT
from bot.telegram.schedule import TICK_ENV
from bot.telegram.webhook import derived_secret

CHATS = 300   # more than one process's lanes (MAX_LANES = 128)
DEADLINE = 120.0


def wait_until(condition: Callable[[], bool], what: Callable[[], str],
               timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what()}"
        time.sleep(0.1)


@contextmanager
def bot_processes(site: BotSite, count: int, log_dir: Path,
                  configs: Sequence[Path] = ()) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` `python -m bot bot` processes (output in files: a pipe nobody reads could
    block one), each with the site's config or its own of ``configs``; killed at the end if
    still running."""
    env = {**site.env(), TICK_ENV: "0.3"}
    with ExitStack() as stack:
        processes = []
        for n in range(count):
            sink = stack.enter_context((log_dir / f"bot{n}.log").open("w", encoding="utf-8"))
            config = configs[n] if configs else site.config
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(config), "bot"],
                env=env, stdout=sink, stderr=subprocess.STDOUT, text=True))
        try:
            yield processes
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)


def subscribe_due(store: Store, telegram: FakeTelegram, count: int) -> list[int]:
    """``count`` private chats subscribed, each with a digest due a minute ago."""
    now = datetime.now(UTC)
    subscribed = now - timedelta(hours=1)   # a digest due since then is theirs
    chats = [70_000 + n for n in range(count)]
    for chat in chats:
        telegram.add_chat(chat)
        store.ensure_chat(chat, "private", f"reader {chat}", times=("08:00",), timezone="UTC",
                          max_items=3, now=subscribed)
        store.set_subscribed(chat, True, subscribed)
    # A digest time a minute ago, and the chat's next digest then (as reschedule would).
    due = (now - timedelta(minutes=1)).replace(microsecond=0)
    store._execute_write("UPDATE chats SET times = :t, next_due_at = :due WHERE subscribed = 1",
                         {"t": due.strftime("%H:%M:%S"), "due": to_db_time(due)})
    return chats


def outbox_counts(site: BotSite) -> Counter[str]:
    with site.store() as store:
        return Counter(message.status for message in store.outbox_messages())


def assert_each_message_sent_once_in_order(site: BotSite, telegram: FakeTelegram,
                                           chats: list[int]) -> None:
    """Every queued message sent, Telegram got each once (as many as queued; a message
    told to wait by a 429 is tried again, but accepted once), and in the order queued (the
    ids Telegram gave, recorded on each row, grow with the queue's ids)."""
    with site.store() as store:
        for chat in chats:
            rows = store._db.execute(
                "SELECT status, telegram_message_id FROM outbox "
                "WHERE chat_id = :chat ORDER BY id", {"chat": chat}).fetchall()
            assert rows and {row[0] for row in rows} == {SENT}, chat
            assert len(telegram.sent(chat)) == len(rows), chat
            ids = [row[1] for row in rows]
            assert ids == sorted(ids) and len(set(ids)) == len(ids), chat


def sent_by_each(log_dir: Path, count: int) -> list[int]:
    """How many messages each process says it sent (its last log line on stopping)."""
    counts = []
    for n in range(count):
        found = re.findall(r"outbox stopped: (\d+) message", (log_dir / f"bot{n}.log").read_text())
        counts.append(int(found[-1]) if found else -1)
    return counts


@pytest.fixture
def fan_out(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
            argos_package: Path, postgres_url: str) -> tuple[BotSite, list[int]]:
    """A PostgreSQL site with articles and CHATS chats whose digest is due."""
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         articles=article_variants(3), database_url=postgres_url)
    with site.store() as store:
        return site, subscribe_due(store, fake_telegram, CHATS)


def leader(log_dir: Path) -> int | None:
    """The process that logged taking the leader lock first, if any did yet."""
    for n in range(2):
        if "this process now leads" in (log_dir / f"bot{n}.log").read_text():
            return n
    return None


def test_two_bot_processes_send_every_message_once(
        fan_out: tuple[BotSite, list[int]], tmp_path: Path, fake_telegram: FakeTelegram,
        postgres_url: str) -> None:
    site, chats = fan_out
    with bot_processes(site, 2, tmp_path) as processes:
        wait_until(lambda: set(counts := outbox_counts(site)) == {SENT}
                   and counts[SENT] >= CHATS,
                   lambda: f"the fan-out to be sent: {outbox_counts(site)}")
        # Only the leader polls: Telegram refuses a second poller (409), never seen here.
        assert not [line for n in range(2)
                    for line in (tmp_path / f"bot{n}.log").read_text().splitlines()
                    if "Conflict" in line]
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=60) == 0
    assert_each_message_sent_once_in_order(site, fake_telegram, chats)
    # Both delivered (more chats than one process's lanes), together each message once.
    first, second = sent_by_each(tmp_path, 2)
    assert first > 0 and second > 0
    assert first + second == len(fake_telegram.sent()) - len(fake_telegram.sent(ADMIN))
    logs = [(tmp_path / f"bot{n}.log").read_text() for n in range(2)]
    assert sum("this process now leads" in log for log in logs) >= 1
    assert fake_telegram.token not in "".join(logs)
    password = url_password(postgres_url)
    assert not password or password not in "".join(logs)


def test_a_bot_process_stopping_mid_fan_out_leaves_the_rest_to_the_other(
        fan_out: tuple[BotSite, list[int]], tmp_path: Path,
        fake_telegram: FakeTelegram) -> None:
    site, chats = fan_out
    # Telegram's real pace (30 messages a second overall) keeps the fan-out going long
    # enough to stop a process in the middle of it.
    fake_telegram.enforce_limits()
    with bot_processes(site, 2, tmp_path) as processes:
        wait_until(lambda: outbox_counts(site)[SENT] >= CHATS // 4,
                   lambda: f"a quarter sent: {outbox_counts(site)}")
        wait_until(lambda: leader(tmp_path) is not None, lambda: "a leader")
        leading = leader(tmp_path)
        assert leading is not None
        processes[leading].send_signal(signal.SIGTERM)
        assert processes[leading].wait(timeout=60) == 0
        other = 1 - leading
        # The stand-by takes the lock over: it schedules (and polls) from now on.
        wait_until(lambda: "this process now leads" in (tmp_path / f"bot{other}.log").read_text(),
                   lambda: "the stand-by to lead")
        wait_until(lambda: (counts := outbox_counts(site))[PENDING] == 0
                   and counts[SENDING] == 0 and counts[SENT] >= CHATS,
                   lambda: f"the rest sent: {outbox_counts(site)}")
        processes[other].send_signal(signal.SIGTERM)
        assert processes[other].wait(timeout=60) == 0
    assert_each_message_sent_once_in_order(site, fake_telegram, chats)
    assert sum(sent_by_each(tmp_path, 2)) == len(fake_telegram.sent()) - len(
        fake_telegram.sent(ADMIN))


def webhook_config(site: BotSite, folder: Path, port: int) -> Path:
    """The site's config with a webhook on ``port`` (each process behind a load balancer
    listens on its own address)."""
    text = site.config.read_text(encoding="utf-8")
    lines = [f'webhook_url = "http://127.0.0.1:{port}/nashra/hook"',
             f'listen = "127.0.0.1:{port}"']
    config = folder / f"webhook-{port}.toml"
    config.write_text(text.replace("[telegram]\n", "\n".join(["[telegram]", *lines, ""]), 1),
                      encoding="utf-8")
    return config


def post_update(port: int, update: dict[str, object], secret: str) -> int:
    """What Telegram (through a load balancer) does: POST the update with the secret."""
    response = httpx.post(f"http://127.0.0.1:{port}/nashra/hook", json=update, timeout=10,
                          headers={"X-Telegram-Bot-Api-Secret-Token": secret}, trust_env=False)
    return response.status_code


def test_in_webhook_mode_every_bot_process_receives_updates(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path, postgres_url: str) -> None:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         database_url=postgres_url)
    ports = [free_port(), free_port()]
    configs = [webhook_config(site, tmp_path, port) for port in ports]
    secret = derived_secret(fake_telegram.token)
    with bot_processes(site, 2, tmp_path, configs) as processes:
        for port in ports:
            wait_until(lambda port=port: listening(port), lambda: "the webhook servers")
        for n, port in enumerate(ports):
            reader = READER + n
            update = fake_telegram.message_update(reader, "/start")
            assert post_update(port, update, "wrong-secret-0123456789") == 403
            assert post_update(port, update, secret) == 200
            fake_telegram.wait_for_messages(reader, 1, timeout=60)
            assert len(fake_telegram.sent(reader)) == 1
        # No process polls in webhook mode, leader or not.
        assert fake_telegram.calls("getUpdates") == []
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=60) == 0
    logs = "".join((tmp_path / f"bot{n}.log").read_text() for n in range(2))
    assert logs.count("this process now leads") == 1 and secret not in logs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
