"""Accepting events: open, authenticate, verify, validate, store.

One bad envelope never fails its neighbours: each item gets its own result,
and only items that pass every check reach the store, in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from client_sdk.envelope import PAYLOAD_FEEDBACK, PAYLOAD_RETRACT, PAYLOAD_SIGNAL, OpenedEnvelope
from client_sdk.vocab import (
    MEDIA_CODES,
    QUALIFIED_CODES,
    REDRESS_REASON_CODES,
    RETRACT_REASON_CODES,
    VALUE_BYTES,
    VERDICT_NAMES,
)
from client_sdk.wire import signals_pb2
from exchange.config import Settings
from exchange.errors import (
    BatchTooLargeError,
    ExchangeError,
    FailedPreconditionError,
    InvalidArgumentError,
    UnavailableError,
    quoted,
)
from exchange.identity import Caller
from exchange.live.wakeups import WakeupBus
from exchange.pki.oprf_keyring import OprfKeyring
from exchange.policy.engine import SUBMIT_STREAM, PolicyEngine
from exchange.safeguards.service import Safeguards
from exchange.services.envelopes import EnvelopeOpener, bad_signature
from exchange.store.base import MAX_ID, FeedbackOutcome, KeyRecord, NewSignal, SignalRecord, Store

Clock = Callable[[], float]

MAX_LABELS = 16
MAX_LABEL_CHARS = 64
MAX_REASON = 256
_QUALIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one submitted envelope."""

    status: str  # accepted, duplicate, rejected
    seq: int = 0
    signal_id: int = 0
    error: ExchangeError | None = None


def _rejected(exc: ExchangeError) -> ItemResult:
    """One envelope's rejection. An unavailable store is not about the envelope: it fails the whole
    batch (UNAVAILABLE, which clients retry) instead of turning into a final per-item answer."""
    if isinstance(exc, UnavailableError):
        raise exc
    return ItemResult("rejected", error=exc)


