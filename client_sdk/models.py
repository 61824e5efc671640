"""The SDK's public data types. Plain dataclasses: never raw protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from client_sdk.log_entry import LogEntry
from client_sdk.normalise import normalise
from client_sdk.positions import log_index
from client_sdk.vocab import EVENT_KIND_CODES, MEDIA_TYPES, TYPE_CODES, canonical_type
from client_sdk.wire import signals_pb2


@dataclass(frozen=True, slots=True)
class Identifier:
    """A raw identifier as a member platform knows it. It never leaves the process.

    ``type`` is a name of :data:`client_sdk.vocab.TYPES` (``EMAIL`` and ``SIGNAL_TYPE_EMAIL`` are
    accepted and stored as ``email``: the type is part of every pseudonym, so it is canonical from
    the start; anything else raises InvalidIdentifierError). ``provider`` qualifies payment handles
    (cashapp, paypal, venmo, …), ``platform`` qualifies usernames, ``region`` lets a phone number
    omit its ``+``.
    """

    type: str
    value: str
    provider: str | None = None
    platform: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", canonical_type(self.type))

    @property
    def code(self) -> signals_pb2.SignalType:
        """The wire ``SignalType`` value."""
        return TYPE_CODES[self.type]

    @property
    def qualifier(self) -> str | None:
        return self.provider or self.platform or self.region

    def normalised(self) -> str:
        """The canonical form (raises InvalidIdentifierError naming the type and reason)."""
        return normalise(self.type, self.value, self.qualifier)

    @property
    def is_media(self) -> bool:
        return self.type in MEDIA_TYPES

    @classmethod
    def from_image(cls, path: str | Path) -> Identifier:
        """The ``media_pdq`` identifier of an image file (client_sdk.member.media's pipeline: Pillow, 512 px, RGB,
        PDQ). Raises MediaError for a file that is not a readable image, MediaSupportError without the media extra."""
        from client_sdk.member.media import pdq

        return cls("media_pdq", pdq(path).hex)

    @classmethod
    def from_file(cls, path: str | Path) -> Identifier:
        """The ``media_md5`` identifier of a file's bytes. Raises MediaError if it cannot be read."""
        from client_sdk.member.media import md5_file

        return cls("media_md5", md5_file(path).hex())


@dataclass(frozen=True, slots=True)
class Signal:
    """What a member submits: an identifier seen in abuse of ``category``."""

    identifier: Identifier
    category: str
    audience: str | None = None  # group name; None: every member
    confidence: int = 100
    expires_at: int | None = None  # unix seconds; None: the category's maximum
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The exchange's answer for one submitted signal."""

    status: str  # accepted, duplicate, rejected
    seq: int = 0
    signal_id: int = 0
    reason: str = ""  # what was wrong, for a rejection
    code: str = ""  # gRPC status name of a rejection
    tag: str = ""  # machine-readable reason tag
    log_index: int | None = None  # receipt: position in the signature log (accepted only)
    envelope_sha256: bytes = b""  # what that log entry must commit to

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted retraction or feedback: its seq and its signature-log receipt."""

    seq: int
    log_index: int
    envelope_sha256: bytes  # what the log entry commits to (empty when ``unchanged``)
    unchanged: bool = False  # feedback: this verdict was already the member's current one; nothing recorded


@dataclass(frozen=True, slots=True)
class SharedSignal:
    """A signal as pulled: verified, with its pseudonymised value."""

    signal_id: int
    submitter: str
    type: str
    value: bytes
    category: str
    qualifier: str
    audience: str
    confidence: int
    created_at: int
    expires_at: int
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """One event from Pull or Subscribe, verified against the member directory."""

    seq: int
    kind: str  # submit, retract, feedback
    signal_id: int
    submitter: str
    key_id: str
    received_at: int
    cursor: str  # resume after this event
    signal: SharedSignal | None = None  # for submit events
    reason: str = ""  # for retract events
    reason_code: str = ""  # for retract events: appeal_upheld, wrong_person, false_positive, superseded, other
    verdict: str = ""  # for feedback events
    envelope: bytes = b""  # the verbatim signed envelope
    expires_at: int = 0  # the expiry its signature-log leaf records (when retention may purge it; 0: never)
    warninglists: tuple[str, ...] = ()  # warninglists naming the signal's value (mode inform): weigh it accordingly
    quarantine: str = ""  # why the signal is quarantined (it matches nothing until released); "": it is not

    @property
    def log_index(self) -> int:
        """Its entry in the signature log."""
        return log_index(self.seq)

    def leaf(self) -> bytes:
        """The signature-log leaf record the exchange must have written for this event (docs/log-format.md)."""
        return LogEntry.for_envelope(
            self.log_index,
            EVENT_KIND_CODES[self.kind],
            self.received_at,
            self.expires_at,
            self.submitter,
            self.key_id,
            self.envelope,
        ).encode()


@dataclass(frozen=True, slots=True)
class Match:
    """An active signal that matched a look-up."""

    signal_id: int
    submitter: str
    type: str
    category: str
    qualifier: str
    confidence: int
    first_seen: int
    last_seen: int
    expires_at: int
    feedback: dict[str, int] = field(default_factory=dict)
    distance: int = 0
    warninglists: tuple[str, ...] = ()  # warninglists naming the value (mode inform)
    #: How the submitter's signals of this category have fared: members' current verdicts (confirmed, actioned,
    #: false_positive, not_found), to weigh the signal by its submitter's record.
    submitter_quality: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The matches for one looked-up identifier or media hash."""

    query: Identifier | bytes
    matches: list[Match]

    @property
    def found(self) -> bool:
        return bool(self.matches)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A quarantined signal: it matches nothing until its submitter or an operator releases it."""

    signal_id: int
    submitter: str
    reason: str  # false_positive, match_flood, operator, warninglist:NAME
    since: int
    seq: int  # the event that quarantined it


@dataclass(frozen=True, slots=True)
class RedressItem:
    """A signal retracted for redress that a member received, and whether it acknowledged it."""

    signal_id: int
    member: str
    received_via: str  # pull, subscribe, lookup
    retracted_at: int
    outcome: str  # "" until acknowledged: no_action, action_taken, action_reversed
    acknowledged_at: int
    retract_seq: int


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member of the programme, as the directory lists it."""

    member_id: str
    display_name: str
    role: str
    status: str
    groups: tuple[str, ...] = ()
    kind: str = ""  # platform, payment_provider, ngo, hotline, government, … (the charter's rules follow it)
