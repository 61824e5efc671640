"""The ``Store`` interface and the records it speaks in.

Services talk to storage only through this interface, so the SQLite default and
other backends are interchangeable. Every write that accepts an event goes
through one method of the implementation (``_record_event``), the single seam
where the signature log attaches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from exchange.policy.quota import QuotaLedger

KIND_SUBMIT = 1
KIND_RETRACT = 2
KIND_FEEDBACK = 3
KIND_ADMIN = 4

VERDICTS = ("confirmed", "actioned", "false_positive", "not_found", "duplicate")  # index + 1 = wire value

TYPE_MEDIA_PDQ = 9

# wire SignalType -> length of its value: 32-byte pseudonyms, 16-byte MD5, 32-byte PDQ
VALUE_BYTES = {1: 32, 2: 32, 3: 32, 4: 32, 5: 32, 6: 32, 7: 32, 8: 16, 9: 32}


@dataclass(frozen=True, slots=True)
class MemberRecord:
    row: int
    member_id: str
    role: str
    status: str
    display_name: str
    certs_from: int = 0  # TLS certificates issued before this Unix time are refused (0: none)


#: The members columns a MemberRecord is built from, in its field order.
MEMBER_COLUMNS = "id, member_id, role, status, display_name, certs_from"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    member_id: str
    public_key: bytes
    not_before: int
    not_after: int | None
    revoked_at: int | None

    def valid_at(self, t: float) -> bool:
        """True if the key may sign at unix time ``t``."""
        if t < self.not_before:
            return False
        if self.not_after is not None and t >= self.not_after:
            return False
        return self.revoked_at is None or t < self.revoked_at


@dataclass(frozen=True, slots=True)
class Category:
    row: int
    name: str
    retention_days: int


@dataclass(frozen=True, slots=True)
class NewSignal:
    """A verified, validated SUBMIT ready to store."""

    submitter: int
    type: int
    value: bytes
    category: int
    qualifier: str | None
    audience: int | None
    confidence: int
    expires_at: int
    envelope: bytes
    received_at: int


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    duplicate: bool
    seq: int
    signal_id: int


@dataclass(frozen=True, slots=True)
class SignalRecord:
    signal_id: int
    submitter: str
    type: int
    value: bytes
    category: str
    qualifier: str
    confidence: int
    first_seen: int
    last_seen: int
    expires_at: int
    audience: int | None
    retracted: bool


@dataclass(frozen=True, slots=True)
class MatchRecord:
    signal: SignalRecord
    feedback: tuple[int, int, int, int, int]
    distance: int


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    kind: int
    signal_id: int
    received_at: int
    envelope: bytes


@dataclass(slots=True)
class AdminEvent:
    """A signed admin change, recorded in the same transaction as its effect (the store sets ``seq``)."""

    member_row: int
    envelope: bytes
    at: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    signals_by_category: dict[str, int]
    signals_by_type: dict[int, int]
    signals_by_member: dict[str, int]
    events_by_kind: dict[int, int]
    feedback_by_verdict: dict[int, int]
    submits_by_day: dict[str, int]
    active_signals: int


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What a reader may and wants to see; ``None`` means no restriction."""

    types: frozenset[int] | None = None
    categories: frozenset[int] | None = None
    audiences: frozenset[int] = frozenset()  # groups the reader belongs to (NULL audience is everyone)

    def admits(self, event: LiveEvent) -> bool:
        """``events_after``'s visibility rule, in memory: a signal's event of a wanted type and category,
        shared with everyone or with a group of the reader's, whose envelope is still stored."""
        if event.type is None:
            return False
        return (
            (self.types is None or event.type in self.types)
            and (self.categories is None or event.category in self.categories)
            and (event.audience is None or event.audience in self.audiences)
        )


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event as the live fan-out reads it: with the attributes of its signal that visibility depends on.
    ``type`` is None when no member may read it: an admin event, or one whose envelope or signal retention
    purged (its envelope is then empty)."""

    event: EventRecord
    type: int | None
    category: int | None
    audience: int | None


#: Every event after a seq with its signal's type, category and audience, for ``live_events`` (``?`` params).
LIVE_EVENTS_SQL = (
    "SELECT e.seq, e.kind, coalesce(e.signal, 0), e.received_at, e.envelope,"
    " CASE WHEN e.envelope IS NULL THEN NULL ELSE s.type END, s.category, s.audience"
    " FROM events e LEFT JOIN signals s ON s.id = e.signal WHERE e.seq > ? ORDER BY e.seq LIMIT ?"
)


def live_event(row: Sequence[Any]) -> LiveEvent:
    """A ``LIVE_EVENTS_SQL`` row as a LiveEvent."""
    seq, kind, signal, received_at, envelope, type_, category, audience = row
    return LiveEvent(
        EventRecord(int(seq), int(kind), int(signal), int(received_at), b"" if envelope is None else bytes(envelope)),
        None if type_ is None else int(type_),
        None if category is None else int(category),
        None if audience is None else int(audience),
    )


def pdq_ranked(values: Sequence[bytes], stored: Sequence[bytes], max_distance: int) -> list[list[tuple[int, int]]]:
    """For each query hash, (index into ``stored``, Hamming distance) within ``max_distance``, nearest first."""
    ints = [int.from_bytes(v, "big") for v in stored]
    ranked: list[list[tuple[int, int]]] = []
    for value in values:
        q = int.from_bytes(value, "big")
        hits = [(i, d) for i, d in ((i, (q ^ v).bit_count()) for i, v in enumerate(ints)) if d <= max_distance]
        hits.sort(key=lambda h: h[1])
        ranked.append(hits)
    return ranked


class Store(Protocol):
    """Persistent state of the exchange. Implementations are thread-safe."""

    def close(self) -> None: ...
    def quota_ledger(self, clock: Callable[[], float]) -> QuotaLedger:
        """The quota ledger for this store: in memory for one process, or shared by every replica."""
        ...

    # members, keys, groups, policy, taxonomy (each change optionally recorded as an admin event)
    def add_member(
        self,
        member_id: str,
        role: str,
        display_name: str,
        at: int,
        event: AdminEvent | None = None,
        signing_key: tuple[str, bytes] | None = None,
    ) -> MemberRecord: ...
    def record_certificate(self, member_id: str, revoke_before: int | None, event: AdminEvent) -> int:
        """Record a certificate issued to a member (and, with ``revoke_before``, refuse the member's
        certificates issued before that time) as one admin event; its seq."""
        ...

    def get_member(self, member_id: str) -> MemberRecord | None: ...
    def list_members(self) -> list[MemberRecord]: ...
    def set_member_status(self, member_id: str, status: str, event: AdminEvent | None = None) -> bool: ...
    def add_signing_key(
        self, member_id: str, key_id: str, public_key: bytes, not_before: int, event: AdminEvent | None = None
    ) -> KeyRecord: ...
    def end_signing_key(self, key_id: str, at: int, revoke: bool, event: AdminEvent | None = None) -> bool: ...
    def get_signing_key(self, key_id: str) -> KeyRecord | None: ...
    def list_signing_keys(self, member_id: str | None = None) -> list[KeyRecord]: ...
    def member_groups(self, member_row: int) -> frozenset[int]: ...
    def group_id(self, name: str) -> int | None: ...
    def create_group(self, name: str, event: AdminEvent | None = None) -> bool: ...
    def set_group_membership(
        self, group: str, member_id: str, member: bool, event: AdminEvent | None = None
    ) -> bool: ...
    def list_groups(self) -> list[GroupRecord]: ...
    def get_policy(self) -> tuple[int, str]: ...
    def set_policy(self, document: str, base_version: int | None, event: AdminEvent | None = None) -> int: ...
    def categories(self) -> dict[str, Category]: ...
    def set_category(self, name: str, retention_days: int, event: AdminEvent | None = None) -> bool: ...
    def stats(self) -> Stats: ...

    # events
    def submit(self, items: Sequence[NewSignal]) -> list[SubmitOutcome]: ...
    def get_signal(self, signal_id: int) -> SignalRecord | None: ...
    def retract(
        self, signal_id: int, member_row: int, envelope: bytes, at: int, any_submitter: bool = False
    ) -> int: ...
    def feedback(self, signal_id: int, member_row: int, verdict: int, envelope: bytes, at: int) -> int: ...
    def events_after(self, seq: int, limit: int, flt: EventFilter) -> tuple[list[EventRecord], int]: ...
    def live_events(self, seq: int, limit: int) -> list[LiveEvent]:
        """Every event after ``seq`` (at most ``limit``, in order, admin events included) with what
        ``EventFilter.admits`` needs: the live fan-out reads each commit once for every stream."""
        ...

    def watch_commits(self, on_commit: Callable[[int], None]) -> Callable[[], None]:
        """Call ``on_commit(seq)`` when another process commits events (PostgreSQL replicas); returns a
        function that stops watching. A store one process owns watches nothing."""
        ...

    def max_seq(self) -> int: ...
    def lookup(self, type_: int, values: Sequence[bytes], now: int) -> list[MatchRecord]: ...
    def lookup_pdq(self, values: Sequence[bytes], max_distance: int, now: int) -> list[list[MatchRecord]]: ...
    def purge_expired(self, now: int) -> int: ...

    # the signature log (entry i is event seq i + 1)
    def log_size(self) -> int: ...
    def subtree_hash(self, level: int, index: int) -> bytes: ...
    def log_entries(self, start: int, end: int) -> list[tuple[int, bytes, bytes | None]]: ...
    def latest_checkpoint(self) -> tuple[int, str] | None: ...
    def save_checkpoint(self, size: int, note: str, at: int) -> None: ...
