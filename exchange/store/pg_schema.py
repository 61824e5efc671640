"""Versioned schema migrations for the PostgreSQL store, run on start.

The tables and columns are those of the SQLite schema (``exchange/store/schema.py``)
with PostgreSQL types: BYTEA for blobs, BIGINT for times and row ids (assigned
as max + 1 under the write lock, like SQLite's rowids, so ids never skip). Each
migration runs once, in order, in one transaction; ``schema_version`` records
which have run. Replicas starting together serialise on an advisory lock, so a
migration never runs twice.
"""

from __future__ import annotations

import psycopg

from exchange.store.backfill import key_log_positions
from exchange.store.leaves import LEAF_SELECT, Compacted, compact_stored_leaves
from exchange.store.sqlite_schema import CERTIFICATE_TABLES, DEFAULT_TAXONOMY, SAFEGUARD_TABLES

# pg_advisory_xact_lock keys: one for schema migrations, one for the log's single writer.
MIGRATION_LOCK = 0x5349_4758_0001  # "SIGX" 1
WRITE_LOCK = 0x5349_4758_0002  # "SIGX" 2

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE members (
    id BIGINT PRIMARY KEY,
    member_id TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    display_name TEXT,
    created_at BIGINT
);
CREATE UNIQUE INDEX idx_members_member_id ON members (member_id);
CREATE TABLE signing_keys (
    key_id TEXT PRIMARY KEY,
    member BIGINT NOT NULL REFERENCES members (id),
    public_key BYTEA NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT,
    revoked_at BIGINT
);
CREATE TABLE groups (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
CREATE UNIQUE INDEX idx_groups_name ON groups (name);
CREATE TABLE group_members (grp BIGINT NOT NULL, member BIGINT NOT NULL, PRIMARY KEY (grp, member));
CREATE TABLE categories (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    retention_days BIGINT
);
CREATE UNIQUE INDEX idx_categories_name ON categories (name);
CREATE TABLE signals (
    id BIGINT PRIMARY KEY,  -- the seq of the signal's SUBMIT event
    value BYTEA NOT NULL,
    type INTEGER NOT NULL,
    submitter BIGINT NOT NULL,
    category BIGINT NOT NULL,
    qualifier TEXT,
    audience BIGINT,
    confidence INTEGER,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    retracted INTEGER NOT NULL
);
CREATE UNIQUE INDEX signals_key ON signals (value, type, submitter, category);
CREATE INDEX signals_pdq ON signals (type) WHERE type = 9;
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    kind INTEGER NOT NULL,
    signal BIGINT,
    member BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    envelope BYTEA,
    leaf BYTEA
);
CREATE TABLE feedback (
    signal BIGINT NOT NULL,
    member BIGINT NOT NULL,
    verdict INTEGER NOT NULL,
    PRIMARY KEY (signal, member)
);
CREATE TABLE policies (version BIGINT PRIMARY KEY, document TEXT NOT NULL, applied_at BIGINT, seq BIGINT);
CREATE TABLE log_hashes (level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL, created_at BIGINT);
"""

# Quota use shared by every replica: one row per (member, quota) for the current window.
_V2 = """
CREATE TABLE quota_usage (
    member TEXT NOT NULL,
    quota TEXT NOT NULL,
    win BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (member, quota)
);
"""


def _v1(conn: psycopg.Connection) -> None:
    conn.execute(_V1)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO categories (id, name, retention_days) VALUES (%s, %s, %s)",
            [(i, name, days) for i, (name, days) in enumerate(DEFAULT_TAXONOMY.items(), start=1)],
        )


def _v2(conn: psycopg.Connection) -> None:
    conn.execute(_V2)


def _v3(conn: psycopg.Connection) -> None:
    """Per member, the earliest issuance time of a TLS certificate still accepted (0: any)."""
    conn.execute("ALTER TABLE members ADD COLUMN certs_from BIGINT NOT NULL DEFAULT 0")


def _v4(conn: psycopg.Connection) -> None:
    """Quota decisions per member and quota, counted by every replica (for ``sigx admin stats``)."""
    conn.execute(
        "CREATE TABLE quota_totals (member TEXT NOT NULL, quota TEXT NOT NULL, admitted BIGINT NOT NULL DEFAULT 0,"
        " denied BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (member, quota))"
    )


def _v5(conn: psycopg.Connection) -> None:
    """Each member's current verdict remembers the event that set it; each signing key the log entries that
    registered it and ended its window (the same as SQLite's v5)."""
    conn.execute("ALTER TABLE feedback ADD COLUMN seq BIGINT")
    conn.execute(
        "UPDATE feedback SET seq = (SELECT max(e.seq) FROM events e"
        " WHERE e.kind = 3 AND e.signal = feedback.signal AND e.member = feedback.member)"
    )
    conn.execute("ALTER TABLE signing_keys ADD COLUMN registered_seq BIGINT NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE signing_keys ADD COLUMN ended_seq BIGINT NOT NULL DEFAULT 0")
    admin = conn.execute("SELECT seq, envelope FROM events WHERE kind = 4 ORDER BY seq").fetchall()
    positions = key_log_positions((int(seq), bytes(env) if env is not None else None) for seq, env in admin)
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE signing_keys SET registered_seq = %s, ended_seq = %s WHERE key_id = %s",
            [(reg, end, key_id) for key_id, (reg, end) in positions.items()],
        )


