"""What one TAXII collection holds, page by page, for one caller.

Every event the caller may read is one object version, in log order: a SUBMIT is an indicator's first
version, a RETRACT its revoked version, a FEEDBACK an opinion (``client_sdk.stix`` makes them). The
date an object version was added is its event's receipt time, so ascending seq is ascending date
added. Pages are cut by seq, never by time: many events share one receipt second (a batch committed
in one transaction does), and a time cursor would miss or repeat some of them at a page boundary.

Visibility is the gRPC Pull's: the policy engine's ``read_filter`` for the caller, taken afresh for
every page, narrowed to the collection's audience.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from client_sdk.envelope import open_envelope
from client_sdk.stix import SignalView, StixMapper
from client_sdk.vocab import KIND_FEEDBACK, KIND_RETRACT, KIND_SUBMIT, VERDICT_NAMES, type_name
from exchange.store.base import EventFilter, EventRecord, Store

_SCAN = 2000  # events read from the store at a time


@dataclass(frozen=True, slots=True)
class Version:
    """One object version of a collection: the event it comes from and the STIX object."""

    seq: int
    date_added: int
    obj: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed objects/ or manifest/ request."""

    after_seq: int = 0  # from ``next``
    added_after: float | None = None
    limit: int = 1000
    types: frozenset[str] | None = None  # match[type]
    ids: frozenset[str] | None = None  # match[id]
    versions: tuple[str, ...] = ("last",)  # match[version]: first, last, all or timestamps
    spec_versions: frozenset[str] | None = None  # match[spec_version]


