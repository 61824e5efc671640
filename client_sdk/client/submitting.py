"""Submitting: sealing signals as signed envelopes, in batches or as a resumable bulk stream."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import grpc

from client_sdk import envelope as env
from client_sdk.client.connection import BATCH
from client_sdk.client.pseudonymising import Pseudonymising, _Values
from client_sdk.errors import (
    InvalidIdentifierError,
    SignalExchangeError,
    UnavailableError,
    VerificationError,
    from_rpc_error,
)
from client_sdk.models import (
    Signal,
    SubmitResult,
)
from client_sdk.vocab import (
    QUALIFIER_FIELD,
    SUBMIT_STATUS_CODES,
    SUBMIT_STATUS_NAMES,
)
from client_sdk.wire import (
    exchange_pb2,
    signals_pb2,
)

ACCEPTED = SUBMIT_STATUS_CODES["accepted"]


_CODE_NAMES = {status.value[0]: status.name for status in grpc.StatusCode}


class _Prepared:
    """A batch ready to send: its envelopes, and the results already known locally."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.envelopes: list[bytes] = []
        self.local: dict[int, SubmitResult] = {}

    def merge(self, sent: list[SubmitResult]) -> list[SubmitResult]:
        """Interleave the exchange's results with the local rejections, in input order."""
        remote = iter(sent)
        return [self.local[i] if i in self.local else next(remote) for i in range(self.size)]


@dataclass
class _Sealing:
    """A batch on its way to :class:`_Prepared`: normalised, and its pseudonyms under way."""

    prepared: _Prepared
    valid: list[tuple[int, Signal, str]]
    values: _Values


