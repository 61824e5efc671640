"""Reading: Pull, Subscribe and Lookup, each limited to what the caller may see."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from client_sdk import positions
from client_sdk.positions import encode_cursor
from client_sdk.vocab import KIND_SUBMIT, TYPE_MEDIA_PDQ, VALUE_BYTES
from exchange.config import Settings
from exchange.errors import BatchTooLargeError, InvalidArgumentError, quoted
from exchange.identity import Caller
from exchange.policy.engine import PULL, SUBSCRIBE, PolicyEngine
from exchange.safeguards.service import Safeguards
from exchange.store.base import MAX_ID, EventFilter, EventRecord, MatchRecord, SignalFlags, Store

Clock = Callable[[], float]
FilterFn = Callable[[], EventFilter]


def decode_cursor(cursor: str) -> int:
    """The seq a cursor stands for; empty means the beginning. Raises InvalidArgumentError."""
    try:
        seq = positions.decode_cursor(cursor)
    except ValueError:
        seq = MAX_ID + 1
    if seq > MAX_ID:
        raise InvalidArgumentError("malformed cursor", reason="bad_cursor")
    return seq


@dataclass(frozen=True, slots=True)
class Page:
    events: list[EventRecord]
    cursor: str
    flags: dict[int, SignalFlags] = field(default_factory=dict)  # by signal id: warninglists, quarantine


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """For each query the matching signals, and the flags of those that have any (by signal id)."""

    results: list[Sequence[MatchRecord]]
    flags: dict[int, SignalFlags]
    quality: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)  # (submitter, category) -> verdicts


class Query(Protocol):
    """One look-up query: a signal type and a value (the wire's ``LookupQuery`` is one, read as it is)."""

    @property
    def type(self) -> int: ...

    @property
    def value(self) -> bytes: ...


_NO_MATCHES: tuple[MatchRecord, ...] = ()


class ReaderService:
    """Pull, Lookup, and the blocking steps of Subscribe (``exchange.live.fanout`` runs the live part)."""

    def __init__(
        self, store: Store, settings: Settings, clock: Clock, policy: PolicyEngine, safeguards: Safeguards
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._policy = policy
        self._safeguards = safeguards

    def page(self, caller: Caller, events: list[EventRecord], cursor: str, via: str) -> Page:
        """A page of events for the caller (recorded as delivered ``via`` pull or subscribe), with the flags
        of their signals."""
        self._safeguards.delivered(caller, (e.signal_id for e in events if e.kind == KIND_SUBMIT), via)
        return Page(events, cursor, self._safeguards.flags(e.signal_id for e in events))

    def visibility(self, caller: Caller, types: Sequence[int] = (), categories: Sequence[str] = ()) -> FilterFn:
        """A function giving, each time it is called, what the caller may see now, narrowed by its request.

        Validates the request at once; the policy is applied afresh at every call, so a
        long subscription follows policy and group changes as they happen.
        """
        cats = self._store.categories()
        unknown = [c for c in categories if c not in cats]
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            shown = ", ".join(quoted(c) for c in unknown[:5]) + more
            raise InvalidArgumentError(f"unknown categories {shown}", reason="unknown_category")
        bad = [t for t in types if t not in VALUE_BYTES]
        if bad:
            raise InvalidArgumentError(f"unknown signal types {quoted(bad)}", reason="unknown_type")
        wanted_types, wanted_cats = list(types), list(categories)
        self._policy.read_filter(caller, wanted_types, wanted_cats)
        return lambda: self._policy.read_filter(caller, wanted_types, wanted_cats)

    def pull(self, caller: Caller, cursor: str, limit: int, flt: FilterFn) -> Iterator[Page]:
        """Pages of visible events after ``cursor``, up to ``limit`` events (0: all), then stop."""
        seq = decode_cursor(cursor)
        remaining = limit or None
        page_size = self._settings.pull_page
        while True:
            want = page_size if remaining is None else min(page_size, remaining)
            events, seq = self._store.events_after(seq, want, flt())
            if events or remaining is None or remaining > 0:
                yield self.page(caller, events, encode_cursor(seq), "pull")
            if remaining is not None:
                remaining -= len(events)
                if remaining <= 0:
                    return
            if len(events) < want:
                return
            caller = self._policy.readmit(caller, PULL)  # suspended or revoked since: no more pages

    def catch_up(self, caller: Caller, seq: int, flt: FilterFn) -> tuple[Caller, EventFilter, Page]:
        """One page of a subscription's catch-up: the caller admitted again, the filter in force now, and the
        visible events after ``seq`` (a short page's cursor is the end of the log as read)."""
        caller, current = self.recheck(caller, flt)
        events, seq = self._store.events_after(seq, self._settings.pull_page, current)
        return caller, current, self.page(caller, events, encode_cursor(seq), "subscribe")

    def recheck(self, caller: Caller, flt: FilterFn) -> tuple[Caller, EventFilter]:
        """A live subscription's caller admitted again (suspended, removed or revoked since: raises) and what
        it may see now (policy and group changes apply to streams already open)."""
        return self._policy.readmit(caller, SUBSCRIBE), flt()

    def lookup(self, caller: Caller, queries: Sequence[Query], max_distance: int | None) -> LookupAnswer:
        """For each query, the active signals the caller may see that match it (with their flags)."""
        if len(queries) > self._settings.max_batch:
            raise BatchTooLargeError(f"{len(queries)} queries exceed the maximum of {self._settings.max_batch}")
        distance = self._settings.default_pdq_distance if max_distance is None else max_distance
        if not 0 <= distance <= 256:
            raise InvalidArgumentError("max_distance must be 0..256", reason="max_distance")
        types = [q.type for q in queries]
        values = [q.value for q in queries]
        kinds = set(types)
        _check_queries(types, values, kinds)
        flt = self._policy.read_filter(caller, sorted(kinds), lookup=True)
        with self._policy.charged(caller, "lookups_per_day", len(queries)):
            results = self._lookup(caller, types, values, kinds, distance, flt)
        kept, flags = self._safeguards.looked_up(caller, results)
        return LookupAnswer(kept, flags, self._safeguards.quality(m.signal for ms in kept for m in ms))

    def _lookup(
        self, caller: Caller, types: list[int], values: list[bytes], kinds: set[int], distance: int, flt: EventFilter
    ) -> list[Sequence[MatchRecord]]:
        """Each query's matches the caller may see (a shared empty tuple for the many that match nothing)."""
        now = int(self._clock())
        found: dict[int, list[MatchRecord]] = {}  # query index -> matches
        groups: Mapping[int, Sequence[int]]
        if len(kinds) == 1:
            groups = {types[0]: range(len(types))}
        else:
            by_type: dict[int, list[int]] = {}
            for i, type_ in enumerate(types):
                by_type.setdefault(type_, []).append(i)
            groups = by_type
        for type_, idxs in groups.items():
            wanted = [values[i] for i in idxs] if len(groups) > 1 else values
            if type_ == TYPE_MEDIA_PDQ:
                for i, matches in zip(idxs, self._store.lookup_pdq(wanted, distance, now, flt), strict=True):
                    if matches:
                        found[i] = matches
                continue
            where = dict(zip(wanted, idxs, strict=True))  # value -> its query (the last, if asked twice)
            positions: dict[bytes, list[int]] = {}
            if len(where) < len(wanted):  # a value asked more than once: every query asking it gets the matches
                for i, v in zip(idxs, wanted, strict=True):
                    positions.setdefault(v, []).append(i)
            for match in self._store.lookup(type_, list(where), now, flt):
                v = match.signal.value
                for i in positions.get(v) or (where[v],):
                    found.setdefault(i, []).append(match)
        visible = self._policy.reader(caller)
        corroborated = self._policy.corroborated(caller)
        out: list[Sequence[MatchRecord]] = [_NO_MATCHES] * len(types)
        for i, ms in found.items():
            seen = [m for m in ms if visible(m.signal)]
            if seen and corroborated is not None:
                kept = {id(s) for s in corroborated([m.signal for m in seen])}
                seen = [m for m in seen if id(m.signal) in kept]
            if seen:
                out[i] = seen
        return out


def _check_queries(types: list[int], values: list[bytes], kinds: set[int]) -> None:
    """Raise InvalidArgumentError naming the first query of an unknown type or with a value of the wrong size."""
    sizes = {VALUE_BYTES.get(t) for t in kinds}
    if len(sizes) == 1 and None not in sizes and set(map(len, values)) == sizes:
        return  # the common case, checked at C speed: one value size, every value of it
    for i, (type_, value) in enumerate(zip(types, values, strict=True)):
        want = VALUE_BYTES.get(type_)
        if want is None:
            raise InvalidArgumentError(f"query {i}: unknown signal type {type_}", reason="unknown_type")
        if len(value) != want:
            raise InvalidArgumentError(f"query {i}: value must be {want} bytes", reason="bad_value")
