"""Accepting events: open, authenticate, verify, validate, store.

One bad envelope never fails its neighbours: each item gets its own result,
and only items that pass every check reach the store, in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from google.protobuf.message import Message

from client_sdk import keys
from client_sdk._wire import signals_pb2
from client_sdk.envelope import PAYLOAD_FEEDBACK, PAYLOAD_RETRACT, PAYLOAD_SIGNAL, EnvelopeError, OpenedEnvelope
from client_sdk.envelope import open_envelope as _open_wrapper
from exchange.config import Settings
from exchange.errors import (
    BatchTooLargeError,
    ExchangeError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from exchange.events import EventBus
from exchange.identity import Caller
from exchange.oprf_key import OprfKeyring
from exchange.store.base import KeyRecord, NewSignal, Store

Clock = Callable[[], float]

# wire SignalType -> expected value length in bytes
VALUE_BYTES = {1: 32, 2: 32, 3: 32, 4: 32, 5: 32, 6: 32, 7: 32, 8: 16, 9: 32}
MEDIA_TYPES = frozenset({8, 9})
QUALIFIED_TYPES = frozenset({3, 4})
MAX_LABELS = 16
MAX_LABEL_CHARS = 64
_QUALIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one submitted envelope."""

    status: str  # accepted, duplicate, rejected
    seq: int = 0
    signal_id: int = 0
    error: ExchangeError | None = None


