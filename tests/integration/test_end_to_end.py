"""Submit, pull, subscribe, look up, retract and give feedback through a real server."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.envelope import seal_body
from client_sdk.errors import FailedPreconditionError, NotFoundError, QuotaExceededError
from client_sdk.vocab import VERDICT_CODES
from client_sdk.wire import admin_pb2, exchange_pb2, exchange_pb2_grpc, signals_pb2
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
    """A true duplicate changes nothing anyone can see: no event, the same first/last seen and expiry."""
    signal = Signal(Identifier("email", "x@example.com"), category=CAT)
    [first] = client_a.submit([signal])
    [before] = client_b.lookup([signal.identifier])[0].matches
    exchange.clock.advance(120)
    [second] = client_a.submit([signal])
    assert second.status == "duplicate" and second.signal_id == first.signal_id and second.seq == first.seq
    assert second.ok and second.log_index is None
    assert [e.seq for e in client_a.pull()] == [first.seq]
    [after] = client_b.lookup([signal.identifier])[0].matches
    assert after == before
    # Same identifier, another category: a distinct signal.
    [third] = client_a.submit([Signal(signal.identifier, category="grooming")])
    assert third.status == "accepted" and third.signal_id != first.signal_id


def test_resubmit_after_own_retraction_is_a_new_submit(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    signal = Signal(Identifier("email", "back@example.com"), category=CAT, confidence=40)
    [first] = client_a.submit([signal])
    retracted = client_a.retract(first.signal_id, reason="entered by mistake")
    assert client_b.lookup([signal.identifier])[0].matches == []
    exchange.clock.advance(60)
    [again] = client_a.submit([Signal(signal.identifier, category=CAT, confidence=90)])
    assert again.status == "accepted" and again.signal_id == first.signal_id
    assert again.seq > retracted.seq and again.log_index == again.seq - 1
    client_a.verify_receipt(again)
    [match] = client_b.lookup([signal.identifier])[0].matches
    assert match.signal_id == first.signal_id and match.confidence == 90
    assert match.last_seen >= match.first_seen + 60
    kinds = [(e.kind, e.signal_id) for e in client_b.pull()]
    assert kinds == [("submit", first.signal_id), ("retract", first.signal_id), ("submit", first.signal_id)]


def test_resubmit_after_expiry_is_a_new_submit(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    ident = Identifier("domain", "expired.example")
    [first] = client_a.submit([Signal(ident, category=CAT, expires_at=int(exchange.clock()) + 3600)])
    exchange.clock.advance(7200)
    assert client_b.lookup([ident])[0].matches == []
    [again] = client_a.submit([Signal(ident, category=CAT)])
    assert again.status == "accepted" and again.signal_id == first.signal_id and again.seq > first.seq
    [match] = client_b.lookup([ident])[0].matches
    assert match.expires_at > exchange.clock() + 86400


def test_resubmit_after_redress_is_refused(exchange: Exchange, client_a: ExchangeClient) -> None:
    ident = Identifier("phone", "+1 415 555 0199")
    [first] = client_a.submit([Signal(ident, category=CAT)])
    with exchange.client("operator") as operator:
        operator.retract(first.signal_id, reason="appeal upheld")
    [again] = client_a.submit([Signal(ident, category=CAT)])
    assert again.status == "rejected" and not again.ok
    assert again.code == "FAILED_PRECONDITION" and again.tag == "retracted_for_redress"
    assert str(first.signal_id) in again.reason


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
    # Another member's signal is answered exactly like a missing one: retraction is no existence oracle.
    with pytest.raises(NotFoundError) as theirs:
        client_b.retract(r.signal_id, reason="not mine")
    with pytest.raises(NotFoundError) as missing:
        client_b.retract(999_999, reason="not mine")
    assert theirs.value.reason == missing.value.reason == "signal_not_found"
    assert theirs.value.message.replace(str(r.signal_id), "N") == missing.value.message.replace("999999", "N")
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


def _pdq(value: int) -> Identifier:
    return Identifier("media_pdq", f"{value:064x}")


def _flipped(value: int, bits: int) -> bytes:
    return (value ^ ((1 << bits) - 1)).to_bytes(32, "big")


def test_pdq_search_follows_submits_retractions_expiry_and_audiences(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """The index answers what a scan of the active, visible signals would: a hash is found the moment
    it is stored (31 bits away, not 32), and never once retracted, expired or outside the reader's groups."""
    first, second, third, hidden = (int(h * 32, 16) for h in ("a5", "3c", "96", "e1"))
    now = int(exchange.clock())

    def distances(value: int, bits: int, reader: ExchangeClient = client_b) -> list[int]:
        return [m.distance for m in reader.lookup([("media_pdq", _flipped(value, bits))])[0].matches]

    assert distances(first, 0) == []  # the index loads while nothing is stored
    [r1] = client_a.submit([Signal(_pdq(first), category=CAT)])
    assert (distances(first, 31), distances(first, 32)) == ([31], [])
    [_, r3] = client_a.submit(
        [Signal(_pdq(second), category=CAT), Signal(_pdq(third), category=CAT, expires_at=now + 60)]
    )
    assert (distances(second, 30), distances(third, 1)) == ([30], [1])
    client_a.retract(r1.signal_id, reason="appeal upheld")
    assert distances(first, 0) == []
    exchange.clock.advance(61)
    assert distances(third, 0) == [] and distances(second, 0) == [0]
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(create_group=admin_pb2.CreateGroup(name="closed"))
        op.change(set_group_membership=admin_pb2.SetGroupMembership(group="closed", member_id="demo-a", member=True))
    client_a.submit([Signal(_pdq(hidden), category=CAT, audience="closed")])
    assert distances(hidden, 3, client_b) == [] and distances(hidden, 3, client_a) == [3]
    [again] = client_a.submit([Signal(_pdq(first), category=CAT)])  # submitted again: active once more
    assert again.signal_id == r1.signal_id and distances(first, 5) == [5]
    assert r3.status == "accepted"


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


