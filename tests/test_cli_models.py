"""Model management from the command line: local files, the Argos index, first-use install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from support.arabic_samples import ARTICLES, register_site
from support.feed_server import FeedServer

from bot.cli import main


def write_config(tmp_path: Path, feed_url: str | None = None, model: str = "") -> Path:
    lines = ["[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"',
             "[translation]", f'model = "{model}"']
    if feed_url:
        lines += ["[[feeds]]", f'url = "{feed_url}"', 'name = "samples"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_install_from_file_into_folder_beside_database(tmp_path: Path,
                                                       argos_package: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "models", "install",
                                  "--from", str(argos_package)])
    assert result.exit_code == 0, result.output
    installed = tmp_path / "data" / "models" / "translate-ar_en-1_0"
    assert (installed / "metadata.json").is_file()
    assert (installed / "model" / "model.bin").is_file()
    listing = runner.invoke(main, ["--config", str(config), "models", "list"]).stdout
    assert "ar→en" in listing and "1.0" in listing and str(installed.parent) in listing


def test_wrong_pair_is_refused_with_one_line(tmp_path: Path, argos_package_factory: object,
                                            ) -> None:
    french = argos_package_factory(from_code="fr")  # type: ignore[operator]
    config = write_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "models", "install",
                                       "--from", str(french)])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: translate: package translates fr→en, expected ar→en"
    assert not (tmp_path / "data" / "models" / "translate-fr_en-1_0").exists()


def test_fetch_installs_model_from_index_on_first_use(tmp_path: Path, argos_package: Path,
                                                      feed_server: FeedServer) -> None:
    feed = register_site(feed_server, ARTICLES[:2], kind="content")
    package_url = feed_server.add("/packages/ar_en.argosmodel", argos_package.read_bytes())
    index = [{"package_version": "1.0", "argos_version": "1.9", "from_code": "ar",
              "from_name": "Arabic", "to_code": "en", "to_name": "English",
              "type": "translate", "links": [package_url]}]
    feed_server.add("/index/index.json", json.dumps(index).encode())
    config = write_config(tmp_path, feed)
    env = {**os.environ, "ARGOS_PACKAGE_INDEX": feed_server.url("/index/"),
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "fetch"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "No ar→en translation model installed; installing it from the Argos index" \
        in result.stderr
    assert (tmp_path / "data" / "models" / "translate-ar_en-1_0" / "metadata.json").is_file()
    assert "2 new articles" in result.stdout
    again = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "fetch"],
                           capture_output=True, text=True, env=env, timeout=120, check=False)
    assert "installing" not in again.stderr
    assert len(feed_server.requests_for("/packages/ar_en.argosmodel")) == 1


def test_fetch_without_model_or_index_fails_clearly(tmp_path: Path,
                                                    feed_server: FeedServer) -> None:
    config = write_config(tmp_path, feed_server.url("/feed.xml"))
    env = {**os.environ, "ARGOS_PACKAGE_INDEX": feed_server.url("/no-index/"),
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "fetch"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr  # the announcement, then one error line
    assert lines[-1].startswith("error: translate: cannot reach the Argos package index")
