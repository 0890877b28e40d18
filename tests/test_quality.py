"""The code base stays ruff- and mypy-clean, and the install stays lean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)


def test_ruff_clean() -> None:
    if shutil.which("ruff") is None and run("ruff", "--version").returncode != 0:
        pytest.skip("ruff not installed (dev group)")
    result = run("ruff", "check", "bot", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_heavy_argos_modules_are_imported() -> None:
    pattern = re.compile(r"argostranslate\.(translate|sbd)|from argostranslate import .*"
                         r"\b(translate|sbd)\b")
    offenders = [str(p) for p in (ROOT / "bot").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_lock_file_has_no_torch_stanza_or_spacy() -> None:
    lock = (ROOT / "uv.lock").read_text()
    locked = set(re.findall(r'^name = "([^"]+)"$', lock, re.M))
    assert "ctranslate2" in locked  # the pattern does find locked packages
    assert locked.isdisjoint({"torch", "stanza", "spacy"})
