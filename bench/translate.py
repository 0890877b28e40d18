"""Translation throughput and memory: Nashra against argostranslate's own path, in one run.

    uv run python bench/translate.py            # full run (about 30 minutes on 2 cores)
    uv run python bench/translate.py --quick    # a smoke run on a few articles

Builds (once, cached in bench/.cache/) a base-size synthetic Argos package — 6+6 layers,
d_model 512, FFN 2048, 8 heads, 8k SentencePiece vocabulary, int8 — shaped so its outputs are
varied Latin-script "English" about as long as their source. Then runs, each in a fresh
process so that its peak RSS is its own, interleaved so that machine drift cancels
(argos-real¹ argos¹ nashra limit cli nashra limit argos² argos-real²):

- argos: CTranslate2 called per text and paragraph exactly as argostranslate 1.11 does
  (the baseline; its two halves split the corpus, as a per-text path allows);
- nashra: Nashra's Translator as the pipeline uses it, cold cache, then warm (all hits);
- limit: one pre-tokenised translate_batch over every sentence, same threads and beam,
  batches of max_batch_tokens source tokens (CTranslate2's own batching, no memory budget);
- cli: `nashra translate` over the corpus, the real command, for Nashra's peak RSS;
- argos-real: argostranslate 1.11 itself, in its own virtual environment (the full
  package as `pip install argostranslate` gives it, torch included: its sentence splitter
  module imports stanza, which imports torch): the package is installed with
  ``argostranslate.package.install_from_path`` into a temporary ARGOS_PACKAGES_DIR (XDG
  folders and HOME temporary too, so nothing touches the user's home) and every article goes
  through ``argostranslate.translate.translate``. Its halves run first and last.

argostranslate 1.11 picks the sentence splitter from ARGOS_CHUNK_TYPE (default
"ARGOSTRANSLATE"): Stanza when the package carries a ``stanza/`` folder, else MiniSBD, with
the package's ``minisbd/*.onnx`` model if it has one, else a model MiniSBD downloads per
language. Stanza and downloads need the network, so argos-real's package (same model and
tokenizer) carries a MiniSBD model — the synthetic one of the tests, splitting after
. ! ? ؟ as Nashra's rules do — and ARGOS_* variables are cleared, so argostranslate runs its
default path, offline, onnxruntime included. The virtual environment is --argos-python, or one
made (once, about 6 GB: torch with its CUDA libraries) under the cache folder with
``uv venv --no-config`` and ``uv pip install --no-config argostranslate==1.11.*``
(--no-config: the project's override-dependencies would drop stanza from it too).

Then the limit for a few thread / batch settings. Throughput is source tokens (SentencePiece
pieces of the corpus's sentences, as Nashra splits them) per second of translation, model
loading excluded. The memory target compares Nashra's peak RSS with argos-real's; without
that environment the bench says so and falls back to --argos-rss-mb.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sentencepiece as spm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import corpus  # noqa: E402
from support import minisbd_model  # noqa: E402
from support.synthetic_model import BASE_SHAPE, build_package_dir, zip_package  # noqa: E402
from variants import nashra_sentences  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.translate import EngineSettings  # noqa: E402

CORPUS_VERSION = "1"
SWEEP = [(1, 2, 256), (1, 2, 512), (2, 1, 256), (2, 1, 512), (2, 1, 1024)]
QUICK_SWEEP = [(1, 2, 512), (2, 1, 1024)]
ARGOS_REQUIREMENT = "argostranslate==1.11.*"


@dataclass
class Run:
    """One variant's measurements (seconds summed over its runs, peak RSS the largest)."""

    label: str
    seconds: float = 0.0
    peak_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, seconds: float, peak_mb: float, extra: dict[str, Any]) -> None:
        self.seconds += seconds
        self.peak_mb = max(self.peak_mb, peak_mb)
        self.extra.update(extra)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Final line: speedup_vs_argos=X vs_limit=Y "
                                            "rss_ratio=Z (targets: ≥10, ≥0.85, ≤0.5).")
    parser.add_argument("--articles", type=int, default=50,
                        help="corpus size in articles (default 50, about 1,000 sentences)")
    parser.add_argument("--corpus", choices=["generated", "ntrex"], default="generated",
                        help="generated Arabic news (default) or NTREX-128 documents from "
                             "../shared/fixtures/arabic/ntrex")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache",
                        help="where the built model is kept between runs (default bench/.cache)")
    parser.add_argument("--argos-python", default="",
                        help="python of a virtual environment holding argostranslate 1.11 "
                             "(default: made once under the cache folder with uv); 'none' "
                             "skips the argos-real variant")
    parser.add_argument("--argos-rss-mb", type=float, default=790.0,
                        help="argostranslate's process peak RSS to divide by when argos-real "
                             "does not run")
    parser.add_argument("--quick", action="store_true",
                        help="8 articles, one Nashra/limit round, a short sweep")
    parser.add_argument("--no-sweep", action="store_true", help="skip the settings sweep")
    return parser.parse_args(argv)


