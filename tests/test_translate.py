"""ModelStore and Translator against the real CTranslate2 engine and a synthetic Argos package."""


from __future__ import annotations

import asyncio
import http.server
import shutil
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.dict_cache import DictCache
from support.payload_server import serving_bytes
from support.synthetic_model import ArgosPackageFactory

import bot.modelstore
import bot.translate
from bot.errors import TranslateError
from bot.models import ModelInfo, Translation
from bot.textnorm import arabic_ratio
from bot.translate import EngineSettings, ModelStore, Translator

ARTICLE = (
    "أعلن وزير الخارجية خطة جديدة لدعم الاقتصاد الوطني. وقال د. سامي إن النمو بلغ 3.5% هذا العام.\n"
    "هل تنجح المبادرة؟\n\n"
    "وصلت قافلة مساعدات إلى حلب صباح اليوم! وأكد المتحدث أن التوزيع سيبدأ غداً."
)
ARTICLE_SENTENCES = 5
SETTINGS = EngineSettings(beam_size=2, threads=1)




@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture
def model(store: ModelStore, argos_package: Path) -> ModelInfo:
    return store.install_from_path(argos_package, source="ar", target="en")


@pytest.fixture
def translator(model: ModelInfo) -> Iterator[Translator]:
    t = Translator(model, SETTINGS, DictCache())
    yield t
    t.close()


# --- installing -------------------------------------------------------------------------------


def test_install_from_argosmodel(store: ModelStore, model: ModelInfo) -> None:
    assert (model.source, model.target, model.version) == ("ar", "en", "1.0")
    assert model.id.startswith("ar-en@1.0+")
    assert Path(model.path).parent == store.root
    assert (Path(model.path) / "model" / "model.bin").is_file()
    assert model.size_bytes > 0
    assert store.installed() == [model]
    assert store.find("ar", "en") == model
    assert store.find("en", "ar") is None
    assert not [p for p in store.root.iterdir() if p.name.startswith(".") and p.name != ".lock"]


def test_id_is_stable_and_same_for_zip_and_folder(tmp_path: Path, argos_package: Path,
                                                   model: ModelInfo) -> None:
    again = ModelStore(tmp_path / "other").install_from_path(argos_package, source="ar",
                                                              target="en")
    assert again.id == model.id
    from_folder = ModelStore(tmp_path / "third").install_from_path(
        Path(model.path), source="ar", target="en")
    assert from_folder.id == model.id


def test_wrong_pair_is_refused(store: ModelStore,
                               argos_package_factory: ArgosPackageFactory) -> None:
    french = argos_package_factory(from_code="fr", to_code="en")
    with pytest.raises(TranslateError, match="package translates fr→en, expected ar→en"):
        store.install_from_path(french, source="ar", target="en")
    assert store.installed() == []
    assert [p.name for p in store.root.iterdir()] == [".lock"]


def _truncated(src: Path, dest: Path) -> Path:
    dest.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return dest


def _corrupt_member(src: Path, dest: Path) -> Path:
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("model.bin")))
    # Flip bytes inside the member's compressed data: the central directory stays intact.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 100
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize("damage", [_truncated, _corrupt_member])
def test_damaged_archive_is_refused_and_old_model_kept(
        store: ModelStore, model: ModelInfo, argos_package: Path, tmp_path: Path,
        damage: object) -> None:
    broken = damage(argos_package, tmp_path / "broken.argosmodel")  # type: ignore[operator]
    with pytest.raises(TranslateError, match=r"broken\.argosmodel"):
        store.install_from_path(broken, source="ar", target="en")
    assert store.installed() == [model]
    assert not [p for p in store.root.iterdir() if p.name.startswith(".") and p.name != ".lock"]
    still_works = Translator(model, SETTINGS, DictCache())
    assert still_works.translate_sync(["مرحبا بكم."])[0].untranslated == 0
    still_works.close()


def test_archive_with_two_top_folders_is_refused(store: ModelStore, tmp_path: Path) -> None:
    bad = tmp_path / "two.argosmodel"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("a/metadata.json", "{}")
        zf.writestr("b/metadata.json", "{}")
    with pytest.raises(TranslateError, match="exactly one top folder"):
        store.install_from_path(bad, source="ar", target="en")


