"""Schema v5 -> v6 on both stores: a database made by the previous schema opens, its members get kinds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
import sqlite_utils

from exchange.store import pg_schema, sqlite_schema
from exchange.store.postgres import PostgresStore
from exchange.store.sqlite import SqliteStore
from tests.harness import postgres_database

pytestmark = pytest.mark.integration

MEMBERS = [(1, "operator", "operator"), (2, "demo-a", "member"), (3, "auditor", "auditor")]
KINDS = {"operator": "", "demo-a": "platform", "auditor": ""}  # members before v6 are platforms


def test_sqlite_v5_to_v6(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for number, step in enumerate(sqlite_schema.MIGRATIONS[:5], start=1):
        step(db)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany(
        "INSERT INTO members (id, member_id, role, status, display_name) VALUES (?, ?, ?, 'active', ?)",
        [(i, m, r, m) for i, m, r in MEMBERS],
    )
    conn.close()
    store = SqliteStore(path)
    try:
        assert {m.member_id: m.kind for m in store.list_members()} == KINDS
        assert store.get_charter() == (0, "")
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)


def test_postgres_v5_to_v6() -> None:
    with postgres_database() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT)")
            for number, step in enumerate(pg_schema.MIGRATIONS[:5], start=1):
                step(conn)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, 0)", (number,))
            for i, m, r in MEMBERS:
                conn.execute(
                    "INSERT INTO members (id, member_id, role, status, display_name) VALUES (%s, %s, %s, 'active', %s)",
                    (i, m, r, m),
                )
        store = PostgresStore(dsn, pool_size=1)
        try:
            assert {m.member_id: m.kind for m in store.list_members()} == KINDS
            assert store.get_charter() == (0, "")
        finally:
            store.close()