def test_one_current_verdict_per_member(exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    """A replayed feedback envelope, or the same verdict again, records nothing; a new verdict replaces it."""
    [sig] = client_a.submit([Signal(Identifier("email", "fb@example.com"), category=CAT)])
    size = exchange.running.store.log_size()
    first = client_b.feedback(sig.signal_id, "confirmed")
    assert not first.unchanged and first.envelope_sha256
    client_b.verify_receipt(first)
    for _ in range(14):
        again = client_b.feedback(sig.signal_id, "CONFIRMED")
        assert again.unchanged and (again.seq, again.log_index) == (first.seq, first.log_index)
    with grpc.secure_channel(exchange.address, _tls(exchange, "demo-b")) as channel:
        stub = exchange_pb2_grpc.ExchangeStub(channel)
        envelope = exchange_pb2.FeedbackRequest(envelope=_feedback_envelope(exchange, sig.signal_id, "confirmed"))
        for _ in range(10):
            assert stub.Feedback(envelope, timeout=10).unchanged
    assert exchange.running.store.log_size() == size + 1
    changed = client_b.feedback(sig.signal_id, "false_positive")
    assert not changed.unchanged and changed.seq > first.seq
    assert exchange.running.store.log_size() == size + 2
    [match] = client_a.lookup([Identifier("email", "fb@example.com")])[0].matches
    assert match.feedback["false_positive"] == 1 and match.feedback["confirmed"] == 0


def test_who_sees_who_gave_which_verdict(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """The signal's submitter and the verdict's author see the FEEDBACK event; everyone else sees counts."""
    third = exchange.add_member("demo-c")
    [sig] = client_a.submit([Signal(Identifier("email", "seen@example.com"), category=CAT)])
    done = client_b.feedback(sig.signal_id, "actioned")
    with ExchangeClient.connect(exchange.address, credentials=third, timeout=30) as client_c:
        assert [e.kind for e in client_c.pull()] == ["submit"]
        [match] = client_c.lookup([Identifier("email", "seen@example.com")])[0].matches
        assert match.feedback["actioned"] == 1
    for client in (client_a, client_b):
        events = list(client.pull())
        assert [(e.kind, e.seq) for e in events] == [("submit", sig.seq), ("feedback", done.seq)]
        assert events[1].submitter == "demo-b" and events[1].verdict == "actioned"


def test_feedback_is_rate_limited(exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    sigs = client_a.submit([Signal(Identifier("domain", f"q{i}.example"), category=CAT) for i in range(3)])
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-b]\nfeedback_per_day = 2\n"))
    client_b.feedback(sigs[0].signal_id, "confirmed")
    client_b.feedback(sigs[1].signal_id, "confirmed")
    with pytest.raises(QuotaExceededError) as info:
        client_b.feedback(sigs[2].signal_id, "confirmed")
    assert info.value.reason == "feedback_per_day" and info.value.retry_after


def test_submit_in_batches_keeps_order_and_stops_at_a_failing_batch(
    exchange: Exchange, client_a: ExchangeClient
) -> None:
    """submit() prepares a batch while the one before is stored: results still come in input order, local
    rejections in their places (a batch of nothing but rejections included), and when a later batch
    cannot be prepared the error is raised with every earlier batch stored and nothing after it sent."""
    idents = [Identifier("email", f"order{i}@example.com") for i in range(25)]
    idents[3] = idents[12] = Identifier("email", "not an address")
    idents[20:23] = [Identifier("email", "@nowhere")] * 3
    results = client_a.submit([Signal(i, category=CAT) for i in idents], batch_size=3)
    assert [r.status for r in results] == ["rejected" if i in (3, 12, 20, 21, 22) else "accepted" for i in range(25)]
    accepted = [r.seq for r in results if r.status == "accepted"]
    assert accepted == sorted(accepted) and [e.seq for e in client_a.pull()] == accepted
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-a]\nevaluations_per_day = 30\n"))
    more = [Signal(Identifier("email", f"later{i}@example.com"), category=CAT) for i in range(40)]
    with pytest.raises(QuotaExceededError):
        client_a.submit(more, batch_size=10)  # 20 pseudonyms used above; the second batch of 10 is refused
    stored = [e.seq for e in client_a.pull() if e.kind == "submit" and e.seq > accepted[-1]]
    assert len(stored) == 10  # the first batch, and nothing after the refusal


def _tls(exchange: Exchange, name: str) -> grpc.ChannelCredentials:
    c = Credentials.load(exchange.creds(name))
    return grpc.ssl_channel_credentials(c.ca_pem, c.tls_key_pem, c.cert_pem)


def _feedback_envelope(exchange: Exchange, signal_id: int, verdict: str) -> bytes:
    key = Credentials.load(exchange.creds("demo-b")).signing_key
    body = signals_pb2.FeedbackBody(
        submitter="demo-b", signal_id=signal_id, verdict=VERDICT_CODES[verdict], created_at=int(time.time())
    )
    return seal_body(body, key)
