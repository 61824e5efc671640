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

from client_sdk.keys import window_admits
from client_sdk.log_entry import leaf_expires
from client_sdk.vocab import KIND_FEEDBACK

if TYPE_CHECKING:
    from exchange.policy.quota import QuotaLedger


#: The largest seq or signal id the databases store (a signed 64-bit integer); larger ones exist nowhere.
MAX_ID = 2**63 - 1


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
    registered_seq: int = 0  # the admin event that registered the key (its log index is this - 1)
    ended_seq: int = 0  # the admin event that retired or revoked it (0: still open)

    def admits(self, seq: int, t: float) -> bool:
        """Whether the key signs the event of ``seq`` at time ``t`` (``keys.window_admits``)."""
        return window_admits(self.not_before, self.registered_seq, self.ended_seq, seq, t)


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


#: What a display shows for a member row it cannot name (a log leaf never records it: ``leaf_submitter``).
UNKNOWN_MEMBER = "?"


def leaf_submitter(name: str, row: int) -> str:
    """The submitter a log leaf records: a member of the directory, never a placeholder (the write fails)."""
    if not name or name == UNKNOWN_MEMBER:
        raise RuntimeError(f"member row {row} has no member id: an entry naming no one is never written")
    return name


#: ``signals.retracted``: 0 active, 1 retracted by its submitter, 2 retracted by an operator (redress).
RETRACTED_BY_SUBMITTER = 1
RETRACTED_BY_OPERATOR = 2


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What the store did with one SUBMIT: ``accepted`` (a new signal, or a retracted or expired one
    submitted again, under its old id and a new event), ``duplicate`` (the same active signal exists:
    nothing changed) or ``refused`` (an operator retracted it for redress)."""

    status: str
    seq: int
    signal_id: int


def resubmission(retracted: int, expires_at: int, now: int) -> str:
    """What submitting an already stored (submitter, type, value, category) again does, given the stored
    signal's ``retracted`` state and expiry: ``refused``, ``revived`` (back as a new SUBMIT) or ``duplicate``."""
    if retracted == RETRACTED_BY_OPERATOR:
        return "refused"
    if retracted or expires_at <= now:
        return "revived"
    return "duplicate"


@dataclass(frozen=True, slots=True)
class FeedbackOutcome:
    """A verdict recorded (``changed``) or already the member's current one (``seq``: the event that set it)."""

    seq: int
    changed: bool


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
    expires_at: int = 0  # what the event's log leaf records as its expiry


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
    #: The reader's member row: FEEDBACK events are shown only to the signal's submitter and their author
    #: (everyone else sees counts, in look-ups). 0: no such restriction (auditors read the log instead).
    reader: int = 0

    def admits_type(self, type_: int) -> bool:
        return self.types is None or type_ in self.types

    def admits(self, event: LiveEvent) -> bool:
        """``events_after``'s visibility rule, in memory: a signal's event of a wanted type and category,
        shared with everyone or with a group of the reader's, whose envelope is still stored."""
        if event.type is None:
            return False
        return (
            (self.types is None or event.type in self.types)
            and (self.categories is None or event.category in self.categories)
            and (event.audience is None or event.audience in self.audiences)
            and (
                not self.reader
                or event.event.kind != KIND_FEEDBACK
                or self.reader in (event.signal_submitter, event.member)
            )
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
    signal_submitter: int = 0  # member rows: who may see a FEEDBACK event (EventFilter.reader)
    member: int = 0


#: Every event after a seq with its signal's type, category, audience and submitter and the event's leaf, for
#: ``live_events`` (``?`` params).
LIVE_EVENTS_SQL = (
    "SELECT e.seq, e.kind, coalesce(e.signal, 0), e.received_at, e.envelope,"
    " CASE WHEN e.envelope IS NULL THEN NULL ELSE s.type END, s.category, s.audience, e.leaf,"
    " coalesce(s.submitter, 0), e.member"
    " FROM events e LEFT JOIN signals s ON s.id = e.signal WHERE e.seq > ? ORDER BY e.seq LIMIT ?"
)


def live_event(row: Sequence[Any]) -> LiveEvent:
    """A ``LIVE_EVENTS_SQL`` row as a LiveEvent."""
    seq, kind, signal, received_at, envelope, type_, category, audience, leaf, submitter, member = row
    return LiveEvent(
        EventRecord(
            int(seq),
            int(kind),
            int(signal),
            int(received_at),
            b"" if envelope is None else bytes(envelope),
            leaf_expires(bytes(leaf)),
        ),
        None if type_ is None else int(type_),
        None if category is None else int(category),
        None if audience is None else int(audience),
        int(submitter),
        int(member),
    )


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
    def retract(self, signal_id: int, member_row: int, envelope: bytes, at: int, by_operator: bool = False) -> int:
        """Mark a signal retracted (by its submitter, or by an operator for redress) and record the RETRACT event
        in one transaction; its seq. Raises NotFoundError (no such signal) or FailedPreconditionError (already
        retracted). Who may retract what is the policy engine's decision, made before."""
        ...

    def feedback(self, signal_id: int, member_row: int, verdict: int, envelope: bytes, at: int) -> FeedbackOutcome:
        """Make ``verdict`` the member's current verdict on an active signal, recording the FEEDBACK event in the
        same transaction; the same verdict again records nothing. Raises NotFoundError (no active signal) or
        FailedPreconditionError (retracted)."""
        ...

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
    def lookup(self, type_: int, values: Sequence[bytes], now: int, flt: EventFilter) -> list[MatchRecord]:
        """Active signals of ``type_`` whose value is one of ``values`` and that ``flt`` lets the reader see
        (decided in the query: a value the reader may not see costs what an absent one costs)."""
        ...

    def lookup_pdq(
        self, values: Sequence[bytes], max_distance: int, now: int, flt: EventFilter
    ) -> list[list[MatchRecord]]:
        """For each PDQ hash, the active PDQ signals ``flt`` admits within ``max_distance`` bits, nearest first."""
        ...

    def purge_expired(self, now: int) -> int: ...

    # the signature log (entry i is event seq i + 1)
    def log_size(self) -> int: ...
    def subtree_hash(self, level: int, index: int) -> bytes: ...
    def log_entries(self, start: int, end: int) -> list[tuple[int, bytes, bytes | None]]: ...
    def latest_checkpoint(self) -> tuple[int, str] | None: ...
    def save_checkpoint(self, size: int, note: str, at: int) -> None: ...
