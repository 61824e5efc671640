"""Matching pulled signals against the member's own index, and the ``match`` loop that keeps the review queue.

Identifier pseudonyms and MD5 hashes match exactly (batched look-ups in the index file); PDQ hashes match
by Hamming distance (default ≤ 31) against every indexed image, or with ``dihedral`` against its eight
rotations and reflections too. A member's own signals are not matched against its own accounts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from client_sdk.client import ExchangeClient
from client_sdk.member.index import MatchIndex
from client_sdk.member.media import DIHEDRAL
from client_sdk.member.review import DECIDED, OPEN, Counts, Hit, ReviewItem, ReviewQueue, SendReport
from client_sdk.models import Event
from client_sdk.vocab import MEDIA_TYPES, TYPE_CODES

DEFAULT_MAX_DISTANCE = 31
PAGE = 5000  # events matched (and the cursor saved) per step when pulling
REFRESH_SECONDS = 60.0  # with follow: how often open items' counts are refreshed


class Matcher:
    """Finds the index's own ids that a batch of events' SUBMITs name."""

    def __init__(self, index: MatchIndex, *, dihedral: bool = False, max_distance: int = DEFAULT_MAX_DISTANCE) -> None:
        if not 0 <= max_distance <= 256:
            raise ValueError("max_distance must be 0..256")
        self._index = index
        self._dihedral = dihedral
        self._max_distance = max_distance
        self._own = index.member_id
        self._pdq_version = ""
        self._pdq: list[tuple[int, str, int]] = []

    def _pdq_hashes(self) -> list[tuple[int, str, int]]:
        version = self._index.media_version()
        if version != self._pdq_version:
            rows = self._index.pdq_hashes(self._dihedral)
            self._pdq = [(int.from_bytes(h, "big"), content, variant) for h, content, variant in rows]
            self._pdq_version = version
        return self._pdq

    def hits(self, events: Iterable[Event]) -> list[Hit]:
        """One Hit per (SUBMIT, own id) pair among ``events``, in event order."""
        submits = [e for e in events if e.signal is not None and e.submitter != self._own]
        if not submits:
            return []
        plain = [e.signal.value for e in submits if e.signal.type not in MEDIA_TYPES]  # type: ignore[union-attr]
        md5 = [e.signal.value for e in submits if e.signal.type == "media_md5"]  # type: ignore[union-attr]
        accounts = self._index.accounts_for(plain) if plain else {}
        contents = self._index.md5_content(md5) if md5 else {}
        pdq = self._pdq_hashes() if any(e.signal.type == "media_pdq" for e in submits) else []  # type: ignore[union-attr]
        out: list[Hit] = []
        for event in submits:
            signal = event.signal
            assert signal is not None
            if signal.type == "media_pdq":
                for content, distance, variant in self._near(signal.value, pdq):
                    out.append(_hit(event, "content", content, distance, DIHEDRAL[variant]))
            elif signal.type == "media_md5":
                out += [_hit(event, "content", content) for content in contents.get(signal.value, ())]
            else:
                code = TYPE_CODES.get(signal.type)
                out += [_hit(event, "account", a) for a, t in accounts.get(signal.value, ()) if t == code]
        return out

    def _near(self, value: bytes, pdq: Sequence[tuple[int, str, int]]) -> list[tuple[str, int, int]]:
        """``(content id, distance, variant)`` within the distance, the nearest variant of each content."""
        if len(value) != 32:
            return []
        q, limit = int.from_bytes(value, "big"), self._max_distance
        best: dict[str, tuple[int, int]] = {}
        for h, content, variant in pdq:
            d = (q ^ h).bit_count()
            if d <= limit and (content not in best or d < best[content][0]):
                best[content] = (d, variant)
        return [(content, d, variant) for content, (d, variant) in sorted(best.items())]


def _hit(event: Event, kind: str, own_id: str, distance: int = 0, variant: str = "") -> Hit:
    s = event.signal
    assert s is not None
    return Hit(
        own_kind=kind,
        own_id=own_id,
        signal_id=s.signal_id,
        submitter=s.submitter,
        type=s.type,
        value=s.value,
        category=s.category,
        qualifier=s.qualifier,
        confidence=s.confidence,
        seen_at=event.received_at,
        expires_at=s.expires_at,
        distance=distance,
        variant=variant,
    )


@dataclass
class MatchReport:
    """What one ``match`` run did."""

    events: int = 0
    submits: int = 0
    hits: int = 0
    new_items: int = 0  # created or re-opened
    withdrawn: int = 0
    acknowledged: list[tuple[int, str]] = field(default_factory=list)  # retractions for redress: (signal, outcome)
    refreshed: int = 0
    cursor: str = ""
    feedback: list[SendReport] = field(default_factory=list)


class MatchRun:
    """Pull (or subscribe) from the index's cursor, match, and keep the review queue current."""

    def __init__(
        self,
        index: MatchIndex,
        client: ExchangeClient,
        *,
        dihedral: bool = False,
        max_distance: int = DEFAULT_MAX_DISTANCE,
        page: int = PAGE,
        on_step: Callable[[MatchReport], None] | None = None,
    ) -> None:
        self.index = index
        self.client = client
        self.queue = ReviewQueue(index)
        self.matcher = Matcher(index, dihedral=dihedral, max_distance=max_distance)
        self.max_distance = max_distance
        self.page = page
        self.on_step = on_step
        self.report = MatchReport(cursor=index.cursor)
        self._refreshed_at = 0.0
        self._follow = False

    def run(self, follow: bool = False) -> MatchReport:
        """Send queued feedback, match everything after the cursor, refresh the open items' counts and send
        feedback again; with ``follow``, match live events (refreshing every minute) until the client is closed.
        Raises ExchangeRpcError, VerificationError, MatchIndexError."""
        self._send_feedback()
        self._follow = follow
        buffer: list[Event] = []

        def flush(cursor: str) -> None:
            self.step(buffer, cursor)
            buffer.clear()
            if follow and time.monotonic() - self._refreshed_at >= REFRESH_SECONDS:
                self.refresh()
                self._send_feedback()

        if follow:
            for event in self.client.subscribe(self.index.cursor or None, on_cursor=flush):
                buffer.append(event)
            return self.report  # the subscription ends when the client is closed: nothing more to send
        else:
            last = self.index.cursor
            for event in self.client.pull(self.index.cursor or None):
                buffer.append(event)
                last = event.cursor
                if len(buffer) >= self.page:
                    flush(last)
            flush(last)
        self.refresh()
        self._send_feedback()
        return self.report

    def step(self, events: Sequence[Event], cursor: str) -> None:
        """Match one batch of events, record hits and withdrawals, save the cursor after them."""
        report = self.report
        hits = self.matcher.hits(events)
        changed = self.queue.record_hits(hits) if hits else []
        retracted: set[int] = set()
        for event in events:
            if event.kind == "retract":
                why = f": {event.reason}" if event.reason else ""
                report.withdrawn += self.queue.withdraw_signal(event.signal_id, f"retracted by {event.submitter}{why}")
                retracted.add(event.signal_id)
        if retracted:
            self._acknowledge(retracted)
        if changed and self._follow:  # live: counts at once; a pull refreshes every open item once at its end
            self.refresh([self.queue.item(i) for i in changed])
        if cursor and cursor != self.index.cursor:
            with self.index.transaction() as conn:
                self.index.set_meta(conn, "cursor", cursor)
        report.events += len(events)
        report.submits += sum(1 for e in events if e.kind == "submit")
        report.hits += len(hits)
        report.new_items += len(changed)
        report.cursor = cursor or report.cursor
        if self.on_step is not None:
            self.on_step(report)

    def _acknowledge(self, retracted: set[int]) -> None:
        """Acknowledge the retractions for redress among ``retracted`` that the exchange says this member owes,
        each with what had been done on the signal here (its withdrawn items' decisions)."""
        for item in self.client.redress(pending_only=True):
            if item.signal_id in retracted:
                outcome = self.queue.redress_outcome(item.signal_id)
                self.client.acknowledge(item.signal_id, outcome)
                self.report.acknowledged.append((item.signal_id, outcome))

    def refresh(self, items: Sequence[ReviewItem] | None = None) -> None:
        """Feedback counts, corroboration (distinct submitters of the same value) and first/last seen from a
        batched look-up of the items' values; open items whose signal is no longer active are withdrawn."""
        self._refreshed_at = time.monotonic()
        if items is None:
            items = self.queue.items(OPEN) + self.queue.items(DECIDED)
        keys = sorted({(i.type, i.value) for i in items})
        if not keys:
            return
        results = self.client.lookup(keys, max_distance=self.max_distance)
        matches = {key: result.matches for key, result in zip(keys, results, strict=True)}
        now = int(time.time())
        counts: list[Counts] = []
        gone: dict[int, str] = {}
        for item in items:
            found = matches[(item.type, item.value)]
            mine = next((m for m in found if m.signal_id == item.signal_id), None)
            if mine is not None:
                corroboration = len({m.submitter for m in found})
                counts.append(
                    Counts(
                        item.id,
                        mine.feedback,
                        corroboration,
                        mine.first_seen,
                        mine.last_seen,
                        mine.expires_at,
                        mine.submitter_quality,
                    )
                )
            elif item.status == OPEN:
                expired = item.expires_at and item.expires_at <= now
                gone[item.signal_id] = (
                    "expired" if expired else "no longer active at the exchange (expired, retracted or not visible)"
                )
        self.queue.update_counts(counts)
        self.report.refreshed += len(counts)
        for signal_id, reason in gone.items():
            self.report.withdrawn += self.queue.withdraw_signal(signal_id, reason)

    def _send_feedback(self) -> None:
        if self.queue.decisions(state="pending"):
            self.report.feedback.append(self.queue.send_feedback(self.client))
