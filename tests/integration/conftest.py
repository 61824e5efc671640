"""A real exchange on 127.0.0.1:0 with real certificates and keys, on each store.

Every test that uses ``exchange`` or ``shared_exchange`` runs twice: on the SQLite
store (a real database file) and on the PostgreSQL store (a fresh database on the
server ``$SIGX_TEST_POSTGRES`` names; skipped, saying so, when it is unset). Tests
marked ``sqlite_only`` read or edit the SQLite file directly and run on SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sdk import ExchangeClient
from tests.harness import STORES, Exchange, start_exchange, store_database


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: reads or edits the SQLite database file directly, so runs on the SQLite store only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        stores = ["sqlite"] if metafunc.definition.get_closest_marker("sqlite_only") else list(STORES)
        metafunc.parametrize("store", stores, indirect=True, scope="module")


@pytest.fixture(scope="module")
def store(request: pytest.FixtureRequest) -> str:
    """Which store the exchange runs on: ``sqlite`` or ``postgres``."""
    return str(request.param)


@pytest.fixture
def exchange(tmp_path: Path, store: str) -> Iterator[Exchange]:
    """A fresh exchange per test."""
    with store_database(store) as database:
        ex = start_exchange(tmp_path, max_batch=500, pull_page=7, database=database)
        yield ex
        ex.running.stop(grace=1)


@pytest.fixture(scope="module")
def shared_exchange(tmp_path_factory: pytest.TempPathFactory, store: str) -> Iterator[Exchange]:
    """One exchange shared by a module's read-mostly tests."""
    with store_database(store) as database:
        ex = start_exchange(tmp_path_factory.mktemp("shared"), pull_page=50, database=database)
        yield ex
        ex.running.stop(grace=1)


@pytest.fixture
def client_a(exchange: Exchange) -> Iterator[ExchangeClient]:
    with exchange.client("demo-a") as c:
        yield c


@pytest.fixture
def client_b(exchange: Exchange) -> Iterator[ExchangeClient]:
    with exchange.client("demo-b") as c:
        yield c
