"""Chats, their digest settings and sources, sent articles, and the durable outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from bot.models import Chat, ChatWord, OutboxMessage
from bot.store.base import Database, chunks, optional_time, placeholders, to_db_time
from bot.store.connection import Connection, Row

# An outbox row: pending -> sending -> sent | failed. "sending" is set just before the call
# to Telegram; a rejected send goes back to pending. A row still "sending" at start-up was
# interrupted by a crash and may already be in the chat (see Outbox in bot.telegram.delivery).
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


class ChatQueries(Database):
    """Everything the Telegram side stores. Times in ``chats.times`` are comma-separated."""

    def get_chat(self, chat_id: int) -> Chat | None:
        row = self._db.execute("SELECT * FROM chats WHERE id = :id", {"id": chat_id}).fetchone()
        return self._chat(row) if row else None

    def ensure_chat(self, chat_id: int, chat_type: str, title: str, *, times: Sequence[str],
                    timezone: str, max_items: int, now: datetime,
                    language: str | None = None) -> Chat:
        """The chat's row, created with the default settings on first contact. ``language``
        (the interface language of the user seen) is taken only while the chat has none."""
        self._execute_write(
            "INSERT INTO chats (id, type, title, times, timezone, max_items, created, language) "
            "VALUES (:id, :type, :title, :times, :tz, :items, :now, :lang) "
            "ON CONFLICT (id) DO UPDATE SET title = excluded.title, type = excluded.type, "
            "language = COALESCE(chats.language, excluded.language)",
            {"id": chat_id, "type": chat_type, "title": title, "times": ",".join(times),
             "tz": timezone, "items": max_items, "now": to_db_time(now), "lang": language})
        chat = self.get_chat(chat_id)
        assert chat is not None
        return chat

    def set_chat_language(self, chat_id: int, language: str) -> None:
        """The chat's interface language, chosen with /language."""
        self._execute_write("UPDATE chats SET language = :lang WHERE id = :id",
                            {"lang": language, "id": chat_id})

    def set_subscribed(self, chat_id: int, subscribed: bool, now: datetime,
                       reason: str | None = None) -> None:
        """Subscribe (clearing any inactive reason) or unsubscribe, with a reason if forced.
        Unsubscribing clears the next digest time; subscribing leaves it to the caller
        (bot.telegram.schedule.reschedule), which knows the chat's timezone."""
        self._execute_write(
            "UPDATE chats SET subscribed = :on, inactive_reason = :reason, "
            "subscribed_at = CASE WHEN :on = 1 THEN COALESCE(subscribed_at, :now) "
            "ELSE NULL END, "
            "next_due_at = CASE WHEN :on = 1 THEN next_due_at ELSE NULL END WHERE id = :id",
            {"on": int(subscribed), "reason": reason, "now": to_db_time(now), "id": chat_id})

    def update_chat_settings(self, chat_id: int, *, times: Sequence[str] | None = None,
                             timezone: str | None = None, max_items: int | None = None) -> Chat:
        self._execute_write(
            "UPDATE chats SET times = COALESCE(:times, times), "
            "timezone = COALESCE(:tz, timezone), max_items = COALESCE(:items, max_items) "
            "WHERE id = :id",
            {"times": ",".join(times) if times is not None else None, "tz": timezone,
             "items": max_items, "id": chat_id})
        chat = self.get_chat(chat_id)
        assert chat is not None
        return chat

    def set_next_due(self, chat_id: int, due: datetime | None) -> None:
        """The chat's next scheduled digest time (None: no digests, e.g. unsubscribed)."""
        self._execute_write("UPDATE chats SET next_due_at = :due WHERE id = :id",
                            {"due": to_db_time(due) if due else None, "id": chat_id})

    def due_chats(self, now: datetime, *, after: tuple[datetime, int] | None = None,
                  limit: int = 500) -> list[Chat]:
        """Subscribed chats whose next digest time is at or before ``now``: earliest first,
        at most ``limit``, after ``after`` (the last due time and chat id of the previous
        batch). A range of the (subscribed, next_due_at) index, already in order."""
        start, last_id = (to_db_time(after[0]), after[1]) if after else ("", 0)
        rows = self._db.execute(
            "SELECT * FROM chats WHERE subscribed = 1 "
            "AND next_due_at >= :start AND next_due_at <= :now "
            "AND (next_due_at > :start OR id > :last) "
            "ORDER BY next_due_at, id LIMIT :limit",
            {"start": start, "now": to_db_time(now), "last": last_id, "limit": limit})
        return [self._chat(row) for row in rows.fetchall()]

    def set_feed_excluded(self, chat_id: int, feed_id: int, excluded: bool) -> None:
        sql = ("INSERT INTO chat_excluded_feeds (chat_id, feed_id) VALUES (:chat, :feed) "
               "ON CONFLICT DO NOTHING" if excluded else
               "DELETE FROM chat_excluded_feeds WHERE chat_id = :chat AND feed_id = :feed")
        self._execute_write(sql, {"chat": chat_id, "feed": feed_id})

    def set_thread(self, chat_id: int, thread_id: int | None) -> None:
        """Deliver to this forum topic from now on (None: the group's General topic)."""
        self._execute_write("UPDATE chats SET thread_id = :t WHERE id = :id",
                            {"t": thread_id, "id": chat_id})

    # filter and alert words -----------------------------------------------------------------

    def chat_words(self, chat_id: int, kind: str | None = None) -> list[ChatWord]:
        """The chat's words (kinds: include, exclude, alert), in the order they were added."""
        sql = "SELECT id, kind, word FROM chat_words WHERE chat_id = :chat"
        if kind is not None:
            sql += " AND kind = :kind"
        rows = self._db.execute(sql + " ORDER BY id", {"chat": chat_id, "kind": kind})
        return [ChatWord(row["id"], row["kind"], row["word"]) for row in rows.fetchall()]

    def add_chat_word(self, chat_id: int, kind: str, word: str, now: datetime) -> bool:
        """Add a word; False when the chat already has it (same kind)."""
        return self._execute_write(
            "INSERT INTO chat_words (chat_id, kind, word, created) "
            "VALUES (:chat, :kind, :word, :now) ON CONFLICT DO NOTHING",
            {"chat": chat_id, "kind": kind, "word": word, "now": to_db_time(now)}) > 0

    def remove_chat_word(self, chat_id: int, word_id: int) -> ChatWord | None:
        """Remove one of the chat's words by id; returns it, or None if there was none."""
        found = [w for w in self.chat_words(chat_id) if w.id == word_id]
        if not found:
            return None
        self._execute_write("DELETE FROM chat_words WHERE id = :id AND chat_id = :chat",
                            {"id": word_id, "chat": chat_id})
        return found[0]

    def chats_with_words(self, kind: str) -> dict[int, list[str]]:
        """Every active chat's words of one kind (for alerts after a refresh)."""
        rows = self._db.execute(
            "SELECT w.chat_id, w.word FROM chat_words w JOIN chats c ON c.id = w.chat_id "
            "WHERE w.kind = :kind AND c.inactive_reason IS NULL ORDER BY w.chat_id, w.id",
            {"kind": kind})
        found: dict[int, list[str]] = {}
        for row in rows.fetchall():
            found.setdefault(row[0], []).append(row[1])
        return found

    def subscribed_chats(self) -> list[Chat]:
        rows = self._db.execute("SELECT * FROM chats WHERE subscribed = 1 ORDER BY id")
        return [self._chat(row) for row in rows.fetchall()]

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything moves to the new id (ON UPDATE CASCADE).

        If the new id already has a row (the supergroup talked to the bot first), the two are
        merged: the migrated chat's settings win, the lists (words, excluded sources) and
        the stories sent are united, both outboxes are kept, the watermark and last digest
        times are the later ones. Nothing happens when the old id is gone (already moved).
        """
        params = {"o": old_id, "n": new_id}
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM chats WHERE id = :o", params).fetchone():
                return
            if db.execute("SELECT 1 FROM chats WHERE id = :n", params).fetchone():
                self._merge_chat_rows(db, params)
            db.execute("UPDATE chats SET id = :n, type = 'supergroup' WHERE id = :o", params)

    @staticmethod
    def _merge_chat_rows(db: Connection, params: dict[str, int]) -> None:
        """Fold the new id's row into the old one's, then drop it (its duplicates go too)."""
        for column in ("watermark", "last_digest_at", "last_due_at"):
            db.execute(f"UPDATE chats SET {column} = (SELECT MAX(c.{column}) FROM chats c "
                       "WHERE c.id IN (:o, :n)) WHERE id = :o", params)
        for table, keys in (("chat_words", ("kind", "word")),
                            ("chat_excluded_feeds", ("feed_id",)),
                            ("chat_stories", ("story_id",))):
            same = " AND ".join(f"o.{k} = {table}.{k}" for k in keys)
            # UPDATE, not INSERT ... SELECT: word ids (used by remove buttons) stay the same.
            db.execute(f"UPDATE {table} SET chat_id = :o WHERE chat_id = :n AND NOT EXISTS "
                       f"(SELECT 1 FROM {table} o WHERE o.chat_id = :o AND {same})", params)
        db.execute("UPDATE outbox SET chat_id = :o WHERE chat_id = :n", params)
        db.execute("DELETE FROM chats WHERE id = :n", params)

    def count_chats(self) -> tuple[int, int]:
        """All chats known, and those subscribed."""
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(subscribed), 0) FROM chats")
        total, subscribed = row.fetchone()
        return int(total), int(subscribed)

    # digests --------------------------------------------------------------------------------

    def digest_candidates(self, chat: Chat, *, expiry: datetime) -> list[tuple[int, int]]:
        """(article id, story id) of articles this chat may still get: above its watermark,
        stored after ``expiry``, from its active sources, of stories it has not been sent.
        Oldest first; the id range keeps it an index scan."""
        rows = self._db.execute(
            "SELECT a.id, a.story_id FROM articles a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.id > :low AND a.fetched >= :expiry "
            "AND f.active = 1 "
            "AND a.feed_id NOT IN (SELECT feed_id FROM chat_excluded_feeds "
            "                      WHERE chat_id = :chat) "
            "AND NOT EXISTS (SELECT 1 FROM chat_stories s "
            "                WHERE s.chat_id = :chat AND s.story_id = a.story_id) "
            "ORDER BY a.id",
            {"low": max(chat.watermark, self._first_id_since(expiry) - 1),
             "expiry": to_db_time(expiry), "chat": chat.id})
        return [(row[0], row[1]) for row in rows.fetchall()]

    def _first_id_since(self, moment: datetime) -> int:
        # MIN(+id), not MIN(id): with a bare MIN(id) SQLite walks the rowid upwards until a
        # row is recent enough, i.e. through the whole archive (ids grow with fetch time);
        # "+" turns that off, so it reads the recent range of the ``fetched`` index instead.
        row = self._db.execute("SELECT MIN(+id) FROM articles WHERE fetched >= :t",
                               {"t": to_db_time(moment)}).fetchone()
        return int(row[0]) if row[0] is not None else 0

    def queue_digest(self, chat_id: int, story_ids: Sequence[int], messages: Sequence[str],
                     now: datetime, *, kind: str = "digest", buttons: str | None = None,
                     thread_id: int | None = None, watermark: int | None = None,
                     due: datetime | None = None) -> str:
        """Write messages as pending and their stories as sent, in one transaction.

        ``buttons`` (JSON) go under the last message. ``watermark`` moves the chat's article
        watermark forward (never back); ``due`` records the scheduled time this digest served.
        After this returns, delivery may crash at any point: pending messages are resumed and
        the stories are never chosen again for this chat.
        """
        digest_id = uuid.uuid4().hex
        stamp = to_db_time(now)
        last = len(messages) - 1
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO chat_stories (chat_id, story_id, sent_at) "
                "VALUES (:chat, :story, :now) ON CONFLICT DO NOTHING",
                [{"chat": chat_id, "story": s, "now": stamp} for s in story_ids])
            db.executemany(
                "INSERT INTO outbox (chat_id, digest_id, seq, text, created, kind, thread_id, "
                "                    buttons) "
                "VALUES (:chat, :digest, :seq, :text, :now, :kind, :thread, :buttons)",
                [{"chat": chat_id, "digest": digest_id, "seq": n, "text": t, "now": stamp,
                  "kind": kind, "thread": thread_id, "buttons": buttons if n == last else None}
                 for n, t in enumerate(messages)])
            if kind == "digest":
                db.execute("UPDATE chats SET last_digest_at = :now WHERE id = :chat",
                           {"now": stamp, "chat": chat_id})
            self._advance(db, chat_id, watermark, due)
        return digest_id

    def advance_chat(self, chat_id: int, *, watermark: int | None = None,
                     due: datetime | None = None) -> None:
        """Move the watermark and/or the last served due time without sending anything."""
        with self._transaction() as db:
            self._advance(db, chat_id, watermark, due)

    @staticmethod
    def _advance(db: Connection, chat_id: int, watermark: int | None,
                 due: datetime | None) -> None:
        if watermark is not None:
            # Not MAX(a, b): that is SQLite's; PostgreSQL says GREATEST.
            db.execute("UPDATE chats SET watermark = :w WHERE id = :chat AND watermark < :w",
                       {"w": watermark, "chat": chat_id})
        if due is not None:
            db.execute("UPDATE chats SET last_due_at = :due WHERE id = :chat",
                       {"due": to_db_time(due), "chat": chat_id})

    def story_ids(self, article_ids: Sequence[int]) -> list[int]:
        """The distinct stories of these articles."""
        found: list[int] = []
        for chunk in chunks(list(dict.fromkeys(article_ids))):
            marks, params = placeholders("a", chunk)
            rows = self._db.execute(
                f"SELECT DISTINCT story_id FROM articles WHERE id IN ({marks})", params)
            found.extend(row[0] for row in rows)
        return list(dict.fromkeys(found))

    def clear_thread(self, chat_id: int) -> None:
        """The chat's forum topic is gone: deliver everything to its General topic."""
        with self._transaction() as db:
            db.execute("UPDATE chats SET thread_id = NULL WHERE id = :chat", {"chat": chat_id})
            db.execute("UPDATE outbox SET thread_id = NULL WHERE chat_id = :chat "
                       "AND status IN (:p, :s)", {"chat": chat_id, "p": PENDING, "s": SENDING})

    def stories_sent(self, chat_id: int, story_ids: Sequence[int]) -> set[int]:
        """Which of these stories this chat was already sent (digest or alert)."""
        found: set[int] = set()
        for chunk in chunks(list(dict.fromkeys(story_ids))):
            marks, params = placeholders("s", chunk)
            params["chat"] = chat_id
            rows = self._db.execute(
                "SELECT story_id FROM chat_stories "
                f"WHERE chat_id = :chat AND story_id IN ({marks})", params)
            found.update(row[0] for row in rows)
        return found

    def count_recent(self, chat_id: int, kind: str, since: datetime) -> int:
        """Outbox messages of one kind queued for this chat since ``since`` (alert budget)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE chat_id = :chat AND kind = :kind "
            "AND created >= :since",
            {"chat": chat_id, "kind": kind, "since": to_db_time(since)}).fetchone()
        return int(row[0])

    # outbox ---------------------------------------------------------------------------------

    def pending_messages(self, limit: int = 100) -> list[OutboxMessage]:
        """Pending messages, oldest first (so each chat's digests arrive in order)."""
        rows = self._db.execute(
            "SELECT * FROM outbox WHERE status = :p ORDER BY id LIMIT :limit",
            {"p": PENDING, "limit": limit})
        return [_outbox(row) for row in rows.fetchall()]

    def pending_after(self, after_id: int, limit: int = 500) -> list[tuple[int, int]]:
        """(id, chat_id) of pending messages with ids above ``after_id``, oldest first: the
        outbox reads a long queue in steps instead of loading every text at once."""
        rows = self._db.execute(
            "SELECT id, chat_id FROM outbox WHERE status = :p AND id > :after "
            "ORDER BY id LIMIT :limit", {"p": PENDING, "after": after_id, "limit": limit})
        return [(int(row[0]), int(row[1])) for row in rows.fetchall()]

    def outbox_message(self, message_id: int) -> OutboxMessage | None:
        row = self._db.execute("SELECT * FROM outbox WHERE id = :id",
                               {"id": message_id}).fetchone()
        return _outbox(row) if row else None

    def mark_sending(self, message_id: int) -> bool:
        """pending -> sending, just before the call to Telegram; counts the attempt.
        False if the message is no longer pending (e.g. its chat was deactivated)."""
        return self._execute_write(
            "UPDATE outbox SET status = :s, attempts = attempts + 1 "
            "WHERE id = :id AND status = :p", {"s": SENDING, "p": PENDING, "id": message_id}) > 0

    def mark_pending(self, message_id: int) -> None:
        """sending -> pending: Telegram did not take the message; it will be sent again."""
        self._execute_write("UPDATE outbox SET status = :p WHERE id = :id AND status = :s",
                            {"p": PENDING, "s": SENDING, "id": message_id})

    def mark_sent(self, message_id: int, telegram_message_id: int, now: datetime) -> None:
        """Telegram accepted it: final, whatever the row said meanwhile."""
        self._execute_write(
            "UPDATE outbox SET status = :s, telegram_message_id = :tg, sent_at = :now, "
            "error = NULL WHERE id = :id",
            {"s": SENT, "tg": telegram_message_id, "now": to_db_time(now), "id": message_id})

    def mark_failed(self, message_id: int, error: str) -> None:
        self._execute_write("UPDATE outbox SET status = :s, error = :e WHERE id = :id",
                            {"s": FAILED, "e": error, "id": message_id})

    def resume_sending(self) -> int:
        """At start-up: messages left "sending" by a crash go back to pending (resent)."""
        return self._execute_write("UPDATE outbox SET status = :p WHERE status = :s",
                                   {"p": PENDING, "s": SENDING})

    def fail_pending_for_chat(self, chat_id: int, error: str) -> int:
        """Fail the chat's unsent messages; one being sent right now is included (if
        Telegram accepts it after all, ``mark_sent`` still records it as sent)."""
        return self._execute_write(
            "UPDATE outbox SET status = :f, error = :e "
            "WHERE chat_id = :chat AND status IN (:p, :s)",
            {"f": FAILED, "e": error, "chat": chat_id, "p": PENDING, "s": SENDING})

    def forget_sent_texts(self, before: datetime) -> int:
        """Empty the text of messages sent (or failed) before ``before``: delivered digests
        need not be kept. Returns how many texts were dropped."""
        return self._execute_write(
            "UPDATE outbox SET text = '' WHERE status IN (:sent, :failed) "
            "AND COALESCE(sent_at, created) < :before AND text <> ''",
            {"sent": SENT, "failed": FAILED, "before": to_db_time(before)})

    def outbox_messages(self, chat_id: int | None = None) -> list[OutboxMessage]:
        where, params = ("WHERE chat_id = :chat", {"chat": chat_id}) if chat_id else ("", {})
        rows = self._db.execute(f"SELECT * FROM outbox {where} ORDER BY id", params)
        return [_outbox(row) for row in rows.fetchall()]

    def _chat(self, row: Row) -> Chat:
        excluded = self._db.execute(
            "SELECT feed_id FROM chat_excluded_feeds WHERE chat_id = :id", {"id": row["id"]})
        return Chat(
            id=row["id"], type=row["type"], title=row["title"],
            subscribed=bool(row["subscribed"]),
            times=tuple(t for t in row["times"].split(",") if t), timezone=row["timezone"],
            max_items=row["max_items"], subscribed_at=optional_time(row["subscribed_at"]),
            last_digest_at=optional_time(row["last_digest_at"]),
            inactive_reason=row["inactive_reason"],
            excluded_feeds=frozenset(r[0] for r in excluded.fetchall()),
            watermark=row["watermark"], thread_id=row["thread_id"],
            last_due_at=optional_time(row["last_due_at"]),
            next_due_at=optional_time(row["next_due_at"]), language=row["language"])


def _outbox(row: Row) -> OutboxMessage:
    return OutboxMessage(id=row["id"], chat_id=row["chat_id"], digest_id=row["digest_id"],
                         seq=row["seq"], text=row["text"], status=row["status"],
                         attempts=row["attempts"], kind=row["kind"],
                         thread_id=row["thread_id"], buttons=row["buttons"])

