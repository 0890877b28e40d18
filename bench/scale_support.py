"""Helpers of bench/scale.py: a lean loopback feed server, generated feeds, child processes,
peak RSS, a watch for the first stored article, and imports that follow moved code.

The feed server is an asyncio HTTP/1.1 server (keep-alive, Content-Length, ETag and
Last-Modified answered with 304) in a daemon thread of the parent process, listening on
several loopback addresses (127.0.1.1, 127.0.1.2, ...: every 127/8 address is loopback on
Linux), so feeds spread over many hosts as real ones do and the fetcher's per-host limit
is not what a refresh of 10,000 feeds measures. The measured refreshes run in child
processes: the server's work is not theirs, and their peak RSS is their own.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import corpus  # noqa: E402
from support.arabic_samples import SampleArticle, rss_with_content_encoded  # noqa: E402

RSS_TYPE = "application/rss+xml; charset=utf-8"


# -- the feed server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    body: bytes
    etag: str
    last_modified: str


class LoopbackServer:
    """Serves registered paths on ``hosts`` loopback addresses (one port each)."""

    def __init__(self, hosts: int = 100) -> None:
        self.addresses = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(hosts)]
        self.ports: list[int] = []
        self.routes: dict[str, Route] = {}
        self.counts: Counter[int] = Counter()  # responses by status
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scale-feeds", daemon=True)
        self._servers: list[asyncio.Server] = []

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        for address in self.addresses:
            server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, address, 0, backlog=1024))
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        self._ready.set()
        self._loop.run_forever()

    def add(self, index: int, path: str, body: bytes, *, stamp: int = 0) -> str:
        """Serve ``body`` at ``path`` on host ``index % hosts`` with validators; its URL."""
        host = index % len(self.addresses)
        modified = format_datetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=stamp),
                                   usegmt=True)
        self.routes[path] = Route(body, f'"v{stamp}-{len(body)}"', modified)
        return f"http://{self.addresses[host]}:{self.ports[host]}{path}"

    def reset_counts(self) -> None:
        self._loop.call_soon_threadsafe(self.counts.clear)

    def snapshot(self) -> dict[int, int]:
        done = threading.Event()
        found: dict[int, int] = {}
        self._loop.call_soon_threadsafe(lambda: (found.update(self.counts), done.set()))
        done.wait(5)
        return found

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                route = self.routes.get(target)
                if route is None:
                    status, extra, body = 404, "", b"not found"
                elif (headers.get("if-none-match") == route.etag
                      or headers.get("if-modified-since") == route.last_modified):
                    status, extra, body = 304, _validators(route), b""
                else:
                    status, extra, body = 200, _validators(route), route.body
                self.counts[status] += 1
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                length = f"Content-Length: {len(body)}\r\n" if status != 304 else ""
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {RSS_TYPE}\r\n"
                             f"{extra}{length}\r\n".encode("latin-1") + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()


def _validators(route: Route) -> str:
    return f"ETag: {route.etag}\r\nLast-Modified: {route.last_modified}\r\n"


# -- generated feeds ---------------------------------------------------------------------------


def short_items(feed: int, count: int, now: datetime, pool: Sequence[str]) -> list[SampleArticle]:
    """``count`` short news items of feed ``feed``: a headline and two paragraphs from
    ``pool`` (repeats come from the translation cache) plus a sentence of their own,
    published days ago: outside the story window, so the storing refresh (not measured)
    does not spend its time clustering 10,000 feeds' items into stories."""
    items = []
    for n in range(count):
        k = feed * count + n
        first = " ".join(pool[(k * 7 + j) % len(pool)] for j in range(3))
        second = " ".join(pool[(k * 13 + j + 3) % len(pool)] for j in range(3))
        own = f"وقال مراسلنا في تقريره رقم {k} إن الوضع ما زال يتطور."
        items.append(SampleArticle(f"f{feed}-{n}", "أخبار",
                                   f"{pool[k % len(pool)].split('،')[0][:80]} ({k})",
                                   (first, second + " " + own),
                                   now - timedelta(days=3, minutes=5 * n + feed % 60)))
    return items


def sentence_pool(size: int = 400) -> list[str]:
    texts = corpus.generated_articles(max(1, size // 25), seed=3)
    sentences = [s for text in texts for p in text.split("\n\n")[1:] for s in _sentences(p)]
    return sentences[:size]


_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph) if s]


