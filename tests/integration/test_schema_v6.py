"""Schema v5 -> v6 on both stores: a database made by the previous schema opens, its members get kinds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from exchange.store import sqlite_schema
from exchange.store.postgres import PostgresStore
from exchange.store.sqlite import SqliteStore
from tests.harness import postgres_database
from tests.integration.schema_tools import postgres_at, sqlite_at

pytestmark = pytest.mark.integration

MEMBERS = [(1, "operator", "operator"), (2, "demo-a", "member"), (3, "auditor", "auditor")]
KINDS = {"operator": "", "demo-a": "platform", "auditor": ""}  # members before v6 are platforms


def test_sqlite_v5_to_v6(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    sqlite_at(path, 5, MEMBERS)
    store = SqliteStore(path)
    try:
        assert {m.member_id: m.kind for m in store.list_members()} == KINDS
        assert store.get_charter() == (0, "")
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)


def test_postgres_v5_to_v6() -> None:
    with postgres_database() as dsn:
        postgres_at(dsn, 5, MEMBERS)
        store = PostgresStore(dsn, pool_size=1)
        try:
            assert {m.member_id: m.kind for m in store.list_members()} == KINDS
            assert store.get_charter() == (0, "")
        finally:
            store.close()
