"""One Translator per language pair: the main pair's, given, and the others' made on first need.

A refresh groups its articles by language and asks :meth:`Translators.for_language` for each
group's translator. The main pair (``translation.source``-``target``) is the Translator the
caller made from ``translation.model``; another pair's model (``translation.models``) is
resolved the first time an article needs it, off the event loop (an ``.argosmodel`` file is
installed into the models folder then, never downloaded), and loaded by its Translator on
first translation. A pair whose model is missing is looked for again at every refresh that
meets it (cheap: a look at the models folder), so installing it later is enough.

A second model costs what the first does: about its size on disk in memory once loaded
(Argos's base models, some 100-150 MB) plus a worker thread. Pairs no feed meets are never
loaded. The pool lives as long as the main Translator and is closed with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from bot.config import Settings
from bot.errors import TranslateError
from bot.languages import model_spec, needs_model, pair_of, warn_missing_once
from bot.models import ModelInfo
from bot.modelstore import ModelStore
from bot.translate import Translator

log = logging.getLogger(__name__)

# By the main Translator's id; an entry leaves when that Translator is closed.
_pools: dict[int, Translators] = {}
_reported: set[tuple[str, str]] = set()


class Translators:
    """The main Translator and one per other pair, by source language."""

    def __init__(self, main: Translator, settings: Settings) -> None:
        self.main = main
        self.settings = settings
        self._others: dict[str, Translator] = {}
        main.on_close(self._closed)

    @classmethod
    def of(cls, main: Translator, settings: Settings) -> Translators:
        """The pool around ``main`` (made once: later refreshes reuse its loaded models)."""
        pool = _pools.get(id(main))
        if pool is None or pool.main is not main or pool.settings != settings:
            if pool is not None and pool.main is main:
                pool.close_others()   # the configuration changed: resolve the pairs again
            pool = _pools[id(main)] = cls(main, settings)
        return pool

    async def for_language(self, language: str) -> Translator | None:
        """The translator for ``language`` into the target; None when the pair has no model
        (logged once per pair) or the language needs none."""
        t = self.settings.translation
        if language == t.source:
            return self.main
        if not needs_model(language, self.settings):
            return None
        found = self._others.get(language)
        if found is None:
            model = await asyncio.to_thread(self._resolve, pair_of(language, t.target))
            if model is None:
                warn_missing_once(self.settings, pair_of(language, t.target))
                return None
            found = self._others[language] = Translator(model, self.main.settings,
                                                        self.main.cache)
            log.info("translating %s articles with %s", language, model.id)
        return found

    def _resolve(self, pair: str) -> ModelInfo | None:
        source, target = pair.split("-", 1)
        try:
            return ModelStore(self.settings.models_path).resolve(
                model_spec(self.settings, pair), source, target)
        except TranslateError as exc:
            if (pair, str(exc)) not in _reported:   # once, not at every refresh
                _reported.add((pair, str(exc)))
                log.warning("%s model unusable: %s", pair, exc)
            return None

    def all(self) -> Iterator[Translator]:
        """Every translator made so far, the main one first."""
        yield self.main
        yield from self._others.values()

    @property
    def hits(self) -> int:
        return sum(t.hits for t in self.all())

    @property
    def misses(self) -> int:
        return sum(t.misses for t in self.all())

    def _closed(self) -> None:
        self.close_others()
        if _pools.get(id(self.main)) is self:
            del _pools[id(self.main)]

    def close_others(self) -> None:
        """Release the other pairs' models (the main Translator is the caller's)."""
        for translator in self._others.values():
            translator.close()
        self._others.clear()