class EventIndex:
    """Where each signal's SUBMIT and RETRACT events are, for every signal of the exchange.

    Needed to answer "the latest version" (a submit whose signal was retracted since is not the latest)
    and to find an object by its id. Kept in memory (8 bytes per signal, and one entry per retraction),
    brought up to date from the store before each use.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._seen = 0
        self._submits = array("Q")  # signal id -> seq of its SUBMIT (0: none seen)
        self._retracts: dict[int, int] = {}  # signal id -> seq of its RETRACT

    def _everything(self) -> EventFilter:
        groups = frozenset(g for g in (self._store.group_id(x.name) for x in self._store.list_groups()) if g)
        return EventFilter(audiences=groups)

    def refresh(self) -> None:
        """Read every event committed since the last refresh."""
        with self._lock:
            if self._store.max_seq() <= self._seen:
                return
            everything = self._everything()
            while True:
                events, cursor = self._store.events_after(self._seen, _SCAN, everything)
                for e in events:
                    if e.kind == KIND_SUBMIT:
                        if e.signal_id >= len(self._submits):
                            self._submits.extend([0] * (e.signal_id + 1 - len(self._submits) + 1024))
                        self._submits[e.signal_id] = e.seq
                    elif e.kind == KIND_RETRACT:
                        self._retracts[e.signal_id] = e.seq
                self._seen = max(self._seen, cursor)
                if len(events) < _SCAN:
                    return

    def submit_seq(self, signal_id: int) -> int:
        return self._submits[signal_id] if 0 <= signal_id < len(self._submits) else 0

    def retract_seq(self, signal_id: int) -> int:
        return self._retracts.get(signal_id, 0)


class Collection:
    """The objects of one audience (``None``: shared with every member) as one caller may see them."""

    def __init__(
        self,
        store: Store,
        mapper: StixMapper,
        index: EventIndex,
        audience: int | None,
        audience_name: str,
        visibility: Callable[[], EventFilter],
    ) -> None:
        self._store = store
        self._mapper = mapper
        self._index = index
        self._audience = audience
        self._audience_name = audience_name
        self._visibility = visibility
        self._categories = {name: c.retention_days for name, c in store.categories().items()}

    def _filter(self) -> EventFilter:
        flt = self._visibility()  # the policy, asked again for every page
        return replace(flt, audiences=frozenset() if self._audience is None else frozenset({self._audience}))

    def _in_audience(self, event: EventRecord, body: Any) -> bool:
        if self._audience is None:
            return True  # the store's filter already kept only signals shared with everyone
        if event.kind == KIND_SUBMIT:
            return bool(body.audience == self._audience_name)
        signal = self._store.get_signal(event.signal_id)
        return signal is not None and signal.audience == self._audience

    def _view(self, event: EventRecord, body: Any) -> SignalView:
        days = self._categories.get(body.category)
        if days is None:
            self._categories = {name: c.retention_days for name, c in self._store.categories().items()}
            days = self._categories.get(body.category, 0)
        return SignalView(
            signal_id=event.signal_id,
            submitter=body.submitter,
            type=type_name(body.type),
            value=body.value,
            category=body.category,
            qualifier=body.qualifier,
            confidence=body.confidence,
            created=event.received_at,
            expires_at=body.expires_at or event.received_at + days * 86400,
        )

    def _submit_view(self, signal_id: int, flt: EventFilter) -> tuple[SignalView, int] | None:
        """A signal's view and SUBMIT seq, if the caller may see that SUBMIT."""
        seq = self._index.submit_seq(signal_id)
        if not seq:
            return None
        events, _ = self._store.events_after(seq - 1, 1, flt)
        if not events or events[0].seq != seq:
            return None
        body = open_envelope(events[0].envelope).body()
        if not self._in_audience(events[0], body):
            return None
        return self._view(events[0], body), seq

    def _versions_of(self, event: EventRecord, flt: EventFilter, views: dict[int, SignalView]) -> Version | None:
        """The object version an event is, or None when the caller may not see it here."""
        opened: Any = open_envelope(event.envelope).body()
        if not self._in_audience(event, opened):
            return None
        if event.kind == KIND_SUBMIT:
            view = self._view(event, opened)
            views[event.signal_id] = view
            return Version(event.seq, event.received_at, self._mapper.indicator(view))
        if event.kind == KIND_RETRACT:
            view_seq = views.get(event.signal_id)
            if view_seq is None:
                found = self._submit_view(event.signal_id, flt)
                if found is None:
                    return None
                view_seq = views[event.signal_id] = found[0]
            indicator = self._mapper.indicator(view_seq, modified=event.received_at, revoked=True)
            return Version(event.seq, event.received_at, indicator)
        if event.kind == KIND_FEEDBACK:
            verdict = VERDICT_NAMES.get(opened.verdict, "unknown")
            obj = self._mapper.opinion(event.seq, event.signal_id, opened.submitter, verdict, event.received_at)
            return Version(event.seq, event.received_at, obj)
        return None

    def _keep(self, event: EventRecord, query: Query) -> bool:
        """Filters decided from the event alone, before its envelope is opened. Every version's
        ``modified`` is its event's receipt time, so match[version] needs no object either."""
        if query.added_after is not None and event.received_at <= query.added_after:
            return False
        is_indicator = event.kind in (KIND_SUBMIT, KIND_RETRACT)
        if query.types is not None and ("indicator" if is_indicator else "opinion") not in query.types:
            return False
        if query.ids is not None:
            own = self._mapper.indicator_id(event.signal_id) if is_indicator else self._mapper.opinion_id(event.seq)
            if own not in query.ids:
                return False
        wanted = query.versions
        if "all" in wanted:
            return True
        # An indicator has at most two versions: its SUBMIT, and its RETRACT once retracted.
        is_first = event.kind != KIND_RETRACT
        is_last = event.kind != KIND_SUBMIT or not self._index.retract_seq(event.signal_id)
        named = any(v not in ("first", "last") for v in wanted)  # decided on the object, in page()
        return named or ("first" in wanted and is_first) or ("last" in wanted and is_last)

    def page(self, query: Query) -> tuple[list[Version], bool, int]:
        """Up to ``query.limit`` versions after ``query.after_seq``; whether more may follow; the seq to
        resume after (the last version's)."""
        if query.spec_versions is not None and "2.1" not in query.spec_versions:
            return [], False, query.after_seq
        self._index.refresh()
        flt = self._filter()
        out: list[Version] = []
        views: dict[int, SignalView] = {}
        seq = query.after_seq
        want = query.limit + 1  # one more than asked: tells whether more follow
        while len(out) < want:
            asked = max(_SCAN, want - len(out))
            events, cursor = self._store.events_after(seq, asked, flt)
            for event in events:
                seq = event.seq
                if not self._keep(event, query):
                    continue
                version = self._versions_of(event, flt, views)
                if version is not None and _wanted(version, event, query, self._index):
                    out.append(version)
                    if len(out) == want:
                        break
            if len(out) == want or len(events) < asked:
                break
            seq = max(seq, cursor)
        more = len(out) > query.limit
        out = out[: query.limit]
        return out, more, (out[-1].seq if out else seq)

    def versions_of_id(self, object_id: str) -> list[Version]:
        """Every version of one object that the caller may see here, oldest first."""
        found = self._mapper.number_of(object_id)
        if found is None:
            return []
        self._index.refresh()
        flt = self._filter()
        kind, number = found
        if kind == "opinion":
            events, _ = self._store.events_after(number - 1, 1, flt)
            if not events or events[0].seq != number or events[0].kind != KIND_FEEDBACK:
                return []
            version = self._versions_of(events[0], flt, {})
            return [version] if version is not None else []
        if kind != "indicator":
            return []
        submit = self._submit_view(number, flt)
        if submit is None:
            return []
        view, seq = submit
        out = [Version(seq, view.created, self._mapper.indicator(view))]
        retract = self._index.retract_seq(number)
        if retract:
            events, _ = self._store.events_after(retract - 1, 1, flt)
            if events and events[0].seq == retract:
                version = self._versions_of(events[0], flt, {number: view})
                if version is not None:
                    out.append(version)
        return out


def select_versions(versions: Sequence[Version], wanted: Sequence[str]) -> list[Version]:
    """Apply match[version] to the versions of one object (oldest first)."""
    if not versions or "all" in wanted:
        return list(versions)
    out: list[Version] = []
    for i, v in enumerate(versions):
        named = v.obj.get("modified") in wanted
        if named or ("first" in wanted and i == 0) or ("last" in wanted and i == len(versions) - 1):
            out.append(v)
    return out


def _wanted(version: Version, event: EventRecord, query: Query, index: EventIndex) -> bool:
    """match[version] with timestamps: the version whose ``modified`` is named (first/last as in _keep)."""
    wanted = query.versions
    if "all" in wanted or version.obj["modified"] in wanted:
        return True
    is_first = event.kind != KIND_RETRACT
    is_last = event.kind != KIND_SUBMIT or not index.retract_seq(event.signal_id)
    return ("first" in wanted and is_first) or ("last" in wanted and is_last)