def ensure_model(cache: Path) -> Path:
    """The base-size package folder, rebuilt when its recipe changes."""
    key = hashlib.sha256(f"{BASE_SHAPE!r}{CORPUS_VERSION}".encode()).hexdigest()[:10]
    dest = cache / f"model-{key}"
    package = dest / "translate-ar_en-1_0"
    if not (package / "model" / "model.bin").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        print(f"Building the base-size synthetic model in {dest} …", flush=True)
        build_package_dir(dest, shape=BASE_SHAPE, seed=0,
                          corpus=list(corpus.tokenizer_training_text()))
    return package


def argos_python(args: argparse.Namespace) -> Path | None:
    """The python of argostranslate's own environment, made when missing; None to skip."""
    if args.argos_python.lower() == "none":
        print("argos-real skipped (--argos-python none)", flush=True)
        return None
    if args.argos_python:
        python = Path(args.argos_python)
        if not python.is_file():
            sys.exit(f"--argos-python {python}: no such file")
        return python
    venv = args.cache_dir / "argos-venv"
    python = venv / "bin" / "python"
    if python.is_file():
        return python
    uv = shutil.which("uv")
    if uv is None:
        print("argos-real skipped: no `uv` on PATH to make argostranslate's environment "
              "(or pass --argos-python)", flush=True)
        return None
    print(f"Making argostranslate's environment in {venv} (torch included, about 6 GB) …",
          flush=True)
    for cmd in ([uv, "venv", "--no-config", str(venv)],
                [uv, "pip", "install", "--no-config", "--python", str(python),
                 ARGOS_REQUIREMENT]):
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            print(f"argos-real skipped: {' '.join(cmd[:3])} failed:\n{result.stderr[-2000:]}",
                  flush=True)
            return None
    return python


def argos_archive(cache: Path, package: Path) -> Path:
    """The bench package as an .argosmodel carrying a MiniSBD model (see the docstring)."""
    dest = cache / f"argos-{package.parent.name}"
    archive = dest / f"{package.name}.argosmodel"
    if archive.is_file():
        return archive
    shutil.rmtree(dest, ignore_errors=True)
    root = dest / package.name
    shutil.copytree(package, root)
    ends = minisbd_model.SENTENCE_ENDS
    minisbd_model.SENTENCE_ENDS = tuple(e for e in ends if e != "\u060c")  # no split at ،
    try:
        onnx = minisbd_model.build_minisbd_model("ar")
    finally:
        minisbd_model.SENTENCE_ENDS = ends
    (root / "minisbd").mkdir(exist_ok=True)
    (root / "minisbd" / "ar.onnx").write_bytes(onnx)
    zip_package(root, dest / "partial.zip").rename(archive)
    shutil.rmtree(root)
    return archive


