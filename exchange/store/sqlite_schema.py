"""Versioned schema migrations for the SQLite store, run on start.

Schema and migrations use ``sqlite-utils``; each migration runs once, in order,
inside one transaction, and ``PRAGMA user_version`` records how far the file is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from client_sdk.log_entry import LogEntry
from client_sdk.wire import signals_pb2
from exchange.store.backfill import key_log_positions
from exchange.store.leaves import LEAF_SELECT, compact_stored_leaves

# The default taxonomy (operators extend it): category -> maximum lifetime in days.
DEFAULT_TAXONOMY: dict[str, int] = {
    "sextortion.financial": 365,
    "sextortion.other": 365,
    "csam.distribution": 730,
    "csam.solicitation": 730,
    "grooming": 365,
    "trafficking": 730,
    "spam.abuse": 90,
}


def _v1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("members").create(
        {"id": int, "member_id": str, "role": str, "status": str, "display_name": str, "created_at": int},
        pk="id",
        not_null={"member_id", "role", "status"},
    )
    db.table("members").create_index(["member_id"], unique=True)
    db.table("signing_keys").create(
        {"key_id": str, "member": int, "public_key": bytes, "not_before": int, "not_after": int, "revoked_at": int},
        pk="key_id",
        not_null={"member", "public_key", "not_before"},
        foreign_keys=[("member", "members", "id")],
    )
    db.table("groups").create({"id": int, "name": str}, pk="id", not_null={"name"})
    db.table("groups").create_index(["name"], unique=True)
    db.table("group_members").create({"grp": int, "member": int}, pk=("grp", "member"))
    db.table("categories").create({"id": int, "name": str, "retention_days": int}, pk="id", not_null={"name"})
    db.table("categories").create_index(["name"], unique=True)
    db.table("categories").insert_all({"name": n, "retention_days": d} for n, d in DEFAULT_TAXONOMY.items())
    # id is the seq of the signal's SUBMIT event.
    db.table("signals").create(
        {
            "id": int,
            "value": bytes,
            "type": int,
            "submitter": int,
            "category": int,
            "qualifier": str,
            "audience": int,
            "confidence": int,
            "first_seen": int,
            "last_seen": int,
            "expires_at": int,
            "retracted": int,
        },
        pk="id",
        not_null={"value", "type", "submitter", "category", "first_seen", "last_seen", "expires_at", "retracted"},
    )
    # One index serves look-ups by value and the idempotency key.
    db.table("signals").create_index(["value", "type", "submitter", "category"], unique=True, index_name="signals_key")
    db.execute("CREATE INDEX signals_pdq ON signals(type) WHERE type = 9")
    db.table("events").create(
        {"seq": int, "kind": int, "signal": int, "member": int, "received_at": int, "envelope": bytes},
        pk="seq",
        not_null={"kind", "member", "received_at"},
    )
    db.execute(
        "CREATE TABLE feedback (signal INTEGER NOT NULL, member INTEGER NOT NULL, verdict INTEGER NOT NULL,"
        " PRIMARY KEY (signal, member)) WITHOUT ROWID"
    )


def _v2(db: sqlite_utils.Database) -> None:
    """Policy versions; every apply is a new row (the newest is in force)."""
    db.table("policies").create(
        {"version": int, "document": str, "applied_at": int, "seq": int}, pk="version", not_null={"document"}
    )


def _v3(db: sqlite_utils.Database) -> None:
    """The signature log: each event's leaf record, tile hashes, signed checkpoints.

    Leaf records of events stored before v3 are backfilled; the tile hashes are
    rebuilt by the store when it opens the database.
    """
    db.execute("ALTER TABLE events ADD COLUMN leaf BLOB")
    db.execute(
        "CREATE TABLE log_hashes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
        " PRIMARY KEY (level, idx)) WITHOUT ROWID"
    )
    db.execute("CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, created_at INTEGER)")
    names = dict(db.execute("SELECT id, member_id FROM members").fetchall())
    expiry = dict(db.execute("SELECT id, expires_at FROM signals").fetchall())
    rows = db.execute("SELECT seq, kind, signal, member, received_at, envelope FROM events").fetchall()
    for seq, kind, signal, member, at, envelope in rows:
        key_id = signals_pb2.Envelope.FromString(envelope).signatures[0].keyid if envelope else ""
        expires = expiry.get(signal, 0) if kind != 4 else 0
        entry = LogEntry.for_envelope(seq - 1, kind, at, expires, names.get(member, ""), key_id, envelope or b"")
        db.execute("UPDATE events SET leaf = ? WHERE seq = ?", (entry.encode(), seq))


def _v4(db: sqlite_utils.Database) -> None:
    """Per member, the earliest issuance time of a TLS certificate still accepted (0: any)."""
    db.execute("ALTER TABLE members ADD COLUMN certs_from INTEGER NOT NULL DEFAULT 0")


def _v5(db: sqlite_utils.Database) -> None:
    """Each member's current verdict remembers the event that set it; each signing key the log entries that
    registered it and ended its window (what a member checks before trusting the key)."""
    db.execute("ALTER TABLE feedback ADD COLUMN seq INTEGER")
    db.execute(
        "UPDATE feedback SET seq = (SELECT max(e.seq) FROM events e"
        " WHERE e.kind = 3 AND e.signal = feedback.signal AND e.member = feedback.member)"
    )
    db.execute("ALTER TABLE signing_keys ADD COLUMN registered_seq INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE signing_keys ADD COLUMN ended_seq INTEGER NOT NULL DEFAULT 0")
    admin = db.execute("SELECT seq, envelope FROM events WHERE kind = 4 ORDER BY seq").fetchall()
    for key_id, (registered, ended) in key_log_positions(admin).items():
        db.execute(
            "UPDATE signing_keys SET registered_seq = ?, ended_seq = ? WHERE key_id = ?", (registered, ended, key_id)
        )


#: Safeguards (v6, the same statements on both stores; ``{blob}`` is the database's byte-string type): each
#: member's kind (the charter's rules follow it), charter versions, warninglists and their entries,
#: quarantined signals, which members received each signal (Pull, Subscribe, Lookup), and, for retractions
#: for redress, who acknowledged them.
SAFEGUARD_TABLES = (
    "ALTER TABLE members ADD COLUMN kind TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE charters (version BIGINT PRIMARY KEY, document TEXT NOT NULL, sha256 {blob} NOT NULL,"
    " applied_at BIGINT, seq BIGINT)",
    "CREATE TABLE warninglists (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, mode TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '', created_at BIGINT, seq BIGINT)",
    "CREATE TABLE warninglist_entries (type INTEGER NOT NULL, value {blob} NOT NULL, list BIGINT NOT NULL,"
    " PRIMARY KEY (type, value, list))",
    # a signal that stops matching until released; reason: false_positive, match_flood, operator, warninglist
    "CREATE TABLE quarantine (signal BIGINT PRIMARY KEY, reason TEXT NOT NULL, at BIGINT NOT NULL,"
    " seq BIGINT NOT NULL)",
    # who received a signal, first how (pull, subscribe, lookup) and when (win and matches: unused, dropped by
    # v7; look-up matches are counted by each replica in memory)
    "CREATE TABLE deliveries (signal BIGINT NOT NULL, member BIGINT NOT NULL, via TEXT NOT NULL, at BIGINT NOT NULL,"
    " win BIGINT NOT NULL DEFAULT 0, matches BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (signal, member))",
    "CREATE TABLE redress (signal BIGINT PRIMARY KEY, seq BIGINT NOT NULL, at BIGINT NOT NULL)",
    "CREATE TABLE redress_acks (signal BIGINT NOT NULL, member BIGINT NOT NULL, outcome TEXT NOT NULL,"
    " at BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (signal, member))",
    # members before v6 are platforms; operators and auditors have no kind
    "UPDATE members SET kind = 'platform' WHERE role = 'member'",
)


def _v6(db: sqlite_utils.Database) -> None:
    """Safeguards (``SAFEGUARD_TABLES``)."""
    for sql in SAFEGUARD_TABLES:
        db.execute(sql.format(blob="BLOB"))


def _v7(db: sqlite_utils.Database) -> None:
    """Compact storage: an event's leaf is rebuilt from its row while its envelope is kept
    (``exchange/store/leaves.py``), so the row keeps only the leaf's expiry; deliveries are one b-tree, keyed
    as they are read, without a member's own signals (never asked about) and the two columns nothing used.
    Space freed inside the file is reused by new rows; ``VACUUM`` returns it to the file system."""
    db.execute("ALTER TABLE events ADD COLUMN expires INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE events ADD COLUMN leaf_tag BLOB")
    compact_stored_leaves(
        lambda after, limit: db.execute(
            f"{LEAF_SELECT} WHERE e.seq > ? AND e.leaf IS NOT NULL ORDER BY e.seq LIMIT ?", (after, limit)
        ).fetchall(),
        lambda rows: db.conn.executemany(
            "UPDATE events SET expires = ?, leaf = ?, leaf_tag = ?, envelope = ? WHERE seq = ?", rows
        ),
    )
    db.execute(
        "CREATE TABLE deliveries_v7 (signal INTEGER NOT NULL, member INTEGER NOT NULL, via TEXT NOT NULL,"
        " at INTEGER NOT NULL, PRIMARY KEY (signal, member)) WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO deliveries_v7 SELECT d.signal, d.member, d.via, d.at FROM deliveries d"
        " JOIN signals s ON s.id = d.signal WHERE s.submitter <> d.member"
    )
    db.execute("DROP TABLE deliveries")
    db.execute("ALTER TABLE deliveries_v7 RENAME TO deliveries")


#: The TLS client certificates the exchange issues (v8, the same statements on both stores; ``{blob}`` is the
#: byte-string type, ``{now}`` the database's current Unix time): one row per certificate, found by its SHA-256
#: fingerprint (of the DER), with its serial (hex), validity and the admin event that issued it. Certificates
#: issued before v8 were never recorded: each member that existed then remembers since when its are known.
CERTIFICATE_TABLES = (
    "CREATE TABLE certificates (fingerprint {blob} PRIMARY KEY, member BIGINT NOT NULL, serial TEXT NOT NULL,"
    " not_before BIGINT NOT NULL, not_after BIGINT NOT NULL, issued_at BIGINT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE INDEX certificates_member ON certificates (member, not_before)",
    "ALTER TABLE members ADD COLUMN certs_known_from BIGINT NOT NULL DEFAULT 0",
    "UPDATE members SET certs_known_from = {now}",
)


def _v8(db: sqlite_utils.Database) -> None:
    """Issued certificates (``CERTIFICATE_TABLES``)."""
    for sql in CERTIFICATE_TABLES:
        db.execute(sql.format(blob="BLOB", now="CAST(strftime('%s', 'now') AS INTEGER)"))


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest schema; return its version."""
    db = sqlite_utils.Database(conn)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database schema v{version} is newer than this exchange (v{len(MIGRATIONS)})")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
