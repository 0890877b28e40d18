"""Configuration: the example file, lookup order, validation and secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot import PROJECT_URL, USER_AGENT, __version__, cli
from bot.config import (
    Settings,
    load_settings,
    settings_from_mapping,
)
from bot.errors import ConfigError
from bot.fetch import FetchSettings
from bot.models import ModelInfo
from bot.telegram import app
from bot.telegram.services import ALL_IN_ONE
from bot.translate import EngineSettings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_file_equals_builtin_defaults() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    from_example = settings_from_mapping(raw)
    assert from_example == Settings()


def test_example_file_documents_every_key() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = Settings()
    for section in ("telegram", "storage", "translation", "fetch", "digest", "metrics"):
        fields = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert set(raw[section]) == fields, section
    assert len(raw["feeds"]) >= 5
    assert all(feed["url"].startswith("https://") and feed["name"] for feed in raw["feeds"])


def test_example_keys_each_have_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.startswith(("#", "url", "name")):
            above = lines[index - 1]
            assert above.startswith("#") or "=" in above, f"undocumented: {line}"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fetch": {"timeout_seconds": -3}}, "config: fetch.timeout_seconds must be > 0, got -3"),
        ({"fetch": {"bogus": 1}}, "config: unknown key fetch.bogus"),
        ({"nope": {}}, "config: unknown section [nope]"),
        ({"digest": {"timezone": "Mars/Olympus"}}, "config: digest.timezone must be an IANA"),
        ({"digest": {"times": ["8am"]}}, "config: digest.times must be a non-empty list"),
        ({"digest": {"max_items": 0}}, "config: digest.max_items must be between 1 and 30"),
        ({"translation": {"beam_size": "4"}}, "config: translation.beam_size must be an integer"),
        ({"telegram": {"admins": ["bob"]}}, "config: telegram.admins must be a list"),
        ({"feeds": [{"url": "ftp://x"}]}, "config: feeds[0].url must be an http(s) URL"),
        ({"feeds": [{"url": "https://x", "nam": "y"}]}, "config: unknown key feeds[0].nam"),
    ],
)
def test_bad_values_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(raw)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).source_path is None
    (tmp_path / "config.toml").write_text('[storage]\npath = "local.db"\n')
    assert load_settings(environ={}).storage.path == "local.db"
    env_file = tmp_path / "env.toml"
    env_file.write_text('[storage]\npath = "env.db"\n')
    assert load_settings(environ={"NASHRA_CONFIG": str(env_file)}).storage.path == "env.db"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[storage]\npath = "explicit.db"\n')
    settings = load_settings(str(explicit), environ={"NASHRA_CONFIG": str(env_file)})
    assert settings.storage.path == "explicit.db"


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[fetch]\ntimeout_seconds = 5\n[[feeds]]\nurl = "http://127.0.0.1/f"\n')
    settings = load_settings(str(path), environ={})
    assert settings.fetch.timeout_seconds == 5
    assert settings.fetch.max_bytes == 5_000_000
    assert settings.feeds[0].name == "http://127.0.0.1/f"
    assert settings.models_path == Path("data/models")


def test_token_from_environment_and_never_in_repr(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[telegram]\ntoken = "111:file-secret"\n')
    settings = load_settings(str(path), environ={"NASHRA_TELEGRAM_TOKEN": "222:env-secret"})
    assert settings.telegram.token == "222:env-secret"
    assert "env-secret" not in repr(settings)
    assert "env-secret" not in str(settings.telegram)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[fetch\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(str(broken), environ={})
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(str(tmp_path / "absent.toml"), environ={})


class _Built(Exception):
    """Stops a command or the bot's start-up once its stages' settings are built."""


def _stage_settings(monkeypatch: pytest.MonkeyPatch, module: Any,
                    start: Any) -> tuple[FetchSettings, EngineSettings]:
    """The settings ``module`` hands the fetcher and the translator when ``start`` runs."""
    built: dict[str, Any] = {}

    class Fetcher:
        def __init__(self, settings: FetchSettings) -> None:
            built["fetch"] = settings
            if "engine" in built:
                raise _Built

    class Translator:
        hits = misses = 0   # read by the progress line before the fetcher is built

        def __init__(self, _model: ModelInfo, settings: EngineSettings, _store: Any) -> None:
            built["engine"] = settings
            if "fetch" in built:
                raise _Built

        def close(self) -> None:
            pass

    monkeypatch.setattr(module, "Fetcher", Fetcher)
    monkeypatch.setattr(module, "Translator", Translator)
    with pytest.raises(_Built):
        start()
    return built["fetch"], built["engine"]


def test_the_cli_and_the_bot_build_the_same_stage_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "n.db"}"\n'
                    "[fetch]\ntimeout_seconds = 7.5\nmax_bytes = 1234\nconcurrency = 3\n"
                    'per_host = 1\nuser_agent = "Tester/1"\n'
                    "[translation]\nbeam_size = 2\nthreads = 3\nmax_batch_tokens = 99\n")
    settings = load_settings(str(path), environ={})
    model = ModelInfo("ar-en@1", "ar", "en", "1", str(tmp_path))
    monkeypatch.setattr(cli, "ensure_model", lambda _settings: model)
    monkeypatch.setattr(app, "Store", lambda _path: object())
    from_cli = _stage_settings(monkeypatch, cli, lambda: cli._run_fetch(settings, False))
    from_bot = _stage_settings(monkeypatch, app,
                               lambda: asyncio.run(app._open(None, settings, model, ALL_IN_ONE)))
    assert from_cli == from_bot == (
        FetchSettings(timeout_seconds=7.5, max_bytes=1234, concurrency=3, per_host=1,
                      user_agent="Tester/1"),
        EngineSettings(beam_size=2, threads=3, max_batch_tokens=99))


def test_one_user_agent_default_names_the_project_and_version() -> None:
    assert PROJECT_URL in USER_AGENT and __version__ in USER_AGENT
    assert Settings().fetch.user_agent == FetchSettings().user_agent == USER_AGENT


def test_database_url_from_file_or_environment_never_shown(tmp_path: Path) -> None:
    from bot.config import DATABASE_URL_ENV, load_settings

    config = tmp_path / "c.toml"
    config.write_text('[storage]\nurl = "postgresql://nashra:s3cret@db/nashra"\n',
                      encoding="utf-8")
    settings = load_settings(str(config), environ={})
    assert settings.database == "postgresql://nashra:s3cret@db/nashra"
    assert "s3cret" not in repr(settings)
    override = load_settings(str(config), environ={
        DATABASE_URL_ENV: "postgresql://other:pw2@db2/n"})
    assert override.database == "postgresql://other:pw2@db2/n"
    assert load_settings(None, environ={}).database == Path("data/nashra.db")
    config.write_text('[storage]\nurl = "mysql://root:s3cret@db/n"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(str(config), environ={})
    assert "postgresql://" in str(raised.value) and "s3cret" not in str(raised.value)


def test_operator_keys_feeds_languages_and_metrics(tmp_path: Path) -> None:
    from bot.config import METRICS_LISTEN_ENV, load_settings

    config = tmp_path / "c.toml"
    config.write_text(
        '[translation]\nmodels = { "fa-en" = "", "tr-en" = "/srv/tr.argosmodel" }\n'
        '[telegram]\nadmin_chat = -1001234567890\n[metrics]\nlisten = "127.0.0.1:9464"\n'
        '[[feeds]]\nurl = "https://example.ir/rss"\nname = "نمونه"\n'
        'category = " News / Iran "\nlanguage = "fa"\n', encoding="utf-8")
    settings = load_settings(str(config), environ={})
    assert settings.translation.models == {"fa-en": "", "tr-en": "/srv/tr.argosmodel"}
    assert settings.telegram.admin_chat == -1001234567890
    feed = settings.feeds[0]
    assert (feed.category, feed.language) == ("News / Iran", "fa")
    assert settings.metrics.listen == "127.0.0.1:9464"
    moved = load_settings(str(config), environ={METRICS_LISTEN_ENV: "127.0.0.1:9471"})
    assert moved.metrics.listen == "127.0.0.1:9471"
    with pytest.raises(ConfigError, match=r"\$NASHRA_METRICS_LISTEN must be host:port"):
        load_settings(str(config), environ={METRICS_LISTEN_ENV: "9471"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"translation": {"models": {"farsi": ""}}}, "translation.models must map language pairs"),
        ({"translation": {"models": {"fa-en": 3}}}, "translation.models must map language pairs"),
        ({"metrics": {"listen": "everywhere"}}, "metrics.listen must be host:port"),
        ({"fetch": {"pause_after_days": 0}}, "fetch.pause_after_days must be > 0"),
        ({"telegram": {"admin_chat": "@ops"}}, "telegram.admin_chat must be an integer"),
        ({"feeds": [{"url": "https://x", "language": "Persian"}]}, "feeds[0].language must be"),
        ({"feeds": [{"url": "https://x", "category": 7}]}, "feeds[0].category must be a string"),
    ],
)
def test_bad_operator_values_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings_from_mapping(raw)


def test_operational_alerts_go_to_the_admin_chat_else_each_admin() -> None:
    from bot.config import TelegramSettings

    assert TelegramSettings(admins=(5, 7, 5)).alert_chats == (5, 7)
    assert TelegramSettings(admins=(5, 7), admin_chat=-1001).alert_chats == (-1001,)
    assert TelegramSettings().alert_chats == ()
