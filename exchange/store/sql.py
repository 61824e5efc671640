"""What the SQLite and PostgreSQL stores share: the directory (members, keys, groups, policy,
taxonomy), reading the signature log, retraction, feedback and retention.

The statements are written once, in the SQL both databases speak, with ``?`` placeholders; a store
says how to run them (``_sql`` rewrites the placeholders, ``_run`` may prepare) and supplies its
transactions (``_read``, ``_write``), how it appends events to the log, and the hot paths it tunes
for its database (submit, look-up, pull).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from client_sdk import merkle
from client_sdk.vocab import KIND_ADMIN, KIND_FEEDBACK, KIND_RETRACT, KIND_SAFEGUARD, TYPE_MEDIA_PDQ, VERDICT_CODES
from exchange.errors import FailedPreconditionError, NotFoundError, quoted
from exchange.signature_log.tree import TILE_HEIGHT, TreeBuilder
from exchange.store.base import (
    MEMBER_COLUMNS,
    RETRACTED_BY_OPERATOR,
    RETRACTED_BY_SUBMITTER,
    AdminEvent,
    CertificateRecord,
    FeedbackOutcome,
    GroupRecord,
    KeyRecord,
    MemberRecord,
    QuarantineRecord,
    RedressRecord,
    SafeguardEvent,
    SignalFlags,
    WarninglistRecord,
)
from exchange.store.leaves import LEAF_SELECT, event_envelope, event_leaf, event_leaf_and_hash, purge_rows
from exchange.store.pdq_index import PdqIndex

#: A retracted or expired signal submitted again: active under its old id, with the new submission's details.
REVIVE = (
    "UPDATE signals SET retracted = 0, qualifier = ?, audience = ?, confidence = ?, last_seen = ?, expires_at = ?"
    " WHERE id = ?"
)
_NEW_PDQ = "SELECT id, value FROM signals WHERE type = ? AND id > ? ORDER BY id LIMIT ?"
_PDQ_PAGE = 50_000
_KEY_SELECT = (
    "SELECT k.key_id, m.member_id, k.public_key, k.not_before, k.not_after, k.revoked_at,"
    " k.registered_seq, k.ended_seq"
    " FROM signing_keys k JOIN members m ON m.id = k.member"
)


def _chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """``items`` in parts small enough for one statement's ``IN`` list."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