def test_archive_with_unsafe_paths_is_refused(store: ModelStore, tmp_path: Path) -> None:
    bad = tmp_path / "evil.argosmodel"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("pkg/metadata.json", '{"from_code": "ar", "to_code": "en"}')
        zf.writestr("pkg/../../escape.txt", "x")
    with pytest.raises(TranslateError, match="unsafe path"):
        store.install_from_path(bad, source="ar", target="en")


def test_interrupted_extraction_keeps_old_model(
        store: ModelStore, model: ModelInfo, argos_package_factory: ArgosPackageFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    newer = argos_package_factory(seed=1)

    def fail(self: zipfile.ZipFile, path: object = None, members: object = None,
             pwd: object = None) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", fail)
    with pytest.raises(TranslateError, match="No space left"):
        store.install_from_path(newer, source="ar", target="en")
    assert store.installed() == [model]
    assert not [p for p in store.root.iterdir() if p.name.startswith(".") and p.name != ".lock"]


def test_crash_between_renames_is_recovered(store: ModelStore, model: ModelInfo) -> None:
    path = Path(model.path)
    path.rename(path.with_name(".old-" + path.name))
    assert ModelStore(store.root).installed() == [model]


def test_new_model_for_the_pair_replaces_the_old_one(
        store: ModelStore, model: ModelInfo,
        argos_package_factory: ArgosPackageFactory) -> None:
    retrained = store.install_from_path(argos_package_factory(seed=1), source="ar", target="en")
    assert retrained.id != model.id
    assert retrained.id.startswith("ar-en@1.0+")
    assert store.installed() == [retrained]
    upgraded = store.install_from_path(argos_package_factory(version="1.1"), source="ar",
                                       target="en")
    assert upgraded.version == "1.1"
    assert store.installed() == [upgraded]


def test_install_from_index_downloads_with_progress(
        store: ModelStore, argos_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = argos_package.read_bytes()
    seen: list[tuple[int, int | None]] = []
    with serving_bytes(payload) as url:
        monkeypatch.setattr(bot.modelstore, "_index_package",
                            lambda source, target: SimpleNamespace(links=[url]))
        info = store.install_from_index("ar", "en", progress=lambda d, t: seen.append((d, t)))
    assert store.installed() == [info]
    assert seen[-1] == (len(payload), len(payload))
    assert not [p for p in store.root.iterdir() if p.name.startswith(".") and p.name != ".lock"]


@pytest.mark.parametrize("declared_extra", [4096, -4096])
def test_download_shorter_or_longer_than_announced_is_refused(
        store: ModelStore, model: ModelInfo, argos_package: Path,
        monkeypatch: pytest.MonkeyPatch, declared_extra: int) -> None:
    payload = argos_package.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload) + declared_extra))
            self.end_headers()
            self.wfile.write(payload)  # then the connection closes

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/translate-ar_en-1_1.argosmodel"
    monkeypatch.setattr(bot.modelstore, "_index_package",
                        lambda source, target: SimpleNamespace(links=[url]))
    try:
        with pytest.raises(TranslateError, match=r"download failed|not a valid"):
            store.install_from_index("ar", "en")
    finally:
        server.shutdown()
    assert store.installed() == [model]  # the old model is untouched
    assert not [p for p in store.root.iterdir() if p.name.startswith(".") and p.name != ".lock"]


# --- resolve ----------------------------------------------------------------------------------


def test_resolve_empty_setting(store: ModelStore, argos_package: Path) -> None:
    assert store.resolve("", "ar", "en") is None
    installed = store.install_from_path(argos_package, source="ar", target="en")
    assert store.resolve("", "ar", "en") == installed


def test_resolve_archive_installs_once(store: ModelStore, argos_package: Path) -> None:
    first = store.resolve(str(argos_package), "ar", "en")
    assert first is not None and store.installed() == [first]
    marker = Path(first.path) / "marker"
    marker.write_text("still the same folder")
    assert store.resolve(str(argos_package), "ar", "en") == store.find("ar", "en")
    assert marker.exists()  # not reinstalled


