"""Logs as JSON lines (`--log-format json`, $NASHRA_LOG_FORMAT): every line parses, carries
time, level, logger and message (exc_info, stage and feed when there), and no secret leaks
in any form, from a running bot process as from the formatter itself."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.bot_harness import READER, BotSite, bot_process, make_bot_site
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer
from support.observability import GONE_FEED, write_config

from bot import console, logs
from bot.cli import main


def secret_forms(secret: str) -> list[str]:
    return sorted(form for form in console.secret_forms(secret) if len(form) >= 8)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line as a JSON object (a line that is not one fails the test)."""
    entries = []
    for line in text.splitlines():
        if line.strip():
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            entries.append(entry)
    return entries


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`logs.setup` reconfigures the root logger and the excepthook: put them back."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook = hook


def test_a_running_bot_logs_json_lines_without_its_token(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path) -> None:
    site: BotSite = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package)
    tg = site.telegram
    output = tmp_path / "bot.log"
    with bot_process(site, "--log-format", "json", "-v", output=output) as process:
        wait_until(lambda: "Nashra started" in output.read_text("utf-8"), "the start")
        # Telegram refuses the reply with an error that quotes the token: the handler's
        # error log holds it in its message and its traceback. (No "Bad Request: " prefix:
        # python-telegram-bot would lower-case the rest of the text.)
        tg.fail_next("sendMessage", chat_id=READER,
                     description=f"chat not reachable via /bot{tg.token}/x")
        tg.push_message(READER, "/help")
        wait_until(lambda: "update failed" in output.read_text("utf-8"), "the error log")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    text = output.read_text("utf-8")
    for form in secret_forms(tg.token):
        assert form not in text
    entries = json_lines(text)
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    started = [e for e in entries if e["message"].startswith("Nashra started as @")]
    assert started and started[0]["level"] == "INFO" and started[0]["logger"] == \
        "bot.telegram.app"
    failed = next(e for e in entries if e["message"].startswith("update failed"))
    assert failed["level"] == "ERROR" and console.REDACTED in failed["message"]
    assert "Traceback" in failed["exc_info"] and "BadRequest" in failed["exc_info"]
    assert any(e["level"] == "DEBUG" for e in entries)   # -v holds in JSON too
    assert process.returncode == 0


def test_the_environment_selects_json_for_any_command(
        tmp_path: Path, feed_server: FeedServer, argos_package: Path) -> None:
    config = write_config(tmp_path, feed_server, argos_package)
    env = {**os.environ, logs.FORMAT_ENV: "json"}
    done = subprocess.run([sys.executable, "-m", "bot", "-v", "--config", str(config), "fetch"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # Standard error holds log lines and, not being a terminal, the one line per feed.
    log_lines = [line for line in done.stderr.splitlines() if not line.startswith(("✓", "✗"))]
    entries = json_lines("\n".join(log_lines))
    assert entries and {e["level"] for e in entries} >= {"DEBUG"}
    assert f"✗ {GONE_FEED}: fetch: HTTP 404" in done.stderr
    assert "Feed" in done.stdout   # the summary table is output, not a log


def test_json_records_carry_stage_feed_and_exc_info_with_secrets_redacted(
        capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    token = "7000000123:AAFakeKeyForJsonLogs_0123456789abcd"
    password = 'pa"ss\\wo rd!'   # JSON escapes the quote and the backslash
    logs.setup(False, "json")
    console.protect_secret(token)
    console.protect_secret(password)
    log = logging.getLogger("bot.pipeline")
    log.warning("feed %s failed at https://api.telegram.org/bot%s/getMe", "الجزيرة", token,
                extra={"stage": "fetch", "feed": "الجزيرة"})
    try:
        raise RuntimeError(f"postgresql://nashra:{password}@db/nashra refused")
    except RuntimeError:
        log.exception("database gone")
    log.info("not shown: the default level is WARNING")
    err = capsys.readouterr().err
    for form in [*secret_forms(token), password, json.dumps(password)[1:-1]]:
        assert form not in err
    first, second = json_lines(err)
    assert first["level"] == "WARNING" and first["logger"] == "bot.pipeline"
    assert first["stage"] == "fetch" and first["feed"] == "الجزيرة"
    assert first["message"] == f"feed الجزيرة failed at https://api.telegram.org/bot" \
        f"{console.REDACTED}/getMe"
    assert "exc_info" not in first and "stage" not in second
    assert second["message"] == "database gone"
    assert second["exc_info"].startswith("Traceback") and console.REDACTED in \
        second["exc_info"] and "RuntimeError" in second["exc_info"]
    assert first["time"].endswith("+00:00")


def test_plain_text_stays_the_default(capsys: pytest.CaptureFixture[str],
                                      restore_logging: None) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["--help"])
    assert "--log-format [text|json]" in result.output
    logs.setup(False)
    logging.getLogger("bot.worker").warning("a plain line")
    err = capsys.readouterr().err
    assert err.rstrip().endswith("WARNING bot.worker: a plain line")
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)
