"""An in-memory TranslationCache for translation tests that need no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DictCache:
    """The TranslationCache protocol over a dict, keyed by (model id, sentence)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_translations(self, model_id: str, sources: Sequence[str]) -> dict[str, str]:
        return {s: self.data[(model_id, s)] for s in sources if (model_id, s) in self.data}

    def put_translations(self, model_id: str, pairs: Mapping[str, str]) -> None:
        self.data.update({(model_id, s): t for s, t in pairs.items()})
