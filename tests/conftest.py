"""Shared fixtures. The loopback servers and the synthetic model live in tests/support/."""
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.bot_harness import site  # noqa: F401
from support.fake_telegram import fake_telegram  # noqa: F401
from support.feed_server import feed_server  # noqa: F401
from support.postgres import (
    CI_MESSAGE,
    SKIP_MESSAGE,
    URL_ENV,
    Cluster,
    binaries_available,
    choose_server,
    create_database,
    drop_database,
)
from support.synthetic_model import argos_package, argos_package_factory  # noqa: F401


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server for the whole session (its ``postgres`` database).

    The server CI started (``NASHRA_TEST_POSTGRES_URL``), else a throwaway cluster started
    here, else a skip; under ``CI=true`` missing binaries fail instead of skipping.
    """
    source = choose_server(os.environ, binaries_available())
    if source == "env":
        yield os.environ[URL_ENV].strip()
    elif source == "skip":
        pytest.skip(SKIP_MESSAGE)
    elif source == "fail":
        pytest.fail(CI_MESSAGE, pytrace=False)
    else:
        with Cluster() as cluster:
            yield cluster.url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """URL of a fresh, empty database on ``postgres_server``, dropped after the test."""
    name = f"nashra_test_{uuid.uuid4().hex[:12]}"
    url = create_database(postgres_server, name)
    try:
        yield url
    finally:
        drop_database(postgres_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's store lives: an SQLite file, then a fresh PostgreSQL database (skipped
    without the server binaries, except under CI). Tests taking it run on both backends."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "sub" / "nashra.db"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many tests ran on each store engine (tests taking ``store_location`` or
    ``postgres_url`` run on PostgreSQL; the rest use SQLite or no database)."""
    outcomes = ("passed", "failed", "error", "skipped")
    counts = {engine: dict.fromkeys(outcomes, 0)
              for engine in ("PostgreSQL", "SQLite or no database")}
    for outcome in outcomes:
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            engine = ("PostgreSQL" if _on_postgres(report.nodeid, report)
                      else "SQLite or no database")
            counts[engine][outcome] += 1
    line = "; ".join(f"{engine}: " + ", ".join(f"{n} {o}" for o, n in found.items() if n)
                     for engine, found in counts.items())
    terminalreporter.write_line(f"store engines: {line}")


_POSTGRES_TESTS: set[str] = set()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"postgres_url", "postgres_server"} & set(getattr(item, "fixturenames", ())):
            _POSTGRES_TESTS.add(item.nodeid)


def _on_postgres(nodeid: str, report: pytest.TestReport) -> bool:
    # store_location's PostgreSQL half asks for postgres_url while it runs: its id says so.
    return "[postgresql" in nodeid or nodeid in _POSTGRES_TESTS