class IngestService:
    """Submit, Retract and Feedback."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        keyring: OprfKeyring,
        bus: WakeupBus,
        clock: Clock,
        policy: PolicyEngine,
        opener: EnvelopeOpener,
        safeguards: Safeguards,
    ) -> None:
        self._store = store
        self._settings = settings
        self._keyring = keyring
        self._bus = bus
        self._clock = clock
        self._policy = policy
        self._opener = opener
        self._safeguards = safeguards

    # -- Submit -------------------------------------------------------------

    def submit(self, caller: Caller, envelopes: Sequence[bytes]) -> list[ItemResult]:
        """Accept a batch; one result per envelope, in order."""
        if len(envelopes) > self._settings.max_batch:
            raise BatchTooLargeError(
                f"batch of {len(envelopes)} envelopes exceeds the maximum of {self._settings.max_batch}"
            )
        with self._policy.charged(caller, "submits_per_minute", len(envelopes)):
            return self._submit(caller, envelopes)

    def _submit(self, caller: Caller, envelopes: Sequence[bytes]) -> list[ItemResult]:
        now = int(self._clock())
        results: list[ItemResult | None] = [None] * len(envelopes)
        pending: list[tuple[int, OpenedEnvelope, KeyRecord]] = []
        key_cache: dict[str, KeyRecord | None] = {}
        for i, raw in enumerate(envelopes):
            try:
                opened, key = self._opener.authenticate(caller, raw, PAYLOAD_SIGNAL, now, key_cache)
            except ExchangeError as exc:
                results[i] = _rejected(exc)
                continue
            pending.append((i, opened, key))
        verdicts = self._opener.verify_many([(opened, key) for _, opened, key in pending])
        categories = self._store.categories()
        accepted: list[tuple[int, NewSignal]] = []
        for (i, opened, key), ok in zip(pending, verdicts, strict=True):
            try:
                if not ok:
                    raise bad_signature(key)
                body = self._opener.parse_body(caller, opened, now)
                accepted.append((i, self._validate_signal(caller, body, envelopes[i], now, categories)))  # type: ignore[arg-type]
            except ExchangeError as exc:
                results[i] = _rejected(exc)
        blocked = self._safeguards.blocked([item for _, item in accepted])
        for j in sorted(blocked, reverse=True):
            results[accepted[j][0]] = _rejected(blocked[j])
            del accepted[j]
        outcomes = self._store.submit([item for _, item in accepted])
        newest = 0
        for (i, _), outcome in zip(accepted, outcomes, strict=True):
            if outcome.status == "refused":
                results[i] = _rejected(
                    FailedPreconditionError(
                        f"signal {outcome.signal_id} was retracted by an operator for redress: it cannot be submitted"
                        " again",
                        reason="retracted_for_redress",
                    )
                )
                continue
            results[i] = ItemResult(outcome.status, outcome.seq, outcome.signal_id)
            if outcome.status == "accepted":
                newest = max(newest, outcome.seq)
        if newest:
            self._bus.publish(newest)
        return [r for r in results if r is not None]

    def submit_stream(self, caller: Caller, batches: Iterable[Sequence[bytes]]) -> Iterator[list[ItemResult]]:
        """``submit`` for each batch of a stream; the caller is admitted again before each one after the
        first, so a member suspended or whose certificate was revoked since cannot go on submitting."""
        for i, envelopes in enumerate(batches):
            if i:
                caller = self._policy.readmit(caller, SUBMIT_STREAM)
            yield self.submit(caller, envelopes)

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
            raise InvalidArgumentError(f"unknown category {quoted(body.category)}", reason="unknown_category")
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
        if type_ in QUALIFIED_CODES:
            if qualifier is None or not _QUALIFIER.fullmatch(qualifier):
                raise InvalidArgumentError(
                    "qualifier (platform or provider) is missing or malformed", reason="qualifier"
                )
        elif qualifier is not None:
            raise InvalidArgumentError("only usernames and payment handles carry a qualifier", reason="qualifier")
        if type_ in MEDIA_CODES:
            if body.oprf_epoch:
                raise InvalidArgumentError("media hashes carry no pseudonymiser epoch", reason="unknown_epoch")
        elif not self._keyring.has_epoch(body.oprf_epoch):
            raise InvalidArgumentError(f"unknown pseudonymiser epoch {body.oprf_epoch}", reason="unknown_epoch")
        audience = self._policy.check_submit(caller, type_, category.name, body.audience)
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

    def _signal(self, signal_id: int) -> SignalRecord | None:
        """The stored signal with this id (ids beyond what a database holds exist nowhere)."""
        return self._store.get_signal(signal_id) if 0 < signal_id <= MAX_ID else None

    def retract(self, caller: Caller, envelope: bytes) -> int:
        """Retract a signal (a member its own, an operator any, with a reason); returns the event's seq."""
        body: Any
        body, now = self._opener.open_one(caller, envelope, PAYLOAD_RETRACT)
        if len(body.reason) > MAX_REASON:
            raise InvalidArgumentError(f"reason is longer than {MAX_REASON} characters", reason="reason_too_long")
        if body.reason_code and body.reason_code not in RETRACT_REASON_CODES:
            raise InvalidArgumentError(
                f"reason_code {quoted(body.reason_code)} is not one of {', '.join(RETRACT_REASON_CODES)}",
                reason="bad_reason_code",
            )
        self._policy.check_retract(caller, body.signal_id, self._signal(body.signal_id), body.reason)
        by_operator = caller.role == "operator"
        redress = by_operator or body.reason_code in REDRESS_REASON_CODES
        if redress:
            self._safeguards.live_deliveries.flush()  # every recipient known before it is asked to acknowledge
        seq = self._store.retract(body.signal_id, caller.row, envelope, now, by_operator=by_operator, redress=redress)
        self._bus.publish(seq)
        return seq

    def feedback(self, caller: Caller, envelope: bytes) -> FeedbackOutcome:
        """Record the caller's verdict on another member's signal. Each member has one current verdict per
        signal: the same verdict again records nothing (``changed`` is False, ``seq`` the event that set it)."""
        body: Any
        body, now = self._opener.open_one(caller, envelope, PAYLOAD_FEEDBACK)
        if body.verdict not in VERDICT_NAMES:
            raise InvalidArgumentError(f"unknown verdict {body.verdict}", reason="unknown_verdict")
        with self._policy.charged(caller, "feedback_per_day", 1):
            self._policy.check_feedback(caller, body.signal_id, self._signal(body.signal_id), now)
            threshold = self._policy.document()[1].defaults.quarantine_false_positives
            outcome = self._store.feedback(body.signal_id, caller.row, body.verdict, envelope, now, threshold)
        if outcome.changed:
            self._bus.publish(outcome.seq)
        return outcome
