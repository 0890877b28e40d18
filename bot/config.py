"""Configuration: TOML file → frozen, typed settings.

Lookup order: ``--config PATH``, then ``$NASHRA_CONFIG``, then ``./config.toml``, then the
built-in defaults (which ``config.example.toml`` documents, and a test keeps them equal).
Secrets come from the environment: ``$NASHRA_TELEGRAM_TOKEN`` overrides ``telegram.token``,
``$NASHRA_WEBHOOK_SECRET`` overrides ``telegram.webhook_secret``; ``$NASHRA_DATABASE_URL``
``storage.url`` and ``$NASHRA_METRICS_LISTEN`` ``metrics.listen``.
Every problem raises :class:`ConfigError` naming the key, e.g.
``config: fetch.timeout_seconds must be > 0, got -3``.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import USER_AGENT
from bot.dburl import is_postgres, redact_url
from bot.errors import ConfigError

TOKEN_ENV = "NASHRA_TELEGRAM_TOKEN"
WEBHOOK_SECRET_ENV = "NASHRA_WEBHOOK_SECRET"
DATABASE_URL_ENV = "NASHRA_DATABASE_URL"
# Lets several processes sharing one config file each serve metrics on a port of its own.
METRICS_LISTEN_ENV = "NASHRA_METRICS_LISTEN"
CONFIG_ENV = "NASHRA_CONFIG"
# Digest times are HH:MM; seconds are accepted too (tests schedule a few seconds ahead).
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
# Telegram accepts a webhook secret_token of 1-256 of these characters; Nashra asks for 16 or
# more, so that it cannot be guessed and its redaction in logs (8 characters up) applies.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Argos package codes: two or three lower-case letters ("fa", "zt").
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}$")
PAIR_PATTERN = re.compile(r"^[a-z]{2,3}-[a-z]{2,3}$")


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(default="", repr=False)
    api_base_url: str = "https://api.telegram.org/bot"
    admins: tuple[int, ...] = ()
    # Webhook mode when set: the public URL Telegram posts updates to (Telegram needs https).
    webhook_url: str = ""
    # host:port the webhook server binds; a reverse proxy forwards webhook_url here.
    listen: str = "127.0.0.1:8443"
    # Checked on every webhook request; "" = derived from the token (bot.telegram.webhook).
    webhook_secret: str = field(default="", repr=False)
    # Chat (id) that receives operational alerts (a feed paused, ...); 0 = each admin privately.
    admin_chat: int = 0

    @property
    def alert_chats(self) -> tuple[int, ...]:
        """Where operational alerts go: the admin chat, else each admin privately."""
        return (self.admin_chat,) if self.admin_chat else tuple(dict.fromkeys(self.admins))


@dataclass(frozen=True)
class StorageSettings:
    path: str = "data/nashra.db"
    # postgresql://user:password@host/db instead of the SQLite file (it holds a password).
    url: str = field(default="", repr=False)


@dataclass(frozen=True)
class TranslationSettings:
    source: str = "ar"
    target: str = "en"
    model: str = ""
    models_dir: str = ""
    beam_size: int = 4
    threads: int = 0
    max_batch_tokens: int = 512
    # Other source languages: "fa-en" -> model (as ``model``: "" = from the Argos index, or a
    # .argosmodel file or package folder). The source-target pair always has ``model``.
    models: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchSettingsConfig:
    interval_minutes: int = 10
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    concurrency: int = 8
    per_host: int = 2
    user_agent: str = USER_AGENT
    max_entries: int = 50
    min_text_chars: int = 500
    allow_private: bool = False
    lease_seconds: int = 600
    # A feed failing without a break this long is paused (admins told once), probed daily.
    pause_after_days: int = 3


@dataclass(frozen=True)
class DigestSettings:
    times: tuple[str, ...] = ("08:00", "20:00")
    timezone: str = "UTC"
    max_items: int = 10
    max_age_hours: int = 48
    catch_up_minutes: int = 60


@dataclass(frozen=True)
class StoriesSettings:
    window_hours: int = 48


@dataclass(frozen=True)
class MetricsSettings:
    # host:port of the Prometheus /metrics and /healthz endpoint; "" = off.
    listen: str = ""


@dataclass(frozen=True)
class FeedConfig:
    url: str
    name: str
    category: str = ""
    # Source language code ("fa", "tr", ...); "" = detected from each article's text.
    language: str = ""


DEFAULT_FEEDS: tuple[FeedConfig, ...] = (
    FeedConfig(
        "https://www.aljazeera.net/aljazeerarss/a7c186be-1baa-4bd4-9d80-a84db769f779/"
        "73d0e1b4-532f-45ef-b135-bfdff8b8cab9",
        "الجزيرة نت",
    ),
    FeedConfig("https://feeds.bbci.co.uk/arabic/rss.xml", "BBC عربي"),
    FeedConfig("https://www.france24.com/ar/rss", "فرانس 24"),
    FeedConfig("https://rss.dw.com/rdf/rss-ar-all", "DW عربية"),
    FeedConfig("https://arabic.rt.com/rss/", "RT Arabic"),
    FeedConfig("https://www.skynewsarabia.com/web/rss", "سكاي نيوز عربية"),
)


@dataclass(frozen=True)
class Settings:
    telegram: TelegramSettings = TelegramSettings()
    storage: StorageSettings = StorageSettings()
    translation: TranslationSettings = TranslationSettings()
    fetch: FetchSettingsConfig = FetchSettingsConfig()
    digest: DigestSettings = DigestSettings()
    stories: StoriesSettings = StoriesSettings()
    metrics: MetricsSettings = MetricsSettings()
    feeds: tuple[FeedConfig, ...] = DEFAULT_FEEDS
    source_path: str | None = None

    @property
    def database_path(self) -> Path:
        return Path(self.storage.path)

    @property
    def database(self) -> Path | str:
        """Where the store lives: ``storage.url`` (PostgreSQL) if set, else the SQLite file."""
        return self.storage.url or self.database_path

    @property
    def models_path(self) -> Path:
        """Nashra's own model folder: beside the database unless configured."""
        if self.translation.models_dir:
            return Path(self.translation.models_dir)
        return self.database_path.parent / "models"


