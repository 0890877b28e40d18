"""`nashra migrate` on both backends, and `nashra copy --to postgresql://…`: a real SQLite
archive moved into PostgreSQL with its ids, verified by counts and searches."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_store import FEEDS, NOW, make_article

from bot.cli import main
from bot.search import search
from bot.store import Store
from bot.store.migrations import MIGRATIONS
from bot.store.stories import StoryAssignment


def write_config(tmp_path: Path, database: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{database}"\n', encoding="utf-8")
    return config


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An SQLite archive with every kind of row: feeds, articles in stories, the translation
    cache, a chat with its settings, words, excluded source, sent stories and outbox."""
    path = tmp_path / "nashra.db"
    with Store(path) as store:
        feeds = store.sync_feeds(FEEDS, NOW - timedelta(days=1))
        feed = feeds[0].id
        other = store.add_user_feed("https://other.example/rss", "Other", NOW).id
        ids = store.insert_articles([
            make_article(feed, 1, title_translated="Elections set for March",
                         title_original="الانتخابات في مارس"),
            make_article(other, 2, title_translated="Voters elected a council",
                         title_original="للحكومات دور"),
            make_article(feed, 3)])
        store.save_stories([StoryAssignment(ids[0], ids[0], ("elect", "march")),
                            StoryAssignment(ids[2], ids[0], ("elect", "oil"))])
        store.put_translations("m1", {"جملة": "A sentence."})
        store.ensure_chat(-100, "group", "Readers", times=("08:00",), timezone="UTC",
                          max_items=5, now=NOW)
        store.set_subscribed(-100, True, NOW)
        store.set_feed_excluded(-100, other, True)
        store.add_chat_word(-100, "include", "gaza", NOW)
        store.queue_digest(-100, [ids[0]], ["digest text"], NOW, watermark=ids[1], due=NOW)
    return path


def test_migrate_reports_the_schema_on_both_backends(
        tmp_path: Path, store_location: Path | str) -> None:
    config = tmp_path / "config.toml"
    key = "url" if isinstance(store_location, str) else "path"
    config.write_text(f'[storage]\n{key} = "{store_location}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "migrate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"schema {len(MIGRATIONS)}")


def test_copy_moves_every_row_with_its_ids_and_search_works(
        archive: Path, tmp_path: Path, postgres_url: str) -> None:
    config = write_config(tmp_path, archive)
    result = CliRunner().invoke(main, ["--config", str(config), "copy", "--to", postgres_url])
    assert result.exit_code == 0, result.output
    assert "Copied 3 articles" in result.stdout and "counts match" in result.stdout
    with Store(archive) as source, Store(postgres_url) as target:
        for table in ("feeds", "articles", "translation_cache", "chats", "chat_words",
                      "chat_excluded_feeds", "chat_stories", "outbox", "story_terms"):
            columns = ", ".join(r[1] for r in source._db.execute(f"PRAGMA table_info({table})")
                                if r[1] not in ("title_folded", "text_folded"))
            query = f"SELECT {columns} FROM {table} ORDER BY 1, 2"
            rows = [tuple(r) for r in source._db.execute(query)]
            assert rows and rows == [tuple(r) for r in target._db.execute(query)], table
        assert [a.id for a in target.recent_articles()] == [a.id for a in source.recent_articles()]
        chat = target.get_chat(-100)
        assert chat is not None and chat.subscribed and chat.excluded_feeds
        assert [m.text for m in target.outbox_messages(-100)] == ["digest text"]
        assert target.get_translations("m1", ["جملة"]) == {"جملة": "A sentence."}
        # Stems in both languages, one result per story, as on SQLite.
        for query in ("election", "حكومة"):
            hits = search(target.reader(), query, now=NOW).hits
            assert hits and len(hits) == len({h.article.story_id for h in hits}), query
        # New rows get ids after the copied ones.
        [new_id] = target.insert_articles([make_article(1, 9)])
        assert new_id > max(a.id for a in source.recent_articles())


def test_copy_refuses_a_database_that_is_not_empty(
        archive: Path, tmp_path: Path, postgres_url: str) -> None:
    config = write_config(tmp_path, archive)
    assert CliRunner().invoke(
        main, ["--config", str(config), "copy", "--to", postgres_url]).exit_code == 0
    again = CliRunner().invoke(main, ["--config", str(config), "copy", "--to", postgres_url])
    assert again.exit_code == 1
    assert "not empty" in again.output


def test_copy_keeps_the_password_out_of_its_output(
        archive: Path, tmp_path: Path, postgres_server: str) -> None:
    config = write_config(tmp_path, archive)
    url = postgres_server.replace("postgres@", "postgres:hunter2secret@").rsplit("/", 1)[0]
    result = CliRunner().invoke(main, ["--config", str(config), "copy", "--to",
                                       url + "/no_such_database"])
    assert result.exit_code == 1
    assert "hunter2secret" not in result.output and "***" in result.output
