"""What the safeguards add to submitting and reading, and the member-facing safeguard calls.

Ingest asks ``blocked`` before a batch reaches the store (a value on a ``block`` list is refused, naming
the list). The reader hands every page and look-up result through here: deliveries are recorded (who
received which signal, and how: what redress needs), quarantined signals are dropped from look-ups, a
member whose look-ups match one signal more than the policy allows in a window quarantines it, and what
is left carries its flags (the ``inform`` warninglists naming it, its quarantine).

Transitions no member makes (a quarantine for a flood of matches) are signed with the exchange's own key
(member ``exchange``, role ``system``, registered by the operator at the first start), so every transition
is a signed entry in the signature log.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import structlog

from client_sdk.envelope import PAYLOAD_SAFEGUARD, seal_body
from client_sdk.keys import SigningKey
from client_sdk.vocab import REDRESS_OUTCOMES
from client_sdk.wire import signals_pb2
from exchange.errors import (
    ExchangeError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    quoted,
)
from exchange.identity import Caller
from exchange.policy.engine import PolicyEngine
from exchange.services.envelopes import EnvelopeOpener
from exchange.store.base import (
    MAX_ID,
    MatchRecord,
    NewSignal,
    QuarantineRecord,
    RedressRecord,
    SafeguardEvent,
    SignalFlags,
    SignalRecord,
    Store,
)

MODES = ("block", "inform")
QUALITY_TTL = 5.0  # seconds a submitter's quality is served from memory
SYSTEM_MEMBER = "exchange"
SYSTEM_ROLE = "system"
_NONE = SignalFlags()
_log = structlog.get_logger("exchange.safeguards")

Clock = Callable[[], float]


class MatchCounter:
    """Look-up matches per (member, signal) in about the last ``window`` seconds, counted in this process
    (each replica counts the look-ups it answers).

    A sliding window, estimated from two fixed ones: the matches of the current window plus those of the
    previous one weighted by the share of it still inside ``(now - window, now]`` (as if they had been spread
    evenly over it). A count of fixed windows alone let a burst straddle a boundary: ``limit`` matches just
    before it and ``limit`` just after went unnoticed. The estimate is never below the current window's count
    and never above the last two windows'; matches bunched at the end of the previous window are undercounted.
    """

    MAX_ENTRIES = 200_000  # beyond this, entries of windows before the previous one are dropped

    def __init__(self) -> None:
        # -> (window length, window number, matches in it, matches in the window before it)
        self._counts: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        self._lock = threading.Lock()

    def count(self, member_row: int, signal_ids: Iterable[int], now: int, window: int) -> dict[int, int]:
        """Count one match of each signal; {signal id: its matches in the last ``window`` seconds (estimated)}."""
        win, into = divmod(now, window)
        left = window - into  # seconds of the previous window still inside the sliding one
        out: dict[int, int] = {}
        with self._lock:
            if len(self._counts) > self.MAX_ENTRIES:  # each entry by its own window: members' windows differ
                self._counts = {k: v for k, v in self._counts.items() if v[1] >= now // v[0] - 1}
            for sid in signal_ids:
                length, seen, n, before = self._counts.get((member_row, sid), (window, win, 0, 0))
                if length != window:  # the member's window changed: start afresh
                    seen, n, before = win, 0, 0
                elif seen != win:
                    n, before = 0, n if seen == win - 1 else 0
                n += 1
                self._counts[(member_row, sid)] = (window, win, n, before)
                out[sid] = n + before * left // window
        return out

    def forget(self, signal_id: int) -> None:
        """Drop every member's count of ``signal_id`` (it was quarantined for them: once released, counting
        starts afresh rather than quarantining it again at the next match)."""
        with self._lock:
            self._counts = {k: v for k, v in self._counts.items() if k[1] != signal_id}


class DeliveryRecorder:
    """Deliveries (Pull, Subscribe, Lookup), written by a thread of their own a batch at a time (every
    ``interval`` seconds, one transaction), so no read and no live hand-out to thousands of streams waits for
    the database. ``flush`` writes what is pending at once (before a retraction for redress, so its recipients
    are all known)."""

    def __init__(self, store: Store, clock: Clock, interval: float = 0.1) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._pending: dict[tuple[int, int], str] = {}  # (member row, signal id) -> how it was first received
        # pairs this process has written (a member looking the same values up again writes nothing); bounded
        self._written: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def add(self, pairs: Iterable[tuple[int, int]], via: str) -> None:
        """Queue (member row, signal id) deliveries by ``via`` (pull, subscribe, lookup)."""
        with self._lock:
            written = self._written
            for pair in pairs:
                if pair not in written:
                    self._pending.setdefault(pair, via)
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="sigx-deliveries", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        """Write every queued delivery now (one transaction)."""
        with self._write:
            with self._lock:
                pending, self._pending = self._pending, {}
            if pending:
                try:
                    self._store.record_received([(m, s, via) for (m, s), via in pending.items()], int(self._clock()))
                    with self._lock:
                        if len(self._written) > WRITTEN_KEPT:
                            self._written.clear()
                        self._written.update(pending)
                except ExchangeError as exc:  # the store is down: keep them for the next round
                    _log.warning("deliveries_not_recorded", reason=exc.reason, pending=len(pending))
                    with self._lock:
                        for pair, via in pending.items():
                            self._pending.setdefault(pair, via)

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait()
            time.sleep(self._interval)  # gather a round's worth
            self._wake.clear()
            self.flush()


#: How many written (member, signal) deliveries a recorder remembers (~8 MB) before it starts over.
WRITTEN_KEPT = 100_000


class Safeguards:
    """Warninglists, deliveries, quarantine and flags over a store."""

    def __init__(
        self,
        store: Store,
        policy: PolicyEngine,
        opener: EnvelopeOpener,
        clock: Clock = time.time,
        system_key: SigningKey | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._opener = opener
        self._clock = clock
        self._system_key = system_key
        self.live_deliveries = DeliveryRecorder(store, clock)
        self._matches = MatchCounter()
        self._quality: dict[tuple[str, str], tuple[float, dict[int, int]]] = {}
        self._quality_lock = threading.Lock()

    def close(self) -> None:
        """Write the deliveries still queued."""
        self.live_deliveries.close()

    # -- submitting ----------------------------------------------------------------------------

    def blocked(self, items: Sequence[NewSignal]) -> dict[int, FailedPreconditionError]:
        """For each item (by position) whose value is on a ``block`` warninglist, its refusal naming the list."""
        by_type: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            by_type.setdefault(item.type, []).append(i)
        refused: dict[int, FailedPreconditionError] = {}
        for type_, positions in by_type.items():
            hits = self._store.warninglist_hits(type_, [items[i].value for i in positions])
            if not hits:
                continue
            for i in positions:
                blocking = [name for name, mode in hits.get(items[i].value, ()) if mode == "block"]
                if blocking:
                    refused[i] = FailedPreconditionError(
                        f"the value is on block warninglist {quoted(blocking[0])}: it must never become a signal",
                        reason="warninglist",
                    )
        return refused

    # -- reading -------------------------------------------------------------------------------

    def flags(self, signal_ids: Iterable[int]) -> dict[int, SignalFlags]:
        """Flags of the signals among ``signal_ids`` that have any (none asked: none read)."""
        ids = sorted({s for s in signal_ids if s})
        return self._store.signal_flags(ids) if ids else {}

    def delivered(self, caller: Caller, signal_ids: Iterable[int], via: str) -> None:
        """Record (in the background) that the caller received these signals by Pull or Subscribe."""
        self.live_deliveries.add(((caller.row, s) for s in signal_ids if s), via)

    def looked_up(
        self, caller: Caller, results: list[Sequence[MatchRecord]]
    ) -> tuple[list[Sequence[MatchRecord]], dict[int, SignalFlags]]:
        """A look-up's matches without the quarantined signals, recorded as delivered and counted against the
        match-flood threshold (crossing it quarantines the signal: the match that crossed is dropped too);
        with the flags of what is left."""
        ids = {m.signal.signal_id for ms in results for m in ms}
        if not ids:
            return results, {}
        flags = self.flags(ids)
        live = [s for s in ids if not flags.get(s, _NONE).quarantine]
        rules = self._policy.rules(caller)
        limit = rules.quarantine_lookup_matches
        window = rules.quarantine_window if limit else 0
        now = int(self._clock())
        self.live_deliveries.add(((caller.row, s) for s in live), "lookup")
        counts = self._matches.count(caller.row, live, now, window) if window else {}
        for sid, n in sorted(counts.items()):
            if n > limit and self._flood(caller, sid, n, window, now):
                flags[sid] = replace(flags.get(sid, _NONE), quarantine="match_flood")
        if not any(f.quarantine for f in flags.values()):
            return results, flags
        kept: list[Sequence[MatchRecord]] = [
            [m for m in ms if not flags.get(m.signal.signal_id, _NONE).quarantine] for ms in results
        ]
        return kept, {s: f for s, f in flags.items() if not f.quarantine}

    def _flood(self, caller: Caller, signal_id: int, matches: int, window: int, now: int) -> bool:
        """Quarantine a signal one member matched ``matches`` times in ``window`` seconds (a signed system
        event); False when the exchange has no system key or the signal is quarantined already."""
        system = self._store.get_member(SYSTEM_MEMBER)
        if self._system_key is None or system is None or system.role != SYSTEM_ROLE:
            _log.warning("match_flood_not_quarantined", signal=signal_id, reason="no_system_key")
            return False
        body = signals_pb2.SafeguardBody(
            submitter=SYSTEM_MEMBER,
            created_at=now,
            quarantine=signals_pb2.QuarantineSignal(
                signal_id=signal_id, reason="match_flood", member=caller.member_id, matches=matches, window=window
            ),
        )
        envelope = seal_body(body, self._system_key)
        try:
            self._store.set_quarantine(signal_id, True, "match_flood", now, SafeguardEvent(system.row, envelope, now))
        except (FailedPreconditionError, NotFoundError):
            return False
        self._matches.forget(signal_id)
        _log.info("signal_quarantined", signal=signal_id, reason="match_flood", member=caller.member_id)
        return True

    def quality(self, signals: Iterable[SignalRecord]) -> dict[tuple[str, str], dict[int, int]]:
        """Submitter quality for each (submitter, category) among ``signals``: members' verdicts, by verdict
        (read again at most every ``QUALITY_TTL`` seconds: it counts every verdict on a submitter's signals)."""
        pairs = {(s.submitter, s.category) for s in signals}
        now = time.monotonic()
        with self._quality_lock:
            stale = sorted(p for p in pairs if now - self._quality.get(p, (-math.inf, {}))[0] > QUALITY_TTL)
        if stale:
            fresh = self._store.submitter_quality(stale)
            with self._quality_lock:
                if len(self._quality) > 100_000:
                    self._quality.clear()
                self._quality.update({p: (now, fresh.get(p, {})) for p in stale})
        with self._quality_lock:
            return {p: self._quality[p][1] for p in pairs if p in self._quality}

    # -- the member's calls --------------------------------------------------------------------

    def quarantined(self, caller: Caller) -> list[QuarantineRecord]:
        """The caller's quarantined signals (an operator: every one)."""
        return self._store.list_quarantined(0 if caller.role == "operator" else caller.row)

    def acknowledge(self, caller: Caller, envelope: bytes) -> int:
        """A recipient acknowledges a retraction for redress (a signed, logged event); the event's seq."""
        body: Any
        body, now = self._opener.open_one(caller, envelope, PAYLOAD_SAFEGUARD)
        if body.WhichOneof("action") != "acknowledge":
            raise InvalidArgumentError("Acknowledge takes a SafeguardBody with acknowledge", reason="wrong_action")
        ack = body.acknowledge
        if ack.outcome not in REDRESS_OUTCOMES:
            raise InvalidArgumentError(
                f"outcome {quoted(ack.outcome)} is not one of {', '.join(REDRESS_OUTCOMES)}", reason="bad_outcome"
            )
        if not 0 < ack.signal_id <= MAX_ID:
            raise InvalidArgumentError("signal_id is missing", reason="signal_id")
        self.live_deliveries.flush()  # what this replica delivered a moment ago counts
        event = SafeguardEvent(caller.row, envelope, now)
        return self._store.acknowledge(ack.signal_id, caller.row, ack.outcome, event)

    def redress(self, caller: Caller, pending_only: bool) -> list[RedressRecord]:
        """Retractions for redress the caller received (an operator: every recipient's), acknowledged or not."""
        return self._store.redress_items(0 if caller.role == "operator" else caller.row, pending_only)

    def oldest_pending(self) -> float:
        """Seconds the oldest unacknowledged retraction for redress has waited (0: none waits)."""
        pending = self._store.redress_items(0, pending_only=True)
        return max(0.0, self._clock() - min(r.retracted_at for r in pending)) if pending else 0.0

    def release(self, caller: Caller, envelope: bytes) -> int:
        """A submitter releases its own quarantined signal (a signed, logged event); the event's seq. A signal
        the caller may not see is answered like a missing one; another member's, with PERMISSION_DENIED."""
        body: Any
        body, now = self._opener.open_one(caller, envelope, PAYLOAD_SAFEGUARD)
        if body.WhichOneof("action") != "release":
            raise InvalidArgumentError("Release takes a SafeguardBody with release", reason="wrong_action")
        signal_id = body.release.signal_id
        signal = self._store.get_signal(signal_id) if 0 < signal_id <= MAX_ID else None
        if signal is None or signal.retracted or signal.expires_at <= now:
            raise NotFoundError(f"no active signal {signal_id}", reason="signal_not_found")
        if signal.submitter != caller.member_id:
            if not self._policy.can_read(caller, signal):
                raise NotFoundError(f"no active signal {signal_id}", reason="signal_not_found")
            raise PermissionDeniedError(
                f"signal {signal_id} was submitted by another member: only its submitter or an operator may"
                " release its quarantine",
                reason="not_your_signal",
            )
        return self._store.set_quarantine(signal_id, False, "", now, SafeguardEvent(caller.row, envelope, now))