class SqlStore:
    """The shared half of a ``Store``; subclasses supply the database."""

    #: Makes text sort bytewise, as SQLite's default BINARY collation does.
    _BYTEWISE = ""

    _names: dict[int, str]
    _tree: TreeBuilder
    #: (seq, time) of the newest leaf this process wrote or read; see ``_leaf_time``.
    _last_leaf: tuple[int, int] = (-1, 0)

    # -- what a store supplies -------------------------------------------------

    def _read(self) -> AbstractContextManager[Any]:
        """A connection for reads (unavailability mapped to UnavailableError)."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        """One write transaction under the single-writer lock; the tree follows it."""
        raise NotImplementedError

    def _record_event(
        self,
        conn: Any,
        seq: int,
        kind: int,
        signal: int | None,
        member: int,
        at: int,
        envelope: bytes,
        expires: int,
        row_items: Sequence[bytes] = (),
    ) -> int:
        """The one place an accepted event is written and appended to the signature log: the event row,
        its leaf and any tile hash it completes are in the caller's transaction, committed together or not
        at all. ``row_items``: what the envelope shares with its signal's row (a SUBMIT's pseudonym and category
        name), left out of the stored envelope (``exchange/store/packing.py``)."""
        raise NotImplementedError

    def _leaf_time(self, conn: Any, seq: int, at: int) -> int:
        """Inside ``_write``: the time event ``seq``'s leaf records: ``at``, or the previous entry's if that is
        later. Leaf times never go backwards, whatever the clocks of the threads or replicas that accepted
        the events (auditors check it), and the event row and every window that starts there use it too."""
        if self._last_leaf[0] != seq - 1:
            row = self._one(conn, "SELECT received_at FROM events WHERE seq = ?", (seq - 1,))
            self._last_leaf = (seq - 1, int(row[0]) if row else 0)
        recorded = max(at, self._last_leaf[1])
        self._last_leaf = (seq, recorded)
        return recorded

    def _next_seq(self, conn: Any) -> int:
        """Inside ``_write``: the seq the next event gets."""
        raise NotImplementedError

    def _categories_changed(self) -> None:
        """The taxonomy changed: reload what is cached."""
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        """A shared statement in this database's placeholder style."""
        return sql

    def _run(self, conn: Any, sql: str, args: Sequence[Any] = (), prepare: bool = False) -> Any:
        """Execute a shared statement; ``prepare`` marks the hot ones."""
        return conn.execute(self._sql(sql), args)

    def _run_many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(self._sql(sql), rows)

    def _one(self, conn: Any, sql: str, args: Sequence[Any] = (), prepare: bool = False) -> Any:
        return self._run(conn, sql, args, prepare).fetchone()

    # -- PDQ search ---------------------------------------------------------------

    _pdq: PdqIndex
    _pdq_catch_up: threading.Lock  # one reader of new PDQ rows at a time

    def _init_pdq(self) -> None:
        self._pdq = PdqIndex()
        self._pdq_catch_up = threading.Lock()

    def _pdq_near(self, conn: Any, values: Sequence[bytes], max_distance: int) -> list[list[tuple[int, int]]]:
        """For each hash, (signal id, distance) of every PDQ signal ever stored within ``max_distance``,
        nearest first, whether or not it is active or visible (the caller's query decides that).

        The index first takes in every PDQ signal ``conn``'s snapshot holds above the last id it has:
        ids are event seqs, committed in seq order by every process (one writer at a time), so the
        snapshot holds a prefix of them, and a hash any replica committed before the snapshot began is
        searched. The first search of a process loads every PDQ signal stored."""
        index = self._pdq
        with self._pdq_catch_up:
            index.add_pages(self._new_pdq_pages(conn, index.last_id))
        return index.search(values, max_distance)

    def _new_pdq_pages(self, conn: Any, after: int) -> Iterator[list[tuple[int, bytes]]]:
        """Pages of (id, value) of the PDQ signals above id ``after``, in id order."""
        while rows := self._run(conn, _NEW_PDQ, (TYPE_MEDIA_PDQ, after, _PDQ_PAGE)).fetchall():
            yield rows
            if len(rows) < _PDQ_PAGE:
                return
            after = rows[-1][0]

    # -- members and keys -------------------------------------------------------

    def _admin_event(self, conn: Any, event: AdminEvent | None) -> int:
        if event is None:
            return 0
        event.seq = self._record_event(
            conn, self._next_seq(conn), KIND_ADMIN, None, event.member_row, event.at, event.envelope, 0
        )
        return event.seq

    def _member_row(self, conn: Any, member_id: str) -> int:
        row = self._one(conn, "SELECT id FROM members WHERE member_id = ?", (member_id,))
        if row is None:
            raise NotFoundError(f"no member {quoted(member_id)}", reason="member_not_found")
        return int(row[0])

    def _add_key(
        self, conn: Any, member_row: int, key_id: str, public_key: bytes, not_before: int, event: AdminEvent | None
    ) -> int:
        """Register a key and record the admin event that registers it (its seq, which the key keeps)."""
        if self._one(conn, "SELECT 1 FROM signing_keys WHERE key_id = ?", (key_id,)) is not None:
            raise FailedPreconditionError(f"key {key_id} is already registered", reason="key_exists")
        seq = self._admin_event(conn, event)
        if event is not None:
            not_before = self._last_leaf[1]  # the window opens when the log says it was registered
        self._run(
            conn,
            "INSERT INTO signing_keys (key_id, member, public_key, not_before, registered_seq) VALUES (?, ?, ?, ?, ?)",
            (key_id, member_row, public_key, not_before, seq),
        )
        return seq

    def add_member(
        self,
        member_id: str,
        role: str,
        display_name: str,
        at: int,
        event: AdminEvent | None = None,
        signing_key: tuple[str, bytes] | None = None,
        kind: str = "",
        certificate: CertificateRecord | None = None,
    ) -> MemberRecord:
        """Add a member (and its first signing key, valid from ``at``, and its certificate) in one transaction."""
        with self._write() as conn:
            if self._one(conn, "SELECT 1 FROM members WHERE member_id = ?", (member_id,)) is not None:
                raise FailedPreconditionError(f"member {quoted(member_id)} already exists", reason="member_exists")
            [(row,)] = self._run(  # fetchall: SQLite finishes an INSERT … RETURNING only when it is read out
                conn,
                "INSERT INTO members (id, member_id, role, status, display_name, created_at, kind)"
                " SELECT coalesce(max(id), 0) + 1, ?, ?, 'active', ?, ?, ? FROM members RETURNING id",
                (member_id, role, display_name, at, kind),
            ).fetchall()
            row = int(row)
            self._names[row] = member_id
            if event is not None and event.member_row == 0:
                event.member_row = row  # genesis: the first operator registers itself
            if signing_key is not None:
                seq = self._add_key(conn, row, signing_key[0], signing_key[1], at, event)
            else:
                seq = self._admin_event(conn, event)
            if certificate is not None:
                self._add_certificate(conn, row, certificate, at, seq)
        self._names[row] = member_id
        return MemberRecord(row, member_id, role, "active", display_name, kind=kind)

    def get_member(self, member_id: str) -> MemberRecord | None:
        """The member with this id, or None."""
        with self._read() as conn:
            row = self._one(conn, f"SELECT {MEMBER_COLUMNS} FROM members WHERE member_id = ?", (member_id,), True)
        return MemberRecord(int(row[0]), *row[1:]) if row else None

    def list_members(self) -> list[MemberRecord]:
        """Every member, by id."""
        with self._read() as conn:
            rows = self._run(conn, f"SELECT {MEMBER_COLUMNS} FROM members ORDER BY member_id{self._BYTEWISE}")
            return [MemberRecord(int(r[0]), *r[1:]) for r in rows]

    def set_member_status(self, member_id: str, status: str, event: AdminEvent | None = None) -> bool:
        """Set a member's status; False if it already had it."""
        with self._write() as conn:
            row = self._member_row(conn, member_id)
            if self._one(conn, "SELECT status FROM members WHERE id = ?", (row,))[0] == status:
                return False
            self._run(conn, "UPDATE members SET status = ? WHERE id = ?", (status, row))
            self._admin_event(conn, event)
            return True

    def set_member_kind(self, member_id: str, kind: str, event: AdminEvent | None = None) -> bool:
        """Set a member's kind; False if it already had it."""
        with self._write() as conn:
            row = self._member_row(conn, member_id)
            if self._one(conn, "SELECT kind FROM members WHERE id = ?", (row,))[0] == kind:
                return False
            self._run(conn, "UPDATE members SET kind = ? WHERE id = ?", (kind, row))
            self._admin_event(conn, event)
            return True

    def get_charter(self) -> tuple[int, str]:
        """The charter in force: (version, document); (0, "") if none was applied."""
        with self._read() as conn:
            row = self._one(conn, "SELECT version, document FROM charters ORDER BY version DESC LIMIT 1", (), True)
        return (int(row[0]), row[1]) if row else (0, "")

    def set_charter(self, document: str, sha256: bytes, base_version: int | None, event: AdminEvent) -> int:
        """Apply a charter as a new version; refused if the charter changed since ``base_version``."""
        with self._write() as conn:
            current = int(self._one(conn, "SELECT coalesce(max(version), 0) FROM charters")[0])
            if base_version is not None and base_version != current:
                raise FailedPreconditionError(
                    f"the charter changed (now version {current}, the change was against {base_version})",
                    reason="charter_changed",
                )
            seq = self._admin_event(conn, event)
            self._run(
                conn,
                "INSERT INTO charters (version, document, sha256, applied_at, seq) VALUES (?, ?, ?, ?, ?)",
                (current + 1, document, sha256, event.at, seq),
            )
            return current + 1

    def charter_applied(self, version: int) -> tuple[int, int]:
        """When charter ``version`` was applied and by which admin event: (Unix time, seq); (0, 0) if unknown."""
        with self._read() as conn:
            row = self._one(conn, "SELECT applied_at, seq FROM charters WHERE version = ?", (version,), True)
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def _add_certificate(self, conn: Any, member_row: int, cert: CertificateRecord, at: int, seq: int) -> None:
        self._run(
            conn,
            "INSERT INTO certificates (fingerprint, member, serial, not_before, not_after, issued_at, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cert.fingerprint, member_row, cert.serial, cert.not_before, cert.not_after, at, seq),
        )

    def list_certificates(self, member_id: str) -> list[CertificateRecord]:
        """The certificates recorded for a member, oldest first."""
        with self._read() as conn:
            rows = self._run(
                conn,
                "SELECT c.serial, c.fingerprint, c.not_before, c.not_after, c.issued_at, c.seq FROM certificates c"
                " JOIN members m ON m.id = c.member WHERE m.member_id = ? ORDER BY c.not_before, c.seq",
                (member_id,),
            ).fetchall()
        return [CertificateRecord(r[0], bytes(r[1]), *map(int, r[2:])) for r in rows]

    def record_certificate(
        self, member_id: str, certificate: CertificateRecord, revoke_before: int | None, event: AdminEvent
    ) -> int:
        """Record a certificate issued (and maybe the cut-off for earlier ones) as one admin event."""
        with self._write() as conn:
            row = self._member_row(conn, member_id)
            status = self._one(conn, "SELECT status FROM members WHERE id = ?", (row,))[0]
            if status != "active":
                raise FailedPreconditionError(
                    f"member {quoted(member_id)} is {status}: certificates are issued to active members only",
                    reason="member_not_active",
                )
            if revoke_before is not None:  # the cut-off only ever moves forward
                self._run(
                    conn,
                    "UPDATE members SET certs_from = ? WHERE id = ? AND certs_from < ?",
                    (revoke_before, row, revoke_before),
                )
            seq = self._admin_event(conn, event)
            self._add_certificate(conn, row, certificate, event.at, seq)
            return seq

    def add_signing_key(
        self, member_id: str, key_id: str, public_key: bytes, not_before: int, event: AdminEvent | None = None
    ) -> KeyRecord:
        """Register a member's Ed25519 key, valid from ``not_before``."""
        with self._write() as conn:
            seq = self._add_key(conn, self._member_row(conn, member_id), key_id, public_key, not_before, event)
        return KeyRecord(key_id, member_id, public_key, not_before, None, None, seq)

    def end_signing_key(self, key_id: str, at: int, revoke: bool, event: AdminEvent | None = None) -> bool:
        """Close a key's window at ``at``: retire (``not_after``) or revoke (``revoked_at``)."""
        column = "revoked_at" if revoke else "not_after"
        with self._write() as conn:
            row = self._one(conn, f"SELECT {column} FROM signing_keys WHERE key_id = ?", (key_id,))
            if row is None:
                raise NotFoundError(f"no signing key {key_id}", reason="key_not_found")
            if row[0] is not None:
                return False
            seq = self._admin_event(conn, event)
            if event is not None:
                at = self._last_leaf[1]  # the window closes when the log says it was ended
            self._run(
                conn,
                # the first end (retirement or revocation) is where the key's window closed
                f"UPDATE signing_keys SET {column} = ?,"
                " ended_seq = CASE WHEN ended_seq = 0 THEN ? ELSE ended_seq END WHERE key_id = ?",
                (at, seq, key_id),
            )
            return True

    def get_signing_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, or None."""
        with self._read() as conn:
            row = self._one(conn, _KEY_SELECT + " WHERE k.key_id = ?", (key_id,), True)
        return KeyRecord(*row) if row else None

    def list_signing_keys(self, member_id: str | None = None) -> list[KeyRecord]:
        """Every key (of one member), oldest first per member."""
        with self._read() as conn:
            if member_id is None:
                rows = self._run(conn, _KEY_SELECT + f" ORDER BY m.member_id{self._BYTEWISE}, k.not_before")
            else:
                rows = self._run(conn, _KEY_SELECT + " WHERE m.member_id = ? ORDER BY k.not_before", (member_id,))
            return [KeyRecord(*r) for r in rows]

    # -- groups, policy, taxonomy ----------------------------------------------------

    def member_groups(self, member_row: int) -> frozenset[int]:
        """The ids of the groups a member belongs to."""
        with self._read() as conn:
            rows = self._run(conn, "SELECT grp FROM group_members WHERE member = ?", (member_row,), True)
            return frozenset(int(r[0]) for r in rows)

    def group_id(self, name: str) -> int | None:
        """The id of a group, or None."""
        with self._read() as conn:
            row = self._one(conn, "SELECT id FROM groups WHERE name = ?", (name,))
        return int(row[0]) if row else None

    def create_group(self, name: str, event: AdminEvent | None = None) -> bool:
        """Create a group; False if it exists."""
        with self._write() as conn:
            if self._one(conn, "SELECT 1 FROM groups WHERE name = ?", (name,)) is not None:
                return False
            self._run(conn, "INSERT INTO groups (id, name) SELECT coalesce(max(id), 0) + 1, ? FROM groups", (name,))
            self._admin_event(conn, event)
            return True

    def set_group_membership(self, group: str, member_id: str, member: bool, event: AdminEvent | None = None) -> bool:
        """Add a member to a group or remove it; False if nothing changed."""
        with self._write() as conn:
            row = self._one(conn, "SELECT id FROM groups WHERE name = ?", (group,))
            if row is None:
                raise NotFoundError(f"no group {quoted(group)}", reason="group_not_found")
            member_row = self._member_row(conn, member_id)
            if member:
                sql = "INSERT INTO group_members (grp, member) VALUES (?, ?) ON CONFLICT DO NOTHING"
            else:
                sql = "DELETE FROM group_members WHERE grp = ? AND member = ?"
            changed = self._run(conn, sql, (row[0], member_row)).rowcount
            if changed:
                self._admin_event(conn, event)
            return bool(changed)

    def list_groups(self) -> list[GroupRecord]:
        """Every group with its members, by name."""
        order = f"g.name{self._BYTEWISE}, m.member_id{self._BYTEWISE}"
        with self._read() as conn:
            rows = self._run(
                conn,
                "SELECT g.name, m.member_id FROM groups g LEFT JOIN group_members gm ON gm.grp = g.id"
                f" LEFT JOIN members m ON m.id = gm.member ORDER BY {order}",
            ).fetchall()
        groups: dict[str, list[str]] = {}
        for name, member in rows:
            groups.setdefault(name, [])
            if member is not None:
                groups[name].append(member)
        return [GroupRecord(n, tuple(ms)) for n, ms in groups.items()]

    def get_policy(self) -> tuple[int, str]:
        """The policy in force: (version, document); (0, "") if none was applied."""
        with self._read() as conn:
            row = self._one(conn, "SELECT version, document FROM policies ORDER BY version DESC LIMIT 1", (), True)
        return (int(row[0]), row[1]) if row else (0, "")

    def set_policy(self, document: str, base_version: int | None, event: AdminEvent | None = None) -> int:
        """Apply a policy as a new version; refused if the policy changed since ``base_version``."""
        with self._write() as conn:
            current = int(self._one(conn, "SELECT coalesce(max(version), 0) FROM policies")[0])
            if base_version is not None and base_version != current:
                raise FailedPreconditionError(
                    f"the policy changed (now version {current}, diff was against {base_version}); review it again",
                    reason="policy_changed",
                )
            seq = self._admin_event(conn, event)
            self._run(
                conn,
                "INSERT INTO policies (version, document, applied_at, seq) VALUES (?, ?, ?, ?)",
                (current + 1, document, event.at if event else 0, seq),
            )
            return current + 1

    def set_category(self, name: str, retention_days: int, event: AdminEvent | None = None) -> bool:
        """Set a category's maximum lifetime (adding it if new); False if unchanged."""
        with self._write() as conn:
            row = self._one(conn, "SELECT retention_days FROM categories WHERE name = ?", (name,))
            if row is not None and row[0] == retention_days:
                return False
            self._run(
                conn,
                # WHERE true: SQLite needs it to tell the upsert's ON CONFLICT from a join's ON
                "INSERT INTO categories (id, name, retention_days)"
                " SELECT coalesce(max(id), 0) + 1, ?, ? FROM categories WHERE true"
                " ON CONFLICT (name) DO UPDATE SET retention_days = excluded.retention_days",
                (name, retention_days),
            )
            self._admin_event(conn, event)
        self._categories_changed()
        return True

    # -- warninglists and quarantine ---------------------------------------------------

    def create_warninglist(self, name: str, mode: str, description: str, event: AdminEvent | None = None) -> bool:
        """Create a warninglist; False if it exists."""
        with self._write() as conn:
            if self._one(conn, "SELECT 1 FROM warninglists WHERE name = ?", (name,)) is not None:
                return False
            seq = self._admin_event(conn, event)
            self._run(
                conn,
                "INSERT INTO warninglists (id, name, mode, description, created_at, seq)"
                " SELECT coalesce(max(id), 0) + 1, ?, ?, ?, ?, ? FROM warninglists",
                (name, mode, description, event.at if event else 0, seq),
            )
            return True

    def _warninglist(self, conn: Any, name: str) -> tuple[int, str]:
        row = self._one(conn, "SELECT id, mode FROM warninglists WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no warninglist {quoted(name)}", reason="warninglist_not_found")
        return int(row[0]), str(row[1])

    def set_warninglist_entries(
        self, name: str, type_: int, values: Sequence[bytes], remove: bool, at: int, event: AdminEvent | None = None
    ) -> tuple[int, list[int]]:
        """Add or remove warninglist values in one admin event; (values changed, signals quarantined)."""
        with self._write() as conn:
            list_id, mode = self._warninglist(conn, name)
            present: set[bytes] = set()
            wanted = sorted(set(values))
            for part in _chunks(wanted):
                rows = self._run(
                    conn,
                    f"SELECT value FROM warninglist_entries WHERE list = ? AND type = ? AND value IN ({_marks(part)})",
                    (list_id, type_, *part),
                )
                present.update(bytes(r[0]) for r in rows)
            changing = [v for v in wanted if (v in present) == remove]
            if not changing:
                return 0, []
            seq = self._admin_event(conn, event)
            rows = [(type_, v, list_id) for v in changing]
            if remove:
                self._run_many(conn, "DELETE FROM warninglist_entries WHERE type = ? AND value = ? AND list = ?", rows)
                return len(changing), []
            self._run_many(conn, "INSERT INTO warninglist_entries (type, value, list) VALUES (?, ?, ?)", rows)
            if mode != "block":
                return len(changing), []
            shared: list[int] = []
            for part in _chunks(changing):
                found = self._run(
                    conn,
                    "SELECT s.id FROM signals s WHERE s.type = ? AND s.retracted = 0 AND s.expires_at > ?"
                    f" AND s.value IN ({_marks(part)}) AND s.id NOT IN (SELECT signal FROM quarantine)",
                    (type_, at, *part),
                )
                shared.extend(int(r[0]) for r in found)
            self._quarantine(conn, sorted(shared), f"warninglist:{name}", at, seq)
            return len(changing), sorted(shared)

    def _quarantine(self, conn: Any, signal_ids: Sequence[int], reason: str, at: int, seq: int) -> None:
        """Inside ``_write``: quarantine signals as the event ``seq`` records."""
        self._run_many(
            conn,
            "INSERT INTO quarantine (signal, reason, at, seq) VALUES (?, ?, ?, ?) ON CONFLICT (signal) DO NOTHING",
            [(s, reason, at, seq) for s in signal_ids],
        )

    def _safeguard_event(self, conn: Any, event: AdminEvent | SafeguardEvent) -> int:
        if isinstance(event, AdminEvent):
            return self._admin_event(conn, event)
        event.seq = self._record_event(
            conn, self._next_seq(conn), KIND_SAFEGUARD, None, event.member_row, event.at, event.envelope, 0
        )
        return event.seq

    def set_quarantine(
        self, signal_id: int, quarantined: bool, reason: str, at: int, event: AdminEvent | SafeguardEvent
    ) -> int:
        """Quarantine or release a signal as ``event`` records; its seq (see ``Store.set_quarantine``)."""
        with self._write() as conn:
            row = self._signal_state(conn, signal_id)
            if row is None or row[1] or row[2] <= at:
                raise NotFoundError(f"no active signal {signal_id}", reason="signal_not_found")
            held = self._one(conn, "SELECT reason FROM quarantine WHERE signal = ?", (signal_id,))
            if quarantined and held is not None:
                raise FailedPreconditionError(
                    f"signal {signal_id} is quarantined already ({held[0]})", reason="already_quarantined"
                )
            if not quarantined and held is None:
                raise FailedPreconditionError(f"signal {signal_id} is not quarantined", reason="not_quarantined")
            seq = self._safeguard_event(conn, event)
            if quarantined:
                self._quarantine(conn, [signal_id], reason, at, seq)
            else:
                self._run(conn, "DELETE FROM quarantine WHERE signal = ?", (signal_id,))
            return seq

    def list_quarantined(self, submitter_row: int = 0) -> list[QuarantineRecord]:
        """Quarantined signals (of one submitter), oldest first."""
        sql = (
            "SELECT q.signal, m.member_id, q.reason, q.at, q.seq FROM quarantine q JOIN signals s ON s.id = q.signal"
            " JOIN members m ON m.id = s.submitter WHERE s.retracted = 0"
        )
        with self._read() as conn:
            if submitter_row:
                rows = self._run(conn, sql + " AND s.submitter = ? ORDER BY q.seq, q.signal", (submitter_row,))
            else:
                rows = self._run(conn, sql + " ORDER BY q.seq, q.signal")
            return [QuarantineRecord(int(s), m, r, int(a), int(q)) for s, m, r, a, q in rows]

    def submitter_quality(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[int, int]]:
        """Verdicts per (submitter, category) (see ``Store.submitter_quality``)."""
        wanted = set(pairs)
        out: dict[tuple[str, str], dict[int, int]] = {p: {} for p in wanted}
        submitters = sorted({s for s, _ in wanted})
        with self._read() as conn:
            for part in _chunks(submitters):
                rows = self._run(
                    conn,
                    "SELECT m.member_id, c.name, f.verdict, count(*) FROM feedback f JOIN signals s ON s.id = f.signal"
                    " JOIN members m ON m.id = s.submitter JOIN categories c ON c.id = s.category"
                    f" WHERE m.member_id IN ({_marks(part)}) GROUP BY m.member_id, c.name, f.verdict",
                    part,
                )
                for submitter, category, verdict, n in rows:
                    if (submitter, category) in wanted:
                        out[(submitter, category)][int(verdict)] = int(n)
        return out

    def record_received(self, deliveries: Sequence[tuple[int, int, str]], at: int) -> None:
        """Record first deliveries in one transaction (see ``Store.record_received``)."""
        rows = sorted({(signal, member, via) for member, signal, via in deliveries})  # in key order
        if rows:
            with self._write() as conn:
                self._run_many(  # a member's own signals are never asked about (redress asks their recipients)
                    conn,
                    "INSERT INTO deliveries (signal, member, via, at) SELECT s.id, ?, ?, ? FROM signals s"
                    " WHERE s.id = ? AND s.submitter <> ? ON CONFLICT (signal, member) DO NOTHING",
                    [(member, via, at, signal, member) for signal, member, via in rows],
                )

    def list_warninglists(self) -> list[WarninglistRecord]:
        """Every warninglist with its number of values per type, by name."""
        with self._read() as conn:
            lists = self._run(
                conn, f"SELECT id, name, mode, description FROM warninglists ORDER BY name{self._BYTEWISE}"
            ).fetchall()
            counts = self._run(
                conn, "SELECT list, type, count(*) FROM warninglist_entries GROUP BY list, type"
            ).fetchall()
        per: dict[int, dict[int, int]] = {}
        for list_id, type_, n in counts:
            per.setdefault(int(list_id), {})[int(type_)] = int(n)
        return [WarninglistRecord(name, mode, desc, per.get(int(i), {})) for i, name, mode, desc in lists]

    def warninglist_hits(self, type_: int, values: Sequence[bytes]) -> dict[bytes, list[tuple[str, str]]]:
        """For each value on a warninglist, (name, mode) of its lists."""
        hits: dict[bytes, list[tuple[str, str]]] = {}
        with self._read() as conn:
            for part in _chunks(sorted(set(values))):
                rows = self._run(
                    conn,
                    "SELECT e.value, w.name, w.mode FROM warninglist_entries e JOIN warninglists w ON w.id = e.list"
                    f" WHERE e.type = ? AND e.value IN ({_marks(part)}) ORDER BY w.name{self._BYTEWISE}",
                    (type_, *part),
                )
                for value, name, mode in rows:
                    hits.setdefault(bytes(value), []).append((name, mode))
        return hits

    def signal_flags(self, signal_ids: Sequence[int]) -> dict[int, SignalFlags]:
        """Flags of the signals that have any, by id."""
        lists: dict[int, list[str]] = {}
        quarantined: dict[int, str] = {}
        with self._read() as conn:
            for part in _chunks(sorted(set(signal_ids))):
                marks = _marks(part)
                for sid, name in self._run(
                    conn,
                    "SELECT s.id, w.name FROM signals s JOIN warninglist_entries e ON e.type = s.type"
                    f" AND e.value = s.value JOIN warninglists w ON w.id = e.list WHERE s.id IN ({marks})"
                    f" ORDER BY w.name{self._BYTEWISE}",
                    part,
                ):
                    lists.setdefault(int(sid), []).append(name)
                for sid, reason in self._run(
                    conn, f"SELECT signal, reason FROM quarantine WHERE signal IN ({marks})", part
                ):
                    quarantined[int(sid)] = reason
        return {
            sid: SignalFlags(tuple(lists.get(sid, ())), quarantined.get(sid, ""))
            for sid in sorted(set(lists) | set(quarantined))
        }

    # -- the signature log -------------------------------------------------------------

    def _log_size(self, conn: Any) -> int:
        return int(self._one(conn, "SELECT coalesce(max(seq), 0) FROM events", (), True)[0])

    def _leaf_hashes(self, conn: Any, start: int, end: int) -> list[bytes]:
        rows = self._run(conn, f"{LEAF_SELECT} WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq", (start, end))
        return [event_leaf_and_hash(r)[1] for r in rows]

    def _stored_hashes(self, conn: Any, level: int, start: int, end: int) -> list[bytes]:
        rows = self._run(
            conn,
            "SELECT hash FROM log_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (level, start, end),
        )
        return [r[0] for r in rows]

    def _load_tree(self, conn: Any) -> TreeBuilder:
        """Rebuild the partial tiles from the database (and any tile hashes it lacks)."""
        size = self._log_size(conn)
        have = int(self._one(conn, "SELECT count(*) FROM log_hashes WHERE level = ?", (TILE_HEIGHT,))[0])
        if have < size >> TILE_HEIGHT:
            self._run(conn, "DELETE FROM log_hashes")
            tree = TreeBuilder()
            for start in range(0, size, 65536):
                done: list[tuple[int, int, bytes]] = []
                for h in self._leaf_hashes(conn, start, min(size, start + 65536)):
                    done.extend(tree.append(h))
                self._run_many(conn, "INSERT INTO log_hashes (level, idx, hash) VALUES (?, ?, ?)", done)
            return tree
        return TreeBuilder.resume(
            size,
            lambda start, end: self._leaf_hashes(conn, start, end),
            lambda level, start, end: self._stored_hashes(conn, level, start, end),
        )

    def log_size(self) -> int:
        """Entries in the signature log (= the highest seq)."""
        with self._read() as conn:
            return self._log_size(conn)

    def max_seq(self) -> int:
        """The highest seq committed."""
        return self.log_size()

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree of 2**level leaves starting at leaf ``index * 2**level``."""
        base = level - level % TILE_HEIGHT
        with self._read() as conn:  # append-only: reading a stored hash, then its base, needs no snapshot
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
        with self._read() as conn:
            rows = self._run(conn, f"{LEAF_SELECT} WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq", (start, end))
            out = []
            for r in rows.fetchall():
                envelope = event_envelope(r)
                out.append((int(r[0]) - 1, event_leaf(r, envelope), envelope))
            return out

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The newest saved checkpoint (size, signed note), from whichever process signed it."""
        with self._read() as conn:
            row = self._one(conn, "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        return (int(row[0]), row[1]) if row else None

    def save_checkpoint(self, size: int, note: str, at: int) -> None:
        """Keep a signed checkpoint (the first one saved for a size wins)."""
        with self._write() as conn:
            self._run(
                conn,
                "INSERT INTO checkpoints (size, note, created_at) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING",
                (size, note, at),
            )

    # -- retraction, feedback, retention -------------------------------------------------

    def _signal_state(self, conn: Any, signal_id: int) -> tuple[int, int, int] | None:
        row = self._one(conn, "SELECT submitter, retracted, expires_at FROM signals WHERE id = ?", (signal_id,))
        return (int(row[0]), int(row[1]), int(row[2])) if row else None

    def retract(
        self,
        signal_id: int,
        member_row: int,
        envelope: bytes,
        at: int,
        by_operator: bool = False,
        redress: bool = False,
    ) -> int:
        """Retract a signal; the RETRACT event's seq (see ``Store.retract``)."""
        with self._write() as conn:
            row = self._signal_state(conn, signal_id)
            if row is None:
                raise NotFoundError(f"no signal {signal_id}", reason="signal_not_found")
            if row[1]:
                raise FailedPreconditionError(f"signal {signal_id} is already retracted", reason="already_retracted")
            state = RETRACTED_BY_OPERATOR if by_operator else RETRACTED_BY_SUBMITTER
            self._run(conn, "UPDATE signals SET retracted = ? WHERE id = ?", (state, signal_id))
            seq = self._next_seq(conn)
            self._record_event(conn, seq, KIND_RETRACT, signal_id, member_row, at, envelope, row[2])
            if redress:
                self._run(conn, "INSERT INTO redress (signal, seq, at) VALUES (?, ?, ?)", (signal_id, seq, at))
            return seq

    def acknowledge(self, signal_id: int, member_row: int, outcome: str, event: SafeguardEvent) -> int:
        """Record a redress acknowledgement (see ``Store.acknowledge``)."""
        with self._write() as conn:
            if self._one(conn, "SELECT 1 FROM redress WHERE signal = ?", (signal_id,)) is None:
                raise FailedPreconditionError(
                    f"signal {signal_id} was not retracted for redress: there is nothing to acknowledge",
                    reason="not_redress",
                )
            received = self._one(
                conn,
                "SELECT 1 FROM deliveries d JOIN signals s ON s.id = d.signal"
                " WHERE d.signal = ? AND d.member = ? AND s.submitter <> d.member",
                (signal_id, member_row),
            )
            if received is None:
                raise FailedPreconditionError(
                    f"you never received signal {signal_id} (by pull, subscribe or look-up): only its recipients"
                    " acknowledge its retraction",
                    reason="not_received",
                )
            done = self._one(
                conn, "SELECT outcome FROM redress_acks WHERE signal = ? AND member = ?", (signal_id, member_row)
            )
            if done is not None:
                raise FailedPreconditionError(
                    f"you acknowledged signal {signal_id} already ({done[0]})", reason="already_acknowledged"
                )
            seq = self._safeguard_event(conn, event)
            self._run(
                conn,
                "INSERT INTO redress_acks (signal, member, outcome, at, seq) VALUES (?, ?, ?, ?, ?)",
                (signal_id, member_row, outcome, self._last_leaf[1], seq),
            )
            return seq

    def redress_items(self, member_row: int = 0, pending_only: bool = False) -> list[RedressRecord]:
        """Recipients of retractions for redress and their acknowledgements (see ``Store.redress_items``)."""
        sql = (
            "SELECT r.signal, m.member_id, d.via, r.at, r.seq, coalesce(a.outcome, ''), coalesce(a.at, 0)"
            " FROM redress r JOIN signals s ON s.id = r.signal JOIN deliveries d ON d.signal = r.signal"
            " JOIN members m ON m.id = d.member"
            " LEFT JOIN redress_acks a ON a.signal = r.signal AND a.member = d.member"
            " WHERE d.member <> s.submitter"
        )
        args: list[Any] = []
        if member_row:
            sql += " AND d.member = ?"
            args.append(member_row)
        if pending_only:
            sql += " AND a.outcome IS NULL"
        sql += f" ORDER BY m.member_id{self._BYTEWISE}, r.seq"
        with self._read() as conn:
            rows = self._run(conn, sql, args).fetchall()
        return [RedressRecord(int(s), m, v, int(at), int(q), o, int(aa)) for s, m, v, at, q, o, aa in rows]

    def feedback(
        self, signal_id: int, member_row: int, verdict: int, envelope: bytes, at: int, quarantine_after: int = 0
    ) -> FeedbackOutcome:
        """Make ``verdict`` the member's current one (see ``Store.feedback``)."""
        with self._write() as conn:
            row = self._signal_state(conn, signal_id)
            if row is None or row[2] <= at:
                raise NotFoundError(f"no active signal {signal_id}", reason="signal_not_found")
            if row[1]:
                raise FailedPreconditionError(f"signal {signal_id} is retracted", reason="retracted")
            current = self._one(
                conn, "SELECT verdict, seq FROM feedback WHERE signal = ? AND member = ?", (signal_id, member_row)
            )
            if current is not None and current[0] == verdict:
                return FeedbackOutcome(int(current[1] or 0), False)
            seq = self._next_seq(conn)
            self._run(
                conn,
                "INSERT INTO feedback (signal, member, verdict, seq) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (signal, member) DO UPDATE SET verdict = excluded.verdict, seq = excluded.seq",
                (signal_id, member_row, verdict, seq),
            )
            self._record_event(conn, seq, KIND_FEEDBACK, signal_id, member_row, at, envelope, row[2])
            quarantined = False
            if quarantine_after and verdict == VERDICT_CODES["false_positive"]:
                said = self._one(
                    conn, "SELECT count(*) FROM feedback WHERE signal = ? AND verdict = ?", (signal_id, verdict)
                )
                held = self._one(conn, "SELECT 1 FROM quarantine WHERE signal = ?", (signal_id,))
                if int(said[0]) >= quarantine_after and held is None:
                    self._quarantine(conn, [signal_id], "false_positive", at, seq)
                    quarantined = True
            return FeedbackOutcome(seq, True, quarantined)

    def purge_expired(self, now: int) -> int:
        """Delete expired signals, their feedback and their envelopes; return how many signals."""
        with self._write() as conn:
            expired = "SELECT id FROM signals WHERE expires_at <= ?"
            self._run(conn, f"DELETE FROM feedback WHERE signal IN ({expired})", (now,))
            self._run(conn, f"DELETE FROM deliveries WHERE signal IN ({expired})", (now,))
            kept = self._run(conn, f"{LEAF_SELECT} WHERE e.signal IN ({expired}) AND e.envelope IS NOT NULL", (now,))
            leaves = purge_rows(kept.fetchall())
            self._run_many(conn, "UPDATE events SET leaf = ?, envelope = NULL WHERE seq = ?", leaves)
            return int(self._run(conn, "DELETE FROM signals WHERE expires_at <= ?", (now,)).rowcount)