def long_articles(count: int, *, per_seed: int = 500) -> list[tuple[str, tuple[str, ...]]]:
    """``count`` distinct long articles (headline, paragraphs): bench/corpus.py's generator,
    ``per_seed`` at a time (one seed cannot make thousands); a sentence already used by an
    earlier seed gets a number of its own, so no sentence repeats anywhere."""
    seen: set[str] = set()
    made: list[tuple[str, tuple[str, ...]]] = []
    seed, unique = 100, 0
    while len(made) < count:
        for text in corpus.generated_articles(min(per_seed, count - len(made)), seed=seed):
            parts = []
            for paragraph in text.split("\n\n"):
                sentences = []
                for sentence in _sentences(paragraph):
                    if sentence in seen:
                        unique += 1
                        sentence = f"{sentence.rstrip('.؟?!')} في البيان رقم {unique}."
                    seen.add(sentence)
                    sentences.append(sentence)
                parts.append(" ".join(sentences))
            made.append((parts[0], tuple(parts[1:])))
        seed += 1
    return made


def long_items(feed: int, articles: Sequence[tuple[str, tuple[str, ...]]],
               now: datetime) -> list[SampleArticle]:
    return [SampleArticle(f"l{feed}-{n}", "أخبار", title, paragraphs,
                          now - timedelta(minutes=3 * n + feed % 60))
            for n, (title, paragraphs) in enumerate(articles)]


def feed_body(items: Sequence[SampleArticle], base_url: str) -> bytes:
    return rss_with_content_encoded(items, base_url)


def write_config(path: Path, database: Path, model: Path, feeds: Sequence[str], *,
                 per_feed: int, threads: int, concurrency: int | None,
                 beam_size: int | None = None) -> Path:
    lines = ["[storage]", f'path = "{database}"',
             "[translation]", f'model = "{model}"', f"threads = {threads}",
             "[fetch]", "timeout_seconds = 60", f"max_entries = {max(per_feed, 1)}"]
    if beam_size:
        lines.insert(lines.index("[fetch]"), f"beam_size = {beam_size}")
    if concurrency:
        lines.append(f"concurrency = {concurrency}")
    for n, url in enumerate(feeds):
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "feed {n}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- child processes ---------------------------------------------------------------------------


def run_child(script: Path, name: str, params: dict[str, Any], *,
              env: dict[str, str] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """``script --child name params`` in a fresh interpreter; its last stdout line (JSON).
    Its stderr passes through (progress lines), so a long section shows it is alive."""
    args = [sys.executable, str(script), "--child", name, json.dumps(params)]
    result = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False, env=env,
                            timeout=timeout)
    if result.returncode != 0 or not result.stdout.strip():
        sys.exit(f"child {name} failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; getrusage's ru_maxrss can carry the parent's
    size across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def progress(text: str) -> None:
    print(f"    … {text}", file=sys.stderr, flush=True)


class FirstArticleWatch:
    """Polls the database from its own connection and thread: when did the first article
    appear (seconds after ``start()``)?"""

    def __init__(self, database: Path, interval: float = 0.02) -> None:
        self.database, self.interval = database, interval
        self.first: float | None = None
        self._start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="first-article", daemon=True)

    def start(self) -> None:
        self._start = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _poll(self) -> None:
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=0.1)
        try:
            while not self._stop.is_set():
                try:
                    if db.execute("SELECT 1 FROM articles LIMIT 1").fetchone():
                        self.first = time.perf_counter() - self._start
                        return
                except sqlite3.OperationalError:
                    pass  # locked or not migrated yet: look again
                time.sleep(self.interval)
        finally:
            db.close()


# -- imports that follow moved code ------------------------------------------------------------


def first_attr(name: str, modules: Sequence[str]) -> Any:
    """``name`` from the first of ``modules`` that has it (code moves between modules)."""
    errors = []
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{module}: {exc}")
    raise ImportError(f"no {name} in any of {list(modules)}: {errors}")


def stub_sniffio() -> None:
    """A what-if: httpcore 1.0 runs ``import sniffio`` whenever it sets up a lock or
    semaphore (several times a request); sniffio is not installed here, and a failed import
    is not cached, so each one searches sys.path again. This gives it the module."""
    import importlib.util
    import types

    if importlib.util.find_spec("sniffio") is None:
        module = types.ModuleType("sniffio")
        module.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = module