def test_resolve_different_archive_reinstalls(
        store: ModelStore, model: ModelInfo,
        argos_package_factory: ArgosPackageFactory) -> None:
    other = store.resolve(str(argos_package_factory(seed=1)), "ar", "en")
    assert other is not None and other.id != model.id
    assert store.installed() == [other]


def test_resolve_folder_is_used_in_place(store: ModelStore, model: ModelInfo,
                                         tmp_path: Path) -> None:
    outside = tmp_path / "mine" / "pkg"
    shutil.copytree(model.path, outside)
    resolved = store.resolve(str(outside), "ar", "en")
    assert resolved is not None
    assert resolved.path == str(outside)
    assert resolved.id == model.id
    assert store.installed() == [model]


def test_resolve_errors(store: ModelStore, tmp_path: Path,
                        argos_package_factory: ArgosPackageFactory) -> None:
    with pytest.raises(TranslateError, match="not found"):
        store.resolve(str(tmp_path / "nope.argosmodel"), "ar", "en")
    with pytest.raises(TranslateError, match="expected ar→en"):
        store.resolve(str(argos_package_factory(from_code="fr")), "ar", "en")


# --- translating ------------------------------------------------------------------------------


def test_every_sentence_translated_to_latin_script(translator: Translator) -> None:
    [result] = translator.translate_sync([ARTICLE])
    assert len(result.sentences) == ARTICLE_SENTENCES
    assert all(s and len(s) < 1500 for s in result.sentences)
    assert arabic_ratio(result.text) < 0.05
    assert result.text.count("\n\n") == 1  # two paragraphs in, two out
    assert (result.cache_hits, result.untranslated) == (0, 0)
    assert (translator.hits, translator.misses) == (0, ARTICLE_SENTENCES)


def test_second_run_is_all_cache_hits(model: ModelInfo) -> None:
    cache = DictCache()
    with_model = Translator(model, SETTINGS, cache)
    try:
        [first] = with_model.translate_sync([ARTICLE])
        [second] = with_model.translate_sync([ARTICLE])
    finally:
        with_model.close()
    assert second == Translation(first.text, first.sentences, cache_hits=ARTICLE_SENTENCES)
    assert (with_model.hits, with_model.misses) == (ARTICLE_SENTENCES, ARTICLE_SENTENCES)
    # A new translator with a warm cache never needs to load the model at all.
    fresh = Translator(model, SETTINGS, cache)
    [third] = fresh.translate_sync([ARTICLE])
    assert third.cache_hits == ARTICLE_SENTENCES and fresh.engine_thread_id is None
    fresh.close()


def test_another_model_does_not_reuse_the_cache(
        store: ModelStore, model: ModelInfo,
        argos_package_factory: ArgosPackageFactory) -> None:
    cache = DictCache()
    old = Translator(model, SETTINGS, cache)
    old.translate_sync([ARTICLE])
    old.close()
    retrained = store.install_from_path(argos_package_factory(seed=1), source="ar", target="en")
    new = Translator(retrained, SETTINGS, cache)
    [result] = new.translate_sync([ARTICLE])
    new.close()
    assert result.cache_hits == 0
    assert {m for m, _ in cache.data} == {model.id, retrained.id}


def test_sqlite_cache_is_keyed_by_model(store: ModelStore, model: ModelInfo, tmp_path: Path,
                                       argos_package_factory: ArgosPackageFactory) -> None:
    from bot.store import Store

    # Its own folder: installing into ``store`` would replace the first model's files.
    retrained = ModelStore(tmp_path / "other").install_from_path(
        argos_package_factory(seed=1), source="ar", target="en")
    with Store(tmp_path / "nashra.db") as db:
        translations = []
        for info in (model, retrained, model):
            translator = Translator(info, SETTINGS, db)
            translations.append(translator.translate_sync([ARTICLE])[0])
            translator.close()
        assert db.count_cached_translations() == 2 * ARTICLE_SENTENCES
    first, other, again = translations
    assert other.cache_hits == 0 and other.sentences != first.sentences
    assert again.cache_hits == ARTICLE_SENTENCES and again.sentences == first.sentences


