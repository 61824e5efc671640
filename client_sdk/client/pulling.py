"""Pulling and subscribing: pages of events, each envelope verified before its body is read."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from client_sdk import envelope as env
from client_sdk import keys
from client_sdk.client.log_checks import LogChecking
from client_sdk.errors import (
    VerificationError,
)
from client_sdk.models import (
    Event,
    SharedSignal,
)
from client_sdk.positions import encode_cursor
from client_sdk.transparency import (
    TrustedKey,
)
from client_sdk.vocab import (
    EVENT_KINDS,
    TYPE_CODES,
    VERDICT_NAMES,
    canonical_type,
    type_name,
)
from client_sdk.wire import (
    exchange_pb2,
)


@dataclass
class _Page:
    """A pulled page on its way to the caller: envelopes opened, signatures being checked."""

    cursor: str
    events: list[exchange_pb2.Event]
    opened: list[env.OpenedEnvelope]
    owners: list[str]
    futures: list[Future[list[bool]]]
    verify: bool
    #: a check that failed before any signature was looked at (an envelope that does not open, an unknown
    #: key, a key not valid at the event): raised in the page's turn, after every earlier page is handed out
    error: VerificationError | None = None


class Pulling(LogChecking):
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
        try:
            opened = [env.open_envelope(e.envelope) for e in events]
            owners, items = self._signers(events, opened) if verify else ([], [])
        except VerificationError as exc:
            return _Page(page.cursor, [], [], [], [], verify, error=exc)
        step = max(64, len(items) // 4 + 1)
        futures = [
            self._pool.submit(lambda part: [keys.verify(*i) for i in part], items[i : i + step])
            for i in range(0, len(items), step)
        ]
        return _Page(page.cursor, events, opened, owners, futures, verify)

    def _signers(
        self, events: list[exchange_pb2.Event], opened: list[env.OpenedEnvelope]
    ) -> tuple[list[str], list[tuple[bytes, bytes, bytes]]]:
        """Each event's signer (a key of the directory, valid when the event was received) and what to verify."""
        owners: list[str] = []
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
        return owners, items

    def _finish_page(
        self, page: _Page, on_cursor: Callable[[str], None] | None, prove: bool = False
    ) -> Iterator[Event]:
        """Wait for the page's signature checks, then parse the (now verified) bodies into Events."""
        if page.error is not None:
            raise page.error
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
            "warninglists": tuple(event.warninglists),
            "quarantine": event.quarantine,
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
                expires_at=body.expires_at or event.expires_at,  # 0 in the body: the category's maximum
                labels=tuple(body.labels),
            )
            return Event(**common, signal=signal)
        if kind == "retract":
            return Event(**common, reason=body.reason, reason_code=body.reason_code)
        return Event(**common, verdict=VERDICT_NAMES.get(body.verdict, "unknown"))
