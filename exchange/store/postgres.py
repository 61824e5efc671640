"""The PostgreSQL store: several stateless exchange replicas share one database.

Semantics are those of ``SqliteStore`` exactly (text sorts bytewise, ``COLLATE "C"``,
as SQLite's BINARY does). Connections come from a
``psycopg_pool.ConnectionPool`` (autocommit; transactions are explicit). Every
write is one READ COMMITTED transaction that first takes
``pg_advisory_xact_lock(WRITE_LOCK)``: across every process there is one writer
at a time, so seqs are assigned as ``max(seq) + 1`` without gaps or duplicates,
and the commit order is the seq order (a snapshot always sees a prefix of the
log). The in-memory ``TreeBuilder`` catches up under that lock when another
replica appended, and is restored if the transaction rolls back.

Hot statements (submit, look-up, pull, quota admission) are server-side
prepared, with arrays instead of variable-length ``IN`` lists so each has one
shape. Quotas live in the database (``PgQuotaLedger``), so they hold across
replicas; admission is one atomic upsert.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout

from client_sdk import merkle
from client_sdk.envelope import open_envelope
from client_sdk.log_entry import LogEntry
from client_sdk.vocab import KIND_FEEDBACK, KIND_SUBMIT, TYPE_MEDIA_PDQ
from exchange.signature_log.tree import TreeBuilder
from exchange.store import pg_schema
from exchange.store.base import (
    LIVE_EVENTS_SQL,
    UNKNOWN_MEMBER,
    Category,
    EventFilter,
    EventRecord,
    LiveEvent,
    MatchRecord,
    NewSignal,
    SignalRecord,
    Stats,
    SubmitOutcome,
    leaf_submitter,
    live_event,
    resubmission,
)
from exchange.store.leaves import leaf_tag
from exchange.store.packing import pack, row_items, stored_envelope
from exchange.store.pg_errors import UNAVAILABLE, Clock, Conn, connect_error, unavailable
from exchange.store.pg_quota import PgQuotaLedger
from exchange.store.sql import REVIVE, SqlStore

_log = structlog.get_logger("exchange.store")

_SIGNAL_COLUMNS = (
    "s.id, s.submitter, s.type, s.value, s.category, s.qualifier, s.confidence,"
    " s.first_seen, s.last_seen, s.expires_at, s.audience, s.retracted"
)
_FEEDBACK_COUNTS = ", ".join(f"count(f.verdict) FILTER (WHERE f.verdict = {v})" for v in range(1, 6))
_NO_FEEDBACK = (0, 0, 0, 0, 0)
_CATALOG_TTL = 1.0  # seconds a replica trusts its cached category list (other replicas may change it)
_CATCH_UP = 4096  # appends by other replicas replayed leaf by leaf; beyond that the tiles are reloaded
COMMITS_CHANNEL = "sigx_commits"  # NOTIFY payload: the log size (= newest seq) a write committed

# What a reader may see, decided in the query: (categories or NULL for all, the reader's groups).
_VISIBLE = (
    " AND (%(categories)s::bigint[] IS NULL OR s.category = ANY(%(categories)s::bigint[]))"
    " AND (s.audience IS NULL OR s.audience = ANY(%(audiences)s::bigint[]))"
)
_LOOKUP = (
    f"SELECT {_SIGNAL_COLUMNS}, {_FEEDBACK_COUNTS} FROM signals s LEFT JOIN feedback f ON f.signal = s.id"
    " WHERE s.value = ANY(%(values)s::bytea[]) AND s.type = %(type)s AND s.retracted = 0 AND s.expires_at > %(now)s"
    f"{_VISIBLE} GROUP BY s.id ORDER BY s.value, s.type, s.submitter, s.category"
)
_PDQ_ROWS = (
    f"SELECT {_SIGNAL_COLUMNS}, {_FEEDBACK_COUNTS} FROM signals s LEFT JOIN feedback f ON f.signal = s.id"
    " WHERE s.id = ANY(%(ids)s::bigint[]) AND s.type = %(type)s AND s.retracted = 0 AND s.expires_at > %(now)s"
    f"{_VISIBLE} GROUP BY s.id"
)


def _visible_args(flt: EventFilter) -> dict[str, Any]:
    return {
        "categories": sorted(flt.categories) if flt.categories is not None else None,
        "audiences": sorted(flt.audiences),
    }


_FIND_KEYS = (
    "SELECT k.value, k.type, k.submitter, k.category, s.id, s.retracted, s.expires_at"
    " FROM unnest(%s::bytea[], %s::int[], %s::bigint[], %s::bigint[]) AS k(value, type, submitter, category)"
    " JOIN signals s ON s.value = k.value AND s.type = k.type AND s.submitter = k.submitter"
    " AND s.category = k.category"
)
_EVENT_COLUMNS = ("seq", "kind", "signal", "member", "received_at", "envelope", "expires", "leaf_tag")
_INSERT_EVENT = f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
_PLACEHOLDERS: dict[str, str] = {}
#: An event for ``_record_events``: seq, kind, signal, member, time, envelope, expiry, row items (``packing``).
EventRow = tuple[int, int, int | None, int, int, bytes, int, Sequence[bytes]]
_INSERT_HASH = "INSERT INTO log_hashes (level, idx, hash) VALUES (%s, %s, %s)"


def _copy(conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Bulk insert in the current transaction (COPY: one round trip for a whole batch)."""
    if not rows:
        return
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _events_sql(types: bool, categories: bool) -> str:
    """Visible events after a seq plus the snapshot's max seq, in one statement (so one snapshot)."""
    where = ["e.seq > %(seq)s", "e.envelope IS NOT NULL"]
    if types:
        where.append("s.type = ANY(%(types)s::int[])")
    if categories:
        where.append("s.category = ANY(%(categories)s::bigint[])")
    where.append("(s.audience IS NULL OR s.audience = ANY(%(audiences)s::bigint[]))")
    where.append(f"(%(reader)s = 0 OR e.kind <> {KIND_FEEDBACK} OR s.submitter = %(reader)s OR e.member = %(reader)s)")
    return (
        "SELECT m.top, p.seq, p.kind, p.signal, p.received_at, p.envelope, p.expires, p.value, p.name"
        " FROM (SELECT coalesce(max(seq), 0) AS top FROM events) m LEFT JOIN LATERAL ("
        "SELECT e.seq, e.kind, e.signal, e.received_at, e.envelope, e.expires, s.value, c.name FROM events e"
        " JOIN signals s ON s.id = e.signal LEFT JOIN categories c ON c.id = s.category"
        f" WHERE {' AND '.join(where)} ORDER BY e.seq LIMIT %(limit)s) p ON true ORDER BY p.seq"
    )


