"""The translation engine's quality guards, batching and sentence splitting, on real models.

Each guard is exercised with a synthetic package that fails the way Argos models do (see
tests/support/synthetic_weights.py): loops, a stuck token, <unk> copied from the source, empty
output, Arabic output. A flagged sentence is retried once with other decoding settings; if it
is still bad the original is kept, counted as untranslated and never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.dict_cache import DictCache
from support.synthetic_model import ArgosPackageFactory

import bot.textnorm
import bot.translate
from bot.store import Store
from bot.textnorm import arabic_ratio
from bot.translate import (
    EngineSettings,
    ModelStore,
    Translator,
    output_problem,
    repetitive,
    usable_cores,
)

SENTENCES = ["أعلن وزير الخارجية خطة جديدة لدعم الاقتصاد الوطني.",
             "وقال د. سامي إن النمو بلغ 3.5% هذا العام."]
TEXT = " ".join(SENTENCES)
SETTINGS = EngineSettings(beam_size=2, threads=1)




MakeTranslator = Callable[..., tuple[Translator, DictCache]]


@pytest.fixture
def make_translator(tmp_path: Path, argos_package_factory: ArgosPackageFactory
                    ) -> Iterator[MakeTranslator]:
    """A Translator over a freshly installed package built with the given options."""
    made: list[Translator] = []

    def make(settings: EngineSettings = SETTINGS, **package: object) -> tuple[Translator,
                                                                           DictCache]:
        archive = argos_package_factory(**package)  # type: ignore[arg-type]
        store = ModelStore(tmp_path / f"models-{len(made)}")
        model = store.install_from_path(archive, source="ar", target="en")
        cache = DictCache()
        made.append(Translator(model, settings, cache))
        return made[-1], cache

    yield make
    for translator in made:
        translator.close()


# --- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [
    ["▁the"] * 4,
    ["▁He", "▁said", "▁the", "▁the", "▁the", "▁the", "."],
    ["▁I", "▁am", "▁not", "▁sure"] * 3,
    ["▁a", "▁b", "▁a", "▁b", "▁a", "▁b"],
    ["3"] * 28,
    ["▁war", "▁x", "▁war", "▁y", "▁war", "▁z", "▁war", "▁war", "▁q"],  # one word over half
])
def test_degenerate_outputs_are_flagged(tokens: list[str]) -> None:
    assert repetitive(tokens)


@pytest.mark.parametrize("tokens", [
    ["▁The", "▁minister", "▁said", "▁the", "▁talks", "▁would", "▁resume", "▁on", "▁Monday", "."],
    ["▁very", "▁very", "▁good"],  # a word twice is English, not a loop
    ["▁the", "▁head", "▁of", "▁the", "▁office", "▁of", "▁the", "▁president"],
    ["▁1", "0", "0", "0", "0", "0", "0", "▁dollars"],  # digits repeat inside numbers
    ["▁wait", "ing", ".", ".", ".", ".", ".", "▁then"],
    ["▁a", "▁b", "▁a", "▁b", "▁c"],
    [],
])
def test_ordinary_outputs_are_not_flagged(tokens: list[str]) -> None:
    assert not repetitive(tokens)


def test_output_problem_names_each_failure() -> None:
    ok = "The minister announced a new plan."
    assert output_problem(SENTENCES[0], ok.split(), ok) is None
    assert output_problem(SENTENCES[0], ["▁"], "") == "empty"
    assert output_problem(SENTENCES[0], ["▁."], " . ") == "empty"
    assert output_problem("...", ["▁..."], "...") is None  # nothing to translate anyway
    assert output_problem(SENTENCES[0], ["▁وزير"], "وزير الخارجية said") == "arabic"
    assert output_problem(SENTENCES[0], ["▁the"] * 5, "the the the the the") == "repetitive"
    assert output_problem("2024", ["▁2024"], "2024") is None


def test_thread_split_uses_every_core_for_parallel_batches() -> None:
    assert EngineSettings().thread_split() == (usable_cores(), 1)
    assert EngineSettings(threads=1).thread_split() == (1, 1)  # one sequential batch stream
    assert EngineSettings(threads=4, intra_threads=2).thread_split() == (2, 2)
    assert EngineSettings(threads=1, intra_threads=4).thread_split() == (1, 1)


def test_memory_budget_is_shared_by_the_replicas_and_counts_beam_and_output() -> None:
    one, four = EngineSettings(threads=1), EngineSettings(threads=4)
    assert one.batch_budget() == one.memory_tokens == 4 * four.batch_budget()
    # beam 4, 10 source pieces and an expected 14 output pieces: 4 × 24 per sentence
    assert one.batch_cost(3, 10) == 3 * 4 * (10 + 14)
    assert EngineSettings(beam_size=1).batch_cost(3, 10) * 4 == one.batch_cost(3, 10)
    # a runaway expectation stops at the decoding limit
    assert one.batch_cost(1, 1000) == 4 * (1000 + bot.translate.MAX_DECODING_LENGTH)


def test_batches_keep_within_the_token_cap_and_the_memory_budget() -> None:
    engine = object.__new__(bot.translate._Engine)
    lengths = [200, 120, 60, 60, 40, 30, 30, 20, 12, 10, 10, 8, 5, 3, 1, 0] * 3
    tokens = [["▁x"] * n for n in lengths]
    order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
    for settings in (EngineSettings(threads=2), EngineSettings(threads=4, beam_size=1),
                     EngineSettings(threads=1, max_batch_tokens=64, memory_tokens=100)):
        engine.settings = settings
        batches = list(engine._batches(order, tokens))
        assert sorted(i for b in batches for i in b) == list(range(len(tokens)))
        for batch in batches:
            longest = max(1, *(len(tokens[i]) for i in batch))
            if len(batch) > 1:  # a sentence alone always goes, whatever it costs
                assert len(batch) * longest <= settings.max_batch_tokens
                assert settings.batch_cost(len(batch), longest) <= settings.batch_budget()


# --- guards on real models ------------------------------------------------------------------


def test_normal_model_passes_every_guard(make_translator: MakeTranslator) -> None:
    translator, cache = make_translator()
    [result] = translator.translate_sync([TEXT])
    assert (translator.retried, translator.rejected, result.untranslated) == (0, 0, 0)
    assert len(cache.data) == 2


def test_looping_output_is_retried_once_and_the_retry_is_kept(
        make_translator: MakeTranslator) -> None:
    translator, cache = make_translator(behaviour="loop")
    [result] = translator.translate_sync([TEXT])
    assert (translator.retried, translator.rejected, result.untranslated) == (2, 0, 0)
    for sentence in result.sentences:
        words = sentence.split()
        assert len(words) >= 8 and not repetitive(words) and arabic_ratio(sentence) == 0
    assert sorted(cache.data.values()) == sorted(result.sentences)


def test_unknown_tokens_copied_from_arabic_are_retried_without_unk(
        make_translator: MakeTranslator) -> None:
    translator, cache = make_translator(behaviour="unk")
    [result] = translator.translate_sync([TEXT])
    assert translator.retried == 2 and result.untranslated == 0
    assert all(s and arabic_ratio(s) == 0 for s in result.sentences)
    assert len(cache.data) == 2


@pytest.mark.parametrize("behaviour", ["stuck", "silent", "arabic"])
def test_still_bad_after_retry_keeps_the_original_and_caches_nothing(
        make_translator: MakeTranslator, behaviour: str) -> None:
    translator, cache = make_translator(behaviour=behaviour)
    [result] = translator.translate_sync([TEXT])
    assert (translator.retried, translator.rejected, result.untranslated) == (2, 2, 2)
    assert result.sentences == SENTENCES
    assert cache.data == {}
    # Nothing was cached, so a second run asks the model again (and fails the same way).
    [again] = translator.translate_sync([TEXT])
    assert again.cache_hits == 0 and again.untranslated == 2


def test_rejected_sentences_stay_out_of_the_sqlite_cache(
        tmp_path: Path, argos_package_factory: ArgosPackageFactory) -> None:
    model = ModelStore(tmp_path / "models").install_from_path(
        argos_package_factory(behaviour="arabic"), source="ar", target="en")
    with Store(tmp_path / "nashra.db") as store:
        translator = Translator(model, SETTINGS, store)
        try:
            [result] = translator.translate_sync([TEXT])
        finally:
            translator.close()
        assert result.untranslated == 2
        assert store.count_cached_translations() == 0


# --- batching ---------------------------------------------------------------------------------


def test_sentences_of_all_texts_go_to_the_model_in_one_call_in_order(
        make_translator: MakeTranslator, monkeypatch: pytest.MonkeyPatch) -> None:
    # A budget of 24 tokens puts (nearly) one sentence per batch, so 40 sentences are sorted,
    # cut into many asynchronous batches (more than the 4 submitted ahead) and put back in order.
    settings = EngineSettings(beam_size=1, threads=2, max_batch_tokens=24)
    translator, _ = make_translator(settings)
    texts = [f"وصل الوفد رقم {i} إلى المدينة {'بعد رحلة طويلة ' * (i % 5)}صباح اليوم."
             for i in range(40)]
    calls: list[int] = []
    original = bot.translate._Engine.translate

    def spy(self: bot.translate._Engine, sentences: list[str]) -> object:
        calls.append(len(sentences))
        return original(self, sentences)

    monkeypatch.setattr(bot.translate._Engine, "translate", spy)
    together = [r.sentences[0] for r in translator.translate_sync(texts)]
    assert calls == [40]
    alone, _ = make_translator(settings)
    assert together == [alone.translate_sync([t])[0].sentences[0] for t in texts]


def test_model_is_loaded_once_in_the_worker(make_translator: MakeTranslator) -> None:
    translator, _ = make_translator()
    assert translator.engine_thread_id is None
    translator.load()
    engine_thread = translator.engine_thread_id
    translator.translate_sync([TEXT])
    translator.translate_sync(["هل انتهت الأزمة؟"])
    assert translator.engine_thread_id == engine_thread is not None


# --- sentence-boundary model ------------------------------------------------------------------


def test_package_sentence_boundary_model_is_used(make_translator: MakeTranslator) -> None:
    # The test MiniSBD model also ends sentences at the Arabic comma; the rules never do.
    translator, _ = make_translator(minisbd=True)
    assert translator.sentence_model is not None
    assert translator.sentence_model.name == "ar.onnx"
    [result] = translator.translate_sync(["وصل الوفد صباح اليوم، وبدأت المحادثات فوراً."])
    assert len(result.sentences) == 2 and result.untranslated == 0


def test_rules_split_when_the_runtime_is_missing(make_translator: MakeTranslator,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = bot.textnorm.importlib.import_module

    def no_minisbd(name: str, package: str | None = None) -> object:
        if name == "minisbd":
            raise ImportError("No module named 'minisbd'")
        return real_import(name, package)

    monkeypatch.setattr(bot.textnorm.importlib, "import_module", no_minisbd)
    translator, _ = make_translator(minisbd=True)
    [result] = translator.translate_sync(["وصل الوفد صباح اليوم، وبدأت المحادثات فوراً."])
    assert len(result.sentences) == 1 and result.untranslated == 0
    assert translator.sentence_model is None  # fell back, and says so


def test_rules_split_when_the_package_has_no_boundary_model(
        make_translator: MakeTranslator) -> None:
    translator, _ = make_translator()
    assert translator.sentence_model is None
    [result] = translator.translate_sync(["وصل الوفد صباح اليوم، وبدأت المحادثات فوراً."])
    assert len(result.sentences) == 1
