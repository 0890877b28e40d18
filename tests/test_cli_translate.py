"""`nashra translate`, `nashra models list` and the untranslated marker, from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from support.arabic_samples import ARTICLES, register_site
from support.feed_server import FeedServer
from support.synthetic_model import ArgosPackageFactory

from bot.cli import main, split_articles
from bot.store import Store
from bot.textnorm import arabic_ratio

FIRST = ("أعلن وزير الخارجية خطة جديدة لدعم الاقتصاد الوطني. وقال د. سامي إن النمو بلغ 3.5%.\n\n"
         "وصلت قافلة مساعدات إلى حلب صباح اليوم!")
SECOND = "هل تنجح المبادرة الجديدة في إنهاء الأزمة؟"
INPUT = f"{FIRST}\n---\n{SECOND}\n"


def write_config(tmp_path: Path, model: Path, feed_url: str | None = None) -> Path:
    lines = ["[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"',
             "[translation]", f'model = "{model}"', "threads = 1"]
    if feed_url:
        lines += ["[[feeds]]", f'url = "{feed_url}"', 'name = "samples"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_articles_are_separated_by_dash_lines() -> None:
    assert split_articles("a\n\nb\n---\nc\n  ---  \n\n---\n") == ["a\n\nb", "c"]
    assert split_articles("one article -- with dashes --- inside") == [
        "one article -- with dashes --- inside"]
    assert split_articles("\n \n") == []


def test_translates_a_file_keeping_articles_and_paragraphs(tmp_path: Path,
                                                          argos_package: Path) -> None:
    config = write_config(tmp_path, argos_package)
    source = tmp_path / "news.txt"
    source.write_text(INPUT, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "translate", str(source)])
    assert result.exit_code == 0, result.output
    first, second = result.stdout.strip().split("\n\n---\n\n")
    assert first.count("\n\n") == 1 and "\n\n" not in second
    assert arabic_ratio(result.stdout) < 0.05
    assert "2 articles, 4 sentences: 0 from the cache, 4 by the model (ar-en@1.0+" \
        in result.stderr
    with Store(tmp_path / "data" / "nashra.db") as store:
        assert store.count_cached_translations() == 4
    # Standard input, same text: every sentence now comes from the shared cache.
    again = runner.invoke(main, ["--config", str(config), "translate"], input=INPUT)
    assert again.exit_code == 0 and again.stdout == result.stdout
    assert "4 sentences: 4 from the cache, 0 by the model" in again.stderr


def test_untranslatable_sentences_are_reported_and_kept(
        tmp_path: Path, argos_package_factory: ArgosPackageFactory) -> None:
    config = write_config(tmp_path, argos_package_factory(behaviour="arabic"))
    result = CliRunner().invoke(main, ["--config", str(config), "translate"], input=SECOND)
    assert result.exit_code == 0
    assert result.stdout.strip() == SECOND
    assert "1 sentences: 0 from the cache, 1 by the model, 1 left untranslated" \
        in result.stderr


def test_empty_input_and_missing_model(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "nope.argosmodel")
    runner = CliRunner()
    empty = runner.invoke(main, ["--config", str(config), "translate"], input="\n\n")
    assert empty.exit_code == 0 and "Nothing to translate" in empty.stderr
    missing = runner.invoke(main, ["--config", str(config), "translate"], input=SECOND)
    assert missing.exit_code == 1
    assert missing.stderr.strip().startswith("error: translate: translation model not found")


def test_translate_runs_as_a_real_process(tmp_path: Path, argos_package: Path) -> None:
    config = write_config(tmp_path, argos_package)
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "translate"],
                            input=INPUT, capture_output=True, text=True, timeout=120,
                            check=False, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n---\n") == 1 and arabic_ratio(result.stdout) < 0.05


def test_models_list_shows_pair_version_and_size(tmp_path: Path, argos_package: Path) -> None:
    config = write_config(tmp_path, argos_package)
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "models", "install", "--from",
                                str(argos_package)]).exit_code == 0
    listing = runner.invoke(main, ["--config", str(config), "models", "list"]).stdout
    header, _rule, row = listing.splitlines()[:3]
    assert header.split()[:3] == ["Pair", "Version", "Size"]
    pair, version, size, unit = row.split()[:4]
    assert (pair, version, unit) == ("ar→en", "1.0", "MB") and float(size) > 0


def test_fetch_marks_articles_the_model_cannot_translate(
        tmp_path: Path, argos_package_factory: ArgosPackageFactory,
        feed_server: FeedServer) -> None:
    feed = register_site(feed_server, ARTICLES[:1], kind="content")
    config = write_config(tmp_path, argos_package_factory(behaviour="arabic"), feed)
    runner = CliRunner()
    fetched = runner.invoke(main, ["--config", str(config), "fetch"])
    assert fetched.exit_code == 0, fetched.output
    digest = runner.invoke(main, ["--config", str(config), "digest", "--since", "3650d"])
    assert "(partly untranslated)" in digest.stdout
