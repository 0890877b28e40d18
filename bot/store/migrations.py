"""Ordered schema migrations. Append new steps; never edit a released one.

Plain SQL that PostgreSQL also understands, except the FTS5 table and its triggers, which are
SQLite's full-text index and stay confined to the last statements of step 1 (its triggers are
recreated by steps 4 and 5).
"""

from __future__ import annotations

# Rows holding a letter the Persian folding of schema 14 changes (ی ک ۀ ھ ە ۃ, ZWNJ).
_PERSIAN_LETTERS = " OR ".join(
    f"instr(title_original || text_original, char({code})) > 0"
    for code in (0x06CC, 0x06A9, 0x06C0, 0x06BE, 0x06D5, 0x06C3, 0x200C))

MIGRATIONS: tuple[str, ...] = (
    # 1: feeds, articles, translation cache, full-text index
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_fetched TEXT,
        next_check TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created TEXT NOT NULL
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        entry_key TEXT NOT NULL,
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL UNIQUE,
        published TEXT NOT NULL,
        fetched TEXT NOT NULL,
        language TEXT NOT NULL,
        title_original TEXT NOT NULL,
        text_original TEXT NOT NULL,
        title_translated TEXT NOT NULL,
        text_translated TEXT NOT NULL,
        lead TEXT NOT NULL,
        model TEXT NOT NULL,
        untranslated INTEGER NOT NULL DEFAULT 0,
        UNIQUE (feed_id, entry_key)
    );
    CREATE INDEX articles_published ON articles (published);
    CREATE TABLE translation_cache (
        model TEXT NOT NULL,
        source TEXT NOT NULL,
        translation TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (model, source)
    );
    CREATE VIRTUAL TABLE articles_fts USING fts5 (
        title_translated, text_translated, title_original, text_original,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title_translated, text_translated,
                                  title_original, text_original)
        VALUES (new.id, new.title_translated, new.text_translated,
                nashra_fold(new.title_original), nashra_fold(new.text_original));
    END;
    CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER articles_fts_update AFTER UPDATE ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
        INSERT INTO articles_fts (rowid, title_translated, text_translated,
                                  title_original, text_original)
        VALUES (new.id, new.title_translated, new.text_translated,
                nashra_fold(new.title_original), nashra_fold(new.text_original));
    END;
    """,
    # 2: Telegram chats and their settings, per-chat sent articles, the durable outbox,
    #    and feeds added by admins from the chat
    """
    ALTER TABLE feeds ADD COLUMN origin TEXT NOT NULL DEFAULT 'config';
    ALTER TABLE feeds ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        subscribed INTEGER NOT NULL DEFAULT 0,
        times TEXT NOT NULL,
        timezone TEXT NOT NULL,
        max_items INTEGER NOT NULL,
        subscribed_at TEXT,
        last_digest_at TEXT,
        inactive_reason TEXT,
        created TEXT NOT NULL
    );
    CREATE TABLE chat_excluded_feeds (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        PRIMARY KEY (chat_id, feed_id)
    );
    CREATE TABLE chat_articles (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, article_id)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        digest_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        text TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        telegram_message_id INTEGER,
        created TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX outbox_status ON outbox (status, id);
    """,
    # 3: where a feed permanently moved (301/308); the configured URL stays its identity
    """
    ALTER TABLE feeds ADD COLUMN fetch_url TEXT;
    """,
    # 4: stories (one event across outlets), per-chat watermark and sent stories, filter and
    #    alert words, forum topics, outbox message kinds and buttons, digest catch-up; the
    #    full-text index is rewritten only when an article's text changes (not its story)
    """
    DROP TRIGGER articles_fts_update;
    CREATE TRIGGER articles_fts_update
    AFTER UPDATE OF title_translated, text_translated, title_original, text_original
    ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
        INSERT INTO articles_fts (rowid, title_translated, text_translated,
                                  title_original, text_original)
        VALUES (new.id, new.title_translated, new.text_translated,
                nashra_fold(new.title_original), nashra_fold(new.text_original));
    END;
    ALTER TABLE articles ADD COLUMN story_id INTEGER;
    UPDATE articles SET story_id = id;
    CREATE INDEX articles_story ON articles (story_id);
    CREATE INDEX articles_fetched ON articles (fetched);
    CREATE TABLE story_terms (
        term TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        PRIMARY KEY (term, article_id)
    );
    CREATE INDEX story_terms_article ON story_terms (article_id);
    CREATE TABLE chat_stories (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        story_id INTEGER NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, story_id)
    );
    INSERT INTO chat_stories (chat_id, story_id, sent_at)
        SELECT chat_id, article_id, sent_at FROM chat_articles;
    ALTER TABLE chats ADD COLUMN watermark INTEGER NOT NULL DEFAULT 0;
    UPDATE chats SET watermark = COALESCE(
        (SELECT MAX(article_id) FROM chat_articles WHERE chat_articles.chat_id = chats.id), 0);
    ALTER TABLE chats ADD COLUMN thread_id INTEGER;
    ALTER TABLE chats ADD COLUMN last_due_at TEXT;
    CREATE TABLE chat_words (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        kind TEXT NOT NULL,
        word TEXT NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (chat_id, kind, word)
    );
    ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'digest';
    ALTER TABLE outbox ADD COLUMN thread_id INTEGER;
    ALTER TABLE outbox ADD COLUMN buttons TEXT;
    CREATE INDEX outbox_chat_kind ON outbox (chat_id, kind, created);
    """,
    # 5: the folded Arabic (bot.textnorm.normalize_arabic) is stored beside the original, filled
    #    by whoever writes the row, so the full-text triggers call no application function and
    #    any SQLite client can write the database. The index content stays the same. The
    #    backfill is this step's only call of nashra_fold (registered by Nashra's connection).
    #    Rows written without the folded columns (NULL) are indexed with the unfolded original.
    """
    DROP TRIGGER articles_fts_insert;
    DROP TRIGGER articles_fts_update;
    DROP TRIGGER articles_fts_delete;
    ALTER TABLE articles ADD COLUMN title_folded TEXT;
    ALTER TABLE articles ADD COLUMN text_folded TEXT;
    UPDATE articles SET title_folded = nashra_fold(title_original),
                        text_folded = nashra_fold(text_original);
    CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title_translated, text_translated,
                                  title_original, text_original)
        VALUES (new.id, new.title_translated, new.text_translated,
                COALESCE(new.title_folded, new.title_original),
                COALESCE(new.text_folded, new.text_original));
    END;
    CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER articles_fts_update
    AFTER UPDATE OF title_translated, text_translated, title_original, text_original,
                    title_folded, text_folded
    ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
        INSERT INTO articles_fts (rowid, title_translated, text_translated,
                                  title_original, text_original)
        VALUES (new.id, new.title_translated, new.text_translated,
                COALESCE(new.title_folded, new.title_original),
                COALESCE(new.text_folded, new.text_original));
    END;
    """,
    # 6: each chat's next digest time (UTC text; NULL when not subscribed), read by one index
    #    range instead of a job per chat. Local times need the chat's timezone rules, which
    #    SQL lacks: subscribed chats start out due now (SQLite's CURRENT_TIMESTAMP has the
    #    stored format), and the first tick applies the catch-up rules and stores the next.
    """
    ALTER TABLE chats ADD COLUMN next_due_at TEXT;
    UPDATE chats SET next_due_at = CURRENT_TIMESTAMP WHERE subscribed = 1;
    CREATE INDEX chats_next_due ON chats (subscribed, next_due_at);
    """,
    # 7: what search ranking needs beside the full-text index, without the article rows (each
    #    holds the whole text twice): publication times by id, in a covering index. Built
    #    from the rows already stored; SQLite keeps it current, with no trigger.
    """
    CREATE INDEX articles_recency ON articles (id, published);
    """,
    # 8: digest candidates (a chat's unsent articles of the last hours) from one covering
    #    index: each chat due in a tick reads its id range without touching the article rows.
    """
    CREATE INDEX articles_candidates ON articles (id, fetched, feed_id, story_id);
    """,
    # 9: search with stems (bot.terms). Each field's stems are stored beside the text, filled
    #    by whoever writes the row; the backfill is this step's only call of nashra_stems. The
    #    index holds no copy of any text (contentless): exact English (title, lead, text),
    #    folded Arabic (title, text), and the stems of both. Its triggers hand it the same
    #    column values on insert and on delete, as a contentless index requires. Search also
    #    filters by source and date and keeps one result per story: those come with the ids,
    #    from one covering index.
    """
    DROP TRIGGER articles_fts_insert;
    DROP TRIGGER articles_fts_update;
    DROP TRIGGER articles_fts_delete;
    DROP TABLE articles_fts;
    DROP INDEX articles_recency;
    ALTER TABLE articles ADD COLUMN title_stems TEXT;
    ALTER TABLE articles ADD COLUMN text_stems TEXT;
    UPDATE articles SET title_stems = nashra_stems(title_translated, title_original),
                        text_stems = nashra_stems(text_translated, text_original);
    CREATE INDEX articles_search ON articles (id, published, feed_id, story_id);
    CREATE VIRTUAL TABLE search_index USING fts5 (
        title_en, lead_en, text_en, title_ar, text_ar, title_stems, text_stems,
        content = '', tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO search_index (rowid, title_en, lead_en, text_en, title_ar, text_ar,
                              title_stems, text_stems)
        SELECT id, title_translated, lead, text_translated,
               COALESCE(title_folded, title_original), COALESCE(text_folded, text_original),
               COALESCE(title_stems, ''), COALESCE(text_stems, '')
        FROM articles;
    CREATE TRIGGER search_index_insert AFTER INSERT ON articles BEGIN
        INSERT INTO search_index (rowid, title_en, lead_en, text_en, title_ar, text_ar,
                                  title_stems, text_stems)
        VALUES (new.id, new.title_translated, new.lead, new.text_translated,
                COALESCE(new.title_folded, new.title_original),
                COALESCE(new.text_folded, new.text_original),
                COALESCE(new.title_stems, ''), COALESCE(new.text_stems, ''));
    END;
    CREATE TRIGGER search_index_delete AFTER DELETE ON articles BEGIN
        INSERT INTO search_index (search_index, rowid, title_en, lead_en, text_en, title_ar,
                                  text_ar, title_stems, text_stems)
        VALUES ('delete', old.id, old.title_translated, old.lead, old.text_translated,
                COALESCE(old.title_folded, old.title_original),
                COALESCE(old.text_folded, old.text_original),
                COALESCE(old.title_stems, ''), COALESCE(old.text_stems, ''));
    END;
    CREATE TRIGGER search_index_update
    AFTER UPDATE OF title_translated, lead, text_translated, title_original, text_original,
                    title_folded, text_folded, title_stems, text_stems
    ON articles BEGIN
        INSERT INTO search_index (search_index, rowid, title_en, lead_en, text_en, title_ar,
                                  text_ar, title_stems, text_stems)
        VALUES ('delete', old.id, old.title_translated, old.lead, old.text_translated,
                COALESCE(old.title_folded, old.title_original),
                COALESCE(old.text_folded, old.text_original),
                COALESCE(old.title_stems, ''), COALESCE(old.text_stems, ''));
        INSERT INTO search_index (rowid, title_en, lead_en, text_en, title_ar, text_ar,
                                  title_stems, text_stems)
        VALUES (new.id, new.title_translated, new.lead, new.text_translated,
                COALESCE(new.title_folded, new.title_original),
                COALESCE(new.text_folded, new.text_original),
                COALESCE(new.title_stems, ''), COALESCE(new.text_stems, ''));
    END;
    """,
    # 10: the search index is written by the store (bot/store/index.py), which computes the
    #     folded Arabic and the stems of an article when it indexes or removes it; the article
    #     rows no longer keep them (they were half the database's size). Rows another client
    #     wrote without them, indexed as they were, are indexed again with the analysis first.
    #     An analysis change later needs the same rebuild for every row: "delete-all", then
    #     the INSERT below without its WHERE.
    """
    DROP TRIGGER search_index_insert;
    DROP TRIGGER search_index_delete;
    DROP TRIGGER search_index_update;
    INSERT INTO search_index (search_index, rowid, title_en, lead_en, text_en, title_ar,
                              text_ar, title_stems, text_stems)
        SELECT 'delete', id, title_translated, lead, text_translated,
               COALESCE(title_folded, title_original), COALESCE(text_folded, text_original),
               COALESCE(title_stems, ''), COALESCE(text_stems, '')
        FROM articles
        WHERE title_folded IS NULL OR text_folded IS NULL
           OR title_stems IS NULL OR text_stems IS NULL;
    INSERT INTO search_index (rowid, title_en, lead_en, text_en, title_ar, text_ar,
                              title_stems, text_stems)
        SELECT id, title_translated, lead, text_translated,
               nashra_fold(title_original), nashra_fold(text_original),
               nashra_stems(title_translated, title_original),
               nashra_stems(text_translated, text_original)
        FROM articles
        WHERE title_folded IS NULL OR text_folded IS NULL
           OR title_stems IS NULL OR text_stems IS NULL;
    ALTER TABLE articles DROP COLUMN title_folded;
    ALTER TABLE articles DROP COLUMN text_folded;
    ALTER TABLE articles DROP COLUMN title_stems;
    ALTER TABLE articles DROP COLUMN text_stems;
    """,
    # 11: feed leases, for several workers sharing the feeds (PostgreSQL, `nashra worker`):
    #     a worker claims due feeds until lease_until; another may take a feed over once the
    #     lease has passed (its worker died). The same columns in both engines.
    """
    ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until TEXT;
    """,
    # 12: several processes around one database. ``alert_queue``: articles stored but not yet
    #     looked at for alert words (a worker stores them, the scheduling bot process alerts);
    #     ``delivery_claims``: the process sending a chat's messages now, until ``until``, so
    #     that two bot processes never send one chat's messages at once or out of order.
    """
    CREATE TABLE alert_queue (article_id INTEGER PRIMARY KEY);
    CREATE TABLE delivery_claims (
        chat_id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        until TEXT NOT NULL
    );
    """,
    # 13: operators. Feeds get a category (OPML folders, /sources), a language ("" = detected
    #     from each article's text), and a life cycle: failing_since (first failure of the
    #     current streak) and paused_at (paused after failing for fetch.pause_after_days;
    #     probed daily). Chats get their interface language (NULL = follow the first user's
    #     Telegram language).
    """
    ALTER TABLE feeds ADD COLUMN category TEXT NOT NULL DEFAULT '';
    ALTER TABLE feeds ADD COLUMN language TEXT NOT NULL DEFAULT '';
    ALTER TABLE feeds ADD COLUMN failing_since TEXT;
    ALTER TABLE feeds ADD COLUMN paused_at TEXT;
    ALTER TABLE chats ADD COLUMN language TEXT;
    """,
    # 14: the search analysis folds Persian spellings too (bot.textnorm.normalize_arabic:
    #     Farsi yeh, keheh, heh forms, the zero-width non-joiner). Rows holding one of those
    #     characters were indexed with the former analysis, and the contentless index can
    #     only remove a row given the values it was indexed with: when any row holds one,
    #     the index is rebuilt as schema 10 describes (an Arabic-only archive is left as is).
    f"""
    INSERT INTO search_index (search_index)
        SELECT 'delete-all' WHERE EXISTS (SELECT 1 FROM articles WHERE {_PERSIAN_LETTERS});
    INSERT INTO search_index (rowid, title_en, lead_en, text_en, title_ar, text_ar,
                              title_stems, text_stems)
        SELECT id, title_translated, lead, text_translated,
               nashra_fold(title_original), nashra_fold(text_original),
               nashra_stems(title_translated, title_original),
               nashra_stems(text_translated, text_original)
        FROM articles
        WHERE EXISTS (SELECT 1 FROM articles WHERE {_PERSIAN_LETTERS});
    """,
)
