"""The PostgreSQL test harness: the ``postgres_url`` fixture and the CI command line.

The store's PostgreSQL tests rely on what is checked here: a fresh database per test, a server
reachable only on loopback, UTF-8 end to end, and SKIP LOCKED for multi-process claiming.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from support.postgres import (
    URL_ENV,
    binaries_available,
    choose_server,
    database_url,
    env_flag,
)

SCRIPT = Path(__file__).parent / "support" / "postgres.py"
ARABIC = "مرحباً بالعالم: نشرة الأخبار العربية ١٢٣ — «اختبار»"


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_a_fresh_database(postgres_url: str, run: str) -> None:
    # Both runs check absence before creating, so either order proves the isolation.
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('harness_probe')").fetchone() == (None,)
        conn.execute("CREATE TABLE harness_probe (run text)")
        conn.execute("INSERT INTO harness_probe VALUES (%s)", (run,))


def test_server_listens_on_loopback_only(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


def test_database_is_utf8(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
        assert conn.execute("SHOW client_encoding").fetchone() == ("UTF8",)


def test_arabic_text_round_trips(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE t (body text)")
        conn.execute("INSERT INTO t VALUES (%s)", (ARABIC,))
        # length() counts characters: a byte-oriented (SQL_ASCII) database would count more.
        assert conn.execute("SELECT body, length(body) FROM t").fetchone() == (
            ARABIC, len(ARABIC))


def test_skip_locked_lets_two_connections_claim_different_rows(postgres_url: str) -> None:
    claim = "SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE jobs (id int PRIMARY KEY)")
        setup.execute("INSERT INTO jobs VALUES (1), (2)")
    with psycopg.connect(postgres_url) as first, psycopg.connect(postgres_url) as second:
        # Each connection is inside an open transaction, so both row locks are held at once.
        assert first.execute(claim).fetchone() == (1,)
        assert second.execute(claim).fetchone() == (2,)
        with psycopg.connect(postgres_url) as third:
            assert third.execute(claim).fetchone() is None


def test_database_url_replaces_only_the_database() -> None:
    assert (database_url("postgresql://postgres@127.0.0.1:5433/postgres?sslmode=disable", "x_1")
            == "postgresql://postgres@127.0.0.1:5433/x_1?sslmode=disable")


@pytest.mark.parametrize(
    ("env", "have_binaries", "expected"),
    [
        ({URL_ENV: "postgresql://postgres@127.0.0.1:1/postgres"}, False, "env"),
        ({URL_ENV: "postgresql://postgres@127.0.0.1:1/postgres", "CI": "true"}, True, "env"),
        ({}, True, "cluster"),
        ({"CI": "true"}, True, "cluster"),
        ({}, False, "skip"),
        ({URL_ENV: "  "}, False, "skip"),
        ({"CI": "0"}, False, "skip"),
        ({"CI": "true"}, False, "fail"),
        ({"CI": "1"}, False, "fail"),
    ],
)
def test_choose_server(env: dict[str, str], have_binaries: bool, expected: str) -> None:
    assert choose_server(env, have_binaries) == expected


def test_env_flag_reads_common_truthy_spellings() -> None:
    assert [env_flag({"CI": v}, "CI") for v in ("true", "TRUE", "1", "yes", "on")] == [True] * 5
    assert [env_flag({"CI": v}, "CI") for v in ("", "0", "false", "no")] == [False] * 4
    assert env_flag({}, "CI") is False


@pytest.mark.skipif(not binaries_available(),
                    reason="PostgreSQL server binaries (initdb, pg_ctl) not found")
def test_command_line_starts_and_stops_a_detached_cluster() -> None:
    # Under /tmp, not tmp_path: as root the server runs as `postgres`, which cannot enter
    # pytest's root-owned 0700 base directory.
    state = Path(tempfile.gettempdir()) / f"nashra-pg-cli-{uuid.uuid4().hex[:8]}"
    try:
        started = _cli("start", state)
        url = started.stdout.strip()
        assert url.startswith("postgresql://postgres@127.0.0.1:"), started
        assert state.is_dir()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        _cli("stop", state)
        assert not state.exists()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=5)
    finally:
        if state.exists():
            _cli("stop", state)


def test_command_line_stop_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run([sys.executable, str(SCRIPT), "stop", str(tmp_path)],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 1
    assert "not removing it" in result.stderr
    assert (tmp_path / "precious.txt").exists()


def _cli(command: str, state: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(SCRIPT), command, str(state)],
                            capture_output=True, text=True, check=False, timeout=180)
    assert result.returncode == 0, result.stderr
    return result
