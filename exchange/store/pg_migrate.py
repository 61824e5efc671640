"""``sigx admin migrate``: copy a stopped SQLite exchange into an empty PostgreSQL database, then verify it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg

from client_sdk import merkle
from client_sdk.note import unverified_checkpoint
from exchange.errors import ConfigError, FailedPreconditionError
from exchange.store import pg_schema
from exchange.store.pg_errors import Conn, connect_error
from exchange.store.postgres import PostgresStore

Report = Callable[[str], None]


def migrate_from_sqlite(db_path: Path, dsn: str, report: Report, batch: int = 5000) -> dict[str, int]:
    """Copy a stopped SQLite exchange into an empty PostgreSQL database, then verify it; rows copied per table.

    Every table is copied verbatim in one transaction (all or nothing): seqs,
    leaves, tile hashes, checkpoints and policy versions included. Afterwards the
    row counts are compared and the migrated log's root at every saved checkpoint
    size must equal the root in that checkpoint; any difference raises ``RuntimeError``.
    """
    from exchange.store.sqlite import SqliteStore

    if not db_path.exists():
        raise ConfigError(f"no SQLite database at {db_path}")
    source_store = SqliteStore(db_path)  # brings the file to the newest schema and completes its tile hashes
    source_store.close()
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    counts: dict[str, int] = {}
    try:
        try:
            target = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise connect_error(exc) from None
        with target:
            pg_schema.migrate(target)
            with target.transaction():
                target.execute("SELECT pg_advisory_xact_lock(%s)", (pg_schema.WRITE_LOCK,))
                for table in ("members", "events", "signals", "policies", "checkpoints", "groups"):
                    row = target.execute(f"SELECT count(*) FROM {table}").fetchone()
                    if row and row[0]:
                        raise FailedPreconditionError(
                            f"the target database is not empty ({table} has {row[0]} rows); migrate into a new one",
                            reason="target_not_empty",
                        )
                target.execute("DELETE FROM categories")  # the default taxonomy; the source has its own
                for table, columns in pg_schema.TABLES.items():
                    counts[table] = _copy_table(source, target, table, columns, report, batch)
            report("copied; verifying")
            _verify(source, dsn, counts, report)
    finally:
        source.close()
    return counts


def _copy_table(
    source: sqlite3.Connection, target: Conn, table: str, columns: tuple[str, ...], report: Report, batch: int
) -> int:
    total = source.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    names = ", ".join(columns)
    done = 0
    with target.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        rows = source.execute(f"SELECT {names} FROM {table}")
        while chunk := rows.fetchmany(batch):
            for row in chunk:
                copy.write_row(row)
            done += len(chunk)
            report(f"{table}: {done}/{total}")
    if done == 0:
        report(f"{table}: 0/0")
    return done


def _verify(source: sqlite3.Connection, dsn: str, counts: dict[str, int], report: Report) -> None:
    store = PostgresStore(dsn, pool_size=2)
    try:
        with store._read() as conn:
            for table in pg_schema.TABLES:
                row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                have = int(row[0]) if row else 0
                if have != counts[table]:
                    raise RuntimeError(f"{table}: {counts[table]} rows copied but {have} in PostgreSQL")
            checkpoints = conn.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        for size, note in checkpoints:
            checkpoint = unverified_checkpoint(note)
            if checkpoint.size != size:
                raise RuntimeError(f"the checkpoint saved for size {size} is for size {checkpoint.size}")
            want = checkpoint.root
            got = merkle.range_hash(0, size, store.subtree_hash) if size else merkle.EMPTY_ROOT
            if got != want:
                raise RuntimeError(f"the migrated log's root at size {size} differs from its checkpoint")
        size = store.log_size()
        source_size = source.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if size != source_size:
            raise RuntimeError(f"the migrated log has {size} entries, the source {source_size}")
        report(f"verified: {len(checkpoints)} checkpoint root(s) match, log of {size} entries")
    finally:
        store.close()