class Submitting(Pseudonymising):
    def _seal_signals(self, signals: Sequence[Signal]) -> _Prepared:
        """Normalise, pseudonymise and sign; identifiers that fail normalisation become local rejections."""
        return self._end_seal(self._begin_seal(signals))

    def _begin_seal(self, signals: Sequence[Signal], calls: Executor | None = None) -> _Sealing:
        """Normalise, note the local rejections, blind, and make the Evaluate calls (on ``calls``' threads
        if given, so that the caller can finish the batch before while the exchange evaluates this one)."""
        prepared = _Prepared(len(signals))
        valid: list[tuple[int, Signal, str]] = []
        for i, sig in enumerate(signals):
            try:
                valid.append((i, sig, sig.identifier.normalised()))
            except InvalidIdentifierError as exc:
                prepared.local[i] = SubmitResult(
                    "rejected", reason=str(exc), code="INVALID_ARGUMENT", tag="invalid_identifier"
                )
        values = self._start_values([sig.identifier for _, sig, _ in valid], [form for _, _, form in valid], calls)
        return _Sealing(prepared, valid, values)

    def _end_seal(self, sealing: _Sealing) -> _Prepared:
        """Check the proofs, unblind, and sign one envelope per valid signal."""
        prepared = sealing.prepared
        values = sealing.values.finish(self)
        now = int(time.time())
        for (_, sig, normalised), value in zip(sealing.valid, values, strict=True):
            ident = sig.identifier
            body = signals_pb2.SignalBody(
                submitter=self.member_id,
                type=ident.code,
                value=value,
                category=sig.category,
                qualifier=normalised.split(":", 1)[0] if ident.type in QUALIFIER_FIELD else "",
                audience=sig.audience or "",
                confidence=sig.confidence,
                created_at=now,
                expires_at=sig.expires_at or 0,
                labels=list(sig.labels),
                oprf_epoch=0 if ident.is_media else self.credentials.oprf_epoch,
            )
            prepared.envelopes.append(env.seal_body(body, self.credentials.signing_key))
        return prepared

    @staticmethod
    def _results(resp: exchange_pb2.SubmitResponse, envelopes: Sequence[bytes]) -> list[SubmitResult]:
        if len(resp.results) != len(envelopes):
            raise VerificationError(f"the exchange answered {len(resp.results)} results for {len(envelopes)} envelopes")
        return [
            SubmitResult(
                status=SUBMIT_STATUS_NAMES.get(r.status, "rejected"),
                seq=r.seq,
                signal_id=r.signal_id,
                reason=r.message,
                code=_CODE_NAMES.get(r.code, "UNKNOWN") if r.code else "",
                tag=r.reason,
                log_index=r.log_index if r.status == ACCEPTED else None,
                envelope_sha256=hashlib.sha256(envelope).digest() if r.status == ACCEPTED else b"",
            )
            for r, envelope in zip(resp.results, envelopes, strict=True)
        ]

    def submit(self, signals: Sequence[Signal], *, batch_size: int = BATCH) -> list[SubmitResult]:
        """Normalise, pseudonymise, sign and submit; one result per signal, in order.

        Batches are pipelined so that this process and the exchange work at the same time: batch k+1 is
        blinded and its Evaluate call made before batch k is unblinded and signed, and batch k's Submit
        call runs while batch k+2 is blinded (the calls go one at a time, in order, on one thread). If a
        call fails, the error is raised once every earlier batch's Submit call has been answered, and no
        later batch is submitted."""
        results: list[SubmitResult] = []
        calls = self._send_pool
        sealing: _Sealing | None = None
        submitting: tuple[_Prepared, Future[list[SubmitResult]]] | None = None
        try:
            for start in [*range(0, len(signals), batch_size), len(signals)]:
                after = self._begin_seal(signals[start : start + batch_size], calls) if start < len(signals) else None
                if sealing is not None:
                    prepared = self._end_seal(sealing)
                    if submitting is not None:
                        results.extend(submitting[0].merge(submitting[1].result()))
                        submitting = None
                    if prepared.envelopes:
                        submitting = (prepared, calls.submit(self.submit_envelopes, prepared.envelopes))
                    else:
                        results.extend(prepared.merge([]))
                sealing = after
            if submitting is not None:
                results.extend(submitting[0].merge(submitting[1].result()))
                submitting = None
        finally:
            if submitting is not None:  # a later batch failed: the earlier one's Submit call is answered first
                submitting[1].exception()
        return results

    def submit_envelopes(self, envelopes: Sequence[bytes]) -> list[SubmitResult]:
        """Submit already-signed envelopes in one batch."""
        resp = self._call(self._exchange.Submit, exchange_pb2.SubmitRequest(envelopes=envelopes))
        return self._results(resp, envelopes)

    def submit_stream(
        self,
        signals: Iterable[Signal],
        *,
        batch_size: int = BATCH,
        on_batch: Callable[[list[SubmitResult]], None] | None = None,
    ) -> Iterator[SubmitResult]:
        """Bulk submission over one stream; yields results in order, ``on_batch`` after each batch."""

        def batches() -> Iterator[list[Signal]]:
            batch: list[Signal] = []
            for s in signals:
                batch.append(s)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        source = batches()
        unanswered: deque[_Prepared] = deque()
        carry: deque[list[Signal]] = deque()  # batches whose sealing failed: sealed again next time, in order
        ahead: deque[tuple[list[Signal], _Sealing]] = deque()  # begun: their Evaluate calls under way
        failures: list[SignalExchangeError] = []
        lock = threading.Lock()
        generation = 0

        def requests(mine: int) -> Iterator[exchange_pb2.SubmitRequest]:
            """Runs on gRPC's thread, so it never raises: a failure is handed to the caller's loop.

            One batch is kept begun ahead of the one being finished, so the exchange evaluates the next
            batch's pseudonyms while this process unblinds and signs the current one."""
            with lock:
                resend = list(unanswered)  # sent on a stream that broke: send again (idempotent)
            for prepared in resend:
                yield exchange_pb2.SubmitRequest(envelopes=prepared.envelopes)
            while True:
                with lock:
                    if mine != generation:
                        return
                    try:
                        while len(ahead) < 2:
                            batch = carry.popleft() if carry else next(source, None)
                            if batch is None:
                                break
                            try:
                                ahead.append((batch, self._begin_seal(batch, self._send_pool)))
                            except SignalExchangeError:
                                carry.appendleft(batch)
                                raise
                        if not ahead:
                            return
                        prepared = self._end_seal(ahead[0][1])
                        ahead.popleft()
                    except SignalExchangeError as exc:
                        carry.extendleft(reversed([b for b, _ in ahead]))  # begin them again, in order
                        ahead.clear()
                        failures.append(exc)
                        return
                    unanswered.append(prepared)
                yield exchange_pb2.SubmitRequest(envelopes=prepared.envelopes)

        retrying = self._retrying()
        while True:
            error: BaseException | None = None
            try:
                for resp in self._exchange.SubmitStream(requests(generation), timeout=None):
                    with lock:
                        prepared = unanswered.popleft()
                    results = prepared.merge(self._results(resp, prepared.envelopes))
                    retrying.reset()
                    if on_batch is not None:
                        on_batch(results)
                    yield from results
            except grpc.RpcError as exc:
                error = exc
            with lock:
                generation += 1
                failure = failures.pop() if failures else None
            if error is None and failure is None:
                return
            if isinstance(error, grpc.RpcError) and error.code() != grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                retryable = retrying.again(error.code())  # type: ignore[attr-defined]
            else:
                retryable = isinstance(failure, UnavailableError) and retrying.again(None)
            if not retryable:
                if failure is not None:
                    raise failure
                raise from_rpc_error(error) from None  # type: ignore[arg-type]

    def submit_envelope_stream(
        self,
        requests: Iterable[exchange_pb2.SubmitRequest],
        *,
        on_batch: Callable[[list[SubmitResult]], None] | None = None,
    ) -> Iterator[SubmitResult]:
        """Stream pre-built SubmitRequests; yields results in order."""
        sent: list[exchange_pb2.SubmitRequest] = []

        def tap() -> Iterator[exchange_pb2.SubmitRequest]:
            for request in requests:
                sent.append(request)
                yield request

        for resp in self._stream(self._exchange.SubmitStream(tap(), timeout=None)):
            batch = self._results(resp, sent.pop(0).envelopes)
            if on_batch is not None:
                on_batch(batch)
            yield from batch
