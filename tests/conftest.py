"""Shared fixtures. The loopback servers and the synthetic model live in tests/support/."""
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
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
