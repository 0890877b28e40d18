"""`nashra doctor`: every check passing on a working installation (both store engines), and
each failing case with its fix and exit status 1: a bad configuration, a corrupt or outdated
database (left as it was), a missing or broken model, a missing model for another language,
a token the fake Bot API refuses (never printed), an unreachable loopback feed, low disk
space (an injected threshold) and a paused feed. Real parts throughout: a database filled by
`nashra fetch`, the synthetic model, the fake Bot API server and loopback feeds.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.bot_harness import BotSite, make_bot_site, postgres_url_of
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer
from support.old_schema import database_at_schema

from bot.cli import main
from bot.config import DigestSettings
from bot.doctor import Check, Options, run_checks
from bot.feed_health import PROBE_EVERY
from bot.store.migrations import MIGRATIONS

LINE = re.compile(r"^(?P<mark>[✔✘–]) (?P<name>[a-z ]+): (?P<rest>.*)$")
CHECKS = ("configuration", "database", "model", "language pairs", "token", "feeds", "disk",
          "paused feeds")


def doctor(site: BotSite, *args: str, token: str | None = None,
           config: Path | None = None) -> tuple[Result, dict[str, tuple[bool, str]]]:
    """Run `nashra doctor` (disk threshold 0 unless given); its lines by check name."""
    env = {"NASHRA_TELEGRAM_TOKEN": token if token is not None else site.telegram.token}
    result = CliRunner().invoke(
        main, ["--config", str(config or site.config), "doctor", *args], env=env)
    lines: dict[str, tuple[bool, str]] = {}
    for text in result.stdout.splitlines():
        match = LINE.match(text)
        assert match, f"not a check line: {text!r}\n{result.output}"
        lines[match["name"]] = (match["mark"] != "✘", match["rest"])
    return result, lines


def edited(site: BotSite, *replacements: tuple[str, str], extra: Sequence[str] = ()) -> Path:
    """A copy of the site's config with some text replaced and lines added at the end."""
    text = site.config.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    config = site.config.with_name("edited.toml")
    config.write_text(text + "\n".join(extra) + "\n", encoding="utf-8")
    return config


def passing(lines: dict[str, tuple[bool, str]], *names: str) -> bool:
    return all(lines[name][0] for name in names)


def test_everything_passes_on_a_working_installation(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path, store_location: Path | str) -> None:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         database_url=postgres_url_of(store_location))
    result, lines = doctor(site, "--min-free", "0")
    assert result.exit_code == 0, result.output
    assert tuple(lines) == CHECKS and all(ok for ok, _ in lines.values())
    assert lines["configuration"][1].startswith(f"{site.config} loaded, 1 feeds")
    engine = "PostgreSQL" if isinstance(store_location, str) else "SQLite"
    state = "connected" if engine == "PostgreSQL" else "integrity ok"
    assert lines["database"][1].endswith(f"{state}, schema {len(MIGRATIONS)} (current)")
    assert lines["database"][1].startswith(engine)
    if isinstance(store_location, str):
        assert "password" not in result.output or "***" in result.output
    assert lines["model"][1].startswith("ar-en@1.0+") and "loads and translates" in \
        lines["model"][1]
    assert lines["token"][1] == "accepted: @nashra_test_bot (id 7000000001)"
    assert lines["feeds"][1] == "1 of 1 feeds answer"
    assert lines["paused feeds"][1] == "none"
    assert site.telegram.token not in result.output
    # The database was only read: no migration, no new rows.
    with site.store() as store:
        assert store.count_cached_translations() > 0


