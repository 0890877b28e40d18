"""Sentence-level translation with a CTranslate2 model from an Argos package, plus its cache.

Threading contract: sentence splitting (possibly with the package's MiniSBD model),
tokenisation and CTranslate2 run only in the Translator's single worker thread, so the event
loop never blocks on them and the model is loaded exactly once. The translation cache is a
SQLite store and is used only from the calling thread.

Argos's own translation module is never imported: it pulls in stanza and torch. Tokenisation,
decoding options and detokenisation follow what argostranslate 1.11 does, but batching does
not: argostranslate runs one small batch per paragraph, while here every pending sentence of a
call is sorted by length and cut into batches by a memory budget (see :class:`_Engine`). Package
management lives in :mod:`bot.modelstore`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot import textnorm
from bot.errors import TranslateError
from bot.models import ModelInfo, Translation
from bot.modelstore import ModelStore

__all__ = ["MAX_DECODING_LENGTH", "EngineSettings", "ModelStore", "TranslationCache",
           "Translator", "output_problem", "repetitive"]

log = logging.getLogger(__name__)

# A random or broken model must not decode forever; real sentences need far fewer tokens.
MAX_DECODING_LENGTH = 256
# Above this share of Arabic letters an ar→en output is a copy of its source, not a translation.
MAX_ARABIC_SHARE = 0.5
# Degenerate output: an n-gram (n ≤ 4) repeated back to back, a word 4 times or a longer
# n-gram 3 times ("the the the the", "I'm not sure I'm not sure I'm not sure"); repeats of
# digits or punctuation only from 8 copies on (numbers such as 1,000,000 repeat pieces); or one
# word making up more than half of an output of at least 8 tokens.
MAX_NGRAM, TOKEN_REPEATS, NGRAM_REPEATS, OTHER_REPEATS = 4, 4, 3, 8
DOMINANT_MIN_TOKENS = 8
# Expected output pieces per source piece (plus a few), for the memory budget only.
_OUTPUT_RATIO, _OUTPUT_EXTRA = 1.25, 2
# Batches submitted per replica ahead of the results read: one running, one queued, so the
# replicas never wait for Python and only a few batches' inputs and results are held.
_QUEUED_PER_REPLICA = 2
# Decoding options of argostranslate 1.11 (apply_packaged_translation).
_DECODING: dict[str, Any] = {"num_hypotheses": 1, "length_penalty": 0.2,
                             "replace_unknowns": True, "max_decoding_length": MAX_DECODING_LENGTH}
# The one retry of a flagged sentence: penalise and forbid repeats, and never emit <unk> (which
# replace_unknowns turns into a copied Arabic source piece).
_RETRY: dict[str, Any] = {**_DECODING, "repetition_penalty": 1.2, "no_repeat_ngram_size": 3,
                          "disable_unk": True}


class TranslationCache(Protocol):
    """Sentence-level cache keyed by model id and normalised source sentence."""

    def get_translations(self, model_id: str, sources: Sequence[str]) -> dict[str, str]: ...

    def put_translations(self, model_id: str, pairs: Mapping[str, str]) -> None: ...


def usable_cores() -> int:
    """CPU cores this process may run on (respects affinity masks and container cpusets)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class EngineSettings:
    """CTranslate2 knobs.

    ``threads`` (0 = one per usable core) is split into ``threads // intra_threads`` model
    replicas that each run one batch at a time on ``intra_threads`` threads: for a base-size
    model, parallel batches beat intra-op threads, so intra_threads 1 is the default; on one
    core this is one sequential batch stream. ``max_batch_tokens`` caps a batch's padded
    source tokens. ``memory_tokens`` bounds what decoding holds: the batches running at once
    (one per replica) together have at most this many hypothesis tokens, a batch counting
    sentences × beam × (longest source + its expected output), so that memory neither grows
    with the number of cores nor with the beam (see :meth:`batch_budget`).
    """

    beam_size: int = 4
    threads: int = 0
    intra_threads: int = 1
    max_batch_tokens: int = 512
    max_sentence_tokens: int = 200
    memory_tokens: int = 7168

    def thread_split(self) -> tuple[int, int]:
        """(inter_threads, intra_threads) for ``ctranslate2.Translator``."""
        total = self.threads or usable_cores()
        intra = max(1, min(self.intra_threads, total))
        return max(1, total // intra), intra

    def batch_budget(self) -> int:
        """Hypothesis tokens one running batch may hold: ``memory_tokens`` per replica."""
        return max(1, self.memory_tokens // self.thread_split()[0])

    def batch_cost(self, sentences: int, longest: int) -> int:
        """Hypothesis tokens of a batch of ``sentences`` whose longest has ``longest`` pieces."""
        output = min(MAX_DECODING_LENGTH, int(longest * _OUTPUT_RATIO) + _OUTPUT_EXTRA)
        return sentences * self.beam_size * (longest + output)


def repetitive(tokens: Sequence[str]) -> bool:
    """True when model output is degenerate (see MAX_NGRAM and the constants after it)."""
    wordy = [any(ch.isalpha() for ch in token) for token in tokens]
    for n in range(1, MAX_NGRAM + 1):
        # k back-to-back copies of an n-gram = (k-1)·n consecutive i with t[i] == t[i+n].
        words_needed = (TOKEN_REPEATS - 1) if n == 1 else (NGRAM_REPEATS - 1) * n
        other_needed = (OTHER_REPEATS - 1) * n
        run = 0
        for i in range(len(tokens) - n):
            run = run + 1 if tokens[i] == tokens[i + n] else 0
            if run >= other_needed or (
                    run >= words_needed and any(wordy[i - words_needed + 1:i + 1])):
                return True
    words = Counter(t for t, w in zip(tokens, wordy, strict=True) if w)
    return (len(tokens) >= DOMINANT_MIN_TOKENS and bool(words)
            and words.most_common(1)[0][1] * 2 > len(tokens))


def output_problem(source: str, tokens: Sequence[str], text: str) -> str | None:
    """Why the translation ``text`` (model pieces ``tokens``) of ``source`` is unusable.

    "empty": no letter or digit although the source has some; "arabic": still mostly Arabic
    script; "repetitive": degenerate (:func:`repetitive`). None when it looks usable.
    """
    if not any(ch.isalnum() for ch in text) and any(ch.isalnum() for ch in source):
        return "empty"
    if textnorm.arabic_ratio(text) > MAX_ARABIC_SHARE:
        return "arabic"
    if repetitive(tokens):
        return "repetitive"
    return None


# --- worker-thread parts ----------------------------------------------------------------------


@dataclass
class _Outcome:
    """The engine's answer: one text per sentence, None where even the retry was unusable."""

    texts: list[str | None]
    retried: int
    rejected: int


class _Engine:
    """The loaded model and tokenizer. Created and used only in the worker thread.

    All sentences of a call are tokenised at once, sorted by length (longest first, so the
    last batches are short) and cut into batches within both budgets of
    :class:`EngineSettings`; each batch is an asynchronous translate_batch call of its own,
    ``_QUEUED_PER_REPLICA`` per replica submitted ahead of the results read.
    """

    def __init__(self, model: ModelInfo, settings: EngineSettings) -> None:
        import ctranslate2
        from argostranslate.package import Package
        from argostranslate.tokenizer import SentencePieceTokenizer

        package_dir = Path(model.path)
        if not (package_dir / "model" / "model.bin").is_file():
            raise TranslateError(f"model {model.id} is missing at {package_dir}")
        inter, intra = settings.thread_split()
        self.settings = settings
        try:
            self.package: Any = Package(package_dir)
            self.translator: Any = ctranslate2.Translator(
                str(package_dir / "model"), device="cpu", compute_type="int8",
                inter_threads=inter, intra_threads=intra)
        except (OSError, RuntimeError, ValueError) as exc:
            raise TranslateError(f"cannot load model {model.id}: {exc}") from exc
        self.tokenizer: Any = getattr(self.package, "tokenizer", None)
        if self.tokenizer is None:
            raise TranslateError(f"model {model.id} has no sentencepiece.model or bpe.model")
        # SentencePiece encodes a whole list in C++; other tokenizers go sentence by sentence.
        self._spm: Any = (self.tokenizer.lazy_processor()
                          if isinstance(self.tokenizer, SentencePieceTokenizer) else None)
        self.target_prefix: str = self.package.target_prefix or ""

    def translate(self, sentences: list[str]) -> _Outcome:
        """Translate sentences in order; flagged outputs are retried once, then rejected."""
        tokens = self._encode(sentences)
        hypotheses = self._decode(tokens, _DECODING)
        texts: list[str | None] = [self._detokenize(h) for h in hypotheses]
        bad = [i for i, h in enumerate(hypotheses)
               if output_problem(sentences[i], h, texts[i] or "")]
        if not bad:
            return _Outcome(texts, 0, 0)
        rejected = 0
        for i, hyp in zip(bad, self._decode([tokens[i] for i in bad], _RETRY), strict=True):
            text = self._detokenize(hyp)
            problem = output_problem(sentences[i], hyp, text)
            if problem:
                log.debug("untranslated (%s): %s", problem, sentences[i][:80])
                rejected += 1
            texts[i] = None if problem else text
        return _Outcome(texts, len(bad), rejected)

    def _encode(self, sentences: list[str]) -> list[list[str]]:
        cap = self.settings.max_sentence_tokens
        if self._spm is not None:
            encoded: list[list[str]] = self._spm.encode(sentences, out_type=str)
        else:
            encoded = [self.tokenizer.encode(s) for s in sentences]
        return [t[:cap] for t in encoded]

    def _decode(self, tokens: list[list[str]], options: dict[str, Any]) -> list[list[str]]:
        order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
        out: list[list[str]] = [[] for _ in tokens]
        ahead = _QUEUED_PER_REPLICA * self.settings.thread_split()[0]
        pending: deque[tuple[list[int], list[Any]]] = deque()
        for batch in self._batches(order, tokens):
            pending.append((batch, self._submit([tokens[i] for i in batch], options)))
            if len(pending) > ahead:
                self._collect(*pending.popleft(), out)
        while pending:
            self._collect(*pending.popleft(), out)
        return out

    def _batches(self, order: list[int], tokens: list[list[str]]) -> Iterator[list[int]]:
        """Runs of ``order`` (longest first, so the first is a batch's longest) within the
        token cap and the memory budget; a sentence alone always makes a batch."""
        s, budget = self.settings, self.settings.batch_budget()
        batch: list[int] = []
        for i in order:
            top = max(len(tokens[batch[0] if batch else i]), 1)
            if batch and ((len(batch) + 1) * top > s.max_batch_tokens
                          or s.batch_cost(len(batch) + 1, top) > budget):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def _submit(self, batch: list[list[str]], options: dict[str, Any]) -> list[Any]:
        prefix = [[self.target_prefix]] * len(batch) if self.target_prefix else None
        return list(self.translator.translate_batch(
            batch, target_prefix=prefix, max_batch_size=0, beam_size=self.settings.beam_size,
            asynchronous=True, **options))

    @staticmethod
    def _collect(chunk: list[int], results: list[Any], out: list[list[str]]) -> None:
        for index, result in zip(chunk, results, strict=True):
            out[index] = result.result().hypotheses[0]

    def _detokenize(self, pieces: list[str]) -> str:
        text: str = self.tokenizer.decode(pieces)
        if self.target_prefix and text.startswith(self.target_prefix):
            text = text[len(self.target_prefix):]
        return text.strip()


# --- the Translator ---------------------------------------------------------------------------


@dataclass
class _Plan:
    """Texts split into paragraphs of normalised sentences, and what the cache already had."""

    texts: list[list[list[str]]]
    cached: dict[str, str]
    misses: list[str]


class Translator:
    """Translates texts sentence by sentence, serving repeated sentences from the cache.

    Counters since this Translator was made: ``hits`` and ``misses`` (sentences served from the
    cache / not), ``retried`` (model outputs flagged as empty, Arabic or repetitive and
    translated again with other settings) and ``rejected`` (still unusable: the original
    sentence is kept and counted in ``Translation.untranslated``; it is never cached).
    """

    def __init__(self, model: ModelInfo, settings: EngineSettings,
                 cache: TranslationCache) -> None:
        self.model = model
        self.settings = settings
        self.hits = self.misses = self.retried = self.rejected = 0
        self._cache = cache
        self._engine: _Engine | None = None
        self._engine_thread = 0
        self._splitter = textnorm.SentenceSplitter.for_package(Path(model.path), model.source)
        self._closed = False
        self._on_close: list[Callable[[], None]] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nashra-ct2")

    @property
    def sentence_model(self) -> Path | None:
        """The package's sentence-boundary model in use (None: rule-based splitting)."""
        return self._splitter.model_file

    @property
    def engine_thread_id(self) -> int | None:
        """Ident of the thread the model was loaded and runs in (None before first use)."""
        return self._engine_thread if self._engine is not None else None

    @property
    def cache(self) -> TranslationCache:
        """The sentence cache (shared with the translators of other language pairs)."""
        return self._cache

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when this Translator closes (the other pairs' translators)."""
        self._on_close.append(callback)

    def load(self) -> None:
        """Load the model now (in the worker thread) instead of on the first translation."""
        self._check_open()
        self._executor.submit(self._load).result()

    async def translate(self, texts: Sequence[str]) -> list[Translation]:
        """Translate ``texts``; splitting and the model run in the worker thread."""
        self._check_open()
        loop = asyncio.get_running_loop()
        split = await loop.run_in_executor(self._executor, self._split, list(texts))
        plan = self._plan(split)
        new = (await loop.run_in_executor(self._executor, self._run, plan.misses)
               if plan.misses else {})
        return self._finish(plan, new)

    def translate_sync(self, texts: Sequence[str]) -> list[Translation]:
        """Blocking variant of :meth:`translate` for the CLI and tests."""
        self._check_open()
        plan = self._plan(self._executor.submit(self._split, list(texts)).result())
        new = self._executor.submit(self._run, plan.misses).result() if plan.misses else {}
        return self._finish(plan, new)

    def close(self) -> None:
        """Release the model and stop the worker thread (waits for running work)."""
        if self._closed:
            return
        self._closed = True
        for callback in self._on_close:
            callback()
        self._executor.submit(self._release)
        self._executor.shutdown(wait=True)

    def _check_open(self) -> None:
        if self._closed:
            raise TranslateError("translator is closed")

    def _plan(self, split: list[list[list[str]]]) -> _Plan:
        unique = list(dict.fromkeys(s for text in split for para in text for s in para if s))
        cached = self._cache.get_translations(self.model.id, unique) if unique else {}
        return _Plan(split, cached, [s for s in unique if s not in cached])

    def _finish(self, plan: _Plan, new: dict[str, str | None]) -> list[Translation]:
        # Rejected (None) outputs are not cached: a later model or run may do better.
        fresh = {src: dst for src, dst in new.items() if dst}
        if fresh:
            self._cache.put_translations(self.model.id, fresh)
        return [self._assemble(text, plan.cached, new) for text in plan.texts]

    def _assemble(self, paragraphs: list[list[str]], cached: Mapping[str, str],
                  new: Mapping[str, str | None]) -> Translation:
        sentences: list[str] = []
        out_paragraphs: list[str] = []
        hits = untranslated = 0
        for paragraph in paragraphs:
            out: list[str] = []
            for source in paragraph:
                translated = cached.get(source)
                hits += translated is not None
                translated = translated or new.get(source)
                if not translated:
                    untranslated += 1
                    translated = source  # the original beats a hole in the article
                out.append(translated)
            sentences.extend(out)
            out_paragraphs.append(" ".join(out))
        self.hits += hits
        self.misses += len(sentences) - hits
        return Translation(text="\n\n".join(out_paragraphs), sentences=sentences,
                           cache_hits=hits, untranslated=untranslated)

    # --- worker thread only ---

    def _split(self, texts: list[str]) -> list[list[list[str]]]:
        return [[[textnorm.normalize_sentence(s) for s in self._splitter.split(paragraph)]
                 for paragraph in textnorm.split_paragraphs(text)]
                for text in texts]

    def _load(self) -> _Engine:
        if self._engine is None:
            self._engine = _Engine(self.model, self.settings)
            self._engine_thread = threading.get_ident()
        return self._engine

    def _run(self, sentences: list[str]) -> dict[str, str | None]:
        engine = self._load()
        try:
            outcome = engine.translate(sentences)
        except Exception as exc:  # CTranslate2 raises plain RuntimeError/ValueError and more
            raise TranslateError(f"model {self.model.id} failed: {exc}") from exc
        self.retried += outcome.retried
        self.rejected += outcome.rejected
        if outcome.rejected:
            log.info("%d of %d sentences left untranslated: the model's output was unusable "
                     "even after a retry", outcome.rejected, len(sentences))
        return dict(zip(sentences, outcome.texts, strict=True))

    def _release(self) -> None:
        self._engine = None
