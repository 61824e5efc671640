"""Schema v6 -> v7 on both stores: events written with stored leaves keep serving the same leaves and the same
tree, the leaves the rows rebuild are dropped, an inconsistent one is kept, and a member's own deliveries go."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlite_utils

from client_sdk import envelope, keys, merkle
from client_sdk.log_entry import LogEntry
from exchange.store import pg_schema, sqlite_schema
from exchange.store.base import Store
from exchange.store.packing import PACKED
from exchange.store.postgres import PostgresStore
from exchange.store.sqlite import SqliteStore
from tests.harness import postgres_database

pytestmark = pytest.mark.integration

MEMBERS = [(1, "operator", "operator"), (2, "demo-a", "member"), (3, "demo-b", "member")]
EVENTS = 300  # more than one 256-entry tile
EDITED = 7  # this event's stored leaf disagrees with its row (an edit before the upgrade): it is kept


def _old_rows() -> list[tuple[int, int, int, int, int, bytes, bytes]]:
    """Events as v6 wrote them: (seq, kind, signal, member, received_at, envelope, leaf record)."""
    key = keys.SigningKey.generate()
    rows = []
    for seq in range(1, EVENTS + 1):
        env = envelope.seal("sigx.signal/v1", f"payload {seq}".encode(), key)
        member = 2 + seq % 2
        leaf = LogEntry.for_envelope(
            seq - 1, 1, 1_800_000_000 + seq, 1_900_000_000, MEMBERS[member - 1][1], key.key_id, env
        ).encode()
        if seq == EDITED:
            leaf = LogEntry.for_envelope(seq - 1, 1, 1, 2, "demo-a", key.key_id, env).encode()
        rows.append((seq, 1, seq, member, 1_800_000_000 + seq, env, leaf))
    return rows


def _check(store: Store, rows: list[tuple[int, int, int, int, int, bytes, bytes]]) -> None:
    served = store.log_entries(0, EVENTS)
    assert [leaf for _, leaf, _ in served] == [r[6] for r in rows]
    assert [bytes(env) for _, _, env in served] == [r[5] for r in rows]
    assert merkle.root([merkle.leaf_hash(r[6]) for r in rows[:256]]) == store.subtree_hash(8, 0)


def _deliveries(rows: list[tuple[int, int, int, int, int, bytes, bytes]]) -> list[tuple[int, int]]:
    """Each signal delivered to both members: its submitter's own delivery is the one v7 drops."""
    return [(r[2], m) for r in rows[:20] for m in (2, 3)]


def _signals(rows: list[tuple[int, int, int, int, int, bytes, bytes]]) -> list[tuple[Any, ...]]:
    return [(r[0], r[0].to_bytes(32, "big"), 1, r[3], 1, 0, r[4], r[4], 1_900_000_000, 0) for r in rows]


SIGNAL_COLUMNS = "id, value, type, submitter, category, confidence, first_seen, last_seen, expires_at, retracted"


def test_sqlite_v6_to_v7(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    rows = _old_rows()
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for number, step in enumerate(sqlite_schema.MIGRATIONS[:6], start=1):
        step(db)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany(
        "INSERT INTO members (id, member_id, role, status, display_name) VALUES (?, ?, ?, 'active', ?)",
        [(i, m, r, m) for i, m, r in MEMBERS],
    )
    conn.executemany(f"INSERT INTO signals ({SIGNAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _signals(rows))
    conn.executemany(
        "INSERT INTO events (seq, kind, signal, member, received_at, envelope, leaf) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
    )
    conn.executemany("INSERT INTO deliveries (signal, member, via, at) VALUES (?, ?, 'pull', 0)", _deliveries(rows))
    conn.close()
    _upgraded(lambda: SqliteStore(path), rows, lambda sql: sqlite3.connect(path).execute(sql).fetchall())
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)


def test_postgres_v6_to_v7() -> None:
    rows = _old_rows()
    with postgres_database() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT)")
            for number, step in enumerate(pg_schema.MIGRATIONS[:6], start=1):
                step(conn)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, 0)", (number,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO members (id, member_id, role, status, display_name) VALUES (%s, %s, %s, 'active', %s)",
                    [(i, m, r, m) for i, m, r in MEMBERS],
                )
                cur.executemany(
                    f"INSERT INTO signals ({SIGNAL_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})", _signals(rows)
                )
                cur.executemany(
                    "INSERT INTO events (seq, kind, signal, member, received_at, envelope, leaf)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
                cur.executemany(
                    "INSERT INTO deliveries (signal, member, via, at) VALUES (%s, %s, 'pull', 0)", _deliveries(rows)
                )

        def query(sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(dsn) as c:
                return c.execute(sql).fetchall()  # type: ignore[arg-type]

        _upgraded(lambda: PostgresStore(dsn, pool_size=1), rows, query)


def _upgraded(
    open_store: Callable[[], Store],
    rows: list[tuple[int, int, int, int, int, bytes, bytes]],
    query: Callable[[str], list[tuple[Any, ...]]],
) -> None:
    with _opened(open_store) as store:
        _check(store, rows)
    assert query("SELECT seq FROM events WHERE leaf IS NOT NULL") == [(EDITED,)]
    assert query("SELECT count(*) FROM events WHERE leaf_tag IS NOT NULL") == [(EVENTS - 1,)]
    stored = [bytes(r[0]) for r in query("SELECT envelope FROM events ORDER BY seq")]
    assert all(s[0] == PACKED and len(s) < len(r[5]) for s, r in zip(stored, rows, strict=True))  # packed
    assert {(r[0], r[1]) for r in query("SELECT signal, member FROM deliveries")} == {
        (s, m) for s, m in _deliveries(rows) if m != rows[s - 1][3]
    }
    with _opened(open_store) as store:  # and again, now that nothing is left to migrate
        _check(store, rows)


@contextmanager
def _opened(open_store: Callable[[], Store]) -> Iterator[Store]:
    store = open_store()
    try:
        yield store
    finally:
        store.close()
