"""`nashra doctor`: what is wrong with this installation, one line a check.

Each check says ``✔ name: detail`` or ``✘ name: problem — fix: how``. The checks are
independent: one failing (or crashing) never stops the others; those that need a working
configuration or a current database say they were skipped without one. Nothing is changed:
the database is opened read-only (never migrated), no model is downloaded (a configured
``.argosmodel`` file is installed into the models folder, as ``nashra run`` would), and the
bot token never appears in the output, even in an error.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import console
from bot.config import Settings, find_config_file, load_settings
from bot.dburl import redact_url
from bot.errors import ConfigError, NashraError
from bot.languages import available_offline, install_fix, pair_of, required_pairs
from bot.modelstore import ModelStore
from bot.stages import engine_settings
from bot.store import migrations, migrations_pg
from bot.store.base import ReadConnection
from bot.store.connection import database_errors
from bot.translate import Translator

log = logging.getLogger(__name__)
MIN_FREE_BYTES = 1 << 30   # below this much free disk space the check fails
# A news sentence the model translates once, for the model check.
SAMPLE_SENTENCE = "أعلنت وزارة الصحة افتتاح مستشفى جديد في المدينة يوم الأحد."
SKIPPED_CONFIG = "skipped: the configuration does not load"


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``detail`` says what is fine or, failed, what is wrong."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False   # left out on purpose (--offline, --skip-feeds): not a failure

    @property
    def line(self) -> str:
        if self.skipped:
            return f"– {self.name}: {self.detail}"
        if self.ok:
            return f"✔ {self.name}: {self.detail}"
        return f"✘ {self.name}: {self.detail} — fix: {self.fix}"


@dataclass(frozen=True)
class Options:
    """What to check: ``network`` covers the token and the feeds; ``feeds`` the feeds."""

    network: bool = True
    feeds: bool = True
    min_free_bytes: int = MIN_FREE_BYTES
    environ: Mapping[str, str] = field(default_factory=dict)


def run_checks(config_path: str | None, options: Options) -> Iterator[Check]:
    """Every check in turn, as each is done."""
    config, settings = _guarded("configuration", lambda: check_config(config_path, options))
    yield config
    if settings is None:
        for name in ("database", "model", "language pairs", "token", "feeds", "disk",
                     "paused feeds"):
            yield Check(name, False, SKIPPED_CONFIG, "fix the configuration first")
        return
    database, reader = _guarded("database", lambda: check_database(settings))
    yield database
    try:
        yield from _after_database(settings, reader, options)
    finally:
        if reader is not None:
            reader.close()


def _after_database(settings: Settings, reader: ReadConnection | None,
                    options: Options) -> Iterator[Check]:
    from bot import doctor_net  # httpx and the fetcher: only for the network checks

    yield _guarded("model", lambda: check_model(settings))[0]
    yield _guarded("language pairs", lambda: check_pairs(settings, reader))[0]
    if options.network:
        yield _guarded("token", lambda: doctor_net.check_token(settings))[0]
    else:
        yield Check("token", True, "skipped (--offline)", skipped=True)
    if options.network and options.feeds:
        yield _guarded("feeds", lambda: doctor_net.check_feeds(settings, reader))[0]
    else:
        reason = "--offline" if not options.network else "--skip-feeds"
        yield Check("feeds", True, f"skipped ({reason})", skipped=True)
    yield _guarded("disk", lambda: check_disk(settings, options.min_free_bytes))[0]
    yield _guarded("paused feeds", lambda: check_paused(reader))[0]


def _guarded(name: str, check: Callable[[], Any]) -> tuple[Check, Any]:
    """Run a check; a crash is its own failure, not the end of the others. Checks return a
    Check or (Check, something the next checks need)."""
    try:
        result = check()
    except Exception as exc:  # a bug or a library surprise in one check
        log.debug("check %s crashed", name, exc_info=True)
        return Check(name, False, f"the check itself failed ({type(exc).__name__})",
                     "run `nashra -v doctor` for details and report it"), None
    return result if isinstance(result, tuple) else (result, None)


# configuration --------------------------------------------------------------------------------

def check_config(config_path: str | None,
                 options: Options) -> tuple[Check, Settings | None]:
    """The configuration loads, from which file."""
    try:
        path = find_config_file(config_path, options.environ)
        settings = load_settings(config_path, options.environ)
    except ConfigError as exc:
        return Check("configuration", False, str(exc),
                     "correct the file (config.example.toml documents every setting)"), None
    console.protect_secret(settings.telegram.token)  # from now on, never in a log line
    where = f"{path} loaded" if path else "no config file: defaults and $NASHRA_* variables"
    return Check("configuration", True, f"{where}, {len(settings.feeds)} feeds"), settings


# database -------------------------------------------------------------------------------------

def expected_schema(postgres: bool) -> int:
    """The schema version this Nashra works with."""
    if postgres:
        return migrations_pg.BASELINE_VERSION + len(migrations_pg.MIGRATIONS)
    return len(migrations.MIGRATIONS)


def check_database(settings: Settings) -> tuple[Check, ReadConnection | None]:
    """The database opens (read-only), is intact and has this version's schema."""
    location = settings.database
    postgres = not isinstance(location, Path)
    if not postgres and not Path(location).is_file():
        return Check("database", False, f"no database at {location}",
                     "run `nashra migrate` to create it (or `nashra fetch`)"), None
    try:
        reader = ReadConnection(location)
    except NashraError as exc:
        return Check("database", False, _one_line(exc), _database_fix(postgres)), None
    errors: tuple[type[Exception], ...] = (NashraError, *database_errors())
    try:
        check = _inspect(reader, postgres, settings)
    except errors as exc:
        check = Check("database", False, f"{_where(settings)}: {_one_line(exc)}",
                      _database_fix(postgres))
    if not check.ok:
        reader.close()
        return check, None
    return check, reader


