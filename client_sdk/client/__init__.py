"""``ExchangeClient``: normalise, pseudonymise, sign, push, pull and look up.

One method per RPC, plain dataclasses in and out, and one private ``_call``
that turns ``grpc.RpcError`` into the SDK's error tree.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from operator import attrgetter
from pathlib import Path

import grpc

from client_sdk import envelope as env
from client_sdk.client.connection import BATCH, DEFAULT_RETRY, Connection, RetryNotice, RetryPolicy, open_channel
from client_sdk.client.log_checks import _Directory
from client_sdk.client.pseudonymising import oprf_input
from client_sdk.client.pulling import Pulling
from client_sdk.client.safeguarding import Safeguarding
from client_sdk.client.submitting import Submitting
from client_sdk.credentials import Credentials
from client_sdk.errors import InvalidArgumentError
from client_sdk.models import (
    Accepted,
    Identifier,
    LookupResult,
    Match,
    MemberInfo,
)
from client_sdk.transparency import (
    CheckpointTracker,
    LogPin,
)
from client_sdk.vocab import (
    TYPE_CODES,
    VERDICT_CODES,
    VERDICTS,
    canonical_type,
    canonical_verdict,
    type_name,
)
from client_sdk.wire import (
    directory_pb2,
    exchange_pb2,
    signals_pb2,
)

__all__ = ["BATCH", "Connection", "ExchangeClient", "RetryPolicy", "open_channel", "oprf_input"]


class ExchangeClient(Submitting, Pulling, Safeguarding):
    """A member's connection to the exchange. Use as a context manager."""

    def __init__(
        self,
        channel: grpc.Channel,
        credentials: Credentials,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        on_retry: RetryNotice | None = None,
        address: str = "",
    ) -> None:
        super().__init__(channel, credentials, timeout=timeout, retry=retry, on_retry=on_retry, address=address)
        pin = LogPin(credentials.log_public_key, credentials.log_origin, credentials.log_key_name)
        self._checkpoints = CheckpointTracker(pin, self._consistency)
        self._directory = _Directory(self._fetch_keys, self._checkpoints)

    @classmethod
    def connect(
        cls,
        address: str | None = None,
        credentials: str | Path | Credentials = "",
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        on_retry: RetryNotice | None = None,
    ) -> ExchangeClient:
        """Open a mutual-TLS channel to ``address`` (default: the one in the credentials).

        ``address`` may list replicas (``ipv4:127.0.0.1:7443,127.0.0.1:7444``): calls are spread
        round-robin and fail over. ``retry=None`` turns retries off; ``RetryPolicy(deadline=30)`` bounds the
        time one call spends retrying; ``on_retry`` is told once per call when the exchange cannot be reached.
        """
        creds = credentials if isinstance(credentials, Credentials) else Credentials.load(credentials)
        target = address or creds.address
        return cls(open_channel(target, creds), creds, timeout=timeout, retry=retry, on_retry=on_retry, address=target)

    def lookup(
        self, queries: Sequence[Identifier | tuple[str, bytes]], *, max_distance: int | None = None
    ) -> list[LookupResult]:
        """Active visible signals matching each identifier (pseudonymised first) or (type, value) pair.

        More than ``BATCH`` queries go as calls of ``BATCH``, two in flight at a time (the exchange answers
        one while this process reads the other's matches)."""
        idents = [q for q in queries if isinstance(q, Identifier)]
        values = iter(self._values(idents))
        codes: dict[str, int] = {}

        def requests() -> Iterator[exchange_pb2.LookupRequest]:
            for start in range(0, len(queries), BATCH):
                request = exchange_pb2.LookupRequest()
                if max_distance is not None:
                    request.max_distance = max_distance
                add = request.queries.add
                for q in queries[start : start + BATCH]:
                    if isinstance(q, Identifier):
                        add(type=q.code, value=next(values))
                    else:
                        code = codes.get(q[0])
                        if code is None:
                            code = codes[q[0]] = TYPE_CODES[canonical_type(q[0])]
                        add(type=code, value=q[1])
                yield request

        out: list[LookupResult] = []
        starts = range(0, len(queries), BATCH)
        call = 0
        try:
            for resp in self._pipelined(self._exchange.Lookup, requests()):
                start = starts[call]
                for q, result in zip(queries[start : start + BATCH], resp.results, strict=True):
                    ms = result.matches
                    matches = [_match(m) for m in ms] if ms else []
                    out.append(LookupResult(q if isinstance(q, Identifier) else q[1], matches))
                call += 1
        except InvalidArgumentError as exc:  # the exchange counts queries within its call: count the caller's
            raise InvalidArgumentError(
                _QUERY_INDEX.sub(lambda m: f"query {starts[call] + int(m[1])}:", exc.message, count=1),
                reason=exc.reason,
                retry_after=exc.retry_after,
            ) from None
        return out

    def retract(self, signal_id: int, reason: str = "", *, reason_code: str = "") -> Accepted:
        """Retract one of this member's signals; returns the event's seq and log receipt. ``reason_code``
        appeal_upheld, wrong_person or false_positive makes it a retraction for redress: every member that
        received the signal is asked to acknowledge it."""
        body = signals_pb2.RetractBody(
            submitter=self.member_id,
            signal_id=signal_id,
            reason=reason,
            created_at=int(time.time()),
            reason_code=reason_code,
        )
        sealed = env.seal_body(body, self.credentials.signing_key)
        resp = self._call(self._exchange.Retract, exchange_pb2.RetractRequest(envelope=sealed), idempotent=False)
        return Accepted(resp.seq, resp.log_index, hashlib.sha256(sealed).digest())

    def feedback(self, signal_id: int, verdict: str) -> Accepted:
        """Signed feedback on another member's signal: confirmed, actioned, false_positive, not_found, duplicate."""
        code = VERDICT_CODES[canonical_verdict(verdict)]
        body = signals_pb2.FeedbackBody(
            submitter=self.member_id, signal_id=signal_id, verdict=code, created_at=int(time.time())
        )
        sealed = env.seal_body(body, self.credentials.signing_key)
        resp = self._call(self._exchange.Feedback, exchange_pb2.FeedbackRequest(envelope=sealed))
        digest = b"" if resp.unchanged else hashlib.sha256(sealed).digest()
        return Accepted(resp.seq, resp.log_index, digest, unchanged=resp.unchanged)

    def members(self) -> list[MemberInfo]:
        """The programme's members."""
        resp = self._call(self._directory_stub.ListMembers, directory_pb2.ListMembersRequest())
        return [MemberInfo(m.member_id, m.display_name, m.role, m.status, kind=m.kind) for m in resp.members]

    def who_am_i(self) -> MemberInfo:
        """This member's own entry and groups (the one call a suspended member may still make)."""
        resp = self._call(self._directory_stub.WhoAmI, directory_pb2.WhoAmIRequest())
        m = resp.member
        return MemberInfo(m.member_id, m.display_name, m.role, m.status, tuple(resp.groups), m.kind)


