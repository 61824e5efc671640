"""The member's safeguard calls: release a quarantined signal, list quarantines, answer redress."""

from __future__ import annotations

import hashlib
import time

from client_sdk import envelope as env
from client_sdk.client.connection import Connection
from client_sdk.models import Accepted, Quarantined, RedressItem
from client_sdk.wire import safeguards_pb2, safeguards_pb2_grpc, signals_pb2


class Safeguarding(Connection):
    """``release``, ``quarantined``, ``acknowledge`` and ``redress`` (the Safeguards service)."""

    @property
    def _safeguards(self) -> safeguards_pb2_grpc.SafeguardsStub:
        return safeguards_pb2_grpc.SafeguardsStub(self._channel)

    def _signed(self, **action: object) -> bytes:
        body = signals_pb2.SafeguardBody(submitter=self.member_id, created_at=int(time.time()), **action)  # type: ignore[arg-type]
        return env.seal_body(body, self.credentials.signing_key)

    def release(self, signal_id: int, reason: str = "") -> Accepted:
        """Release one of this member's quarantined signals (a signed event in the log): it matches again."""
        sealed = self._signed(release=signals_pb2.Release(signal_id=signal_id, reason=reason))
        resp = self._call(self._safeguards.Release, safeguards_pb2.SafeguardRequest(envelope=sealed), idempotent=False)
        return Accepted(resp.seq, resp.log_index, hashlib.sha256(sealed).digest())

    def acknowledge(self, signal_id: int, outcome: str) -> Accepted:
        """Acknowledge a retraction for redress of a signal this member received (a signed event in the log):
        ``outcome`` says what had been done on it: no_action, action_taken, action_reversed."""
        sealed = self._signed(acknowledge=signals_pb2.Acknowledge(signal_id=signal_id, outcome=outcome))
        resp = self._call(
            self._safeguards.Acknowledge, safeguards_pb2.SafeguardRequest(envelope=sealed), idempotent=False
        )
        return Accepted(resp.seq, resp.log_index, hashlib.sha256(sealed).digest())

    def redress(self, pending_only: bool = False) -> list[RedressItem]:
        """Retractions for redress of signals this member received (an operator: every recipient's), with the
        acknowledgement given (``outcome`` empty: pending)."""
        resp = self._call(self._safeguards.ListRedress, safeguards_pb2.ListRedressRequest(pending_only=pending_only))
        return [
            RedressItem(
                r.signal_id, r.member, r.received_via, r.retracted_at, r.outcome, r.acknowledged_at, r.retract_seq
            )
            for r in resp.items
        ]

    def quarantined(self) -> list[Quarantined]:
        """This member's quarantined signals (they match nothing until released), with why and since when."""
        resp = self._call(self._safeguards.ListQuarantined, safeguards_pb2.ListQuarantinedRequest())
        return [Quarantined(q.signal_id, q.submitter, q.reason, q.since, q.seq) for q in resp.signals]
