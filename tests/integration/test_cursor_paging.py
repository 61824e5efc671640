"""Cursors are stable: pulling in pages of any size yields exactly the sequence of one pull."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk import ExchangeClient, Identifier, Signal
from tests.harness import Exchange

pytestmark = pytest.mark.integration

TYPES = ["domain", "ip", "email"]
CATEGORIES = ["sextortion.financial", "grooming"]


@pytest.fixture(scope="module")
def populated(shared_exchange: Exchange) -> Iterator[tuple[ExchangeClient, list[int]]]:
    with shared_exchange.client("demo-a") as a, shared_exchange.client("demo-b") as b:
        signals = []
        for i in range(120):
            kind = TYPES[i % 3]
            value = {"domain": f"h{i}.example", "ip": f"198.51.100.{i}", "email": f"u{i}@example.com"}[kind]
            signals.append(Signal(Identifier(kind, value), category=CATEGORIES[i % 2]))
        results = a.submit(signals[:60]) + b.submit(signals[60:])
        for r in results[:10]:
            b.feedback(r.signal_id, verdict="confirmed")
        a.retract(results[3].signal_id, reason="mistake")
        full = [e.seq for e in a.pull()]
        assert len(full) == 131
        yield a, full


def _paged(client: ExchangeClient, sizes: list[int], **filters: list[str]) -> list[int]:
    seqs: list[int] = []
    cursor = None
    for size in _cycle(sizes):
        page = list(client.pull(after=cursor, limit=size, **filters))
        if not page:
            return seqs
        seqs.extend(e.seq for e in page)
        cursor = page[-1].cursor
    raise AssertionError("unreachable")


def _cycle(sizes: list[int]) -> Iterator[int]:
    while True:
        yield from sizes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    types=st.lists(st.sampled_from(TYPES), unique=True, max_size=2),
    categories=st.lists(st.sampled_from(CATEGORIES), unique=True, max_size=1),
)
def test_any_paging_equals_one_pull(
    populated: tuple[ExchangeClient, list[int]], sizes: list[int], types: list[str], categories: list[str]
) -> None:
    client, _ = populated
    whole = [e.seq for e in client.pull(types=types, categories=categories)]
    assert _paged(client, sizes, types=types, categories=categories) == whole


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_resuming_from_any_event_cursor_gives_the_rest(
    populated: tuple[ExchangeClient, list[int]], data: st.DataObject
) -> None:
    client, full = populated
    events = list(client.pull())
    i = data.draw(st.integers(min_value=0, max_value=len(events) - 1))
    assert [e.seq for e in client.pull(after=events[i].cursor)] == full[i + 1 :]


def test_sequence_is_gap_free_and_ordered(populated: tuple[ExchangeClient, list[int]]) -> None:
    _, full = populated
    assert full == list(range(full[0], full[0] + len(full)))