def test_the_token_is_checked_with_getme_and_never_printed(site: BotSite) -> None:
    wrong = "7000000001:AAWrongTokenWrongTokenWrongToken_99"
    result, lines = doctor(site, "--min-free", "0", token=wrong)
    assert result.exit_code == 1
    assert lines["token"] == (False, "Telegram refused the token (HTTP 401) — fix: copy the "
                              "token from @BotFather again (/mybots → API Token)")
    assert passing(lines, "configuration", "database", "model", "feeds", "disk")
    assert wrong not in result.output and "AAWrongToken" not in result.output
    unreachable = edited(site, (site.telegram.base_url, f"http://127.0.0.1:{free_port()}/bot"))
    result, lines = doctor(site, "--skip-feeds", "--min-free", "0", token=wrong,
                           config=unreachable)
    assert not lines["token"][0] and lines["token"][1].startswith("no answer from 127.0.0.1:")
    assert wrong not in result.output and lines["feeds"] == (True, "skipped (--skip-feeds)")
    empty = doctor(site, "--skip-feeds", "--min-free", "0", token="")[1]
    assert empty["token"][1].startswith("telegram.token is empty — fix: set "
                                        "$NASHRA_TELEGRAM_TOKEN")


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_feed_is_named_with_its_error(site: BotSite) -> None:
    dead = f"http://127.0.0.1:{free_port()}/rss.xml"
    missing = site.feeds.url("/gone.xml")
    config = edited(site, extra=["[[feeds]]", f'url = "{dead}"', 'name = "جريدة الصباح"',
                                 "[[feeds]]", f'url = "{missing}"', 'name = "Gone"'])
    result, lines = doctor(site, "--min-free", "0", config=config)
    assert result.exit_code == 1
    ok, text = lines["feeds"]
    assert not ok and text.startswith("1 of 3 feeds answer; failing: جريدة الصباح (fetch: ")
    assert "Gone (fetch: HTTP 404" in text and "— fix: check those URLs" in text
    assert passing(lines, "configuration", "database", "model", "token", "disk")


def test_a_bad_configuration_fails_and_the_rest_is_skipped(site: BotSite) -> None:
    broken = site.config.with_name("broken.toml")
    broken.write_text("[fetch]\ntimeout_seconds = -3\n", encoding="utf-8")
    result, lines = doctor(site, config=broken)
    assert result.exit_code == 1 and tuple(lines) == CHECKS
    assert lines["configuration"] == (
        False, "config: fetch.timeout_seconds must be > 0, got -3 — fix: correct the file "
        "(config.example.toml documents every setting)")
    assert all(text.startswith("skipped: the configuration does not load")
               for ok, text in list(lines.values())[1:])
    not_toml = site.config.with_name("not.toml")
    not_toml.write_text("[telegram\n", encoding="utf-8")
    result, lines = doctor(site, config=not_toml)
    assert result.exit_code == 1 and "is not valid TOML" in lines["configuration"][1]


def test_a_corrupt_database(site: BotSite) -> None:
    path = site.settings.database_path
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not an SQLite database, whatever its name says " * 100)
    result, lines = doctor(site, "--offline", "--min-free", "0")
    assert result.exit_code == 1
    ok, text = lines["database"]
    assert not ok and "file is not a database" in text
    assert "fix: stop the bot and restore the latest backup" in text
    assert passing(lines, "configuration", "model", "disk")
    assert lines["paused feeds"][1].startswith("skipped")
    assert lines["token"] == (True, "skipped (--offline)")
    assert lines["feeds"] == (True, "skipped (--offline)")


def test_a_database_behind_is_not_migrated_silently(site: BotSite, tmp_path: Path) -> None:
    old = tmp_path / "old" / "nashra.db"
    old.parent.mkdir()
    database_at_schema(old, 12).close()
    config = edited(site, (str(site.settings.database_path), str(old)))
    result, lines = doctor(site, "--offline", "--min-free", "0", config=config)
    assert result.exit_code == 1
    assert lines["database"] == (
        False, f"SQLite {old} has schema 12, this version needs {len(MIGRATIONS)} — fix: "
        "stop the bot, back it up (`nashra backup`), then run `nashra migrate`")
    with sqlite3.connect(old) as db:   # read, not migrated
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 12
    missing = edited(site, (str(site.settings.database_path), str(tmp_path / "none.db")))
    lines = doctor(site, "--offline", "--min-free", "0", config=missing)[1]
    assert lines["database"][1].startswith(f"no database at {tmp_path / 'none.db'} — fix: "
                                           "run `nashra migrate`")
    assert not (tmp_path / "none.db").exists()


def test_a_missing_model_is_not_downloaded(site: BotSite, tmp_path: Path,
                                           argos_package: Path) -> None:
    empty = tmp_path / "no-models"
    config = edited(site, (f'model = "{argos_package}"', f'model = ""\nmodels_dir = "{empty}"'))
    result, lines = doctor(site, "--offline", "--min-free", "0", config=config)
    assert result.exit_code == 1
    assert lines["model"] == (False, f"no ar→en model in {empty} — fix: run `nashra models "
                              "install --pair ar-en` (or set translation.model to a "
                              ".argosmodel file)")
    assert not empty.exists()   # nothing downloaded, nothing created


