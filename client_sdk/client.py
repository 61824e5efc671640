"""``ExchangeClient``: normalise, pseudonymise, sign, push, pull and look up.

One method per RPC, plain dataclasses in and out, and one private ``_call``
that turns ``grpc.RpcError`` into the SDK's error tree.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from client_sdk import envelope as env
from client_sdk import keys, merkle, oprf
from client_sdk.credentials import Credentials
from client_sdk.errors import (
    InvalidIdentifierError,
    ProofError,
    SignalExchangeError,
    UnavailableError,
    VerificationError,
    from_rpc_error,
)
from client_sdk.log_entry import LogEntry
from client_sdk.models import (
    Accepted,
    Event,
    Identifier,
    LookupResult,
    Match,
    MemberInfo,
    SharedSignal,
    Signal,
    SubmitResult,
)
from client_sdk.note import Checkpoint
from client_sdk.positions import encode_cursor
from client_sdk.transparency import (
    CheckpointTracker,
    KeyTransparencyError,
    LogPin,
    TrustedKey,
    verify_directory,
)
from client_sdk.vocab import (
    EVENT_KINDS,
    QUALIFIER_FIELD,
    SUBMIT_STATUS_CODES,
    SUBMIT_STATUS_NAMES,
    TYPE_CODES,
    VERDICT_CODES,
    VERDICT_NAMES,
    canonical_type,
    canonical_verdict,
    type_name,
)
from client_sdk.wire import (
    directory_pb2,
    directory_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    log_pb2,
    log_pb2_grpc,
    pseudonymizer_pb2,
    pseudonymizer_pb2_grpc,
    signals_pb2,
)

T = TypeVar("T")
BATCH = 1000
ACCEPTED = SUBMIT_STATUS_CODES["accepted"]
_MAX_MESSAGE = 16 * 1024 * 1024
_CODE_NAMES = {status.value[0]: status.name for status in grpc.StatusCode}


def oprf_input(type_name: str, normalised: str) -> bytes:
    """The OPRF input for an identifier: ``type || 0x00 || normalised`` (UTF-8)."""
    return type_name.encode() + b"\x00" + normalised.encode("utf-8")


class _Directory:
    """Signing keys by key id, each trusted only once the signature log proves it (client_sdk.transparency).

    Fetched again on a miss, and — at most every ``refresh`` seconds — when an event lies beyond the log
    the proofs covered, since a key's window may have closed after them.
    """

    def __init__(
        self,
        fetch: Callable[[], directory_pb2.ListSigningKeysResponse],
        log: CheckpointTracker,
        refresh: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self._log = log
        self._refresh = refresh
        self._keys: dict[str, TrustedKey | KeyTransparencyError] = {}
        self._covers = 0  # log entries the proofs of the keys held cover
        self._fetched = -math.inf
        self._lock = threading.Lock()

    def key(self, key_id: str, seq: int = 0) -> TrustedKey | None:
        """The trusted key (None if the directory has none by this id) for an event of ``seq``; raises
        KeyTransparencyError if the directory has it but the log does not prove it."""
        with self._lock:
            stale = seq > self._covers and time.monotonic() - self._fetched >= self._refresh
            if key_id not in self._keys or stale:
                resp = self._fetch()
                checkpoint = self._log.accept(resp.checkpoint)
                self._keys = dict(verify_directory(resp, checkpoint))
                self._covers, self._fetched = checkpoint.size, time.monotonic()
            found = self._keys.get(key_id)
        if isinstance(found, KeyTransparencyError):
            raise found
        return found


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries idempotent calls (Submit, SubmitStream, Lookup, Evaluate, Pull, reads)
    when the exchange is UNAVAILABLE: exponential backoff with jitter. Re-submitting is safe: the
    exchange answers an already-stored signal with ``duplicate`` and its original seq."""

    attempts: int = 8
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    codes: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.UNAVAILABLE})

    def delay(self, attempt: int) -> float:
        return random.uniform(0.5, 1.0) * min(self.max_backoff, self.initial_backoff * 2**attempt)


