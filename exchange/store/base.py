"""The ``Store`` interface and the records it speaks in.

Services talk to storage only through this interface, so the SQLite default and
other backends are interchangeable. Every write that accepts an event goes
through one method of the implementation (``_record_event``), the single seam
where the signature log attaches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from client_sdk.keys import window_admits
from client_sdk.vocab import KIND_FEEDBACK
from exchange.store.packing import stored_envelope

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
    kind: str = ""  # platform, ngo, government, … (the charter's rules follow it); "" for operators and auditors
    certs_known_from: int = 0  # certificates issued before this Unix time were never recorded (0: all are)


#: The members columns a MemberRecord is built from, in its field order.
MEMBER_COLUMNS = "id, member_id, role, status, display_name, certs_from, kind, certs_known_from"


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A TLS client certificate the exchange issued to a member: its serial (hex), SHA-256 fingerprint of the
    DER, validity (Unix seconds), and when and by which admin event it was issued (set by the store)."""

    serial: str
    fingerprint: bytes
    not_before: int
    not_after: int
    issued_at: int = 0
    seq: int = 0

    def state(self, certs_from: int, now: float) -> str:
        """``not_accepted`` (issued before the member's cut-off ``certs_from``: the exchange refuses it, as
        ``PolicyEngine.admit`` does), ``expired``, or ``valid``."""
        if self.not_before < certs_from:
            return "not_accepted"
        return "expired" if self.not_after <= now else "valid"


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

    def signal_row(self, signal_id: int) -> tuple[object, ...]:
        """Its ``signals`` row up to ``retracted``: id, value, type, submitter, category, qualifier, audience,
        confidence, first_seen, last_seen, expires_at."""
        return (
            signal_id,
            self.value,
            self.type,
            self.submitter,
            self.category,
            self.qualifier,
            self.audience,
            self.confidence,
            self.received_at,
            self.received_at,
            self.expires_at,
        )


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
    quarantined: bool = False  # this verdict quarantined the signal (false positives crossed the threshold)


# SignalRecord and MatchRecord are built for every matching row of a look-up (~500 per call of 1,000): they are
# plain slotted dataclasses, not frozen ones, whose generated __init__ costs 7x as much (1.7 against 0.23 us).
# Nothing changes them once the store has built them.
@dataclass(slots=True)
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


@dataclass(slots=True)
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
class WarninglistRecord:
    name: str
    mode: str  # block, inform
    description: str
    entries: dict[int, int]  # signal type -> how many values of it


@dataclass(frozen=True, slots=True)
class SignalFlags:
    """What consumers are told about a signal beside it: the warninglists naming its value, and why it is
    quarantined ("" when it is not)."""

    warninglists: tuple[str, ...] = ()
    quarantine: str = ""


@dataclass(slots=True)
class SafeguardEvent:
    """A signed safeguard transition (release, quarantine by the exchange, acknowledgement), recorded in the
    same transaction as its effect (the store sets ``seq``). Log-only: no member pulls it."""

    member_row: int
    envelope: bytes
    at: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class RedressRecord:
    signal_id: int
    member: str
    via: str
    retracted_at: int
    retract_seq: int
    outcome: str
    acknowledged_at: int


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    signal_id: int
    submitter: str
    reason: str
    since: int
    seq: int


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
    #: (UTC day, category name) -> SUBMIT events, over the 30 newest days with any
    submits_by_day_category: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (category name, verdict code) -> stored feedback
    feedback_by_category: dict[tuple[str, int], int] = field(default_factory=dict)
    #: member id -> the Unix time of its newest event
    last_activity: dict[str, int] = field(default_factory=dict)


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