def test_a_broken_model_fails_to_translate(site: BotSite, argos_package: Path) -> None:
    installed = next((site.settings.models_path).glob("translate-ar_en-*"))
    (installed / "model" / "model.bin").write_bytes(b"\0garbage" * 4096)
    config = edited(site, (f'model = "{argos_package}"', f'model = "{installed}"'))
    result, lines = doctor(site, "--offline", "--min-free", "0", config=config)
    assert result.exit_code == 1
    ok, text = lines["model"]
    assert not ok and " does not translate: " in text
    assert text.endswith("— fix: install it again: run `nashra models install --pair ar-en` "
                         "(or set translation.model to a .argosmodel file)")
    assert passing(lines, "configuration", "database", "disk")


def test_models_for_other_languages(site: BotSite) -> None:
    with site.store() as store:
        first = store.recent_articles(limit=1)[0]
        store._execute_write("UPDATE articles SET language = 'tr', untranslated = 1 "
                             "WHERE id = :id", {"id": first.id})
    config = edited(site, ('threads = 1', 'threads = 1\nmodels = { "fa-en" = "" }'))
    result, lines = doctor(site, "--offline", "--min-free", "0", config=config)
    assert result.exit_code == 1
    ok, text = lines["language pairs"]
    assert not ok
    assert text.startswith("no model for fa-en, tr-en (1 articles stored untranslated) — fix:")
    assert "nashra models install --pair fa-en" in text and 'add "tr-en" = ""' in text
    assert passing(lines, "model")


def test_low_disk_space_with_an_injected_threshold(site: BotSite) -> None:
    result, lines = doctor(site, "--offline", "--min-free", str(1 << 40))
    assert result.exit_code == 1
    ok, text = lines["disk"]
    assert not ok and text.startswith("only ") and " free in " in text and "(below " in text
    assert "fix: free some space" in text
    assert doctor(site, "--offline", "--min-free", "0")[1]["disk"][0]


def test_paused_feeds_are_listed(site: BotSite) -> None:
    now = datetime.now(UTC)
    with site.store() as store:
        feed = store.feeds()[0]
        store.record_fetch_failure(feed.id, now - timedelta(days=5), "fetch: HTTP 503",
                                   now + timedelta(hours=1))
        assert store.pause_failing_feed(feed.id, now, [], failing_before=now,
                                        probe_at=now + PROBE_EVERY, defaults=DigestSettings())
    result, lines = doctor(site, "--offline", "--min-free", "0")
    assert result.exit_code == 1
    assert lines["paused feeds"][1].startswith(
        "1 paused: الوكالة التجريبية (fetch: HTTP 503) — fix: ")


def test_a_crashing_check_does_not_stop_the_others(site: BotSite,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> Check:
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.doctor.check_model", broken)
    checks = list(run_checks(str(site.config), Options(network=False, min_free_bytes=0,
                                                       environ={})))
    names = [check.name for check in checks]
    assert names == list(CHECKS)
    assert [c.name for c in checks if c.skipped] == ["token", "feeds"]
    model = checks[2]
    assert model.line == ("✘ model: the check itself failed (RuntimeError) — fix: run "
                          "`nashra -v doctor` for details and report it")
    assert all(check.ok for check in checks if check.name != "model")


def test_exit_status_of_the_real_command(site: BotSite) -> None:
    """As a process, as an operator runs it: 1 with a failing check."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(site.config), "doctor", "--offline",
         "--min-free", str(1 << 40)], capture_output=True, text=True, timeout=300,
        env=site.env())
    assert done.returncode == 1, done.stderr
    assert "✘ disk: only " in done.stdout and "✔ database: SQLite" in done.stdout


def test_feeds_added_from_the_chat_obey_the_public_address_rule(site: BotSite) -> None:
    """A loopback feed an admin added is refused without a request, as a refresh would."""
    private = site.feeds.add("/added.xml", b"<rss/>")
    with site.store() as store:
        store.add_user_feed(private, "Added from the chat", datetime.now(UTC))
    result, lines = doctor(site, "--min-free", "0")
    assert result.exit_code == 1
    ok, text = lines["feeds"]
    assert not ok and text.startswith("1 of 2 feeds answer; failing: Added from the chat (")
    assert site.feeds.requests_for("/added.xml") == []


def test_an_unreachable_postgresql_server(site: BotSite) -> None:
    url = f"postgresql://nashra:s3cretpw@127.0.0.1:{free_port()}/nashra"
    config = edited(site, ('url = ""', f'url = "{url}"'))
    result, lines = doctor(site, "--offline", "--min-free", "0", config=config)
    assert result.exit_code == 1
    ok, text = lines["database"]
    assert not ok and "cannot open database" in text
    assert text.endswith("— fix: check storage.url and that the PostgreSQL server is running "
                         "and reachable")
    assert "s3cretpw" not in result.output