def what_if_digest() -> list[str]:
    """A what-if for section 3, the two one-line fixes suggested in the report: timestamps
    parsed with datetime.fromisoformat instead of strptime, and bot.analysis's per-text
    token cache large enough for a 48-hour window (1,024 texts is ~250 stories' worth)."""
    from functools import lru_cache

    import bot.analysis as analysis
    import bot.store.base as base
    import bot.store.records as records
    import bot.store.stories as stories

    def from_db_time(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    base.from_db_time = records.from_db_time = stories.from_db_time = from_db_time
    analysis._tokens = lru_cache(maxsize=1 << 16)(analysis._tokens.__wrapped__)
    return ["from_db_time via fromisoformat", "analysis._tokens cache 65,536"]


def fetch_settings(settings: Any) -> Any:
    return first_attr("fetch_settings", ["bot.stages"])(settings) if _has("bot.stages") \
        else first_attr("_fetch_settings", ["bot.cli"])(settings)


def engine_settings(settings: Any) -> Any:
    return first_attr("engine_settings", ["bot.stages"])(settings) if _has("bot.stages") \
        else first_attr("_engine_settings", ["bot.cli"])(settings)


def _has(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# -- section 4: the digest fan-out against the fake Bot API --------------------------------------

READERS = [1001 + n for n in range(10)]   # users searching during the fan-out, in turn
SEARCH_EVERY = 0.5                          # seconds between two /search pushes


def stamped_telegram() -> Any:
    """A FakeTelegram that notes when (time.monotonic) each accepted message arrived."""
    from support.fake_telegram import FakeTelegram

    class Stamped(FakeTelegram):
        def __init__(self) -> None:
            self.stamps: list[tuple[int, int, float]] = []  # chat, message id, arrival
            super().__init__()

        def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
            message: dict[str, Any] = super()._api_sendMessage(params)
            arrived = time.monotonic()
            with self._cond:
                self.stamps.append((message["chat"]["id"], message["message_id"], arrived))
            return message

    return Stamped()


def subscribe_chats(store: Any, count: int, now: datetime) -> list[int]:
    """``count`` chats (a fifth groups), subscribed, digest time still unset."""
    ids = []
    for n in range(count):
        group = n % 5 == 4
        chat_id = -100_000_000_000 - n if group else 10_000 + n
        store.ensure_chat(chat_id, "supergroup" if group else "private", f"chat {n}",
                          times=("00:00",), timezone="UTC", max_items=10, now=now)
        store.set_subscribed(chat_id, True, now)
        ids.append(chat_id)
        if n % 2000 == 1999:
            progress(f"{n + 1} chats subscribed")
    return ids


def set_due(database: Path, due: datetime, reschedule: Any) -> None:
    """Every subscribed chat's digest time becomes ``due`` (HH:MM:SS UTC), its next digest
    time too: one UPDATE, checked against what reschedule() stores for one chat."""
    from bot.store import Store
    from bot.store.base import to_db_time

    wall = due.strftime("%H:%M:%S")
    with Store(database) as store:
        store._execute_write("UPDATE chats SET times = :t, next_due_at = :d WHERE subscribed = 1",
                             {"t": wall, "d": to_db_time(due)})
        chat = store.subscribed_chats()[0]
        expected = reschedule(store, chat, due - timedelta(seconds=1))
        assert expected == due, (expected, due)


class SearchPusher:
    """Pushes /search from READERS in turn every SEARCH_EVERY seconds, in a thread."""

    def __init__(self, tg: Any, word: str) -> None:
        self.tg, self.word = tg, word
        self.pushed: dict[int, list[float]] = {chat: [] for chat in READERS}
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="search-pusher", daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            chat = READERS[n % len(READERS)]
            self.pushed[chat].append(time.monotonic())
            self.tg.push_message(chat, f"/search {self.word}")
            n += 1
            next_at += SEARCH_EVERY
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def latencies(self, stamps: Sequence[tuple[int, int, float]]) -> tuple[list[float], int]:
        """Seconds from each push to its reply (the chat's replies in order), and how many
        pushes got none."""
        replies: dict[int, list[float]] = {chat: [] for chat in READERS}
        for chat, _message, arrived in stamps:
            if chat in replies and arrived >= self.started:
                replies[chat].append(arrived)
        found, missing = [], 0
        for chat, pushes in self.pushed.items():
            answers = replies[chat]
            found += [a - p for p, a in zip(pushes, answers, strict=False)]
            missing += max(0, len(pushes) - len(answers))
        return found, missing


def outbox_state(database: Path, due_text: str) -> tuple[int, int, int]:
    """(chats still due, outbox rows pending or sending, digest rows) from a read-only
    connection."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        due = db.execute("SELECT COUNT(*) FROM chats WHERE subscribed = 1 "
                         "AND next_due_at <= ?", (due_text,)).fetchone()[0]
        waiting = db.execute("SELECT COUNT(*) FROM outbox WHERE status IN "
                             "('pending', 'sending')").fetchone()[0]
        digests = db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'").fetchone()[0]
        return int(due), int(waiting), int(digests)
    finally:
        db.close()


def delivered_once(database: Path, chats: Sequence[int],
                   stamps: Sequence[tuple[int, int, float]]) -> dict[str, int]:
    """Compare the fake's messages per chat with the outbox's digest rows."""
    return delivered_once_at(database, chats, stamps)


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


# -- bench/scale_pg.py: the same checks on SQLite or PostgreSQL, and processes watched ---------


class DatabaseReader:
    """Read-only queries from the bench process on an SQLite file or a PostgreSQL URL, with
    ``?`` placeholders; one connection, autocommit (each query sees the latest commits).
    ``value`` answers None while the database or its tables do not exist yet."""

    def __init__(self, location: Path | str) -> None:
        self.location = location
        self.postgres = str(location).startswith(("postgresql://", "postgres://"))
        self._db: Any = None

    def _connect(self) -> Any:
        if self._db is None:
            if self.postgres:
                import psycopg

                self._db = psycopg.connect(str(self.location), autocommit=True)
            else:
                self._db = sqlite3.connect(f"file:{self.location}?mode=ro", uri=True,
                                           timeout=5)
        return self._db

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            sql = sql.replace("?", "%s")
        return list(self._connect().execute(sql, tuple(params)).fetchall())

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        if self.postgres:
            import psycopg

            errors = (psycopg.Error,)
        try:
            found = self.rows(sql, params)
        except errors:
            self.close()   # not created yet (or locked): a new connection next time
            return None
        return found[0][0] if found else None

    def close(self) -> None:
        if self._db is not None:
            import contextlib

            with contextlib.suppress(Exception):   # a broken connection is closed enough
                self._db.close()
            self._db = None

    def __enter__(self) -> DatabaseReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def outbox_state_at(location: Path | str, due_text: str) -> tuple[int, int, int]:
    """:func:`outbox_state` on an SQLite file or a PostgreSQL URL."""
    with DatabaseReader(location) as db:
        due = db.rows("SELECT COUNT(*) FROM chats WHERE subscribed = 1 AND next_due_at <= ?",
                      (due_text,))[0][0]
        waiting = db.rows("SELECT COUNT(*) FROM outbox WHERE status IN "
                          "('pending', 'sending')")[0][0]
        digests = db.rows("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'")[0][0]
    return int(due), int(waiting), int(digests)


def delivered_once_at(location: Path | str, chats: Sequence[int],
                      stamps: Sequence[tuple[int, int, float]]) -> dict[str, int]:
    """:func:`delivered_once` on an SQLite file or a PostgreSQL URL."""
    with DatabaseReader(location) as db:
        rows = db.rows("SELECT chat_id, status, telegram_message_id FROM outbox "
                       "WHERE kind = 'digest'")
    return compare_deliveries(rows, chats, stamps)


def compare_deliveries(rows: Sequence[Sequence[Any]], chats: Sequence[int],
                       stamps: Sequence[tuple[int, int, float]]) -> dict[str, int]:
    """(chat, status, Telegram message id) outbox rows against the fake's stamps."""
    wanted = set(chats)
    at_fake: dict[int, list[int]] = {}
    for chat, message, _ in stamps:
        if chat in wanted:
            at_fake.setdefault(chat, []).append(message)
    in_outbox: dict[int, list[int]] = {}
    not_sent = 0
    for chat, status, message in rows:
        in_outbox.setdefault(int(chat), []).append(message)
        not_sent += status != "sent"
    mismatched = sum(1 for chat in wanted
                     if sorted(at_fake.get(chat, [])) != sorted(in_outbox.get(chat, [])))
    duplicates = sum(len(v) - len(set(v)) for v in at_fake.values())
    return {"outbox_rows": len(rows), "fake_messages": sum(map(len, at_fake.values())),
            "chats_without_digest": sum(1 for chat in wanted if not in_outbox.get(chat)),
            "chats_mismatched": mismatched, "not_sent": not_sent, "duplicates": duplicates}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process (/proc/PID/stat), its threads included."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far (/proc/stat), for a busy share."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)   # idle + iowait
    total = sum(values[:8])   # guest time is already counted in user
    return total - idle, total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of all cores' time spent busy between two machine_jiffies() readings."""
    return (after[0] - before[0]) / max(1, after[1] - before[1])
