"""Log output: plain text lines (the default) or one JSON object per line.

``nashra --log-format json`` (or ``$NASHRA_LOG_FORMAT=json``) is for log collectors (Loki,
journald's JSON export, a container platform): each line holds ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``message``, ``exc_info`` (the traceback as text, when there is one)
and ``stage`` / ``feed`` when the call passed them (``extra={"stage": ..., "feed": ...}``).

Secrets stay out in both formats: :mod:`bot.console` redacts every record as it is created,
and its wrapper around the root handlers' formatters redacts the final line; the JSON
formatter redacts each field again before encoding, since JSON escaping could hide a secret
holding a quote or a backslash from a redaction of the encoded line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from bot import console

FORMATS = ("text", "json")
FORMAT_ENV = "NASHRA_LOG_FORMAT"
EXTRA_FIELDS = ("stage", "feed")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": console.redact(record.getMessage()),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = console.redact(str(value))
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_info"] = console.redact(record.exc_text
                                               or self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc_info"] = console.redact(record.exc_text)
        if record.stack_info:
            entry["stack_info"] = console.redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(verbose: bool, fmt: str = "text") -> None:
    """Configure logging to stderr in ``fmt`` ("text" or "json"), secrets redacted."""
    console.setup_logging(verbose)
    if fmt != "json":
        return
    for handler in logging.getLogger().handlers:
        # console wraps it in its redaction again when the next secret is protected
        handler.setFormatter(JsonFormatter())
    # An uncaught exception is one more JSON line, not a bare traceback among them (a hook
    # someone else installed, a test runner's, stays).
    if getattr(sys.excepthook, "__module__", None) == console.__name__:
        sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, exc, tb))