def load_corpus(args: argparse.Namespace) -> list[str]:
    if args.corpus == "ntrex":
        if not corpus.NTREX.is_dir():
            sys.exit(f"no NTREX fixtures at {corpus.NTREX}")
        return corpus.ntrex_articles(args.articles)
    return corpus.generated_articles(args.articles)


def write_corpus(path: Path, articles: list[str]) -> Path:
    """In `nashra translate`'s input format: articles separated by --- lines."""
    path.write_text("\n\n---\n\n".join(articles) + "\n", encoding="utf-8")
    return path


# Runs the real CLI (what the `nashra` script runs) and, at exit, records the process's peak
# RSS: VmHWM read by the process itself is the only figure not inflated by the parent's size.
_CLI_LAUNCHER = """
import atexit, runpy, sys
from pathlib import Path
from variants import peak_rss_mb
out = Path(sys.argv.pop(1))
atexit.register(lambda: out.write_text(str(peak_rss_mb())))
sys.argv[0] = "nashra"
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


# argostranslate's real API in its own environment: install the package, load it with a
# one-sentence warm-up (model loading is not timed, as for every variant), translate each
# article, print one JSON line with the seconds, the process's own peak RSS (VmHWM) and
# whether torch was loaded. Runs in an empty folder so that nothing of the project is imported.
_ARGOS_RUNNER = """
import json, sys, time
from pathlib import Path
archive, articles = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text("utf-8"))
import argostranslate.package
import argostranslate.translate as at
argostranslate.package.install_from_path(archive)
at.translate("\u0645\u0631\u062d\u0628\u0627.", "ar", "en")
start = time.perf_counter()
outputs = [at.translate(text, "ar", "en") for text in articles]
seconds = time.perf_counter() - start
hwm = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:")]
splitter = at.get_translation_from_codes("ar", "en").underlying.sentencizer
print(json.dumps({"seconds": seconds, "peak_mb": int(hwm[0].split()[1]) / 1024,
                  "torch": "torch" in sys.modules, "sentencizer": str(splitter),
                  "articles": len(outputs)}))
"""


def run_process(cmd: list[str], stdout: Path, cwd: Path = HERE,
                env: dict[str, str] | None = None) -> float:
    """Run ``cmd`` with stdout to a file; its wall-clock seconds. Exits on failure."""
    start = time.perf_counter()
    with stdout.open("w") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, cwd=cwd, env=env,
                                check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{result.stderr.decode()}")
    return time.perf_counter() - start


def variant(name: str, package: Path, corpus_file: Path, workdir: Path,
            settings: dict[str, Any], run: Run) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"{name}.json"
    run_process([sys.executable, str(HERE / "variants.py"), name, str(package),
                 str(corpus_file), str(workdir), json.dumps(settings)], out)
    result = json.loads(out.read_text().strip().splitlines()[-1])
    peak = result.pop("peak_mb")
    run.add(result.pop("seconds"), peak, result)
    print(f"  {run.label:<40} done ({run.seconds:.1f} s so far, peak {peak:.0f} MB)",
          flush=True)


def argos_real(python: Path, archive: Path, articles: list[str], workdir: Path,
               run: Run) -> None:
    """argostranslate's own process over ``articles``, every folder it uses temporary."""
    workdir.mkdir(parents=True, exist_ok=True)
    texts = workdir / "articles.json"
    texts.write_text(json.dumps(articles, ensure_ascii=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "XDG_"))}
    for name in ("home", "data", "config", "cache", "packages"):
        (workdir / name).mkdir(exist_ok=True)
    env.update(HOME=str(workdir / "home"), XDG_DATA_HOME=str(workdir / "data"),
               XDG_CONFIG_HOME=str(workdir / "config"), XDG_CACHE_HOME=str(workdir / "cache"),
               ARGOS_PACKAGES_DIR=str(workdir / "packages"))
    out = workdir / "result.json"
    run_process([str(python), "-c", _ARGOS_RUNNER, str(archive), str(texts)], out,
                cwd=workdir, env=env)
    result = json.loads(out.read_text().strip().splitlines()[-1])
    peak = result.pop("peak_mb")
    run.add(result.pop("seconds"), peak, result)
    print(f"  {run.label:<40} done ({run.seconds:.1f} s so far, peak {peak:.0f} MB)",
          flush=True)