def _inspect(reader: ReadConnection, postgres: bool, settings: Settings) -> Check:
    with reader.use() as db:
        integrity = "connected" if postgres else str(
            db.execute("PRAGMA integrity_check").fetchone()[0])
        version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    where, expected = _where(settings), expected_schema(postgres)
    if integrity not in ("ok", "connected"):
        return Check("database", False, f"{where} is damaged: {integrity[:200]}",
                     _database_fix(postgres))
    if version is None or int(version) < expected:
        return Check("database", False,
                     f"{where} has schema {version or 0}, this version needs {expected}",
                     "stop the bot, back it up (`nashra backup`), then run `nashra migrate`")
    if int(version) > expected:
        return Check("database", False,
                     f"{where} has schema {version}, newer than this version's {expected}",
                     "upgrade Nashra to the version that wrote it")
    state = "connected" if postgres else "integrity ok"
    return Check("database", True, f"{where}: {state}, schema {version} (current)")


def _where(settings: Settings) -> str:
    if isinstance(settings.database, Path):
        return f"SQLite {settings.database}"
    return "PostgreSQL " + redact_url(settings.database)


def _database_fix(postgres: bool) -> str:
    if postgres:
        return "check storage.url and that the PostgreSQL server is running and reachable"
    return ("stop the bot and restore the latest backup (`nashra backup` makes them), or "
            "move the file away and start afresh")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


# model ----------------------------------------------------------------------------------------

class _NoCache:
    """The doctor's translation runs bypass the database's cache (nothing is written)."""

    def get_translations(self, model_id: str, sources: Sequence[str]) -> dict[str, str]:
        return {}

    def put_translations(self, model_id: str, pairs: Mapping[str, str]) -> None:
        return None


