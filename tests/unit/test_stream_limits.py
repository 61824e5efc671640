"""The pieces behind live streams, without sockets: the wake-up bus, the max_streams policy field and its
check, the process-wide stream registry."""

from __future__ import annotations

import pytest

from exchange.errors import InvalidArgumentError, QuotaExceededError
from exchange.identity import Caller
from exchange.live.wakeups import WakeupBus
from exchange.policy.document import MAX_STREAMS, Rules, parse
from exchange.policy.engine import PolicyEngine
from exchange.policy.quota import QuotaLedger
from exchange.rpc.streams import StreamRegistry
from exchange.store.sqlite import SqliteStore


def test_bus_tells_listeners_until_they_stop() -> None:
    bus = WakeupBus(latest=3)
    heard: list[int] = []
    stop = bus.listen(heard.append)
    bus.publish(5)
    bus.publish(4)  # older than the newest: every listener still hears it, latest stays
    assert heard == [5, 4] and bus.latest == 5
    stop()
    stop()  # twice is harmless
    bus.publish(6)
    assert heard == [5, 4] and bus.latest == 6
    bus.listen(heard.append)
    bus.close()
    bus.publish(7)
    assert heard == [5, 4] and bus.closed


def test_max_streams_is_a_policy_key() -> None:
    doc = parse("[defaults]\nmax_streams = 4\n[members.a]\nmax_streams = 200\n", ["a", "b"], [])
    assert doc.rules_for("a").max_streams == 200 and doc.rules_for("b").max_streams == 4
    assert parse(doc.render(), ["a", "b"], []).render() == doc.render()
    assert Rules().max_streams == 16
    for bad in ("-1", "true", f"{MAX_STREAMS + 1}", '"16"'):
        with pytest.raises(InvalidArgumentError, match=r"defaults\.max_streams"):
            parse(f"[defaults]\nmax_streams = {bad}\n", [], [])


def test_admit_stream_refuses_past_the_limit_naming_it() -> None:
    store = SqliteStore(":memory:")
    try:
        member = store.add_member("a", "member", "a", 0)
        store.set_policy("[members.a]\nmax_streams = 2\n", None)
        policy = PolicyEngine(store, QuotaLedger(lambda: 0.0))
        caller = Caller(member)
        policy.admit_stream(caller, 0)
        policy.admit_stream(caller, 1)
        with pytest.raises(QuotaExceededError) as refused:
            policy.admit_stream(caller, 2)
        assert refused.value.reason == "max_streams" and "max_streams=2" in refused.value.message
        assert refused.value.retry_after > 0
    finally:
        store.close()


def test_registry_counts_per_member_and_refuses_past_the_process_cap() -> None:
    streams = StreamRegistry(limit=3)
    assert [streams.reserve("a", "m"), streams.reserve("a", "m"), streams.reserve("b", "m")] == [0, 1, 0]
    with pytest.raises(QuotaExceededError) as refused:
        streams.reserve("c", "m")
    assert refused.value.reason == "max_open_streams"
    streams.release("a", "m")
    assert streams.held_by("a") == 1 and streams.total == 2
    assert streams.reserve("c", "m") == 0
    for member in ("a", "b", "c"):
        streams.release(member, "m")
    assert streams.total == 0 and streams.held_by("a") == 0