_SECTIONS: dict[str, type] = {
    "telegram": TelegramSettings,
    "storage": StorageSettings,
    "translation": TranslationSettings,
    "fetch": FetchSettingsConfig,
    "digest": DigestSettings,
    "stories": StoriesSettings,
    "metrics": MetricsSettings,
}


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be > 0, got {value}"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else f"must be >= 0, got {value}"


def _timezone(value: Any) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"must be an IANA timezone name such as Europe/Berlin, got {value!r}"
    return None


def _times(value: Any) -> str | None:
    bad = [t for t in value if not TIME_PATTERN.match(t)]
    if bad or not value:
        return f"must be a non-empty list of HH:MM times, got {list(value)!r}"
    return None


def _url(value: Any) -> str | None:
    if re.match(r"^https?://[^\s/]+", value):
        return None
    return f"must be an http(s) URL, got {value!r}"


def _webhook_url(value: Any) -> str | None:
    if not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.fragment or re.search(r"\s", value)):
        return f"must be an http(s) URL (Telegram needs https), got {value!r}"
    return None


def listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8443`` for IPv6) as (host, port); ValueError if malformed."""
    host, colon, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or any(c.isspace() for c in host) or not port.isdigit() \
            or not 1 <= int(port) <= 65535:
        raise ValueError(value)
    return host, int(port)


def _listen(value: Any) -> str | None:
    try:
        listen_address(value)
    except ValueError:
        return f"must be host:port with a port from 1 to 65535, got {value!r}"
    return None


def _webhook_secret(value: Any) -> str | None:
    # Never echoes the value: it is a secret.
    if not value or WEBHOOK_SECRET_PATTERN.match(value):
        return None
    return "must be 16 to 256 characters of A-Z, a-z, 0-9, _ and - (as Telegram requires)"


def _database_url(value: Any) -> str | None:
    if not value or is_postgres(value):
        return None
    return f"must be a postgresql:// URL, got {redact_url(value)!r}"


def _optional_listen(value: Any) -> str | None:
    return _listen(value) if value else None


def _model_pairs(value: Any) -> str | None:
    for pair, model in value.items():
        if not PAIR_PATTERN.match(pair) or not isinstance(model, str):
            return (f'must map language pairs to models, such as "fa-en" = "", '
                    f"got {pair!r} = {model!r}")
    return None


def _max_items(value: Any) -> str | None:
    return None if 1 <= value <= 30 else f"must be between 1 and 30, got {value}"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "storage.url": _database_url,
    "telegram.api_base_url": _url,
    "telegram.webhook_url": _webhook_url,
    "telegram.listen": _listen,
    "telegram.webhook_secret": _webhook_secret,
    "translation.beam_size": _positive,
    "translation.threads": _non_negative,
    "translation.max_batch_tokens": _positive,
    "translation.models": _model_pairs,
    "fetch.interval_minutes": _positive,
    "fetch.timeout_seconds": _positive,
    "fetch.max_bytes": _positive,
    "fetch.concurrency": _positive,
    "fetch.per_host": _positive,
    "fetch.max_entries": _positive,
    "fetch.min_text_chars": _non_negative,
    "fetch.lease_seconds": _positive,
    "fetch.pause_after_days": _positive,
    "digest.times": _times,
    "digest.timezone": _timezone,
    "digest.max_items": _max_items,
    "digest.max_age_hours": _positive,
    "digest.catch_up_minutes": _non_negative,
    "stories.window_hours": _positive,
    "metrics.listen": _optional_listen,
}


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check ``value`` has the type of ``default`` (ints accepted for floats)."""
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float)
    elif isinstance(default, tuple):
        ok = isinstance(value, list)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{key} must be {_type_name(default)}, got {value!r}")
    return value


