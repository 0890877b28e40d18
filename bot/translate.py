"""Sentence-level translation with a CTranslate2 model from an Argos package, plus its cache.

Threading contract: CTranslate2 (and the tokenizer) run only in the Translator's single worker
thread, so the event loop never blocks on the model and the model is loaded exactly once. The
translation cache is a SQLite store and is used only from the calling thread.

Argos's own translation module is never imported: it pulls in stanza and torch. Tokenisation,
batching and detokenisation follow what argostranslate 1.11 does in
``apply_packaged_translation``. Package management lives in :mod:`bot.modelstore`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot import textnorm
from bot.errors import TranslateError
from bot.models import ModelInfo, Translation
from bot.modelstore import ModelStore

__all__ = ["MAX_DECODING_LENGTH", "EngineSettings", "ModelStore", "TranslationCache",
           "Translator"]

# A random or broken model must not decode forever; real sentences need far fewer tokens.
MAX_DECODING_LENGTH = 256


class TranslationCache(Protocol):
    """Sentence-level cache keyed by model id and normalised source sentence."""

    def get_translations(self, model_id: str, sources: Sequence[str]) -> dict[str, str]: ...

    def put_translations(self, model_id: str, pairs: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class EngineSettings:
    """CTranslate2 knobs. ``threads`` 0 means one per CPU core."""

    beam_size: int = 4
    threads: int = 0
    max_batch_tokens: int = 1024
    max_sentence_tokens: int = 200


@dataclass
class _Plan:
    """Texts split into paragraphs of normalised sentences, and what the cache already had."""

    texts: list[list[list[str]]]
    cached: dict[str, str]
    misses: list[str]


class _Engine:
    """The loaded model and tokenizer. Created and used only in the worker thread."""

    def __init__(self, model: ModelInfo, settings: EngineSettings) -> None:
        import ctranslate2
        from argostranslate.package import Package

        package_dir = Path(model.path)
        if not (package_dir / "model" / "model.bin").is_file():
            raise TranslateError(f"model {model.id} is missing at {package_dir}")
        threads = settings.threads or os.cpu_count() or 1
        self.settings = settings
        try:
            self.package: Any = Package(package_dir)
            # inter_threads parallelises batches; intra_threads=1 measured best for a base
            # model on small CPUs.
            self.translator: Any = ctranslate2.Translator(
                str(package_dir / "model"), device="cpu", compute_type="int8",
                inter_threads=threads, intra_threads=1)
        except (OSError, RuntimeError, ValueError) as exc:
            raise TranslateError(f"cannot load model {model.id}: {exc}") from exc
        if getattr(self.package, "tokenizer", None) is None:
            raise TranslateError(f"model {model.id} has no sentencepiece.model or bpe.model")
        self.target_prefix: str = self.package.target_prefix or ""
        self.thread_id = threading.get_ident()

    def translate(self, sentences: list[str]) -> list[str]:
        """Translate sentences in order; batches are formed by token budget, shortest first."""
        cap = self.settings.max_sentence_tokens
        tokens = [self.package.tokenizer.encode(s)[:cap] for s in sentences]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        batch = [tokens[i] for i in order]
        prefix = [[self.target_prefix]] * len(batch) if self.target_prefix else None
        results = self.translator.translate_batch(
            batch, target_prefix=prefix, max_batch_size=self.settings.max_batch_tokens,
            batch_type="tokens", beam_size=self.settings.beam_size, num_hypotheses=1,
            length_penalty=0.2, replace_unknowns=True, max_decoding_length=MAX_DECODING_LENGTH)
        out = [""] * len(sentences)
        for index, result in zip(order, results, strict=True):
            out[index] = self._detokenize(result.hypotheses[0])
        return out

    def _detokenize(self, pieces: list[str]) -> str:
        text: str = self.package.tokenizer.decode(pieces)
        if self.target_prefix and text.startswith(self.target_prefix):
            text = text[len(self.target_prefix):]
        return text.strip()


class Translator:
    """Translates texts sentence by sentence, serving repeated sentences from the cache.

    ``hits`` and ``misses`` count sentences served from the cache and sent to the model since
    this Translator was made.
    """

    def __init__(self, model: ModelInfo, settings: EngineSettings,
                 cache: TranslationCache) -> None:
        self.model = model
        self.settings = settings
        self.hits = 0
        self.misses = 0
        self._cache = cache
        self._engine: _Engine | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nashra-ct2")

    @property
    def engine_thread_id(self) -> int | None:
        """Ident of the thread the model was loaded and runs in (None before first use)."""
        return self._engine.thread_id if self._engine is not None else None

    async def translate(self, texts: Sequence[str]) -> list[Translation]:
        """Translate ``texts``; the model runs in the worker thread, never on the event loop."""
        self._check_open()
        plan = self._plan(texts)
        new: dict[str, str] = {}
        if plan.misses:
            loop = asyncio.get_running_loop()
            new = await loop.run_in_executor(self._executor, self._run, plan.misses)
        return self._finish(plan, new)

    def translate_sync(self, texts: Sequence[str]) -> list[Translation]:
        """Blocking variant of :meth:`translate` for the CLI and tests."""
        self._check_open()
        plan = self._plan(texts)
        new = self._executor.submit(self._run, plan.misses).result() if plan.misses else {}
        return self._finish(plan, new)

    def close(self) -> None:
        """Release the model and stop the worker thread (waits for running work)."""
        if self._closed:
            return
        self._closed = True
        self._executor.submit(self._release)
        self._executor.shutdown(wait=True)

    def _check_open(self) -> None:
        if self._closed:
            raise TranslateError("translator is closed")

    def _plan(self, texts: Sequence[str]) -> _Plan:
        split = [
            [[textnorm.normalize_sentence(s) for s in textnorm.split_sentences(paragraph)]
             for paragraph in textnorm.split_paragraphs(text)]
            for text in texts
        ]
        unique = list(dict.fromkeys(s for text in split for para in text for s in para if s))
        cached = self._cache.get_translations(self.model.id, unique) if unique else {}
        return _Plan(split, cached, [s for s in unique if s not in cached])

    def _finish(self, plan: _Plan, new: dict[str, str]) -> list[Translation]:
        # Empty outputs are not cached: a later model or run may do better.
        fresh = {src: dst for src, dst in new.items() if dst}
        if fresh:
            self._cache.put_translations(self.model.id, fresh)
        return [self._assemble(text, plan.cached, new) for text in plan.texts]

    def _assemble(self, paragraphs: list[list[str]], cached: Mapping[str, str],
                  new: Mapping[str, str]) -> Translation:
        sentences: list[str] = []
        out_paragraphs: list[str] = []
        hits = untranslated = 0
        for paragraph in paragraphs:
            out: list[str] = []
            for source in paragraph:
                if source in cached:
                    hits += 1
                    out.append(cached[source])
                elif new.get(source):
                    out.append(new[source])
                else:
                    untranslated += 1
                    out.append(source)  # the original beats a hole in the article
            sentences.extend(out)
            out_paragraphs.append(" ".join(out))
        total = len(sentences)
        self.hits += hits
        self.misses += total - hits
        return Translation(text="\n\n".join(out_paragraphs), sentences=sentences,
                           cache_hits=hits, untranslated=untranslated)

    # --- worker thread only ---

    def _run(self, sentences: list[str]) -> dict[str, str]:
        if self._engine is None:
            self._engine = _Engine(self.model, self.settings)
        try:
            outputs = self._engine.translate(sentences)
        except Exception as exc:  # CTranslate2 raises plain RuntimeError/ValueError and more
            raise TranslateError(f"model {self.model.id} failed: {exc}") from exc
        return dict(zip(sentences, outputs, strict=True))

    def _release(self) -> None:
        self._engine = None
