"""A real exchange on 127.0.0.1:0 with a real database file, certificates and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sdk import ExchangeClient
from tests.harness import Exchange, start_exchange


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    """A fresh exchange per test."""
    ex = start_exchange(tmp_path, max_batch=500, pull_page=7)
    yield ex
    ex.running.stop(grace=1)


@pytest.fixture(scope="module")
def shared_exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    """One exchange shared by a module's read-mostly tests."""
    ex = start_exchange(tmp_path_factory.mktemp("shared"), pull_page=50)
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