def _v6(conn: psycopg.Connection) -> None:
    """Safeguards: member kinds, charters, warninglists, quarantine, deliveries and redress (as SQLite's v6)."""
    for sql in SAFEGUARD_TABLES:
        conn.execute(sql.format(blob="BYTEA"))  # type: ignore[arg-type]


def _v7(conn: psycopg.Connection) -> None:
    """Compact storage, as SQLite's v7: leaves rebuilt from event rows, deliveries without a member's own
    signals and the two unused columns."""
    conn.execute("ALTER TABLE events ADD COLUMN expires BIGINT NOT NULL DEFAULT 0, ADD COLUMN leaf_tag BYTEA")

    def update(rows: list[Compacted]) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE events SET expires = %s, leaf = %s, leaf_tag = %s, envelope = %s WHERE seq = %s", rows
            )

    compact_stored_leaves(
        lambda after, limit: conn.execute(
            f"{LEAF_SELECT} WHERE e.seq > %s AND e.leaf IS NOT NULL ORDER BY e.seq LIMIT %s",
            (after, limit),
        ).fetchall(),
        update,
    )
    conn.execute("DELETE FROM deliveries d USING signals s WHERE s.id = d.signal AND s.submitter = d.member")
    conn.execute("DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM signals s WHERE s.id = d.signal)")
    conn.execute("ALTER TABLE deliveries DROP COLUMN win, DROP COLUMN matches")


def _v8(conn: psycopg.Connection) -> None:
    """Issued certificates (as SQLite's v8)."""
    for sql in CERTIFICATE_TABLES:
        conn.execute(sql.format(blob="BYTEA", now="extract(epoch FROM now())::bigint"))  # type: ignore[arg-type]


MIGRATIONS = (_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8)

# Tables a migration from SQLite copies, in dependency order, with their columns.
TABLES: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "members": (
        "id",
        "member_id",
        "role",
        "status",
        "display_name",
        "created_at",
        "certs_from",
        "kind",
        "certs_known_from",
    ),
    "signing_keys": (
        "key_id",
        "member",
        "public_key",
        "not_before",
        "not_after",
        "revoked_at",
        "registered_seq",
        "ended_seq",
    ),
    "groups": ("id", "name"),
    "group_members": ("grp", "member"),
    "categories": ("id", "name", "retention_days"),
    "policies": ("version", "document", "applied_at", "seq"),
    "signals": (
        "id",
        "value",
        "type",
        "submitter",
        "category",
        "qualifier",
        "audience",
        "confidence",
        "first_seen",
        "last_seen",
        "expires_at",
        "retracted",
    ),
    "events": ("seq", "kind", "signal", "member", "received_at", "envelope", "leaf", "expires", "leaf_tag"),
    "feedback": ("signal", "member", "verdict", "seq"),
    "log_hashes": ("level", "idx", "hash"),
    "checkpoints": ("size", "note", "created_at"),
    "charters": ("version", "document", "sha256", "applied_at", "seq"),
    "warninglists": ("id", "name", "mode", "description", "created_at", "seq"),
    "warninglist_entries": ("type", "value", "list"),
    "quarantine": ("signal", "reason", "at", "seq"),
    "deliveries": ("signal", "member", "via", "at"),
    "redress": ("signal", "seq", "at"),
    "redress_acks": ("signal", "member", "outcome", "at", "seq"),
    "certificates": ("fingerprint", "member", "serial", "not_before", "not_after", "issued_at", "seq"),
}


def migrate(conn: psycopg.Connection) -> int:
    """Bring the database up to the newest schema; return its version. ``conn`` must be in autocommit mode."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT)")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema v{version} is newer than this exchange (v{len(MIGRATIONS)})")
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            with conn.transaction():  # a savepoint per step: each is all or nothing
                step(conn)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (%s, extract(epoch FROM now())::bigint)",
                    (number,),
                )
    return len(MIGRATIONS)
