"""The live fan-out filters in memory what ``events_after`` filters in SQL: for any log (signals of every
type, category and audience, retractions, feedback, admin events, purged envelopes) and any reader's
filter, ``EventFilter.admits`` over ``live_events`` keeps exactly the events ``events_after`` returns."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk.envelope import seal_body
from client_sdk.keys import SigningKey
from client_sdk.wire import signals_pb2
from exchange.errors import ExchangeError
from exchange.store.base import AdminEvent, EventFilter, NewSignal
from exchange.store.sqlite import SqliteStore

KEY = SigningKey.generate()
NOW = 1_800_000_000
TYPES = list(range(1, 10))

# one log entry: ("signal", type, category index, audience index or None, expires soon)
#                | ("retract", signal index) | ("feedback", signal index) | ("admin",)
ENTRIES = st.lists(
    st.one_of(
        st.tuples(
            st.just("signal"), st.sampled_from(TYPES), st.integers(0, 2), st.none() | st.integers(0, 1), st.booleans()
        ),
        st.tuples(st.just("retract"), st.integers(0, 30)),
        st.tuples(st.just("feedback"), st.integers(0, 30)),
        st.tuples(st.just("admin")),
    ),
    max_size=30,
)
FILTERS = st.builds(
    EventFilter,
    types=st.none() | st.frozensets(st.sampled_from(TYPES)),
    categories=st.none() | st.frozensets(st.integers(0, 2)),
    audiences=st.frozensets(st.integers(0, 1)),
)


def _envelope(i: int) -> bytes:
    body = signals_pb2.SignalBody(submitter="a", type=1, value=i.to_bytes(32, "big"), category="grooming")
    return seal_body(body, KEY)


def _build(path: Path, entries: list[tuple]) -> tuple[SqliteStore, list[int], list[int]]:
    """A store holding ``entries``; the rows of the 3 categories and of the 2 groups used."""
    store = SqliteStore(path)
    member = store.add_member("a", "member", "a", NOW).row
    other = store.add_member("b", "member", "b", NOW).row
    categories = [c.row for c in sorted(store.categories().values(), key=lambda c: c.name)[:3]]
    groups = []
    for g in ("g0", "g1"):
        store.create_group(g, AdminEvent(member, _envelope(0), NOW))
        groups.append(store.group_id(g))
    signals: list[int] = []
    for n, entry in enumerate(entries, start=1):
        if entry[0] == "signal":
            _, type_, cat, audience, soon = entry
            [out] = store.submit(
                [
                    NewSignal(
                        member,
                        type_,
                        n.to_bytes(32 if type_ != 8 else 16, "big"),
                        categories[cat],
                        "x" if type_ in (3, 4) else None,
                        None if audience is None else groups[audience],
                        50,
                        NOW + (10 if soon else 10_000),
                        _envelope(n),
                        NOW,
                    )
                ]
            )
            signals.append(out.signal_id)
        elif entry[0] == "admin":
            store.create_group(f"x{n}", AdminEvent(member, _envelope(n), NOW))
        elif signals:
            target = signals[entry[1] % len(signals)]
            with contextlib.suppress(ExchangeError):  # on a retracted signal: refused, nothing logged
                if entry[0] == "feedback":
                    store.feedback(target, other, 1, _envelope(n), NOW)
                else:
                    store.retract(target, member, _envelope(n), NOW)
    store.purge_expired(NOW + 100)  # signals that expire soon lose their envelopes (and their rows)
    return store, categories, [g for g in groups if g is not None]


@settings(max_examples=60, deadline=None)
@given(entries=ENTRIES, filters=st.lists(FILTERS, min_size=1, max_size=4), page=st.integers(1, 40))
def test_admits_matches_events_after(entries: list[tuple], filters: list[EventFilter], page: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _check(_build(Path(tmp) / "x.db", entries), filters, page)


def _check(built: tuple[SqliteStore, list[int], list[int]], filters: list[EventFilter], page: int) -> None:
    store, categories, groups = built
    try:
        live = store.live_events(0, 1000)
        assert [e.event.seq for e in live] == list(range(1, store.max_seq() + 1))  # every event, in order
        for flt in filters:
            real = EventFilter(  # the indexes drawn, as the rows this store gave them
                types=flt.types,
                categories=None if flt.categories is None else frozenset(categories[c] for c in flt.categories),
                audiences=frozenset(groups[a] for a in flt.audiences),
            )
            in_memory = [e.event for e in live if real.admits(e)]
            in_sql, seq = [], 0
            while True:  # paged, as a stream catches up
                events, seq = store.events_after(seq, page, real)
                in_sql += events
                if len(events) < page:
                    break
            assert in_memory == in_sql
            assert seq == store.max_seq()
        assert store.live_events(store.max_seq(), 10) == []
    finally:
        store.close()