def test_repeated_sentences_go_to_the_model_once(translator: Translator,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []
    original = bot.translate._Engine.translate

    def spy(self: bot.translate._Engine, sentences: list[str]) -> list[str]:
        batches.append(list(sentences))
        return original(self, sentences)

    monkeypatch.setattr(bot.translate._Engine, "translate", spy)
    text = "ارتفعت الأسعار. ارتفعت الأسعار.\n\nارتفعت   الأسعار."
    a, b = translator.translate_sync([text, "ارتفعت الأسعار."])
    assert batches == [["ارتفعت الأسعار."]]
    assert len(a.sentences) == 3 and len(set(a.sentences + b.sentences)) == 1


def test_run_on_text_is_chunked_and_fully_translated(model: ModelInfo) -> None:
    run_on = "، ".join(["وأكد المسؤول أن العمل مستمر في المشروع الجديد"] * 40)  # ~1900 chars
    tiny = Translator(model, EngineSettings(beam_size=1, threads=1, max_sentence_tokens=8,
                                            max_batch_tokens=16), DictCache())
    try:
        [result] = tiny.translate_sync([run_on])
    finally:
        tiny.close()
    assert len(result.sentences) >= 5
    assert result.untranslated == 0 and arabic_ratio(result.text) < 0.05


def test_empty_texts_give_empty_translations(translator: Translator) -> None:
    empty, blank = translator.translate_sync(["", "  \n\n "])
    assert empty.text == blank.text == ""
    assert empty.sentences == blank.sentences == []
    assert translator.engine_thread_id is None  # nothing to translate, nothing loaded


def test_async_translate_runs_model_off_the_event_loop(translator: Translator) -> None:
    async def run() -> tuple[int, list[str], list[str]]:
        first = await translator.translate([ARTICLE])
        second = await translator.translate(["هل انتهت الأزمة؟ لا أحد يعرف."])
        return threading.get_ident(), first[0].sentences, second[0].sentences

    loop_thread, first, second = asyncio.run(run())
    engine_thread = translator.engine_thread_id
    assert engine_thread is not None and engine_thread != loop_thread
    assert len(first) == ARTICLE_SENTENCES and len(second) == 2
    assert first == translator.translate_sync([ARTICLE])[0].sentences
    assert translator.engine_thread_id == engine_thread  # loaded once, in one worker


def test_missing_model_raises_translate_error(model: ModelInfo, tmp_path: Path) -> None:
    ghost = ModelInfo(id="ar-en@9+x", source="ar", target="en", version="9",
                      path=str(tmp_path / "gone"))
    t = Translator(ghost, SETTINGS, DictCache())
    with pytest.raises(TranslateError, match="missing"):
        t.translate_sync(["مرحبا."])
    t.close()
    with pytest.raises(TranslateError, match="closed"):
        t.translate_sync(["مرحبا."])


def test_engine_failure_raises_translate_error(translator: Translator,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: object, sentences: list[str]) -> list[str]:
        raise RuntimeError("std::bad_alloc")

    monkeypatch.setattr(bot.translate._Engine, "translate", boom)
    with pytest.raises(TranslateError, match="bad_alloc"):
        translator.translate_sync(["مرحبا."])


def test_lean_install_never_loads_argostranslate_translate(translator: Translator) -> None:
    translator.translate_sync([ARTICLE])
    assert "argostranslate.translate" not in sys.modules
    assert "argostranslate.sbd" not in sys.modules
    assert "torch" not in sys.modules and "stanza" not in sys.modules


def test_install_if_missing_takes_the_model_another_process_installed(
        store: ModelStore, model: ModelInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes starting together without a model each ask the index; the one whose turn
    on the folder comes after another installed it keeps that one (no second download)."""
    monkeypatch.setattr(bot.modelstore, "_index_package",
                        lambda source, target: SimpleNamespace(links=["http://127.0.0.1:9/x"]))
    assert store.install_from_index("ar", "en", if_missing=True) == model
    with pytest.raises(TranslateError, match="download failed"):
        store.install_from_index("ar", "en")   # `nashra models install` downloads anew