_QUERY_INDEX = re.compile(r"^query (\d+):")


def _match(m: exchange_pb2.Match) -> Match:
    """A wire match as the SDK's ``Match`` (read with C-level getters: a batched look-up converts ~500 per call)."""
    sid, submitter, type_, category, qualifier, confidence, first, last, expires = _MATCH_HEAD(m)
    return Match(
        sid,
        submitter,
        type_name(type_),
        category,
        qualifier,
        confidence,
        first,
        last,
        expires,
        dict(zip(VERDICTS, _FEEDBACK(m.feedback), strict=True)) if m.HasField("feedback") else _NO_FEEDBACK.copy(),
        m.distance,
        tuple(wl) if (wl := m.warninglists) else (),
        dict(zip(QUALITY_VERDICTS, _QUALITY(m.submitter_quality), strict=True))
        if m.HasField("submitter_quality")
        else _NO_QUALITY.copy(),
    )


#: The verdicts ``Match.submitter_quality`` counts: the first two for the submitter's record, the others against.
QUALITY_VERDICTS = ("confirmed", "actioned", "false_positive", "not_found")
_MATCH_HEAD = attrgetter(
    "signal_id", "submitter", "type", "category", "qualifier", "confidence", "first_seen", "last_seen", "expires_at"
)
_FEEDBACK = attrgetter(*VERDICTS)
_QUALITY = attrgetter(*QUALITY_VERDICTS)
#: What an unset ``feedback`` or ``submitter_quality`` reads as (the exchange usually leaves all-zero counts unset);
#: copied per match, since a ``Match``'s dicts are its own.
_NO_FEEDBACK = dict.fromkeys(VERDICTS, 0)
_NO_QUALITY = dict.fromkeys(QUALITY_VERDICTS, 0)
