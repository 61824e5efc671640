"""The embedded default store: one SQLite file in WAL mode.

Hot paths (submit, look-up, pull) use prepared statements on stdlib
connections: one writer connection behind a lock, one reader connection per
thread. Every write is one ``BEGIN IMMEDIATE`` transaction with
``synchronous=FULL``, so an acknowledged event survives a crash.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from client_sdk import merkle
from client_sdk.envelope import open_envelope
from client_sdk.log_entry import LogEntry
from exchange.errors import FailedPreconditionError, NotFoundError, PermissionDeniedError, UnavailableError
from exchange.log.tree import TILE_HEIGHT, TreeBuilder
from exchange.policy.quota import QuotaLedger
from exchange.store import schema
from exchange.store.base import (
    KIND_ADMIN,
    KIND_FEEDBACK,
    KIND_RETRACT,
    KIND_SUBMIT,
    MEMBER_COLUMNS,
    TYPE_MEDIA_PDQ,
    AdminEvent,
    Category,
    EventFilter,
    EventRecord,
    GroupRecord,
    KeyRecord,
    MatchRecord,
    MemberRecord,
    NewSignal,
    SignalRecord,
    Stats,
    SubmitOutcome,
    pdq_ranked,
)

_SIGNAL_COLUMNS = (
    "s.id, s.submitter, s.type, s.value, s.category, s.qualifier, s.confidence,"
    " s.first_seen, s.last_seen, s.expires_at, s.audience, s.retracted"
)
_NO_FEEDBACK = (0, 0, 0, 0, 0)


def _unavailable(exc: sqlite3.OperationalError) -> UnavailableError:
    """A write the database refused (disk full, read-only, I/O error): nothing was written."""
    text = str(exc)
    reason = "store_full" if "full" in text else "store_read_only" if "readonly" in text else "store_unavailable"
    return UnavailableError(f"the database cannot take writes now ({text}); reads go on", reason=reason)


class SqliteStore:
    """``Store`` on a SQLite file (or ``:memory:`` for unit tests)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._memory = self._path == ":memory:"
        if self._memory:
            self._path = f"file:sigx-{id(self)}?mode=memory&cache=shared"
        self._local = threading.local()
        self._wlock = threading.Lock()
        self._writer = self._connect()
        schema.migrate(self._writer)
        self._names: dict[int, str] = {}
        self._categories: dict[str, Category] = {}
        self._category_names: dict[int, str] = {}
        self._reload_names()
        self._tree = TreeBuilder()
        with self._write():
            pass  # loads (and if needed rebuilds) the tree

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, uri=self._memory)
        if not self._memory:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def close(self) -> None:
        with self._wlock:
            self._writer.close()

    def quota_ledger(self, clock: Callable[[], float]) -> QuotaLedger:
        """The quota ledger of this store: in memory (one process owns a SQLite file)."""
        return QuotaLedger(clock)

    # -- plumbing -----------------------------------------------------------

    @property
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the in-memory tree follows it (restored on rollback)."""
        with self._wlock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _unavailable(exc) from None
            saved = self._tree.copy()
            try:
                if self._tree.size != self._log_size(conn):
                    self._tree = self._load_tree(conn)
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._tree = saved
                if isinstance(exc, sqlite3.OperationalError):
                    raise _unavailable(exc) from None
                raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        conn = self._reader
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _reload_names(self) -> None:
        conn = self._writer
        self._names = dict(conn.execute("SELECT id, member_id FROM members"))
        self._categories = {
            name: Category(row, name, days)
            for row, name, days in conn.execute("SELECT id, name, retention_days FROM categories")
        }
        self._category_names = {c.row: c.name for c in self._categories.values()}

    def _record_event(
        self,
        conn: sqlite3.Connection,
        seq: int,
        kind: int,
        signal: int | None,
        member: int,
        at: int,
        envelope: bytes,
        expires: int,
    ) -> int:
        """The one place an accepted event is written, and appended to the signature log.

        The event row, its leaf and any tile hash it completes are in the caller's
        transaction: they commit together or not at all.
        """
        entry = LogEntry.for_envelope(
            seq - 1, kind, at, expires, self._member_name(member), open_envelope(envelope).key_id, envelope
        )
        leaf = entry.encode()
        conn.execute(
            "INSERT INTO events (seq, kind, signal, member, received_at, envelope, leaf) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, kind, signal, member, at, envelope, leaf),
        )
        for level, idx, h in self._tree.append(merkle.leaf_hash(leaf)):
            conn.execute("INSERT INTO log_hashes (level, idx, hash) VALUES (?, ?, ?)", (level, idx, h))
        return seq

    # -- the signature log ----------------------------------------------------

    def _member_name(self, row: int) -> str:
        if row not in self._names:
            self._names.update(self._reader.execute("SELECT id, member_id FROM members"))
        return self._names.get(row, "?")

    @staticmethod
    def _log_size(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def _leaf_hashes(self, conn: sqlite3.Connection, start: int, end: int) -> list[bytes]:
        rows = conn.execute("SELECT leaf FROM events WHERE seq > ? AND seq <= ? ORDER BY seq", (start, end))
        return [merkle.leaf_hash(r[0]) for r in rows]

    def _stored_hashes(self, conn: sqlite3.Connection, level: int, start: int, end: int) -> list[bytes]:
        rows = conn.execute(
            "SELECT hash FROM log_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx", (level, start, end)
        )
        return [r[0] for r in rows]

    def _load_tree(self, conn: sqlite3.Connection) -> TreeBuilder:
        """Rebuild the partial tiles from the database (and any tile hashes it lacks)."""
        size = self._log_size(conn)
        complete = size >> TILE_HEIGHT
        have = conn.execute("SELECT count(*) FROM log_hashes WHERE level = ?", (TILE_HEIGHT,)).fetchone()[0]
        if have < complete:
            conn.execute("DELETE FROM log_hashes")
            tree = TreeBuilder()
            for start in range(0, size, 65536):
                for h in self._leaf_hashes(conn, start, min(size, start + 65536)):
                    for level, idx, th in tree.append(h):
                        conn.execute("INSERT INTO log_hashes (level, idx, hash) VALUES (?, ?, ?)", (level, idx, th))
            return tree
        return TreeBuilder.resume(
            size,
            lambda start, end: self._leaf_hashes(conn, start, end),
            lambda level, start, end: self._stored_hashes(conn, level, start, end),
        )

    def log_size(self) -> int:
        return self._log_size(self._reader)

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree of 2**level leaves starting at leaf ``index * 2**level``."""
        base = level - level % TILE_HEIGHT
        with self._snapshot() as conn:
            if base == level and level > 0:
                stored = self._stored_hashes(conn, level, index, index + 1)
                if stored:
                    return stored[0]
                base = level - TILE_HEIGHT
            width = 1 << (level - base)
            start = index * width
            if base == 0:
                hashes = self._leaf_hashes(conn, start, start + width)
            else:
                hashes = self._stored_hashes(conn, base, start, start + width)
        if len(hashes) != width:
            raise NotFoundError(f"the log has no complete subtree at level {level}, index {index}")
        return merkle.root(hashes)

    def log_entries(self, start: int, end: int) -> list[tuple[int, bytes, bytes | None]]:
        """(index, leaf record, envelope or None if purged) for indices [start, end)."""
        rows = self._reader.execute(
            "SELECT seq, leaf, envelope FROM events WHERE seq > ? AND seq <= ? ORDER BY seq", (start, end)
        )
        return [(seq - 1, leaf, envelope) for seq, leaf, envelope in rows]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self._reader.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def save_checkpoint(self, size: int, note: str, at: int) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO checkpoints (size, note, created_at) VALUES (?, ?, ?)", (size, note, at)
            )

    @staticmethod
    def _next_seq(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM events").fetchone()[0]

    # -- members and keys ---------------------------------------------------

    def _admin_event(self, conn: sqlite3.Connection, event: AdminEvent | None) -> int:
        if event is None:
            return 0
        event.seq = self._record_event(
            conn, self._next_seq(conn), KIND_ADMIN, None, event.member_row, event.at, event.envelope, 0
        )
        return event.seq

    def record_certificate(self, member_id: str, revoke_before: int | None, event: AdminEvent) -> int:
        with self._write() as conn:
            row = self._member_row(conn, member_id)
            if revoke_before is not None:
                conn.execute("UPDATE members SET certs_from = ? WHERE id = ?", (revoke_before, row))
            return self._admin_event(conn, event)

    def add_member(
        self,
        member_id: str,
        role: str,
        display_name: str,
        at: int,
        event: AdminEvent | None = None,
        signing_key: tuple[str, bytes] | None = None,
    ) -> MemberRecord:
        """Add a member (and its first signing key, valid from ``at``) in one transaction."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM members WHERE member_id = ?", (member_id,)).fetchone():
                raise FailedPreconditionError(f"member {member_id!r} already exists", reason="member_exists")
            cur = conn.execute(
                "INSERT INTO members (member_id, role, status, display_name, created_at) VALUES (?, ?, 'active', ?, ?)",
                (member_id, role, display_name, at),
            )
            row = int(cur.lastrowid or 0)
            self._names[row] = member_id
            if signing_key is not None:
                if conn.execute("SELECT 1 FROM signing_keys WHERE key_id = ?", (signing_key[0],)).fetchone():
                    raise FailedPreconditionError(f"key {signing_key[0]} is already registered", reason="key_exists")
                conn.execute(
                    "INSERT INTO signing_keys (key_id, member, public_key, not_before) VALUES (?, ?, ?, ?)",
                    (signing_key[0], row, signing_key[1], at),
                )
            if event is not None and event.member_row == 0:
                event.member_row = row  # genesis: the first operator registers itself
            self._admin_event(conn, event)
        self._names[row] = member_id
        return MemberRecord(row, member_id, role, "active", display_name)

    def get_member(self, member_id: str) -> MemberRecord | None:
        row = self._reader.execute(
            f"SELECT {MEMBER_COLUMNS} FROM members WHERE member_id = ?",
            (member_id,),
        ).fetchone()
        return MemberRecord(*row) if row else None

    def list_members(self) -> list[MemberRecord]:
        rows = self._reader.execute(f"SELECT {MEMBER_COLUMNS} FROM members ORDER BY member_id")
        return [MemberRecord(*r) for r in rows]

    def _member_row(self, conn: sqlite3.Connection, member_id: str) -> int:
        row = conn.execute("SELECT id FROM members WHERE member_id = ?", (member_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no member {member_id!r}", reason="member_not_found")
        return int(row[0])

    def set_member_status(self, member_id: str, status: str, event: AdminEvent | None = None) -> bool:
        with self._write() as conn:
            row = self._member_row(conn, member_id)
            if conn.execute("SELECT status FROM members WHERE id = ?", (row,)).fetchone()[0] == status:
                return False
            conn.execute("UPDATE members SET status = ? WHERE id = ?", (status, row))
            self._admin_event(conn, event)
            return True

    def add_signing_key(
        self, member_id: str, key_id: str, public_key: bytes, not_before: int, event: AdminEvent | None = None
    ) -> KeyRecord:
        with self._write() as conn:
            member = self._member_row(conn, member_id)
            if conn.execute("SELECT 1 FROM signing_keys WHERE key_id = ?", (key_id,)).fetchone():
                raise FailedPreconditionError(f"key {key_id} is already registered", reason="key_exists")
            conn.execute(
                "INSERT INTO signing_keys (key_id, member, public_key, not_before) VALUES (?, ?, ?, ?)",
                (key_id, member, public_key, not_before),
            )
            self._admin_event(conn, event)
        return KeyRecord(key_id, member_id, public_key, not_before, None, None)

    def end_signing_key(self, key_id: str, at: int, revoke: bool, event: AdminEvent | None = None) -> bool:
        """Close a key's window at ``at``: retire (``not_after``) or revoke (``revoked_at``)."""
        column = "revoked_at" if revoke else "not_after"
        with self._write() as conn:
            row = conn.execute(f"SELECT {column} FROM signing_keys WHERE key_id = ?", (key_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no signing key {key_id}", reason="key_not_found")
            if row[0] is not None:
                return False
            conn.execute(f"UPDATE signing_keys SET {column} = ? WHERE key_id = ?", (at, key_id))
            self._admin_event(conn, event)
            return True

    _KEY_SELECT = (
        "SELECT k.key_id, m.member_id, k.public_key, k.not_before, k.not_after, k.revoked_at"
        " FROM signing_keys k JOIN members m ON m.id = k.member"
    )

    def get_signing_key(self, key_id: str) -> KeyRecord | None:
        row = self._reader.execute(self._KEY_SELECT + " WHERE k.key_id = ?", (key_id,)).fetchone()
        return KeyRecord(*row) if row else None

    def list_signing_keys(self, member_id: str | None = None) -> list[KeyRecord]:
        if member_id is None:
            rows = self._reader.execute(self._KEY_SELECT + " ORDER BY m.member_id, k.not_before")
        else:
            rows = self._reader.execute(self._KEY_SELECT + " WHERE m.member_id = ? ORDER BY k.not_before", (member_id,))
        return [KeyRecord(*r) for r in rows]

    def member_groups(self, member_row: int) -> frozenset[int]:
        rows = self._reader.execute("SELECT grp FROM group_members WHERE member = ?", (member_row,))
        return frozenset(r[0] for r in rows)

    def group_id(self, name: str) -> int | None:
        row = self._reader.execute("SELECT id FROM groups WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def create_group(self, name: str, event: AdminEvent | None = None) -> bool:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
                return False
            conn.execute("INSERT INTO groups (name) VALUES (?)", (name,))
            self._admin_event(conn, event)
            return True

    def set_group_membership(self, group: str, member_id: str, member: bool, event: AdminEvent | None = None) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT id FROM groups WHERE name = ?", (group,)).fetchone()
            if row is None:
                raise NotFoundError(f"no group {group!r}", reason="group_not_found")
            member_row = self._member_row(conn, member_id)
            if member:
                changed = conn.execute(
                    "INSERT OR IGNORE INTO group_members (grp, member) VALUES (?, ?)", (row[0], member_row)
                ).rowcount
            else:
                changed = conn.execute(
                    "DELETE FROM group_members WHERE grp = ? AND member = ?", (row[0], member_row)
                ).rowcount
            if changed:
                self._admin_event(conn, event)
            return bool(changed)

    def list_groups(self) -> list[GroupRecord]:
        rows = self._reader.execute(
            "SELECT g.name, m.member_id FROM groups g LEFT JOIN group_members gm ON gm.grp = g.id"
            " LEFT JOIN members m ON m.id = gm.member ORDER BY g.name, m.member_id"
        )
        groups: dict[str, list[str]] = {}
        for name, member in rows:
            groups.setdefault(name, [])
            if member is not None:
                groups[name].append(member)
        return [GroupRecord(n, tuple(ms)) for n, ms in groups.items()]

    def get_policy(self) -> tuple[int, str]:
        row = self._reader.execute("SELECT version, document FROM policies ORDER BY version DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, "")

    def set_policy(self, document: str, base_version: int | None, event: AdminEvent | None = None) -> int:
        with self._write() as conn:
            current = conn.execute("SELECT coalesce(max(version), 0) FROM policies").fetchone()[0]
            if base_version is not None and base_version != current:
                raise FailedPreconditionError(
                    f"the policy changed (now version {current}, diff was against {base_version}); review it again",
                    reason="policy_changed",
                )
            seq = self._admin_event(conn, event)
            conn.execute(
                "INSERT INTO policies (version, document, applied_at, seq) VALUES (?, ?, ?, ?)",
                (current + 1, document, event.at if event else 0, seq),
            )
            return current + 1

    def set_category(self, name: str, retention_days: int, event: AdminEvent | None = None) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT retention_days FROM categories WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] == retention_days:
                return False
            conn.execute(
                "INSERT INTO categories (name, retention_days) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET retention_days = excluded.retention_days",
                (name, retention_days),
            )
            self._admin_event(conn, event)
        self._reload_names()
        return True

    def stats(self) -> Stats:
        with self._snapshot() as conn:

            def pairs(sql: str) -> dict:
                return dict(conn.execute(sql).fetchall())

            return Stats(
                signals_by_category={
                    self._category_names.get(k, "?"): v
                    for k, v in pairs("SELECT category, count(*) FROM signals GROUP BY category").items()
                },
                signals_by_type=pairs("SELECT type, count(*) FROM signals GROUP BY type"),
                signals_by_member={
                    self._names.get(k, "?"): v
                    for k, v in pairs("SELECT submitter, count(*) FROM signals GROUP BY submitter").items()
                },
                events_by_kind=pairs("SELECT kind, count(*) FROM events GROUP BY kind"),
                feedback_by_verdict=pairs("SELECT verdict, count(*) FROM feedback GROUP BY verdict"),
                submits_by_day=pairs(
                    "SELECT date(received_at, 'unixepoch'), count(*) FROM events WHERE kind = 1"
                    " GROUP BY 1 ORDER BY 1 DESC LIMIT 30"
                ),
                active_signals=conn.execute("SELECT count(*) FROM signals WHERE retracted = 0").fetchone()[0],
            )

    def categories(self) -> dict[str, Category]:
        return dict(self._categories)

    # -- events -------------------------------------------------------------

    def submit(self, items: Sequence[NewSignal]) -> list[SubmitOutcome]:
        out: list[SubmitOutcome] = []
        if not items:
            return out
        with self._write() as conn:
            seq = self._next_seq(conn)
            find = "SELECT id FROM signals WHERE value = ? AND type = ? AND submitter = ? AND category = ?"
            for it in items:
                existing = conn.execute(find, (it.value, it.type, it.submitter, it.category)).fetchone()
                if existing is not None:
                    conn.execute("UPDATE signals SET last_seen = ? WHERE id = ?", (it.received_at, existing[0]))
                    out.append(SubmitOutcome(True, existing[0], existing[0]))
                    continue
                self._record_event(
                    conn, seq, KIND_SUBMIT, seq, it.submitter, it.received_at, it.envelope, it.expires_at
                )
                conn.execute(
                    "INSERT INTO signals (id, value, type, submitter, category, qualifier, audience, confidence,"
                    " first_seen, last_seen, expires_at, retracted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (
                        seq,
                        it.value,
                        it.type,
                        it.submitter,
                        it.category,
                        it.qualifier,
                        it.audience,
                        it.confidence,
                        it.received_at,
                        it.received_at,
                        it.expires_at,
                    ),
                )
                out.append(SubmitOutcome(False, seq, seq))
                seq += 1
        return out

    def _signal_from_row(self, row: tuple) -> SignalRecord:
        sid, submitter, type_, value, category, qualifier, conf, first, last, expires, audience, retracted = row
        return SignalRecord(
            sid,
            self._names.get(submitter, "?"),
            type_,
            value,
            self._category_names.get(category, "?"),
            qualifier or "",
            conf or 0,
            first,
            last,
            expires,
            audience,
            bool(retracted),
        )

    def get_signal(self, signal_id: int) -> SignalRecord | None:
        row = self._reader.execute(f"SELECT {_SIGNAL_COLUMNS} FROM signals s WHERE s.id = ?", (signal_id,)).fetchone()
        return self._signal_from_row(row) if row else None

    def retract(self, signal_id: int, member_row: int, envelope: bytes, at: int, any_submitter: bool = False) -> int:
        with self._write() as conn:
            row = conn.execute(
                "SELECT submitter, retracted, expires_at FROM signals WHERE id = ?", (signal_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no signal {signal_id}", reason="signal_not_found")
            if row[0] != member_row and not any_submitter:
                raise PermissionDeniedError("only the submitter may retract a signal", reason="not_submitter")
            if row[1]:
                raise FailedPreconditionError(f"signal {signal_id} is already retracted", reason="already_retracted")
            conn.execute("UPDATE signals SET retracted = 1 WHERE id = ?", (signal_id,))
            seq = self._next_seq(conn)
            return self._record_event(conn, seq, KIND_RETRACT, signal_id, member_row, at, envelope, row[2])

    def feedback(self, signal_id: int, member_row: int, verdict: int, envelope: bytes, at: int) -> int:
        with self._write() as conn:
            row = conn.execute(
                "SELECT submitter, retracted, expires_at FROM signals WHERE id = ?", (signal_id,)
            ).fetchone()
            if row is None or row[2] <= at:
                raise NotFoundError(f"no active signal {signal_id}", reason="signal_not_found")
            if row[0] == member_row:
                raise FailedPreconditionError("feedback is for other members' signals", reason="own_signal")
            if row[1]:
                raise FailedPreconditionError(f"signal {signal_id} is retracted", reason="retracted")
            conn.execute(
                "INSERT INTO feedback (signal, member, verdict) VALUES (?, ?, ?)"
                " ON CONFLICT (signal, member) DO UPDATE SET verdict = excluded.verdict",
                (signal_id, member_row, verdict),
            )
            seq = self._next_seq(conn)
            return self._record_event(conn, seq, KIND_FEEDBACK, signal_id, member_row, at, envelope, row[2])

    def max_seq(self) -> int:
        return self._reader.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def events_after(self, seq: int, limit: int, flt: EventFilter) -> tuple[list[EventRecord], int]:
        """Visible events after ``seq`` (at most ``limit``) and the cursor to resume from."""
        where = ["e.seq > ?", "e.envelope IS NOT NULL"]
        args: list[object] = [seq]
        if flt.types is not None:
            where.append(f"s.type IN ({','.join('?' * len(flt.types))})")
            args.extend(sorted(flt.types))
        if flt.categories is not None:
            where.append(f"s.category IN ({','.join('?' * len(flt.categories))})")
            args.extend(sorted(flt.categories))
        audiences = sorted(flt.audiences)
        where.append(f"(s.audience IS NULL OR s.audience IN ({','.join('?' * len(audiences))}))")
        args.extend(audiences)
        sql = (
            "SELECT e.seq, e.kind, e.signal, e.received_at, e.envelope FROM events e"
            f" JOIN signals s ON s.id = e.signal WHERE {' AND '.join(where)} ORDER BY e.seq LIMIT ?"
        )
        args.append(limit)
        with self._snapshot() as conn:
            events = [EventRecord(*r) for r in conn.execute(sql, args)]
            if len(events) < limit:
                # Nothing visible up to the snapshot's end: resume from there.
                cursor = max(seq, conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
            else:
                cursor = events[-1].seq
        return events, cursor

    def _feedback_counts(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[int]]:
        counts: dict[int, list[int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.execute(
                f"SELECT signal, verdict, count(*) FROM feedback WHERE signal IN ({','.join('?' * len(chunk))})"
                " GROUP BY signal, verdict",
                chunk,
            )
            for signal, verdict, n in rows:
                if 1 <= verdict <= 5:
                    counts.setdefault(signal, [0, 0, 0, 0, 0])[verdict - 1] = n
        return counts

    def _matches(self, conn: sqlite3.Connection, rows: list[tuple], distances: list[int]) -> list[MatchRecord]:
        counts = self._feedback_counts(conn, [r[0] for r in rows]) if rows else {}
        return [
            MatchRecord(self._signal_from_row(r), tuple(counts.get(r[0], _NO_FEEDBACK)), d)  # type: ignore[arg-type]
            for r, d in zip(rows, distances, strict=True)
        ]

    def lookup(self, type_: int, values: Sequence[bytes], now: int) -> list[MatchRecord]:
        """Active signals of ``type_`` whose value is one of ``values``."""
        rows: list[tuple] = []
        with self._snapshot() as conn:
            for start in range(0, len(values), 900):
                chunk = list(values[start : start + 900])
                rows.extend(
                    conn.execute(
                        f"SELECT {_SIGNAL_COLUMNS} FROM signals s WHERE s.value IN ({','.join('?' * len(chunk))})"
                        " AND s.type = ? AND s.retracted = 0 AND s.expires_at > ?",
                        [*chunk, type_, now],
                    )
                )
            return self._matches(conn, rows, [0] * len(rows))

    def lookup_pdq(self, values: Sequence[bytes], max_distance: int, now: int) -> list[list[MatchRecord]]:
        """For each PDQ hash, active PDQ signals within ``max_distance`` bits (linear scan)."""
        with self._snapshot() as conn:
            rows = list(
                conn.execute(
                    f"SELECT {_SIGNAL_COLUMNS} FROM signals s"
                    " WHERE s.type = ? AND s.retracted = 0 AND s.expires_at > ?",
                    (TYPE_MEDIA_PDQ, now),
                )
            )
            return [
                self._matches(conn, [rows[i] for i, _ in hits], [d for _, d in hits])
                for hits in pdq_ranked(values, [r[3] for r in rows], max_distance)
            ]

    def purge_expired(self, now: int) -> int:
        """Delete expired signals, their feedback and their envelopes; return how many signals."""
        with self._write() as conn:
            expired = "SELECT id FROM signals WHERE expires_at <= ?"
            conn.execute(f"DELETE FROM feedback WHERE signal IN ({expired})", (now,))
            conn.execute(f"UPDATE events SET envelope = NULL WHERE signal IN ({expired})", (now,))
            return conn.execute("DELETE FROM signals WHERE expires_at <= ?", (now,)).rowcount
