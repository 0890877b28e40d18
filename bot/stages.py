"""The pipeline stages' settings, built from the configuration in one place.

The CLI and the bot both call these, so a command and the running bot fetch and translate
with the same limits (and the same User-Agent).
"""

from __future__ import annotations

from bot.config import Settings
from bot.fetch import FetchSettings
from bot.translate import EngineSettings


def fetch_settings(settings: Settings) -> FetchSettings:
    """The fetch stage's limits from ``[fetch]``."""
    f = settings.fetch
    return FetchSettings(timeout_seconds=f.timeout_seconds, max_bytes=f.max_bytes,
                         concurrency=f.concurrency, per_host=f.per_host,
                         user_agent=f.user_agent)


def engine_settings(settings: Settings) -> EngineSettings:
    """The translation engine's knobs from ``[translation]``."""
    t = settings.translation
    return EngineSettings(beam_size=t.beam_size, threads=t.threads,
                          max_batch_tokens=t.max_batch_tokens)