def check_model(settings: Settings) -> Check:
    """The main pair's model is installed, loads with CTranslate2 and translates a sentence."""
    t = settings.translation
    pair = pair_of(t.source, t.target)
    if not t.model and not settings.models_path.is_dir():
        return Check("model", False, f"no {t.source}→{t.target} model in "
                     f"{settings.models_path}", install_fix(settings, pair))
    try:
        model = ModelStore(settings.models_path).resolve(t.model, t.source, t.target)
    except NashraError as exc:
        return Check("model", False, _one_line(exc), install_fix(settings, pair))
    if model is None:
        return Check("model", False, f"no {t.source}→{t.target} model in "
                     f"{settings.models_path}", install_fix(settings, pair))
    translator = Translator(model, engine_settings(settings), _NoCache())
    try:
        result = translator.translate_sync([SAMPLE_SENTENCE])[0]
    except Exception as exc:  # CTranslate2 and SentencePiece raise plain errors
        return Check("model", False, f"{model.id} does not translate: {_one_line(exc)}",
                     "install it again: " + install_fix(settings, pair))
    finally:
        translator.close()
    if not result.text.strip() or result.untranslated:
        return Check("model", False, f"{model.id} gave no usable translation of a test "
                     "sentence", "install it again: " + install_fix(settings, pair))
    return Check("model", True, f"{model.id} loads and translates "
                 f"(“{_clip(result.text, 60)}”)")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def check_pairs(settings: Settings, reader: ReadConnection | None) -> Check:
    """The other pairs' models (translation.models, feeds' languages and the languages of
    articles stored untranslated) are installed."""
    untranslated: dict[str, int] = {}
    if reader is not None:
        with reader.use() as db:
            rows = db.execute("SELECT language, COUNT(*) FROM articles "
                              "WHERE untranslated = 1 GROUP BY language").fetchall()
        untranslated = {str(row[0]): int(row[1]) for row in rows}
    main = pair_of(settings.translation.source, settings.translation.target)
    missing = [(pair, install_fix(settings, pair))   # the main pair is the model check's
               for pair in required_pairs(settings, untranslated)
               if pair != main and not available_offline(settings, pair)]
    if not missing:
        return Check("language pairs", True, _pairs_detail(settings, main))
    problems = []
    for pair, _fix in missing:
        stored = untranslated.get(pair.split("-", 1)[0], 0)
        problems.append(f"{pair}" + (f" ({stored} articles stored untranslated)"
                                     if stored else ""))
    return Check("language pairs", False, "no model for " + ", ".join(problems),
                 "; ".join(fix for _pair, fix in missing))


def _pairs_detail(settings: Settings, main: str) -> str:
    others = sorted(set(settings.translation.models) - {main})
    if not others:
        return f"only {main} needed"
    return f"{', '.join(others)} installed"


# disk and paused feeds ------------------------------------------------------------------------

def check_disk(settings: Settings, min_free: int) -> Check:
    """Free space where the database and the models live."""
    folders = [settings.models_path]
    if isinstance(settings.database, Path):
        folders.insert(0, settings.database.parent)
    low, seen = [], []
    by_device = {_existing(f).stat().st_dev: _existing(f) for f in reversed(folders)}
    for folder in by_device.values():  # one line a file system
        free = shutil.disk_usage(folder).free
        seen.append(f"{_size(free)} free in {folder}")
        if free < min_free:
            low.append(f"only {_size(free)} free in {folder}")
    if low:
        return Check("disk", False, "; ".join(low) + f" (below {_size(min_free)})",
                     "free some space: `nashra tidy` shrinks the database; remove old "
                     "backups and unused models")
    return Check("disk", True, "; ".join(seen))


def _existing(folder: Path) -> Path:
    """The folder, or its nearest existing parent (what a new file there would use)."""
    folder = folder.resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def check_paused(reader: ReadConnection | None) -> Check:
    """Feeds paused after failing for days (see bot.feed_health)."""
    if reader is None:
        return Check("paused feeds", False, "skipped: the database is not usable",
                     "fix the database first")
    with reader.use() as db:
        rows = db.execute("SELECT name, last_error FROM feeds WHERE active = 1 "
                          "AND paused_at IS NOT NULL ORDER BY paused_at, id").fetchall()
    if not rows:
        return Check("paused feeds", True, "none")
    names = ", ".join(f"{row[0]} ({_clip(row[1] or '', 60)})" for row in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return Check("paused feeds", False, f"{len(rows)} paused: {names}{more}",
                 "fix or replace them; /resumefeed in the bot resumes one now "
                 "(each is also tried once a day), /removefeed removes it")
