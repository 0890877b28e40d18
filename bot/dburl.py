"""PostgreSQL URLs: recognised, and their passwords kept out of anything shown."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@\s]*@")
_PASSWORD_FIELD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def is_postgres(location: object) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def redact_url(text: str) -> str:
    """``text`` with any password in it (in a URL, or ``password=``) replaced by ***."""
    return _PASSWORD_FIELD.sub(r"\1***", _PASSWORD.sub(r"\1:***@", text))


def url_password(url: str) -> str:
    """The password in a PostgreSQL URL, decoded ('' when there is none)."""
    if not is_postgres(url):
        return ""
    try:
        password = urlsplit(url).password
    except ValueError:
        return ""
    return unquote(password) if password else ""