#: Every event after a seq with its signal's type, category, audience and submitter and the event's expiry, for
#: ``live_events`` (``?`` params).
LIVE_EVENTS_SQL = (
    "SELECT e.seq, e.kind, coalesce(e.signal, 0), e.received_at, e.envelope,"
    " CASE WHEN e.envelope IS NULL THEN NULL ELSE s.type END, s.category, s.audience, e.expires,"
    " coalesce(s.submitter, 0), e.member, s.value, c.name"
    " FROM events e LEFT JOIN signals s ON s.id = e.signal LEFT JOIN categories c ON c.id = s.category"
    " WHERE e.seq > ? ORDER BY e.seq LIMIT ?"
)


def live_event(row: Sequence[Any]) -> LiveEvent:
    """A ``LIVE_EVENTS_SQL`` row as a LiveEvent."""
    seq, kind, signal, received_at, envelope, type_, category, audience, expires, submitter, member, value, name = row
    return LiveEvent(
        EventRecord(
            int(seq),
            int(kind),
            int(signal),
            int(received_at),
            b"" if envelope is None else stored_envelope(envelope, value, name),
            int(expires),
        ),
        None if type_ is None else int(type_),
        None if category is None else int(category),
        None if audience is None else int(audience),
        int(submitter),
        int(member),
    )


