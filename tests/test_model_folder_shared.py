"""Processes sharing one models folder (workers and bot processes starting together) install
the configured package without breaking each other's install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RESOLVE = """
import sys
from pathlib import Path
from bot.modelstore import ModelStore
info = ModelStore(Path(sys.argv[1])).resolve(sys.argv[2], "ar", "en")
assert info is not None and Path(info.path, "model", "model.bin").is_file()
print(info.id)
"""


def test_processes_starting_together_install_one_model_all_can_use(
        tmp_path: Path, argos_package: Path) -> None:
    folder = tmp_path / "models"
    for _round in range(8):   # without the lock, some round failed in most runs
        processes = [subprocess.Popen([sys.executable, "-c", RESOLVE, str(folder),
                                       str(argos_package)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(4)]
        outputs = [process.communicate(timeout=120) for process in processes]
        assert all(process.returncode == 0 for process in processes), [e for _, e in outputs]
        assert len({out.strip() for out, _ in outputs}) == 1   # the same model for all
        installed = [p for p in folder.iterdir() if not p.name.startswith(".")]
        assert len(installed) == 1 and not list(folder.glob(".tmp-*"))
        for package in installed:   # the next round installs afresh, all at once again
            subprocess.run(["rm", "-rf", str(package)], check=True)
