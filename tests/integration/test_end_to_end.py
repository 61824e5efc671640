"""Submit, pull, subscribe, look up, retract and give feedback through a real server."""

from __future__ import annotations

import threading
import time

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.errors import FailedPreconditionError, NotFoundError, PermissionDeniedError
from tests.harness import Exchange

pytestmark = pytest.mark.integration

CAT = "sextortion.financial"


def test_submit_every_identifier_type(client_a: ExchangeClient) -> None:
    signals = [
        Signal(Identifier("email", "Jane.Doe@gmail.com"), category=CAT),
        Signal(Identifier("phone", "+1 415 555 0100"), category=CAT),
        Signal(Identifier("username", "@Jane_Doe", platform="instagram"), category="grooming"),
        Signal(Identifier("payment_handle", "$JaneDoe", provider="cashapp"), category=CAT),
        Signal(Identifier("url", "HTTP://Example.COM/a/../b#frag"), category=CAT),
        Signal(Identifier("domain", "Example.COM."), category=CAT),
        Signal(Identifier("ip", "2001:db8::1"), category=CAT),
        Signal(Identifier("media_md5", "d41d8cd98f00b204e9800998ecf8427e"), category="csam.distribution"),
        Signal(Identifier("media_pdq", "f" * 64), category="csam.distribution"),
    ]
    results = client_a.submit(signals)
    assert [r.status for r in results] == ["accepted"] * len(signals)
    first = results[0].seq
    assert [r.seq for r in results] == list(range(first, first + len(signals)))
    events = list(client_a.pull())
    assert [e.signal.type for e in events if e.signal] == [s.identifier.type for s in signals]
    assert events[3].signal is not None and events[3].signal.qualifier == "cashapp"
    assert events[2].signal is not None and events[2].signal.qualifier == "instagram"


