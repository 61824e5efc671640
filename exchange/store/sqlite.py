"""The embedded default store: one SQLite file in WAL mode.

Hot paths (submit, look-up, pull) use prepared statements on stdlib
connections: one writer connection behind a lock, one reader connection per
thread. Every write is one ``BEGIN IMMEDIATE`` transaction with
``synchronous=FULL``, so an acknowledged event survives a crash.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from client_sdk import merkle
from client_sdk.envelope import open_envelope
from client_sdk.log_entry import LogEntry
from client_sdk.vocab import KIND_FEEDBACK, KIND_SUBMIT, TYPE_MEDIA_PDQ
from exchange.errors import ConfigError, UnavailableError
from exchange.policy.quota import QuotaLedger
from exchange.signature_log.tree import TreeBuilder
from exchange.store import sqlite_schema as schema
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
from exchange.store.sql import REVIVE, SqlStore

_SIGNAL_COLUMNS = (
    "s.id, s.submitter, s.type, s.value, s.category, s.qualifier, s.confidence,"
    " s.first_seen, s.last_seen, s.expires_at, s.audience, s.retracted"
)
_NO_FEEDBACK = (0, 0, 0, 0, 0)
#: A new signal, unless its natural key is stored already (then no row: rowcount 0). Any other conflict raises.
_INSERT_NEW_SIGNAL = (
    "INSERT INTO signals (id, value, type, submitter, category, qualifier, audience, confidence,"
    " first_seen, last_seen, expires_at, retracted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
    " ON CONFLICT (value, type, submitter, category) DO NOTHING"
)
_FIND_SIGNAL = (
    "SELECT id, retracted, expires_at FROM signals WHERE value = ? AND type = ? AND submitter = ? AND category = ?"
)


def lookup_sql(values: int, visible: str) -> str:
    """The look-up's SELECT for ``values`` pseudonyms (parameters: the values, type, now, then ``visible``'s)."""
    return (
        f"SELECT {_SIGNAL_COLUMNS} FROM signals s WHERE s.value IN ({','.join('?' * values)})"
        f" AND s.type = ? AND s.retracted = 0 AND s.expires_at > ?{visible}"
    )


def _visible(flt: EventFilter) -> tuple[str, list[int]]:
    """The SQL (and its arguments) that keeps only the signals whose category and audience ``flt`` admits."""
    sql, args = "", []
    if flt.categories is not None:
        sql += f" AND s.category IN ({','.join('?' * len(flt.categories))})"
        args += sorted(flt.categories)
    sql += f" AND (s.audience IS NULL OR s.audience IN ({','.join('?' * len(flt.audiences))}))"
    args += sorted(flt.audiences)
    return sql, args


def _unavailable(exc: sqlite3.OperationalError) -> UnavailableError:
    """A write the database refused (disk full, read-only, I/O error): nothing was written."""
    text = str(exc)
    reason = "store_full" if "full" in text else "store_read_only" if "readonly" in text else "store_unavailable"
    return UnavailableError(f"the database cannot take writes now ({text}); reads go on", reason=reason)


class SqliteStore(SqlStore):
    """``Store`` on a SQLite file (or ``:memory:`` for unit tests)."""

    def __init__(self, path: Path | str) -> None:
        if sqlite3.sqlite_version_info < (3, 35):  # RETURNING, upserts
            raise ConfigError(f"SQLite {sqlite3.sqlite_version} is too old: the exchange needs 3.35 or newer")
        self._path = str(path)
        self._memory = self._path == ":memory:"
        if self._memory:
            self._path = f"file:sigx-{id(self)}?mode=memory&cache=shared"
        if not self._memory and not os.path.exists(self._path):
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # pseudonyms of every audience
        self._local = threading.local()
        self._wlock = threading.Lock()
        self._writer = self._connect()
        schema.migrate(self._writer)
        self._names: dict[int, str] = {}
        self._categories: dict[str, Category] = {}
        self._category_names: dict[int, str] = {}
        self._reload_names()
        self._tree = TreeBuilder()
        self._init_pdq()
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
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._reader
        except sqlite3.OperationalError as exc:
            raise UnavailableError(f"the database cannot be read now ({exc})", reason="store_unavailable") from None

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

    def _categories_changed(self) -> None:
        self._reload_names()

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
        row_items: Sequence[bytes] = (),
    ) -> int:
        at = self._leaf_time(conn, seq, at)
        entry = LogEntry.for_envelope(
            seq - 1,
            kind,
            at,
            expires,
            leaf_submitter(self._member_name(member), member),
            open_envelope(envelope).key_id,
            envelope,
        )
        leaf_hash = merkle.leaf_hash(entry.encode())
        conn.execute(  # the leaf is rebuilt from this row when read (exchange/store/leaves.py)
            "INSERT INTO events (seq, kind, signal, member, received_at, envelope, expires, leaf_tag)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, kind, signal, member, at, pack(envelope, row_items), expires, leaf_tag(leaf_hash)),
        )
        for level, idx, h in self._tree.append(leaf_hash):
            conn.execute("INSERT INTO log_hashes (level, idx, hash) VALUES (?, ?, ?)", (level, idx, h))
        return seq

    # -- the signature log ----------------------------------------------------

    def _row_items(self, it: NewSignal) -> tuple[bytes, ...]:
        """What a SUBMIT envelope shares with its signal's row (``packing``)."""
        return row_items(it.value, self._category_names.get(it.category))

    def _member_name(self, row: int) -> str:
        if row not in self._names:
            self._names.update(self._reader.execute("SELECT id, member_id FROM members"))
        return self._names.get(row, UNKNOWN_MEMBER)

    @staticmethod
    def _next_seq(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM events").fetchone()[0]

    # -- members and keys ---------------------------------------------------

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
                submits_by_day_category={
                    (d, self._category_names.get(c, "?")): n
                    for d, c, n in conn.execute(
                        "SELECT date(e.received_at, 'unixepoch') AS d, s.category, count(*) FROM events e"
                        " JOIN signals s ON s.id = e.signal WHERE e.kind = 1 AND date(e.received_at, 'unixepoch') IN"
                        " (SELECT DISTINCT date(received_at, 'unixepoch') FROM events WHERE kind = 1"
                        " ORDER BY 1 DESC LIMIT 30) GROUP BY 1, 2"
                    )
                },
                feedback_by_category={
                    (self._category_names.get(c, "?"), v): n
                    for c, v, n in conn.execute(
                        "SELECT s.category, f.verdict, count(*) FROM feedback f JOIN signals s ON s.id = f.signal"
                        " GROUP BY 1, 2"
                    )
                },
                last_activity={
                    self._names.get(k, "?"): v
                    for k, v in pairs("SELECT member, max(received_at) FROM events GROUP BY member").items()
                },
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
            for it in items:
                # New signals are the common case: the insert probes the natural-key index once, and only a
                # signal already stored (a conflict, no row inserted) is looked up to see what it is.
                inserted = conn.execute(_INSERT_NEW_SIGNAL, it.signal_row(seq)).rowcount
                if inserted:
                    self._record_submit(conn, seq, seq, it)
                    out.append(SubmitOutcome("accepted", seq, seq))
                    seq += 1
                    continue
                sid, retracted, expires = conn.execute(
                    _FIND_SIGNAL, (it.value, it.type, it.submitter, it.category)
                ).fetchone()
                what = resubmission(retracted, expires, it.received_at)
                if what != "revived":
                    out.append(SubmitOutcome(what, sid, sid))
                    continue
                self._record_submit(conn, seq, sid, it)
                conn.execute(REVIVE, (it.qualifier, it.audience, it.confidence, it.received_at, it.expires_at, sid))
                out.append(SubmitOutcome("accepted", seq, sid))
                seq += 1
        return out

    def _record_submit(self, conn: sqlite3.Connection, seq: int, signal: int, it: NewSignal) -> None:
        self._record_event(
            conn,
            seq,
            KIND_SUBMIT,
            signal,
            it.submitter,
            it.received_at,
            it.envelope,
            it.expires_at,
            self._row_items(it),
        )

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
        if flt.reader:
            where.append(f"(e.kind <> {KIND_FEEDBACK} OR s.submitter = ? OR e.member = ?)")
            args.extend((flt.reader, flt.reader))
        sql = (
            "SELECT e.seq, e.kind, e.signal, e.received_at, e.envelope, e.expires, s.value, c.name FROM events e"
            " JOIN signals s ON s.id = e.signal LEFT JOIN categories c ON c.id = s.category"
            f" WHERE {' AND '.join(where)} ORDER BY e.seq LIMIT ?"
        )
        args.append(limit)
        with self._snapshot() as conn:
            events = [
                EventRecord(r[0], r[1], r[2], r[3], stored_envelope(r[4], r[6], r[7]), r[5])
                for r in conn.execute(sql, args)
            ]
            if len(events) < limit:
                # Nothing visible up to the snapshot's end: resume from there.
                cursor = max(seq, conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
            else:
                cursor = events[-1].seq
        return events, cursor

    def live_events(self, seq: int, limit: int) -> list[LiveEvent]:
        """Every event after ``seq`` with its signal's type, category and audience (the live fan-out's read)."""
        with self._read() as conn:
            return [live_event(r) for r in conn.execute(LIVE_EVENTS_SQL, (seq, limit))]

    def watch_commits(self, on_commit: Callable[[int], None]) -> Callable[[], None]:
        """Nothing to watch: one process owns a SQLite file and publishes its own commits."""
        return lambda: None

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

    def lookup(self, type_: int, values: Sequence[bytes], now: int, flt: EventFilter) -> list[MatchRecord]:
        """Active signals of ``type_`` whose value is one of ``values`` and that ``flt`` admits."""
        rows: list[tuple] = []
        if not flt.admits_type(type_):
            return []
        visible, args = _visible(flt)
        with self._snapshot() as conn:
            for start in range(0, len(values), 900):
                chunk = list(values[start : start + 900])
                rows.extend(conn.execute(lookup_sql(len(chunk), visible), [*chunk, type_, now, *args]))
            return self._matches(conn, rows, [0] * len(rows))

    def lookup_pdq(
        self, values: Sequence[bytes], max_distance: int, now: int, flt: EventFilter
    ) -> list[list[MatchRecord]]:
        """For each PDQ hash, the active PDQ signals ``flt`` admits within ``max_distance`` bits, nearest first
        (the index finds the near ids, this snapshot's query keeps the active, visible ones)."""
        if not flt.admits_type(TYPE_MEDIA_PDQ):
            return [[] for _ in values]
        visible, args = _visible(flt)
        with self._snapshot() as conn:
            near = self._pdq_near(conn, values, max_distance)
            wanted = sorted({i for hits in near for i, _ in hits})
            rows: dict[int, tuple] = {}
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                rows.update(
                    (r[0], r)
                    for r in conn.execute(
                        f"SELECT {_SIGNAL_COLUMNS} FROM signals s WHERE s.id IN ({','.join('?' * len(chunk))})"
                        f" AND s.type = ? AND s.retracted = 0 AND s.expires_at > ?{visible}",
                        [*chunk, TYPE_MEDIA_PDQ, now, *args],
                    )
                )
            counts = self._feedback_counts(conn, sorted(rows))
            return [
                [
                    MatchRecord(self._signal_from_row(rows[i]), tuple(counts.get(i, _NO_FEEDBACK)), d)  # type: ignore[arg-type]
                    for i, d in hits
                    if i in rows
                ]
                for hits in near
            ]
