"""Databases left by an earlier schema, for the migration tests: the first ``version`` migrations of a store,
then ``members`` (id, member id, role) inserted as that schema had them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import psycopg
import sqlite_utils

from exchange.store import pg_schema, sqlite_schema

Members = Sequence[tuple[int, str, str]]


def sqlite_at(path: Path, version: int, members: Members) -> None:
    """A SQLite file at schema ``version``."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for number, step in enumerate(sqlite_schema.MIGRATIONS[:version], start=1):
        step(db)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany(
        "INSERT INTO members (id, member_id, role, status, display_name) VALUES (?, ?, ?, 'active', ?)",
        [(i, m, r, m) for i, m, r in members],
    )
    conn.close()


def postgres_at(dsn: str, version: int, members: Members) -> None:
    """A PostgreSQL database at schema ``version``."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT)")
        for number, step in enumerate(pg_schema.MIGRATIONS[:version], start=1):
            step(conn)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, 0)", (number,))
        for i, m, r in members:
            conn.execute(
                "INSERT INTO members (id, member_id, role, status, display_name) VALUES (%s, %s, %s, 'active', %s)",
                (i, m, r, m),
            )