_EVENTS_SQL = {(t, c): _events_sql(t, c) for t in (False, True) for c in (False, True)}


#: A Unix time column's UTC day, YYYY-MM-DD (``_DAY.format(column)``).
_DAY = "to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class PostgresStore(SqlStore):
    """``Store`` on a PostgreSQL database (``postgresql://…``), safe to share between processes."""

    _BYTEWISE = ' COLLATE "C"'

    def __init__(self, dsn: str, pool_size: int = 8) -> None:
        self._dsn = dsn
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                pg_schema.migrate(conn)
        except psycopg.OperationalError as exc:
            raise connect_error(exc) from None
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=False, name="sigx"
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except PoolTimeout as exc:
            self._pool.close()
            raise connect_error(exc) from None
        self._wlock = threading.Lock()
        self._names: dict[int, str] = {}
        self._categories: dict[str, Category] = {}
        self._category_names: dict[int, str] = {}
        self._categories_at = 0.0
        self._tree = TreeBuilder()
        self._init_pdq()
        with self._pool.connection() as conn:
            self._reload_names(conn)
        with self._write():
            pass  # loads (and if needed rebuilds) the tree

    def close(self) -> None:
        """Close every pooled connection."""
        with self._wlock:
            self._pool.close()

    def quota_ledger(self, clock: Clock) -> PgQuotaLedger:
        """The quota ledger of this store: in the database, shared by every replica."""
        return PgQuotaLedger(self._pool, clock)

    # -- plumbing -----------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise unavailable(exc) from None

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        """One write transaction under the cluster-wide writer lock; the tree follows it (restored on rollback)."""
        with self._wlock:
            saved = self._tree.copy()
            try:
                with self._pool.connection() as conn, conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (pg_schema.WRITE_LOCK,), prepare=True)
                    size = self._log_size(conn)
                    if self._tree.size != size:
                        self._tree = self._catch_up(conn, size)
                    yield conn
                    if self._tree.size > size:  # delivered at commit to every listening replica
                        conn.execute("SELECT pg_notify(%s, %s)", (COMMITS_CHANNEL, str(self._tree.size)), prepare=True)
            except BaseException as exc:
                self._tree = saved
                if isinstance(exc, UNAVAILABLE):
                    raise unavailable(exc) from None
                raise

    @contextmanager
    def _snapshot(self) -> Iterator[Conn]:
        """Several reads from one consistent snapshot."""
        with self._read() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                if not conn.closed:
                    conn.execute("COMMIT")

    def _sql(self, sql: str) -> str:
        """``?`` placeholders as psycopg's ``%s`` (the shared statements hold no other ``?`` or ``%``)."""
        converted = _PLACEHOLDERS.get(sql)
        if converted is None:
            converted = _PLACEHOLDERS[sql] = sql.replace("?", "%s")
        return converted

    def _run(self, conn: Conn, sql: str, args: Sequence[Any] = (), prepare: bool = False) -> Any:
        return conn.execute(self._sql(sql), args, prepare=True if prepare else None)  # type: ignore[arg-type]

    def _run_many(self, conn: Conn, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def _categories_changed(self) -> None:
        with self._read() as conn:
            self._reload_categories(conn)

    def _reload_names(self, conn: Conn) -> None:
        self._names = {int(r[0]): r[1] for r in conn.execute("SELECT id, member_id FROM members")}
        self._reload_categories(conn)

    def _reload_categories(self, conn: Conn) -> None:
        rows = conn.execute("SELECT id, name, retention_days FROM categories").fetchall()
        self._categories = {name: Category(int(row), name, int(days)) for row, name, days in rows}
        self._category_names = {c.row: c.name for c in self._categories.values()}
        self._categories_at = time.monotonic()

    def _member_name(self, row: int, conn: Conn) -> str:
        if row not in self._names:
            self._names.update((int(r[0]), r[1]) for r in conn.execute("SELECT id, member_id FROM members"))
        return self._names.get(row, UNKNOWN_MEMBER)

    def _category_name(self, row: int, conn: Conn) -> str:
        if row not in self._category_names:
            self._reload_categories(conn)
        return self._category_names.get(row, "?")

    def _record_event(
        self,
        conn: Conn,
        seq: int,
        kind: int,
        signal: int | None,
        member: int,
        at: int,
        envelope: bytes,
        expires: int,
        row_items: Sequence[bytes] = (),
    ) -> int:
        self._record_events(conn, [(seq, kind, signal, member, at, envelope, expires, row_items)])
        return seq

    def _record_events(self, conn: Conn, events: Sequence[EventRow]) -> None:
        """``_record_event`` for a batch (submit): the rows go in with one COPY."""
        rows: list[tuple[int, int, int | None, int, int, bytes, int, bytes]] = []
        hashes: list[tuple[int, int, bytes]] = []
        for seq, kind, signal, member, at, envelope, expires, shared in events:
            if seq != self._tree.size + 1:
                raise RuntimeError(f"log sequencing broke: event {seq} after {self._tree.size}")
            at = self._leaf_time(conn, seq, at)
            entry = LogEntry.for_envelope(
                seq - 1,
                kind,
                at,
                expires,
                leaf_submitter(self._member_name(member, conn), member),
                open_envelope(envelope).key_id,
                envelope,
            )
            leaf_hash = merkle.leaf_hash(entry.encode())
            stored = pack(envelope, shared)  # the leaf is rebuilt when read
            rows.append((seq, kind, signal, member, at, stored, expires, leaf_tag(leaf_hash)))
            hashes.extend(self._tree.append(leaf_hash))
        if len(rows) == 1:
            with conn.cursor() as cur:
                cur.execute(_INSERT_EVENT, rows[0], prepare=True)
                cur.executemany(_INSERT_HASH, hashes)
        else:
            _copy(conn, "events", _EVENT_COLUMNS, rows)
            _copy(conn, "log_hashes", ("level", "idx", "hash"), hashes)

    def _next_seq(self, conn: Conn | None = None) -> int:
        """Inside ``_write``: the tree holds exactly max(seq) leaves, so the next seq is max(seq) + 1."""
        return self._tree.size + 1

    # -- the signature log ----------------------------------------------------

    def _catch_up(self, conn: Conn, size: int) -> TreeBuilder:
        """The tree of a log of ``size`` leaves: replay another replica's few appends, or reload the tiles."""
        if self._tree.size < size <= self._tree.size + _CATCH_UP:
            tree = self._tree.copy()
            for h in self._leaf_hashes(conn, tree.size, size):
                tree.append(h)  # the tile hashes this completes were stored by the replica that appended
            if tree.size == size:
                return tree
        return self._load_tree(conn)

    # -- members and keys ---------------------------------------------------

    def categories(self) -> dict[str, Category]:
        """Categories by name (re-read when older than a second: another replica may have changed them)."""
        if time.monotonic() - self._categories_at >= _CATALOG_TTL:
            with self._read() as conn:
                self._reload_categories(conn)
        return dict(self._categories)

    def stats(self) -> Stats:
        """Counts for ``sigx admin stats``, from one snapshot."""
        with self._snapshot() as conn:

            def pairs(sql: str) -> dict[Any, int]:
                return dict(conn.execute(sql).fetchall())

            by_category = pairs("SELECT category, count(*) FROM signals GROUP BY category")
            by_member = pairs("SELECT submitter, count(*) FROM signals GROUP BY submitter")
            active = conn.execute("SELECT count(*) FROM signals WHERE retracted = 0").fetchone()
            return Stats(
                signals_by_category={self._category_name(k, conn): v for k, v in by_category.items()},
                signals_by_type=pairs("SELECT type, count(*) FROM signals GROUP BY type"),
                signals_by_member={self._member_name(k, conn): v for k, v in by_member.items()},
                events_by_kind=pairs("SELECT kind, count(*) FROM events GROUP BY kind"),
                feedback_by_verdict=pairs("SELECT verdict, count(*) FROM feedback GROUP BY verdict"),
                submits_by_day=pairs(
                    f"SELECT {_DAY.format('received_at')}, count(*) FROM events WHERE kind = 1"
                    " GROUP BY 1 ORDER BY 1 DESC LIMIT 30"
                ),
                active_signals=active[0] if active else 0,
                submits_by_day_category={
                    (d, self._category_name(c, conn)): n
                    for d, c, n in conn.execute(
                        f"SELECT {_DAY.format('e.received_at')}, s.category, count(*) FROM events e"
                        f" JOIN signals s ON s.id = e.signal WHERE e.kind = 1 AND {_DAY.format('e.received_at')} IN"
                        f" (SELECT DISTINCT {_DAY.format('received_at')} FROM events WHERE kind = 1"
                        " ORDER BY 1 DESC LIMIT 30) GROUP BY 1, 2"
                    ).fetchall()
                },
                feedback_by_category={
                    (self._category_name(c, conn), v): n
                    for c, v, n in conn.execute(
                        "SELECT s.category, f.verdict, count(*) FROM feedback f JOIN signals s ON s.id = f.signal"
                        " GROUP BY 1, 2"
                    ).fetchall()
                },
                last_activity={
                    self._member_name(k, conn): v
                    for k, v in pairs("SELECT member, max(received_at) FROM events GROUP BY member").items()
                },
            )

    # -- events -------------------------------------------------------------

    def submit(self, items: Sequence[NewSignal]) -> list[SubmitOutcome]:
        """Store new signals (each a SUBMIT event); see ``SubmitOutcome`` for a known (value, type, submitter,
        category)."""
        out: list[SubmitOutcome] = []
        if not items:
            return out
        keys = [(it.value, it.type, it.submitter, it.category) for it in items]
        unique = list(dict.fromkeys(keys))
        columns = [[k[i] for k in unique] for i in range(4)]
        with self._write() as conn:
            found = conn.execute(_FIND_KEYS, columns, prepare=True).fetchall()
            # key -> (signal id, retracted, expires_at) as this batch leaves it
            known: dict[tuple[bytes, int, int, int], tuple[int, int, int]] = {
                (bytes(v), int(t), int(s), int(c)): (int(sid), int(r), int(e)) for v, t, s, c, sid, r, e in found
            }
            seq = self._next_seq(conn)

            def row(it: NewSignal) -> tuple[bytes, ...]:  # what its envelope shares with its row (packing)
                return row_items(it.value, self._category_name(it.category, conn))

            events: list[EventRow] = []
            new: dict[int, tuple[object, ...]] = {}  # signal id -> its row
            revived: list[tuple[Any, ...]] = []
            for it, key in zip(items, keys, strict=True):
                existing = known.get(key)
                if existing is not None:
                    sid, retracted, expires = existing
                    what = resubmission(retracted, expires, it.received_at)
                    if what != "revived":
                        out.append(SubmitOutcome(what, sid, sid))
                        continue
                    events.append(
                        (seq, KIND_SUBMIT, sid, it.submitter, it.received_at, it.envelope, it.expires_at, row(it))
                    )
                    revived.append((it.qualifier, it.audience, it.confidence, it.received_at, it.expires_at, sid))
                    known[key] = (sid, 0, it.expires_at)
                    out.append(SubmitOutcome("accepted", seq, sid))
                    seq += 1
                    continue
                events.append(
                    (seq, KIND_SUBMIT, seq, it.submitter, it.received_at, it.envelope, it.expires_at, row(it))
                )
                new[seq] = it.signal_row(seq)
                known[key] = (seq, 0, it.expires_at)
                out.append(SubmitOutcome("accepted", seq, seq))
                seq += 1
            if events:
                self._record_events(conn, events)
                _copy(conn, "signals", pg_schema.TABLES["signals"], [(*row, 0) for row in new.values()])
            if revived:
                with conn.cursor() as cur:
                    cur.executemany(self._sql(REVIVE), revived)
        return out

    def _signal_from_row(self, row: Sequence[Any], conn: Conn) -> SignalRecord:
        sid, submitter, type_, value, category, qualifier, conf, first, last, expires, audience, retracted = row[:12]
        return SignalRecord(
            int(sid),
            self._member_name(int(submitter), conn),
            int(type_),
            bytes(value),
            self._category_name(int(category), conn),
            qualifier or "",
            conf or 0,
            int(first),
            int(last),
            int(expires),
            None if audience is None else int(audience),
            bool(retracted),
        )

    def get_signal(self, signal_id: int) -> SignalRecord | None:
        """The signal with this id (retracted or not), or None once purged."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_SIGNAL_COLUMNS} FROM signals s WHERE s.id = %s", (signal_id,), prepare=True
            ).fetchone()
            return self._signal_from_row(row, conn) if row else None

    def events_after(self, seq: int, limit: int, flt: EventFilter) -> tuple[list[EventRecord], int]:
        """Visible events after ``seq`` (at most ``limit``) and the cursor to resume from."""
        sql = _EVENTS_SQL[(flt.types is not None, flt.categories is not None)]
        params = {
            "seq": seq,
            "limit": limit,
            "types": sorted(flt.types) if flt.types is not None else None,
            "categories": sorted(flt.categories) if flt.categories is not None else None,
            "audiences": sorted(flt.audiences),
            "reader": flt.reader,
        }
        with self._read() as conn:
            rows = conn.execute(sql, params, prepare=True).fetchall()
        top = int(rows[0][0]) if rows else 0
        events = [
            EventRecord(int(r[1]), int(r[2]), int(r[3]), int(r[4]), stored_envelope(r[5], r[7], r[8]), int(r[6]))
            for r in rows
            if r[1] is not None
        ]
        # Fewer than asked: nothing more is visible up to the snapshot's end, so resume from there.
        cursor = max(seq, top) if len(events) < limit else events[-1].seq
        return events, cursor

    def live_events(self, seq: int, limit: int) -> list[LiveEvent]:
        """Every event after ``seq`` with its signal's type, category and audience (the live fan-out's read)."""
        with self._read() as conn:
            rows = conn.execute(self._sql(LIVE_EVENTS_SQL), (seq, limit), prepare=True).fetchall()
        return [live_event(r) for r in rows]

    def watch_commits(self, on_commit: Callable[[int], None]) -> Callable[[], None]:
        """LISTEN on a dedicated connection for every replica's commits (this one's included); reconnects
        after a failure and then reports the current log size, so nothing committed meanwhile is missed."""
        watcher = _CommitWatcher(self._dsn, on_commit)
        watcher.start()
        return watcher.stop

    def _matches(self, conn: Conn, rows: Sequence[Sequence[Any]], distances: Sequence[int]) -> list[MatchRecord]:
        return [
            MatchRecord(self._signal_from_row(r, conn), tuple(int(n) for n in r[12:17]), d)  # type: ignore[arg-type]
            for r, d in zip(rows, distances, strict=True)
        ]

    def lookup(self, type_: int, values: Sequence[bytes], now: int, flt: EventFilter) -> list[MatchRecord]:
        """Active signals of ``type_`` whose value is one of ``values`` and that ``flt`` admits."""
        if not values or not flt.admits_type(type_):
            return []
        params = {"values": list(values), "type": type_, "now": now, **_visible_args(flt)}
        with self._read() as conn:
            rows = conn.execute(_LOOKUP, params, prepare=True).fetchall()
            return self._matches(conn, rows, [0] * len(rows))

    def lookup_pdq(
        self, values: Sequence[bytes], max_distance: int, now: int, flt: EventFilter
    ) -> list[list[MatchRecord]]:
        """For each PDQ hash, the active PDQ signals ``flt`` admits within ``max_distance`` bits, nearest first
        (the index finds the near ids, this snapshot's query keeps the active, visible ones)."""
        if not flt.admits_type(TYPE_MEDIA_PDQ):
            return [[] for _ in values]
        with self._snapshot() as conn:
            near = self._pdq_near(conn, values, max_distance)
            wanted = sorted({i for hits in near for i, _ in hits})
            rows: dict[int, Sequence[Any]] = {}
            if wanted:
                params = {"ids": wanted, "type": TYPE_MEDIA_PDQ, "now": now, **_visible_args(flt)}
                rows = {int(r[0]): r for r in conn.execute(_PDQ_ROWS, params).fetchall()}
            return [
                [
                    MatchRecord(self._signal_from_row(rows[i], conn), tuple(int(n) for n in rows[i][12:17]), d)  # type: ignore[arg-type]
                    for i, d in hits
                    if i in rows
                ]
                for hits in near
            ]


class _CommitWatcher(threading.Thread):
    """One LISTEN connection per process: other replicas' commits wake this one's live streams."""

    def __init__(self, dsn: str, on_commit: Callable[[int], None]) -> None:
        super().__init__(name="sigx-pg-listen", daemon=True)
        self._dsn = dsn
        self._on_commit = on_commit
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {COMMITS_CHANNEL}")
                    row = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
                    self._on_commit(int(row[0]) if row else 0)  # whatever committed while not listening
                    backoff = 0.5
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5, stop_after=64):
                            self._on_commit(int(note.payload))
            except (psycopg.Error, ValueError) as exc:
                _log.warning("commit_listener_lost", error=type(exc).__name__, retry_in=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
