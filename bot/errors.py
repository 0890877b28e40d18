"""Nashra's exception tree.

Every error a stage raises carries the stage's name, so a failure recorded against a feed or an
article says where it happened::

    NashraError
    ├── ConfigError          bad or unknown configuration key (start-up stops)
    └── StageError           a failure belonging to one feed or one article
        ├── FetchError       network, HTTP status, size cap, redirects
        ├── ParseError       not a feed, broken XML
        ├── ExtractError     article page gave no usable text
        ├── TranslateError   model missing, engine failure
        └── StoreError       database problems
"""

from __future__ import annotations


class NashraError(Exception):
    """Base class of every error Nashra raises on purpose."""


class ConfigError(NashraError):
    """The configuration file or an override is invalid; the message names the key."""

    def __str__(self) -> str:
        return f"config: {super().__str__()}"


class StageError(NashraError):
    """A failure in one pipeline stage, counted against one feed or one article."""

    stage = "pipeline"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.stage}: {self.reason}"


class FetchError(StageError):
    """The HTTP request failed or its response was refused.

    ``retry_after`` is the server's requested delay in seconds (429/503), when it gave one.
    """

    stage = "fetch"

    def __init__(self, reason: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


class ParseError(StageError):
    """The document is not a usable RSS or Atom feed."""

    stage = "parse"


class ExtractError(StageError):
    """No usable article text could be extracted from a page."""

    stage = "extract"


class TranslateError(StageError):
    """The translation model is missing, broken or failed on input."""

    stage = "translate"


class StoreError(StageError):
    """The database refused an operation."""

    stage = "store"