@dataclass
class _Page:
    """A pulled page on its way to the caller: envelopes opened, signatures being checked."""

    cursor: str
    events: list[exchange_pb2.Event]
    opened: list[env.OpenedEnvelope]
    owners: list[str]
    futures: list[Future[list[bool]]]
    verify: bool


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


class ExchangeClient:
    """A member's connection to the exchange. Use as a context manager."""

    def __init__(
        self,
        channel: grpc.Channel,
        credentials: Credentials,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = RetryPolicy(),
    ) -> None:
        self._channel = channel
        self.credentials = credentials
        self.member_id = credentials.member_id
        self.timeout = timeout
        self.retry = retry
        self._exchange = exchange_pb2_grpc.ExchangeStub(channel)
        self._oprf = pseudonymizer_pb2_grpc.PseudonymizerStub(channel)
        self._directory_stub = directory_pb2_grpc.DirectoryStub(channel)
        self._log = log_pb2_grpc.LogStub(channel)
        pin = LogPin(credentials.log_public_key, credentials.log_origin, credentials.log_key_name)
        self._checkpoints = CheckpointTracker(pin, self._consistency)
        self._directory = _Directory(self._fetch_keys, self._checkpoints)
        self._oprf_client = oprf.OprfClient(oprf.MODE_VOPRF, credentials.oprf_public_key)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="sigx-sdk-verify")

    # -- construction -------------------------------------------------------

    @classmethod
    def connect(
        cls,
        address: str | None = None,
        credentials: str | Path | Credentials = "",
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = RetryPolicy(),
    ) -> ExchangeClient:
        """Open a mutual-TLS channel to ``address`` (default: the one in the credentials).

        ``address`` may list replicas (``ipv4:127.0.0.1:7443,127.0.0.1:7444``): calls are spread
        round-robin and fail over. ``retry=None`` turns retries off.
        """
        creds = credentials if isinstance(credentials, Credentials) else Credentials.load(credentials)
        target = address or creds.address
        tls = grpc.ssl_channel_credentials(
            root_certificates=creds.ca_pem, private_key=creds.tls_key_pem, certificate_chain=creds.cert_pem
        )
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ]
        if "," in target:
            options += [("grpc.lb_policy_name", "round_robin"), ("grpc.ssl_target_name_override", "localhost")]
        return cls(grpc.secure_channel(target, tls, options=options), creds, timeout=timeout, retry=retry)

    def close(self) -> None:
        """Close the channel (ends any open subscription)."""
        self._channel.close()
        self._pool.shutdown(wait=False)

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, *, idempotent: bool = True, **kwargs: Any) -> T:
        timeout = kwargs.pop("timeout", self.timeout)
        attempt = 0
        while True:
            try:
                return method(request, timeout=timeout, **kwargs)
            except grpc.RpcError as exc:
                if not (idempotent and self._retryable(exc, attempt)):
                    raise from_rpc_error(exc) from None
            time.sleep(self.retry.delay(attempt))  # type: ignore[union-attr]
            attempt += 1

    def _retryable(self, exc: grpc.RpcError, attempt: int) -> bool:
        policy = self.retry
        return policy is not None and attempt + 1 < policy.attempts and exc.code() in policy.codes  # type: ignore[attr-defined]

    def _stream(self, stream: Iterator[T]) -> Iterator[T]:
        try:
            yield from stream
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                return
            raise from_rpc_error(exc) from None

    # -- pseudonymisation ---------------------------------------------------

    def pseudonymise(self, identifiers: Sequence[Identifier]) -> list[bytes]:
        """32-byte pseudonyms via the exchange's VOPRF; the raw values never leave this process.

        Raises InvalidIdentifierError (bad input, nothing sent), ProofError (the exchange's
        proof does not verify against the key pinned in the credentials).
        """
        inputs = []
        for ident in identifiers:
            if ident.is_media:
                raise InvalidIdentifierError(ident.type, "media hashes are not pseudonymised")
            inputs.append(oprf_input(ident.type, ident.normalised()))
        out: list[bytes] = []
        for start in range(0, len(inputs), BATCH):
            chunk = inputs[start : start + BATCH]
            blinds, blinded = self._oprf_client.blind(chunk)
            evaluated, proof = self.evaluate(blinded)
            out.extend(o[:32] for o in self._oprf_client.finalize(chunk, blinds, blinded, evaluated, proof))
        return out

    def evaluate(self, blinded: Sequence[bytes], *, bulk: bool = False) -> tuple[list[bytes], bytes]:
        """One Evaluate call on already-blinded elements: ``(evaluated elements, batch proof)``, unchecked
        (the caller finalizes and verifies, as ``pseudonymise`` does). ``bulk`` charges the member's
        oprf_bulk_per_day quota instead of evaluations_per_day. Raises QuotaExceededError, ProofError."""
        epoch = self.credentials.oprf_epoch
        request = pseudonymizer_pb2.EvaluateRequest(blinded_elements=blinded, epoch=epoch, bulk=bulk)
        resp = self._call(self._oprf.Evaluate, request)
        if resp.epoch != epoch or len(resp.evaluated_elements) != len(blinded):
            raise ProofError("the exchange answered for another key epoch or batch size")
        return list(resp.evaluated_elements), resp.proof

    def _values(self, identifiers: Sequence[Identifier]) -> list[bytes]:
        """Wire values: pseudonyms for identifiers, raw bytes for media hashes."""
        values: list[bytes | None] = [None] * len(identifiers)
        plain = [i for i, ident in enumerate(identifiers) if not ident.is_media]
        for i, ident in enumerate(identifiers):
            if ident.is_media:
                values[i] = bytes.fromhex(ident.normalised())
        for i, value in zip(plain, self.pseudonymise([identifiers[i] for i in plain]), strict=True):
            values[i] = value
        return [v for v in values if v is not None]

    # -- submit -------------------------------------------------------------

    def _seal_signals(self, signals: Sequence[Signal]) -> _Prepared:
        """Normalise, pseudonymise and sign; identifiers that fail normalisation become local rejections."""
        prepared = _Prepared(len(signals))
        valid: list[tuple[int, Signal, str]] = []
        for i, sig in enumerate(signals):
            try:
                valid.append((i, sig, sig.identifier.normalised()))
            except InvalidIdentifierError as exc:
                prepared.local[i] = SubmitResult(
                    "rejected", reason=str(exc), code="INVALID_ARGUMENT", tag="invalid_identifier"
                )
        values = self._values([sig.identifier for _, sig, _ in valid])
        now = int(time.time())
        for (_, sig, normalised), value in zip(valid, values, strict=True):
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
        """Normalise, pseudonymise, sign and submit; one result per signal, in order."""
        results: list[SubmitResult] = []
        for start in range(0, len(signals), batch_size):
            prepared = self._seal_signals(signals[start : start + batch_size])
            sent = self.submit_envelopes(prepared.envelopes) if prepared.envelopes else []
            results.extend(prepared.merge(sent))
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
        carry: list[list[Signal]] = []  # a batch whose sealing failed: seal it again next time
        failures: list[SignalExchangeError] = []
        lock = threading.Lock()
        generation = 0

        def requests(mine: int) -> Iterator[exchange_pb2.SubmitRequest]:
            """Runs on gRPC's thread, so it never raises: a failure is handed to the caller's loop."""
            with lock:
                resend = list(unanswered)  # sent on a stream that broke: send again (idempotent)
            for prepared in resend:
                yield exchange_pb2.SubmitRequest(envelopes=prepared.envelopes)
            while True:
                with lock:
                    if mine != generation:
                        return
                    batch = carry.pop() if carry else next(source, None)
                    if batch is None:
                        return
                    try:
                        prepared = self._seal_signals(batch)
                    except SignalExchangeError as exc:
                        carry.append(batch)
                        failures.append(exc)
                        return
                    unanswered.append(prepared)
                yield exchange_pb2.SubmitRequest(envelopes=prepared.envelopes)

        attempt = 0
        while True:
            error: BaseException | None = None
            try:
                for resp in self._exchange.SubmitStream(requests(generation), timeout=None):
                    with lock:
                        prepared = unanswered.popleft()
                    results = prepared.merge(self._results(resp, prepared.envelopes))
                    attempt = 0
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
            retryable = (
                self._retryable(error, attempt)  # type: ignore[arg-type]
                if isinstance(error, grpc.RpcError) and error.code() != grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]
                else isinstance(failure, UnavailableError)
                and self.retry is not None
                and attempt + 1 < self.retry.attempts
            )
            if not retryable:
                if failure is not None:
                    raise failure
                raise from_rpc_error(error) from None  # type: ignore[arg-type]
            time.sleep(self.retry.delay(attempt))  # type: ignore[union-attr]
            attempt += 1

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

    # -- pull and subscribe -------------------------------------------------

    def _request(self, after: str | None, limit: int, types: Sequence[str], categories: Sequence[str]) -> Any:
        codes = [TYPE_CODES[canonical_type(t)] for t in types]
        return exchange_pb2.PullRequest(cursor=after or "", limit=limit, types=codes, categories=list(categories))

    def pull(
        self,
        after: str | None = None,
        *,
        limit: int = 0,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        verify: bool = True,
        prove: bool = False,
    ) -> Iterator[Event]:
        """Every event this member may see after cursor ``after``; each verified unless ``verify=False``.

        With ``prove``, every page is also checked against the signature log before it is handed out
        (``verify_inclusion``): one checkpoint and one batch of inclusion proofs per page.
        """
        stream = self._exchange.Pull(self._request(after, limit, types, categories), timeout=None)
        yield from self._events(self._stream(stream), verify, pipeline=True, prove=prove)

    def subscribe(
        self,
        after: str | None = None,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        verify: bool = True,
        on_cursor: Callable[[str], None] | None = None,
    ) -> Iterator[Event]:
        """Like ``pull`` but stays open, yielding new events live. Stop by breaking out or ``close()``.

        ``on_cursor`` receives the cursor of every message, heartbeats included.
        """
        stream = self._exchange.Subscribe(self._request(after, 0, types, categories), timeout=None)
        try:
            yield from self._events(self._stream(stream), verify, on_cursor)
        finally:
            stream.cancel()

    def _events(
        self,
        pages: Iterator[exchange_pb2.PullResponse],
        verify: bool,
        on_cursor: Callable[[str], None] | None = None,
        pipeline: bool = False,
        prove: bool = False,
    ) -> Iterator[Event]:
        """Events of each page, verified first. With ``pipeline`` (Pull, not Subscribe) page N+1's
        signatures are checked on the pool while page N is handed out."""
        previous: _Page | None = None
        for page in pages:
            current = self._start_page(page, verify)
            if not pipeline:
                yield from self._finish_page(current, on_cursor, prove)
                continue
            if previous is not None:
                yield from self._finish_page(previous, on_cursor, prove)
            previous = current
        if previous is not None:
            yield from self._finish_page(previous, on_cursor, prove)

    def _start_page(self, page: exchange_pb2.PullResponse, verify: bool) -> _Page:
        """Open the envelopes, check their keys against the directory, start the signature checks."""
        events = list(page.events)
        opened = [env.open_envelope(e.envelope) for e in events]
        owners: list[str] = []
        futures: list[Future[list[bool]]] = []
        if verify:
            items = []
            page_keys: dict[str, TrustedKey | None] = {}
            for event, op in zip(events, opened, strict=True):
                key = page_keys.get(op.key_id)
                if key is None:
                    key = page_keys[op.key_id] = self._directory.key(op.key_id, events[-1].seq)
                if key is None:
                    raise VerificationError(f"event {event.seq}: signed by unknown key {op.key_id}")
                if not key.admits(event.seq, event.received_at):
                    raise VerificationError(f"event {event.seq}: key {op.key_id} was not valid when it was received")
                items.append((key.public_key, op.signed_message(), op.signature))
                owners.append(key.member_id)
            step = max(64, len(items) // 4 + 1)
            futures = [
                self._pool.submit(lambda part: [keys.verify(*i) for i in part], items[i : i + step])
                for i in range(0, len(items), step)
            ]
        return _Page(page.cursor, events, opened, owners, futures, verify)

    def _finish_page(
        self, page: _Page, on_cursor: Callable[[str], None] | None, prove: bool = False
    ) -> Iterator[Event]:
        """Wait for the page's signature checks, then parse the (now verified) bodies into Events."""
        if page.verify:
            verdicts = [ok for future in page.futures for ok in future.result()]
            for event, ok in zip(page.events, verdicts, strict=True):
                if not ok:
                    raise VerificationError(f"event {event.seq}: signature does not verify")
        last = len(page.events) - 1
        events = []
        for i, (event, op) in enumerate(zip(page.events, page.opened, strict=True)):
            body: Any = op.body()
            if page.verify and body.submitter != page.owners[i]:
                raise VerificationError(f"event {event.seq}: submitter is not the key's owner")
            events.append(self._event(event, op, body, page.cursor if i == last else encode_cursor(event.seq)))
        if prove and events:
            self._prove(events)
        yield from events
        if on_cursor is not None:
            on_cursor(page.cursor)

    @staticmethod
    def _event(event: exchange_pb2.Event, op: env.OpenedEnvelope, body: Any, cursor: str) -> Event:
        kind = EVENT_KINDS.get(event.kind, "unknown")
        common = {
            "seq": event.seq,
            "kind": kind,
            "signal_id": event.signal_id,
            "submitter": body.submitter,
            "key_id": op.key_id,
            "received_at": event.received_at,
            "cursor": cursor,
            "envelope": event.envelope,
            "expires_at": event.expires_at,
        }
        if kind == "submit":
            signal = SharedSignal(
                signal_id=event.signal_id,
                submitter=body.submitter,
                type=type_name(body.type),
                value=body.value,
                category=body.category,
                qualifier=body.qualifier,
                audience=body.audience,
                confidence=body.confidence,
                created_at=body.created_at,
                expires_at=body.expires_at,
                labels=tuple(body.labels),
            )
            return Event(**common, signal=signal)
        if kind == "retract":
            return Event(**common, reason=body.reason)
        return Event(**common, verdict=VERDICT_NAMES.get(body.verdict, "unknown"))

    # -- lookup, retract, feedback -----------------------------------------

    def lookup(
        self, queries: Sequence[Identifier | tuple[str, bytes]], *, max_distance: int | None = None
    ) -> list[LookupResult]:
        """Active visible signals matching each identifier (pseudonymised first) or (type, value) pair."""
        idents = [q for q in queries if isinstance(q, Identifier)]
        values = iter(self._values(idents))
        wire = []
        for q in queries:
            if isinstance(q, Identifier):
                wire.append(exchange_pb2.LookupQuery(type=q.code, value=next(values)))
            else:
                wire.append(exchange_pb2.LookupQuery(type=TYPE_CODES[canonical_type(q[0])], value=q[1]))
        out: list[LookupResult] = []
        for start in range(0, len(wire), BATCH):
            chunk = wire[start : start + BATCH]
            request = exchange_pb2.LookupRequest(queries=chunk)
            if max_distance is not None:
                request.max_distance = max_distance
            resp = self._call(self._exchange.Lookup, request)
            for q, result in zip(queries[start : start + BATCH], resp.results, strict=True):
                out.append(LookupResult(q if isinstance(q, Identifier) else q[1], [_match(m) for m in result.matches]))
        return out

    def retract(self, signal_id: int, reason: str = "") -> Accepted:
        """Retract one of this member's signals; returns the event's seq and log receipt."""
        body = signals_pb2.RetractBody(
            submitter=self.member_id, signal_id=signal_id, reason=reason, created_at=int(time.time())
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

    # -- the signature log -----------------------------------------------------

    def checkpoint(self, min_size: int = 0) -> Checkpoint:
        """The exchange's latest signed checkpoint (a fresh one if it covers fewer than ``min_size`` entries),
        verified against the log key pinned in the credentials."""
        note = self._call(self._log.GetCheckpoint, log_pb2.GetCheckpointRequest(min_size=min_size)).note
        return self._checkpoints.accept(note)

    def verify_inclusion(self, event: Event) -> Checkpoint:
        """Prove that a pulled event is in the signature log: rebuild its leaf record from the event itself
        (``Event.leaf``: index, kind, time, expiry, submitter, key id, SHA-256 of the envelope), fetch a
        checkpoint that covers it (verified against the pinned log key and consistent with every checkpoint
        this client saw before) and an inclusion proof, and check the proof. Returns the checkpoint; raises
        VerificationError."""
        return self._prove([event])

    def _prove(self, events: Sequence[Event]) -> Checkpoint:
        need = max(e.seq for e in events)
        latest = self._checkpoints.latest
        checkpoint = latest if latest is not None and latest.size >= need else self.checkpoint(min_size=need)
        for start in range(0, len(events), BATCH):
            chunk = events[start : start + BATCH]
            request = log_pb2.GetInclusionProofsRequest(indices=[e.log_index for e in chunk], tree_size=checkpoint.size)
            resp = self._call(self._log.GetInclusionProofs, request)
            if [p.index for p in resp.proofs] != [e.log_index for e in chunk]:
                raise VerificationError("the exchange answered proofs for other entries")
            for event, proof in zip(chunk, resp.proofs, strict=True):
                try:
                    merkle.verify_inclusion(
                        event.log_index,
                        checkpoint.size,
                        merkle.leaf_hash(event.leaf()),
                        list(proof.proof),
                        checkpoint.root,
                    )
                except merkle.ProofError as exc:
                    raise VerificationError(f"event {event.seq} is not in the signature log as pulled: {exc}") from None
        return checkpoint

    def verify_receipt(self, receipt: SubmitResult | Accepted) -> Checkpoint:
        """Prove that an accepted event is in the signature log.

        Fetches a signed checkpoint that covers it and an inclusion proof, checks
        that the leaf names this member and commits to the envelope this client
        sent, and verifies the proof. Returns the checkpoint; raises VerificationError.
        """
        index = receipt.log_index
        if index is None:
            raise VerificationError(f"{getattr(receipt, 'status', 'this')} result has no log receipt")
        checkpoint = self.checkpoint(min_size=index + 1)
        request = log_pb2.GetInclusionProofRequest(index=index, tree_size=checkpoint.size)
        resp = self._call(self._log.GetInclusionProof, request)
        if not resp.leaf:  # the exchange shows a leaf record only to its submitter
            raise VerificationError(f"log entry {index} is not this member's event")
        entry = LogEntry.decode(resp.leaf)
        if entry.index != index or entry.submitter != self.member_id:
            raise VerificationError(f"log entry {index} is not this member's event")
        if receipt.envelope_sha256 and entry.envelope_sha256 != receipt.envelope_sha256:
            raise VerificationError(f"log entry {index} commits to a different envelope")
        merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(resp.leaf), list(resp.proof), checkpoint.root)
        return checkpoint

    # -- directory ----------------------------------------------------------

    def _fetch_keys(self) -> directory_pb2.ListSigningKeysResponse:
        return self._call(self._directory_stub.ListSigningKeys, directory_pb2.ListSigningKeysRequest(prove=True))

    def _consistency(self, size1: int, size2: int) -> list[bytes]:
        request = log_pb2.GetConsistencyProofRequest(size1=size1, size2=size2)
        return list(self._call(self._log.GetConsistencyProof, request).proof)

    def members(self) -> list[MemberInfo]:
        """The programme's members."""
        resp = self._call(self._directory_stub.ListMembers, directory_pb2.ListMembersRequest())
        return [MemberInfo(m.member_id, m.display_name, m.role, m.status) for m in resp.members]

    def who_am_i(self) -> MemberInfo:
        """This member's own entry and groups (the one call a suspended member may still make)."""
        resp = self._call(self._directory_stub.WhoAmI, directory_pb2.WhoAmIRequest())
        m = resp.member
        return MemberInfo(m.member_id, m.display_name, m.role, m.status, tuple(resp.groups))


def _match(m: exchange_pb2.Match) -> Match:
    fb = m.feedback
    return Match(
        signal_id=m.signal_id,
        submitter=m.submitter,
        type=type_name(m.type),
        category=m.category,
        qualifier=m.qualifier,
        confidence=m.confidence,
        first_seen=m.first_seen,
        last_seen=m.last_seen,
        expires_at=m.expires_at,
        feedback={name: getattr(fb, name) for name in VERDICT_CODES},
        distance=m.distance,
    )
