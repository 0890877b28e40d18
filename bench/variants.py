"""The measured variants of bench/translate.py. Each runs in its own process (for its peak RSS)
and prints one JSON line: how long the timed part took and what it translated.

- ``argos``: CTranslate2 called exactly as argostranslate 1.11 calls it per text, reimplemented
  because importing ``argostranslate.translate`` loads torch (not installed here).
- ``nashra``: Nashra's Translator as the pipeline uses it: the async ``translate()`` over all
  texts, a fresh SQLite store as the cache (cold), then a second Translator over the same store
  (every sentence a cache hit).
- ``limit``: one pre-tokenised ``translate_batch`` call over every sentence, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import ctranslate2
import sentencepiece as spm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import textnorm
from bot.modelstore import ModelStore
from bot.store import Store
from bot.translate import EngineSettings, Translator

# argostranslate 1.11 defaults: settings.py (ARGOS_* environment variables unset) and the
# translate_batch call in translate.apply_packaged_translation.
ARGOS_TRANSLATOR: dict[str, Any] = {"device": "cpu", "inter_threads": 1, "intra_threads": 0,
                                    "compute_type": "auto"}
ARGOS_DECODING: dict[str, Any] = {"replace_unknowns": True, "max_batch_size": 32,
                                  "batch_type": "tokens", "beam_size": 4, "num_hypotheses": 1,
                                  "length_penalty": 0.2, "return_scores": True}


def nashra_sentences(articles: list[str]) -> list[str]:
    """Every sentence of the corpus as Nashra's rule-based splitter cuts it."""
    return [textnorm.normalize_sentence(s) for text in articles
            for paragraph in textnorm.split_paragraphs(text)
            for s in textnorm.split_sentences(paragraph)]


def run_argos(package: Path, articles: list[str]) -> dict[str, Any]:
    """argostranslate's per-text path: paragraphs at "\\n", one translate_batch per paragraph.

    argostranslate 1.11 splits sentences with MiniSBD, whose Arabic model it downloads; the
    rule-based splitter stands in for it (sentence splitting is a small part of the cost either
    way; leaving MiniSBD's own time out only flatters the baseline).
    """
    translator = ctranslate2.Translator(str(package / "model"), **ARGOS_TRANSLATOR)
    sp = spm.SentencePieceProcessor(model_file=str(package / "sentencepiece.model"))
    start = time.perf_counter()
    outputs = []
    for text in articles:
        paragraphs = []
        for paragraph in text.split("\n"):
            if not paragraph.strip():
                continue  # blank lines between paragraphs: nothing to translate
            tokenized = [sp.encode(s, out_type=str) for s in textnorm.split_sentences(paragraph)]
            batches = translator.translate_batch(tokenized, **ARGOS_DECODING)
            pieces = [t for batch in batches for t in batch.hypotheses[0]]
            value = sp.decode_pieces(pieces).replace("▁", " ").replace("_", " ")
            paragraphs.append(value[1:] if value.startswith(" ") else value)
        outputs.append("\n".join(paragraphs))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "articles": len(outputs)}


def run_nashra(package: Path, articles: list[str], workdir: Path,
               settings: dict[str, Any]) -> dict[str, Any]:
    model = ModelStore(workdir / "models").describe(package)
    engine = EngineSettings(**settings)
    with Store(workdir / "nashra.db") as store:
        cold = Translator(model, engine, store)
        cold.load()  # model loading is not translation: every variant loads before timing
        start = time.perf_counter()
        results = asyncio.run(cold.translate(articles))
        seconds = time.perf_counter() - start
        cold.close()
        warm = Translator(model, engine, store)
        start = time.perf_counter()
        again = asyncio.run(warm.translate(articles))
        warm_seconds = time.perf_counter() - start
        warm.close()
    assert [r.text for r in again] == [r.text for r in results]
    return {"seconds": seconds, "warm_seconds": warm_seconds, "sentences": cold.misses,
            "warm_hits": warm.hits, "retried": cold.retried,
            "untranslated": sum(r.untranslated for r in results),
            "inter_intra": list(engine.thread_split())}


def run_limit(package: Path, articles: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    engine = EngineSettings(**settings)
    inter, intra = engine.thread_split()
    translator = ctranslate2.Translator(str(package / "model"), device="cpu",
                                        compute_type="int8", inter_threads=inter,
                                        intra_threads=intra)
    sp = spm.SentencePieceProcessor(model_file=str(package / "sentencepiece.model"))
    tokens = sp.encode(nashra_sentences(articles), out_type=str)
    start = time.perf_counter()
    translator.translate_batch(tokens, max_batch_size=engine.max_batch_tokens,
                               batch_type="tokens", beam_size=engine.beam_size,
                               num_hypotheses=1, length_penalty=0.2, replace_unknowns=True,
                               max_decoding_length=256)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "sentences": len(tokens), "inter_intra": [inter, intra]}


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). getrusage's ru_maxrss is not: across fork and
    exec it keeps the parent's resident size at fork time."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> None:
    """``variants.py NAME PACKAGE CORPUS WORKDIR SETTINGS_JSON``."""
    name, package, corpus, workdir, settings = argv
    from bot.cli import split_articles

    articles = split_articles(Path(corpus).read_text(encoding="utf-8"))
    options = json.loads(settings)
    if name == "argos":
        result = run_argos(Path(package), articles)
    elif name == "nashra":
        result = run_nashra(Path(package), articles, Path(workdir), options)
    else:
        result = run_limit(Path(package), articles, options)
    result["peak_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