def cli_run(package: Path, corpus_file: Path, workdir: Path, run: Run) -> None:
    """`nashra translate` over the corpus with the default settings and a fresh database."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.toml"
    config.write_text(f'[storage]\npath = "{workdir / "nashra.db"}"\n'
                      f'[translation]\nmodel = "{package}"\n', encoding="utf-8")
    peak_file = workdir / "peak"
    seconds = run_process([sys.executable, "-c", _CLI_LAUNCHER, str(peak_file), "--config",
                           str(config), "translate", str(corpus_file)],
                          workdir / "translated.txt")
    peak = float(peak_file.read_text())
    run.add(seconds, peak, {})
    print(f"  {run.label:<40} done ({seconds:.1f} s, peak {peak:.0f} MB)", flush=True)


def count_tokens(package: Path, articles: list[str]) -> tuple[int, int]:
    sp = spm.SentencePieceProcessor(model_file=str(package / "sentencepiece.model"))
    sentences = nashra_sentences(articles)
    return len(sentences), sum(len(t) for t in sp.encode(sentences, out_type=str))


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.quick:
        args.articles = min(args.articles, 8)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    package = ensure_model(args.cache_dir)
    articles = load_corpus(args)
    sentences, tokens = count_tokens(package, articles)
    t = Settings().translation
    defaults = {"beam_size": t.beam_size, "threads": t.threads,
                "max_batch_tokens": t.max_batch_tokens}
    engine = EngineSettings(**defaults)
    print(f"Corpus: {len(articles)} {args.corpus} articles, {sentences} sentences, "
          f"{tokens} source tokens; Nashra defaults {defaults}, memory_tokens "
          f"{engine.memory_tokens} ({engine.batch_budget()} per batch on "
          f"{engine.thread_split()[0]} replicas)", flush=True)
    python = argos_python(args)
    archive = argos_archive(args.cache_dir, package) if python else None
    with tempfile.TemporaryDirectory(prefix="nashra-bench-") as tmp:
        work = Path(tmp)
        real = (python, archive) if python and archive else None
        runs = measure(package, articles, work, defaults, args.quick, real)
        sweep = [] if args.no_sweep else measure_sweep(package, articles, work, args.quick)
    report(runs, sweep, tokens, sentences, args.argos_rss_mb)


def measure(package: Path, articles: list[str], work: Path, defaults: dict[str, Any],
            quick: bool, real: tuple[Path, Path] | None) -> dict[str, Run]:
    whole = write_corpus(work / "corpus.txt", articles)
    half = len(articles) // 2
    halves = [write_corpus(work / "corpus-a.txt", articles[:half]),
              write_corpus(work / "corpus-b.txt", articles[half:])]
    runs = {k: Run(label) for k, label in [
        ("argos", "argostranslate 1.11 per text (baseline)"),
        ("nashra", "Nashra Translator, cold cache"),
        ("limit", "limit: one translate_batch call"),
        ("cli", "`nashra translate` (whole process)"),
        ("real", "argostranslate 1.11 itself (own venv)")]}
    rounds = 1 if quick else 2
    print("Running (each variant in its own process):", flush=True)
    if real:
        argos_real(*real, articles[:half], work / "real-a", runs["real"])
    variant("argos", package, halves[0], work / "argos-a", {}, runs["argos"])
    for r in range(rounds):
        variant("nashra", package, whole, work / f"nashra-{r}", defaults, runs["nashra"])
        variant("limit", package, whole, work / f"limit-{r}", defaults, runs["limit"])
        if r == 0:
            cli_run(package, whole, work / "cli", runs["cli"])
    for run in (runs["nashra"], runs["limit"]):
        run.seconds /= rounds
    variant("argos", package, halves[1], work / "argos-b", {}, runs["argos"])
    if real:
        argos_real(*real, articles[half:], work / "real-b", runs["real"])
    else:
        del runs["real"]
    return runs


def measure_sweep(package: Path, articles: list[str], work: Path,
                  quick: bool) -> list[tuple[tuple[int, int, int], Run]]:
    whole = work / "corpus.txt"
    results = []
    print("Limit for other settings:", flush=True)
    for inter, intra, budget in QUICK_SWEEP if quick else SWEEP:
        run = Run(f"inter {inter} / intra {intra} / {budget} tokens")
        settings = {"threads": inter * intra, "intra_threads": intra,
                    "max_batch_tokens": budget}
        variant("limit", package, whole, work / f"sweep-{inter}-{intra}-{budget}", settings,
                run)
        results.append(((inter, intra, budget), run))
    return results


def report(runs: dict[str, Run], sweep: list[tuple[tuple[int, int, int], Run]], tokens: int,
           sentences: int, argos_rss: float) -> None:
    argos_tps = tokens / runs["argos"].seconds
    nashra = runs["nashra"]
    warm_seconds = float(nashra.extra["warm_seconds"])
    rows = [(run.label, run.seconds, run.peak_mb) for run in runs.values()]
    rows.insert(2, ("Nashra Translator, warm cache (all hits)", warm_seconds, nashra.peak_mb))
    print(f"\n{'variant':<42}{'seconds':>9}{'tokens/s':>10}{'× argos':>9}{'peak RSS':>10}")
    for label, seconds, peak in rows:
        tps = tokens / seconds
        print(f"{label:<42}{seconds:>9.3f}{tps:>10.0f}{tps / argos_tps:>9.2f}"
              f"{peak:>7.0f} MB")
    inter, intra = nashra.extra["inter_intra"]
    print(f"\nNashra: inter_threads {inter}, intra_threads {intra}; {sentences} sentences, "
          f"{nashra.extra['retried']} retried by the quality guards, "
          f"{nashra.extra['untranslated']} left untranslated; warm run "
          f"{nashra.seconds / warm_seconds:.0f}× faster than cold.")
    if sweep:
        print(f"\n{'limit for':<42}{'seconds':>9}{'tokens/s':>10}{'× argos':>9}{'peak RSS':>10}")
        for _, run in sweep:
            tps = tokens / run.seconds
            print(f"{run.label:<42}{run.seconds:>9.2f}{tps:>10.0f}{tps / argos_tps:>9.2f}"
                  f"{run.peak_mb:>7.0f} MB")
    speedup = runs["argos"].seconds / nashra.seconds
    vs_limit = runs["limit"].seconds / nashra.seconds
    real = runs.get("real")
    if real:
        argos_rss = real.peak_mb
        print(f"\nargostranslate's own process ({real.extra['sentencizer']}, torch "
              f"{'loaded' if real.extra['torch'] else 'NOT loaded'}) peaked at "
              f"{argos_rss:.0f} MB; its throughput is "
              f"{runs['argos'].seconds / real.seconds:.2f}× the reimplemented baseline's.")
    else:
        print(f"\nargostranslate's process not measured: peak RSS taken as {argos_rss:.0f} MB "
              "(--argos-rss-mb).")
    print(f"Nashra peak RSS / argostranslate's: `nashra translate` {runs['cli'].peak_mb:.0f} MB "
          f"= {runs['cli'].peak_mb / argos_rss:.2f}, Translator {nashra.peak_mb:.0f} MB = "
          f"{nashra.peak_mb / argos_rss:.2f}.")
    rss_ratio = runs["cli"].peak_mb / argos_rss
    print(f"speedup_vs_argos={speedup:.2f} vs_limit={vs_limit:.2f} rss_ratio={rss_ratio:.2f}")

if __name__ == "__main__":
    main(sys.argv[1:])