def test_equivalent_spellings_match(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    client_a.submit([Signal(Identifier("email", "Jane.Doe+promo@googlemail.com"), category=CAT)])
    [hit, miss] = client_b.lookup([Identifier("email", "janedoe@gmail.com"), Identifier("email", "jane@example.com")])
    assert len(hit.matches) == 1 and hit.matches[0].submitter == "demo-a" and hit.matches[0].category == CAT
    assert miss.matches == []
    [cash] = client_b.lookup([Identifier("payment_handle", "https://cash.app/$janedoe")])
    assert cash.matches == []
    client_a.submit([Signal(Identifier("payment_handle", "$JaneDoe"), category=CAT)])
    [cash] = client_b.lookup([Identifier("payment_handle", "cash.app/$JANEDOE")])
    assert len(cash.matches) == 1 and cash.matches[0].qualifier == "cashapp"


def test_resubmit_is_idempotent(exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    signal = Signal(Identifier("email", "x@example.com"), category=CAT)
    [first] = client_a.submit([signal])
    exchange.clock.advance(120)
    [second] = client_a.submit([signal])
    assert second.status == "duplicate" and second.signal_id == first.signal_id and second.seq == first.seq
    assert [e.seq for e in client_a.pull()] == [first.seq]
    [match] = client_b.lookup([Identifier("email", "x@example.com")])[0].matches
    assert match.last_seen >= match.first_seen + 119
    # Same identifier, another category: a distinct signal.
    [third] = client_a.submit([Signal(signal.identifier, category="grooming")])
    assert third.status == "accepted" and third.signal_id != first.signal_id


def test_same_signal_twice_in_one_batch(client_a: ExchangeClient) -> None:
    signal = Signal(Identifier("domain", "bad.example"), category=CAT)
    results = client_a.submit([signal, signal])
    assert [r.status for r in results] == ["accepted", "duplicate"]
    assert results[0].signal_id == results[1].signal_id


def test_submit_stream_bulk(client_a: ExchangeClient) -> None:
    signals = [Signal(Identifier("domain", f"d{i}.example"), category=CAT) for i in range(2500)]
    batches: list[int] = []
    results = list(client_a.submit_stream(signals, batch_size=400, on_batch=lambda b: batches.append(len(b))))
    assert len(results) == 2500 and all(r.status == "accepted" for r in results)
    assert batches == [400] * 6 + [100]
    assert [r.seq for r in results] == list(range(results[0].seq, results[0].seq + 2500))


def test_retract_stops_matching(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    ident = Identifier("phone", "+44 20 7946 0958")
    [r] = client_a.submit([Signal(ident, category=CAT)])
    assert client_b.lookup([ident])[0].found
    with pytest.raises(PermissionDeniedError) as denied:
        client_b.retract(r.signal_id, reason="not mine")
    assert denied.value.reason == "not_submitter"
    seq = client_a.retract(r.signal_id, reason="appeal upheld").seq
    assert not client_b.lookup([ident])[0].found
    events = list(client_b.pull())
    assert [(e.kind, e.seq) for e in events] == [("submit", r.seq), ("retract", seq)]
    assert events[1].reason == "appeal upheld" and events[1].signal_id == r.signal_id
    with pytest.raises(FailedPreconditionError):
        client_a.retract(r.signal_id)
    with pytest.raises(NotFoundError):
        client_a.retract(999_999)


def test_feedback(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    ident = Identifier("username", "offender", platform="snapchat")
    [r] = client_a.submit([Signal(ident, category=CAT)])
    client_b.feedback(r.signal_id, verdict="confirmed")
    client_b.feedback(r.signal_id, verdict="actioned")  # a member's later verdict replaces its earlier one
    [match] = client_a.lookup([ident])[0].matches
    assert match.feedback["actioned"] == 1 and match.feedback["confirmed"] == 0
    kinds = [(e.kind, e.verdict, e.submitter) for e in client_a.pull()]
    assert kinds[1:] == [("feedback", "confirmed", "demo-b"), ("feedback", "actioned", "demo-b")]
    with pytest.raises(FailedPreconditionError) as own:
        client_a.feedback(r.signal_id, verdict="confirmed")
    assert own.value.reason == "own_signal"
    with pytest.raises(NotFoundError):
        client_b.feedback(424242, verdict="confirmed")
    with pytest.raises(ValueError, match="unknown verdict"):
        client_b.feedback(r.signal_id, verdict="maybe")


def test_expired_signals_stop_matching_and_are_purged(exchange: Exchange, client_a: ExchangeClient) -> None:
    ident = Identifier("ip", "192.0.2.7")
    now = int(exchange.clock())
    [short] = client_a.submit([Signal(ident, category=CAT, expires_at=now + 60)])
    [long] = client_a.submit([Signal(Identifier("ip", "192.0.2.8"), category=CAT)])
    assert client_a.lookup([ident])[0].found
    exchange.clock.advance(61)
    assert not client_a.lookup([ident])[0].found
    assert exchange.running.retention.run_once() == 1
    assert [e.signal_id for e in client_a.pull()] == [long.signal_id]
    assert exchange.running.store.get_signal(short.signal_id) is None


def test_lookup_pdq_by_hamming_distance(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    base = int("a5" * 32, 16)
    near = base ^ ((1 << 20) - 1)  # 20 bits away
    far = base ^ ((1 << 40) - 1)  # 40 bits away
    client_a.submit([Signal(Identifier("media_pdq", f"{base:064x}"), category="csam.distribution")])
    [default, strict, loose] = [
        client_b.lookup([("media_pdq", near.to_bytes(32, "big"))], max_distance=d)[0] for d in (None, 10, 64)
    ]
    assert [m.distance for m in default.matches] == [20]
    assert strict.matches == []
    assert [m.distance for m in client_b.lookup([("media_pdq", far.to_bytes(32, "big"))])[0].matches] == []
    assert [m.distance for m in loose.matches] == [20]


def test_subscribe_receives_live_events(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    [early] = client_a.submit([Signal(Identifier("domain", "early.example"), category=CAT)])
    received: list[int] = []
    ready = threading.Event()

    def listen() -> None:
        for event in client_b.subscribe(on_cursor=lambda _c: ready.set()):
            received.append(event.seq)
            ready.set()
            if len(received) == 3:
                return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    late = client_a.submit([Signal(Identifier("domain", f"late{i}.example"), category=CAT) for i in range(2)])
    thread.join(10)
    assert received == [early.seq, *(r.seq for r in late)]


def test_pull_filters_and_limits(client_a: ExchangeClient) -> None:
    one, two, three = (
        r.seq
        for r in client_a.submit(
            [
                Signal(Identifier("domain", "a.example"), category=CAT),
                Signal(Identifier("ip", "198.51.100.1"), category="grooming"),
                Signal(Identifier("domain", "b.example"), category="grooming"),
            ]
        )
    )
    assert [e.seq for e in client_a.pull(types=["domain"])] == [one, three]
    assert [e.seq for e in client_a.pull(categories=["grooming"])] == [two, three]
    assert [e.seq for e in client_a.pull(limit=2)] == [one, two]
    assert [e.seq for e in client_a.pull(after=f"c1.{one}", types=["domain"])] == [three]


def test_pull_cursor_skips_filtered_tail(client_a: ExchangeClient) -> None:
    [first] = client_a.submit([Signal(Identifier("domain", "a.example"), category=CAT)])
    client_a.submit([Signal(Identifier("ip", "203.0.113.9"), category=CAT)])
    events = list(client_a.pull(types=["domain"]))
    assert [e.seq for e in events] == [first.seq]
    time.sleep(0)
    assert list(client_a.pull(after=events[-1].cursor, types=["domain"])) == []


def test_wire_type_names_match_and_look_up(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    """``SIGNAL_TYPE_EMAIL`` is ``email``: the same pseudonym, the same matches, for media hashes too."""
    md5 = "0cc175b9c0f1b6a831c399e269772661"
    [email, media] = client_a.submit(
        [
            Signal(Identifier("SIGNAL_TYPE_EMAIL", "Jane.Doe@gmail.com"), category=CAT),
            Signal(Identifier("MEDIA_MD5", md5), category="csam.distribution"),
        ]
    )
    assert email.status == media.status == "accepted"
    assert client_b.pseudonymise([Identifier("EMAIL", "janedoe@gmail.com")]) == client_b.pseudonymise(
        [Identifier("email", "jane.doe@gmail.com")]
    )
    [by_name, by_wire, by_media, by_pair] = client_b.lookup(
        [
            Identifier("email", "janedoe@gmail.com"),
            Identifier("SIGNAL_TYPE_EMAIL", "JaneDoe@gmail.com"),
            Identifier("SIGNAL_TYPE_MEDIA_MD5", md5.upper()),
            ("SIGNAL_TYPE_MEDIA_MD5", bytes.fromhex(md5)),
        ]
    )
    assert [m.signal_id for m in by_name.matches] == [m.signal_id for m in by_wire.matches] == [email.signal_id]
    assert [m.signal_id for m in by_media.matches] == [m.signal_id for m in by_pair.matches] == [media.signal_id]