def _type_name(default: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             tuple: "a list"}
    return names.get(type(default), type(default).__name__)


def _build_section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{name}] must be a table")
    defaults = cls()
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{name}.{key}"
        if key not in known:
            raise ConfigError(f"unknown key {dotted}")
        values[key] = _coerce(dotted, value, getattr(defaults, key))
        problem = _CHECKS.get(dotted, lambda _v: None)(values[key])
        if problem:
            raise ConfigError(f"{dotted} {problem}")
    admins = values.get("admins", ()) if name == "telegram" else ()
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in admins):
        raise ConfigError("telegram.admins must be a list of Telegram user ids (integers)")
    return replace(defaults, **values)


def _build_feeds(raw: Any) -> tuple[FeedConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError("feeds must be an array of tables ([[feeds]])")
    feeds = []
    for index, item in enumerate(raw):
        where = f"feeds[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be a table with url and name")
        unknown = set(item) - {"url", "name", "category", "language"}
        if unknown:
            raise ConfigError(f"unknown key {where}.{sorted(unknown)[0]}")
        url, name = item.get("url"), item.get("name", "")
        category, language = item.get("category", ""), item.get("language", "")
        if not isinstance(url, str) or _url(url):
            raise ConfigError(f"{where}.url must be an http(s) URL, got {url!r}")
        for key, value in (("name", name), ("category", category)):
            if not isinstance(value, str):
                raise ConfigError(f"{where}.{key} must be a string, got {value!r}")
        if not isinstance(language, str) or (language and not LANGUAGE_PATTERN.match(language)):
            raise ConfigError(f"{where}.language must be a language code such as \"fa\" "
                              f"(\"\" = detected), got {language!r}")
        feeds.append(FeedConfig(url=url, name=name or url, category=category.strip(),
                                language=language))
    return tuple(feeds)


def settings_from_mapping(raw: Mapping[str, Any], source_path: str | None = None) -> Settings:
    """Build validated settings from a parsed TOML document."""
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "feeds":
            sections["feeds"] = _build_feeds(value)
        elif name in _SECTIONS:
            sections[name] = _build_section(name, _SECTIONS[name], value)
        else:
            raise ConfigError(f"unknown section [{name}]")
    return Settings(**sections, source_path=source_path)


def _apply_env(settings: Settings, environ: Mapping[str, str]) -> Settings:
    token = environ.get(TOKEN_ENV)
    if token:
        settings = replace(settings, telegram=replace(settings.telegram, token=token.strip()))
    secret = environ.get(WEBHOOK_SECRET_ENV, "").strip()
    if secret:
        if problem := _webhook_secret(secret):
            raise ConfigError(f"${WEBHOOK_SECRET_ENV} {problem}")
        settings = replace(settings, telegram=replace(settings.telegram, webhook_secret=secret))
    url = environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        if problem := _database_url(url):
            raise ConfigError(f"${DATABASE_URL_ENV} {problem}")
        settings = replace(settings, storage=replace(settings.storage, url=url))
    listen = environ.get(METRICS_LISTEN_ENV, "").strip()
    if listen:
        if problem := _listen(listen):
            raise ConfigError(f"${METRICS_LISTEN_ENV} {problem}")
        settings = replace(settings, metrics=replace(settings.metrics, listen=listen))
    return settings


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """The config file to read, by the documented lookup order; None means defaults."""
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    local = Path("config.toml")
    return local if local.exists() else None


def load_settings(explicit: str | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings by the lookup order, apply environment overrides and validate."""
    environ = os.environ if environ is None else environ
    path = find_config_file(explicit, environ)
    if path is None:
        return _apply_env(Settings(), environ)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return _apply_env(settings_from_mapping(raw, source_path=str(path)), environ)
