"""Opening signed envelopes on receipt: parse the wrapper, find the signer's key, verify, parse the body.

Shared by every service that accepts events (signals, retractions, feedback,
admin changes), so each check and its status is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

from google.protobuf.message import Message

from client_sdk import keys
from client_sdk.envelope import EnvelopeError, OpenedEnvelope, open_envelope
from client_sdk.keys import NEXT_EVENT
from exchange.config import Settings
from exchange.errors import InvalidArgumentError, PermissionDeniedError, UnauthenticatedError, quoted
from exchange.identity import Caller
from exchange.store.base import KeyRecord, Store

Clock = Callable[[], float]


class EnvelopeOpener:
    """Authenticates envelopes against the directory."""

    def __init__(self, store: Store, settings: Settings, clock: Clock, pool: Executor | None = None) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._pool = pool

    def authenticate(
        self, caller: Caller, raw: bytes, payload_type: str, now: int, key_cache: dict[str, KeyRecord | None]
    ) -> tuple[OpenedEnvelope, KeyRecord]:
        """Open an envelope's wrapper and find the caller's key that signed it (signature not yet checked)."""
        try:
            opened = open_envelope(raw)
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
            raise UnauthenticatedError(f"unknown signing key {quoted(opened.key_id)}", reason="unknown_key")
        if key.member_id != caller.member_id:
            raise PermissionDeniedError(
                f"key {key.key_id} belongs to another member, not {caller.member_id}", reason="not_your_key"
            )
        if key.revoked_at is not None and now >= key.revoked_at:
            raise UnauthenticatedError(f"signing key {key.key_id} is revoked", reason="key_revoked")
        if not key.admits(NEXT_EVENT, now):
            raise UnauthenticatedError(f"signing key {key.key_id} is not valid now", reason="key_not_valid")
        return opened, key

    def verify_many(self, items: list[tuple[OpenedEnvelope, KeyRecord]]) -> list[bool]:
        """Check signatures on the verification pool."""
        return keys.verify_many([(k.public_key, op.signed_message(), op.signature) for op, k in items], self._pool)

    def parse_body(self, caller: Caller, opened: OpenedEnvelope, now: int) -> Message:
        """Parse a verified body; its submitter must be the caller and its time plausible."""
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

    def open_one(self, caller: Caller, raw: bytes, payload_type: str) -> tuple[Message, int]:
        """Authenticate, verify and parse a single envelope; returns (body, receipt time)."""
        now = int(self._clock())
        opened, key = self.authenticate(caller, raw, payload_type, now, {})
        if not keys.verify(key.public_key, opened.signed_message(), opened.signature):
            raise bad_signature(key)
        return self.parse_body(caller, opened, now), now


def bad_signature(key: KeyRecord) -> UnauthenticatedError:
    return UnauthenticatedError(f"signature does not verify under key {key.key_id}", reason="bad_signature")