class IngestService:
    """Submit, Retract and Feedback."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        keyring: OprfKeyring,
        bus: EventBus,
        clock: Clock,
        verify_pool: Executor | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._keyring = keyring
        self._bus = bus
        self._clock = clock
        self._pool = verify_pool

    # -- shared steps -----------------------------------------------------

    def _authenticate(
        self, caller: Caller, raw: bytes, payload_type: str, now: int, key_cache: dict[str, KeyRecord | None]
    ) -> tuple[OpenedEnvelope, KeyRecord]:
        """Open an envelope's wrapper and find the caller's key that signed it (signature not yet checked)."""
        try:
            opened = _open_wrapper(raw)
        except EnvelopeError as exc:
            raise InvalidArgumentError(str(exc), reason=exc.reason) from None
        if opened.payload_type != payload_type:
            raise InvalidArgumentError(
                f"payload type {opened.payload_type!r} where {payload_type!r} was expected", reason="payload_type"
            )
        if opened.key_id not in key_cache:
            key_cache[opened.key_id] = self._store.get_signing_key(opened.key_id)
        key = key_cache[opened.key_id]
        if key is None:
            raise UnauthenticatedError(f"unknown signing key {opened.key_id!r}", reason="unknown_key")
        if key.member_id != caller.member_id:
            raise PermissionDeniedError(
                f"key {key.key_id} belongs to another member, not {caller.member_id}", reason="not_your_key"
            )
        if key.revoked_at is not None and now >= key.revoked_at:
            raise UnauthenticatedError(f"signing key {key.key_id} is revoked", reason="key_revoked")
        if not key.valid_at(now):
            raise UnauthenticatedError(f"signing key {key.key_id} is not valid now", reason="key_not_valid")
        return opened, key

    def _parse_body(self, caller: Caller, opened: OpenedEnvelope, now: int) -> Message:
        try:
            body = opened.body()
        except EnvelopeError as exc:
            raise InvalidArgumentError(str(exc), reason=exc.reason) from None
        submitter = body.submitter  # type: ignore[attr-defined]
        if submitter != caller.member_id:
            raise PermissionDeniedError(
                f"body names submitter {submitter!r} but the caller is {caller.member_id!r}",
                reason="submitter_mismatch",
            )
        created = body.created_at  # type: ignore[attr-defined]
        if created <= 0:
            raise InvalidArgumentError("created_at is missing", reason="created_at")
        if created > now + self._settings.max_clock_skew:
            raise InvalidArgumentError("created_at is in the future", reason="clock_skew")
        return body

    def _open_one(self, caller: Caller, raw: bytes, payload_type: str) -> tuple[Message, int]:
        now = int(self._clock())
        opened, key = self._authenticate(caller, raw, payload_type, now, {})
        if not keys.verify(key.public_key, opened.signed_message(), opened.signature):
            _bad_signature(key)
        return self._parse_body(caller, opened, now), now

    # -- Submit -------------------------------------------------------------

    def submit(self, caller: Caller, envelopes: Sequence[bytes]) -> list[ItemResult]:
        """Accept a batch; one result per envelope, in order."""
        if len(envelopes) > self._settings.max_batch:
            raise BatchTooLargeError(
                f"batch of {len(envelopes)} envelopes exceeds the maximum of {self._settings.max_batch}"
            )
        now = int(self._clock())
        results: list[ItemResult | None] = [None] * len(envelopes)
        pending: list[tuple[int, OpenedEnvelope, KeyRecord]] = []
        key_cache: dict[str, KeyRecord | None] = {}
        for i, raw in enumerate(envelopes):
            try:
                opened, key = self._authenticate(caller, raw, PAYLOAD_SIGNAL, now, key_cache)
            except ExchangeError as exc:
                results[i] = ItemResult("rejected", error=exc)
                continue
            pending.append((i, opened, key))
        verdicts = keys.verify_many(
            [(key.public_key, opened.signed_message(), opened.signature) for _, opened, key in pending], self._pool
        )
        categories = self._store.categories()
        accepted: list[tuple[int, NewSignal]] = []
        for (i, opened, key), ok in zip(pending, verdicts, strict=True):
            try:
                if not ok:
                    _bad_signature(key)
                body = self._parse_body(caller, opened, now)
                accepted.append((i, self._validate_signal(caller, body, envelopes[i], now, categories)))  # type: ignore[arg-type]
            except ExchangeError as exc:
                results[i] = ItemResult("rejected", error=exc)
        outcomes = self._store.submit([item for _, item in accepted])
        newest = 0
        for (i, _), outcome in zip(accepted, outcomes, strict=True):
            results[i] = ItemResult("duplicate" if outcome.duplicate else "accepted", outcome.seq, outcome.signal_id)
            if not outcome.duplicate:
                newest = max(newest, outcome.seq)
        if newest:
            self._bus.publish(newest)
        return [r for r in results if r is not None]

    def _validate_signal(
        self, caller: Caller, body: signals_pb2.SignalBody, raw: bytes, now: int, categories: dict
    ) -> NewSignal:
        type_ = body.type
        if type_ not in VALUE_BYTES:
            raise InvalidArgumentError(f"unknown signal type {type_}", reason="unknown_type")
        if len(body.value) != VALUE_BYTES[type_]:
            raise InvalidArgumentError(
                f"value must be {VALUE_BYTES[type_]} bytes for this type, got {len(body.value)}", reason="bad_value"
            )
        category = categories.get(body.category)
        if category is None:
            raise InvalidArgumentError(f"unknown category {body.category!r}", reason="unknown_category")
        limit = now + category.retention_days * 86400
        expires = body.expires_at or limit
        if expires > limit:
            raise InvalidArgumentError(
                f"expires_at is beyond the {category.retention_days}-day retention maximum of {category.name}",
                reason="expiry_beyond_retention",
            )
        if expires <= now:
            raise InvalidArgumentError("expires_at is in the past", reason="already_expired")
        if body.confidence > 100:
            raise InvalidArgumentError("confidence must be 0..100", reason="confidence")
        if len(body.labels) > MAX_LABELS or any(
            len(label) > MAX_LABEL_CHARS or not label.isprintable() for label in body.labels
        ):
            raise InvalidArgumentError(
                f"at most {MAX_LABELS} printable labels of up to {MAX_LABEL_CHARS} characters", reason="labels"
            )
        qualifier = body.qualifier or None
        if type_ in QUALIFIED_TYPES:
            if qualifier is None or not _QUALIFIER.fullmatch(qualifier):
                raise InvalidArgumentError(
                    "qualifier (platform or provider) is missing or malformed", reason="qualifier"
                )
        elif qualifier is not None:
            raise InvalidArgumentError("only usernames and payment handles carry a qualifier", reason="qualifier")
        if type_ in MEDIA_TYPES:
            if body.oprf_epoch:
                raise InvalidArgumentError("media hashes carry no pseudonymiser epoch", reason="unknown_epoch")
        elif not self._keyring.has_epoch(body.oprf_epoch):
            raise InvalidArgumentError(f"unknown pseudonymiser epoch {body.oprf_epoch}", reason="unknown_epoch")
        audience = None
        if body.audience:
            audience = self._store.group_id(body.audience)
            if audience is None:
                raise InvalidArgumentError(f"unknown audience group {body.audience!r}", reason="unknown_group")
        return NewSignal(
            submitter=caller.row,
            type=type_,
            value=body.value,
            category=category.row,
            qualifier=qualifier,
            audience=audience,
            confidence=body.confidence,
            expires_at=expires,
            envelope=raw,
            received_at=now,
        )

    # -- Retract and Feedback ----------------------------------------------

    def retract(self, caller: Caller, envelope: bytes) -> int:
        """Retract the caller's own signal; returns the event's seq."""
        body, now = self._open_one(caller, envelope, PAYLOAD_RETRACT)
        if len(body.reason) > 256:  # type: ignore[attr-defined]
            raise InvalidArgumentError("reason is longer than 256 characters", reason="reason_too_long")
        seq = self._store.retract(body.signal_id, caller.row, envelope, now)  # type: ignore[attr-defined]
        self._bus.publish(seq)
        return seq

    def feedback(self, caller: Caller, envelope: bytes, visible: Callable[[int], bool]) -> int:
        """Record the caller's verdict on another member's signal; returns the event's seq."""
        body, now = self._open_one(caller, envelope, PAYLOAD_FEEDBACK)
        verdict = body.verdict  # type: ignore[attr-defined]
        if not 1 <= verdict <= 5:
            raise InvalidArgumentError(f"unknown verdict {verdict}", reason="unknown_verdict")
        if not visible(body.signal_id):  # type: ignore[attr-defined]
            raise NotFoundError(f"no active signal {body.signal_id}", reason="signal_not_found")  # type: ignore[attr-defined]
        seq = self._store.feedback(body.signal_id, caller.row, verdict, envelope, now)  # type: ignore[attr-defined]
        self._bus.publish(seq)
        return seq


def _bad_signature(key: KeyRecord) -> None:
    raise UnauthenticatedError(f"signature does not verify under key {key.key_id}", reason="bad_signature")