class Store(Protocol):
    """Persistent state of the exchange. Implementations are thread-safe."""

    def close(self) -> None:
        """Release the store's connections; nothing may be called after."""
        ...

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
        kind: str = "",
        certificate: CertificateRecord | None = None,
    ) -> MemberRecord:
        """Add a member (and its first signing key, valid from ``at``, and the certificate issued to it) in one
        transaction. Raises FailedPreconditionError (``member_exists``) if the id is taken, even by a removed
        member."""
        ...

    def record_certificate(
        self, member_id: str, certificate: CertificateRecord, revoke_before: int | None, event: AdminEvent
    ) -> int:
        """Record a certificate issued to a member (and, with ``revoke_before``, refuse the member's
        certificates issued before that time) as one admin event; its seq."""
        ...

    def list_certificates(self, member_id: str) -> list[CertificateRecord]:
        """The certificates recorded for a member, oldest first (none issued before schema v8: see
        ``MemberRecord.certs_known_from``)."""
        ...

    def get_member(self, member_id: str) -> MemberRecord | None:
        """The member with this id (any status), or None."""
        ...

    def list_members(self) -> list[MemberRecord]:
        """Every member, in the order they were added."""
        ...

    def set_member_status(self, member_id: str, status: str, event: AdminEvent | None = None) -> bool:
        """Set a member's status (``active``, ``suspended``, ``removed``); False if it already had it."""
        ...

    def set_member_kind(self, member_id: str, kind: str, event: AdminEvent | None = None) -> bool:
        """Set a member's kind; False if it already had it."""
        ...

    def get_charter(self) -> tuple[int, str]:
        """The charter in force: (version, document); (0, "") if none was applied."""
        ...

    def charter_applied(self, version: int) -> tuple[int, int]:
        """When charter ``version`` was applied and by which admin event: (Unix time, seq); (0, 0) if unknown."""
        ...

    def set_charter(self, document: str, sha256: bytes, base_version: int | None, event: AdminEvent) -> int:
        """Apply a charter as a new version (refused if the charter changed since ``base_version``)."""
        ...

    def add_signing_key(
        self, member_id: str, key_id: str, public_key: bytes, not_before: int, event: AdminEvent | None = None
    ) -> KeyRecord:
        """Register a member's Ed25519 key, valid from ``not_before`` (in log order: from the event
        that registers it)."""
        ...

    def end_signing_key(self, key_id: str, at: int, revoke: bool, event: AdminEvent | None = None) -> bool:
        """Close a key's window at ``at``: retire it (``not_after``) or, with ``revoke``, revoke it
        (``revoked_at``); False if already closed that way. Raises NotFoundError for an unknown key."""
        ...

    def get_signing_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, or None."""
        ...

    def list_signing_keys(self, member_id: str | None = None) -> list[KeyRecord]:
        """Every key, or one member's, with their windows and the log positions that opened and
        closed them."""
        ...

    def member_groups(self, member_row: int) -> frozenset[int]:
        """The rows of the groups a member (by row id) belongs to."""
        ...

    def group_id(self, name: str) -> int | None:
        """A group's row id, or None if there is no such group."""
        ...

    def create_group(self, name: str, event: AdminEvent | None = None) -> bool:
        """Create a group; False if it exists."""
        ...

    def set_group_membership(self, group: str, member_id: str, member: bool, event: AdminEvent | None = None) -> bool:
        """Add a member to a group or remove it; False if nothing changed. Raises NotFoundError for
        an unknown group."""
        ...

    def list_groups(self) -> list[GroupRecord]:
        """Every group with its members, by name."""
        ...

    def get_policy(self) -> tuple[int, str]:
        """The policy in force: (version, document); (0, "") if none was applied."""
        ...

    def set_policy(self, document: str, base_version: int | None, event: AdminEvent | None = None) -> int:
        """Apply a policy as a new version; its number. Raises FailedPreconditionError
        (``policy_changed``) if the policy changed since ``base_version`` (None: apply regardless)."""
        ...

    def categories(self) -> dict[str, Category]:
        """The taxonomy: every category by name, with its maximum lifetime."""
        ...

    def set_category(self, name: str, retention_days: int, event: AdminEvent | None = None) -> bool:
        """Set a category's maximum lifetime (adding it if new); False if unchanged."""
        ...

    def stats(self) -> Stats:
        """Counts for the operator: active signals by category, type and member; events by kind;
        current feedback by verdict; submits by day."""
        ...

    # warninglists and quarantine (safeguards)
    def create_warninglist(self, name: str, mode: str, description: str, event: AdminEvent | None = None) -> bool:
        """Create a warninglist; False if one of that name exists."""
        ...

    def set_warninglist_entries(
        self, name: str, type_: int, values: Sequence[bytes], remove: bool, at: int, event: AdminEvent | None = None
    ) -> tuple[int, list[int]]:
        """Add values to a warninglist (or remove them) in one admin event; (values changed, active signals the
        change quarantined: values added to a ``block`` list that were already shared)."""
        ...

    def list_warninglists(self) -> list[WarninglistRecord]: ...
    def warninglist_hits(self, type_: int, values: Sequence[bytes]) -> dict[bytes, list[tuple[str, str]]]:
        """For each value on some warninglist, the (name, mode) of those lists."""
        ...

    def signal_flags(self, signal_ids: Sequence[int]) -> dict[int, SignalFlags]:
        """Flags of the signals that have any (warninglists, quarantine), by signal id."""
        ...

    def set_quarantine(
        self, signal_id: int, quarantined: bool, reason: str, at: int, event: AdminEvent | SafeguardEvent
    ) -> int:
        """Quarantine an active signal or release it, as ``event`` records; its seq. Raises NotFoundError (no
        active signal) or FailedPreconditionError (already in that state)."""
        ...

    def list_quarantined(self, submitter_row: int = 0) -> list[QuarantineRecord]:
        """Quarantined signals (of one submitter), oldest first."""
        ...

    def acknowledge(self, signal_id: int, member_row: int, outcome: str, event: SafeguardEvent) -> int:
        """Record a recipient's acknowledgement of a retraction for redress (the signed event in the same
        transaction); its seq. FailedPreconditionError: not retracted for redress, never received by the member,
        or acknowledged already."""
        ...

    def redress_items(self, member_row: int = 0, pending_only: bool = False) -> list[RedressRecord]:
        """Recipients of retractions for redress and their acknowledgements (one member's, or every one)."""
        ...

    def submitter_quality(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[int, int]]:
        """For each (submitter, category), the number of members' current verdicts on its stored signals of
        that category, by verdict."""
        ...

    def record_received(self, deliveries: Sequence[tuple[int, int, str]], at: int) -> None:
        """Record first deliveries: (member row, signal id, via: pull, subscribe or lookup), in one transaction;
        a member's later deliveries of the same signal change nothing."""
        ...

    # events
    def submit(self, items: Sequence[NewSignal]) -> list[SubmitOutcome]:
        """Store a batch of verified submissions in one transaction, each as a SUBMIT event (or its
        outcome without one: a duplicate, a revival of a retracted or expired signal, a refusal), in order."""
        ...

    def get_signal(self, signal_id: int) -> SignalRecord | None:
        """The signal with this id (any status), or None."""
        ...

    def retract(
        self,
        signal_id: int,
        member_row: int,
        envelope: bytes,
        at: int,
        by_operator: bool = False,
        redress: bool = False,
    ) -> int:
        """Mark a signal retracted (by its submitter, or by an operator for redress) and record the RETRACT event
        in one transaction; its seq. Raises NotFoundError (no such signal) or FailedPreconditionError (already
        retracted). Who may retract what is the policy engine's decision, made before. ``redress``: a retraction
        for redress, which every member that received the signal is asked to acknowledge."""
        ...

    def feedback(
        self, signal_id: int, member_row: int, verdict: int, envelope: bytes, at: int, quarantine_after: int = 0
    ) -> FeedbackOutcome:
        """Make ``verdict`` the member's current verdict on an active signal, recording the FEEDBACK event in the
        same transaction; the same verdict again records nothing. With ``quarantine_after``, a false_positive that
        makes that many members' current verdict quarantines the signal in the same transaction. Raises
        NotFoundError (no active signal) or FailedPreconditionError (retracted)."""
        ...

    def events_after(self, seq: int, limit: int, flt: EventFilter) -> tuple[list[EventRecord], int]:
        """Visible events after ``seq`` (at most ``limit``) as ``flt`` admits them, and the cursor
        to resume from (past invisible events too, so a reader never re-reads what it may not see)."""
        ...

    def live_events(self, seq: int, limit: int) -> list[LiveEvent]:
        """Every event after ``seq`` (at most ``limit``, in order, admin events included) with what
        ``EventFilter.admits`` needs: the live fan-out reads each commit once for every stream."""
        ...

    def watch_commits(self, on_commit: Callable[[int], None]) -> Callable[[], None]:
        """Call ``on_commit(seq)`` when another process commits events (PostgreSQL replicas); returns a
        function that stops watching. A store one process owns watches nothing."""
        ...

    def max_seq(self) -> int:
        """The seq of the newest event (0 for an empty exchange)."""
        ...

    def lookup(self, type_: int, values: Sequence[bytes], now: int, flt: EventFilter) -> list[MatchRecord]:
        """Active signals of ``type_`` whose value is one of ``values`` and that ``flt`` lets the reader see
        (decided in the query: a value the reader may not see costs what an absent one costs)."""
        ...

    def lookup_pdq(
        self, values: Sequence[bytes], max_distance: int, now: int, flt: EventFilter
    ) -> list[list[MatchRecord]]:
        """For each PDQ hash, the active PDQ signals ``flt`` admits within ``max_distance`` bits, nearest first."""
        ...

    def purge_expired(self, now: int) -> int:
        """Delete expired signals, their feedback and their envelopes (the log keeps their leaves);
        how many signals."""
        ...

    # the signature log (entry i is event seq i + 1)
    def log_size(self) -> int:
        """The number of entries in the signature log."""
        ...

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree of 2**level leaves starting at leaf ``index * 2**level``.
        Raises NotFoundError if the log does not yet hold that subtree."""
        ...

    def log_entries(self, start: int, end: int) -> list[tuple[int, bytes, bytes | None]]:
        """(index, leaf record, envelope or None if purged) for indices [start, end)."""
        ...

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The newest saved checkpoint (size, signed note), from whichever process signed it."""
        ...

    def save_checkpoint(self, size: int, note: str, at: int) -> None:
        """Keep a signed checkpoint (the first one saved for a size wins)."""
        ...
