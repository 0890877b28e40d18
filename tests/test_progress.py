"""Progress on a terminal: `nashra fetch` (feeds done of the total, articles, sentences) and
`nashra models install` (bytes downloaded), shown on a pseudo-terminal and absent when the
output is piped."""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.feed_server import FeedServer
from support.observability import GONE_FEED, GOOD_FEED, STORIES, write_config
from support.payload_server import serving_bytes

from bot.progress import CLEAR, StatusLine

ESCAPE = "\x1b["
# A stand-in for the Argos index: the package is served from loopback (a subprocess cannot
# be monkeypatched from here, so it patches itself).
INSTALL_FROM_LOOPBACK = """
import sys, types
import bot.modelstore
bot.modelstore._index_package = lambda source, target: types.SimpleNamespace(links=[sys.argv[1]])
from bot.cli import main
main(["--config", sys.argv[2], "models", "install"])
"""


def on_terminal(args: Sequence[str], timeout: float = 300.0) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal (120 columns) as stdin, stdout and stderr;
    returns the exit status and everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                               env={**os.environ, "TERM": "xterm"})
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while select.select([master], [], [], timeout)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the process closed the terminal (it ended)
                break
            if not data:
                break
            chunks.append(data)
        status = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return status, b"".join(chunks).decode("utf-8", "replace")


def piped(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TERM": "xterm"})


def nashra(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "--config", str(config), *args]


@pytest.fixture
def config(tmp_path: Path, feed_server: FeedServer, argos_package: Path) -> Path:
    return write_config(tmp_path, feed_server, argos_package)


def test_fetch_shows_its_progress_on_a_terminal(config: Path) -> None:
    status, screen = on_terminal(nashra(config, "fetch"))
    assert status == 0, screen
    assert f"{CLEAR}feeds 0/2 · 0 articles stored · 0 sentences translated" in screen
    assert f"✓ {GOOD_FEED}: ok" in screen and f"✗ {GONE_FEED}: fetch: HTTP 404" in screen
    # The last counts, drawn before the line is erased and the table printed.
    assert f"{CLEAR}feeds 2/2 · {len(STORIES)} articles stored · " in screen
    last = screen.rindex(f"{CLEAR}feeds 2/2")
    assert screen.index(CLEAR, last + 1) < screen.index("Feed", last)


def test_fetch_draws_nothing_when_piped(config: Path) -> None:
    done = piped(nashra(config, "fetch"))
    assert done.returncode == 0, done.stderr
    assert ESCAPE not in done.stderr + done.stdout and "\r" not in done.stderr
    assert "feeds 0/2" not in done.stderr
    # What a log of `nashra fetch` always had: one line per feed (as each finishes).
    assert sorted(done.stderr.splitlines()) == sorted([f"✓ {GOOD_FEED}: ok",
                                                       f"✗ {GONE_FEED}: fetch: HTTP 404 Not Found"])
    assert done.stdout.startswith("Feed")


@pytest.fixture
def package_url(argos_package: Path) -> Iterator[str]:
    with serving_bytes(argos_package.read_bytes()) as url:
        yield url


def test_models_install_shows_bytes_on_a_terminal_and_nothing_when_piped(
        tmp_path: Path, package_url: str, argos_package: Path) -> None:
    size = argos_package.stat().st_size
    # No model file configured: the pair comes from the (loopback) index.
    config = tmp_path / "install.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "nashra.db"}"\n', encoding="utf-8")
    install = [sys.executable, "-c", INSTALL_FROM_LOOPBACK, package_url, str(config)]
    status, screen = on_terminal(install)
    assert status == 0, screen
    total = f"{size / 1e6:.1f}"
    assert f"{CLEAR}Downloading model: {total} of {total} MB (100%)" in screen
    assert "Installed ar→en" in screen

    done = piped(install)
    assert done.returncode == 0, done.stderr
    assert "Downloading" not in done.stderr + done.stdout
    assert ESCAPE not in done.stderr + done.stdout
    assert done.stdout.startswith("Installed ar→en")


def _read_available(fd: int) -> bytes:
    """Everything written to the terminal so far (a pty hands it over in pieces)."""
    chunks = []
    while select.select([fd], [], [], 1.0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_log_line_on_the_terminal_erases_the_status_line_first() -> None:
    master, slave = pty.openpty()
    terminal = os.fdopen(slave, "w", encoding="utf-8")
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root, logger = logging.getLogger(), logging.getLogger("bot.test_progress")
    root.addHandler(handler)   # where `nashra` logs: the root logger's stderr handler
    try:
        line = StatusLine(terminal)
        assert line.enabled
        line.show("feeds 1/2")
        logger.warning("feed slow")
        line.close()
        logger.warning("after the status line")   # no longer erases anything
        terminal.flush()
        screen = _read_available(master).decode("utf-8")
    finally:
        root.removeHandler(handler)
        terminal.close()
        os.close(master)
    assert screen == (f"{CLEAR}feeds 1/2{CLEAR}WARNING feed slow\r\n{CLEAR}"
                      "WARNING after the status line\r\n")
