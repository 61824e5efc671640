"""Malformed requests get a precise status, never UNKNOWN or INTERNAL; nothing changes; the server stays up.

Over 10,000 hypothesis-generated requests go through the real TLS channel: random bytes where
envelopes belong, raw garbage in place of whole protobuf messages, wrong field types, huge strings,
absurd batch sizes and zero deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk.credentials import Credentials
from client_sdk.envelope import seal_body
from client_sdk.wire import exchange_pb2, log_pb2, pseudonymizer_pb2, signals_pb2
from tests.harness import Exchange

pytestmark = pytest.mark.integration

FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
EXAMPLES = 700  # per test, 300 for the three whose inputs are large; 10 tests -> over 6,000 requests per store
LARGE_EXAMPLES = 300
METHODS = [
    "/signal_exchange.v1.Exchange/Submit",
    "/signal_exchange.v1.Exchange/Lookup",
    "/signal_exchange.v1.Exchange/Retract",
    "/signal_exchange.v1.Exchange/Feedback",
    "/signal_exchange.v1.Pseudonymizer/Evaluate",
    "/signal_exchange.v1.Directory/ListSigningKeys",
    "/signal_exchange.v1.Admin/ApplyChange",
    "/signal_exchange.v1.Log/GetInclusionProof",
    "/signal_exchange.v1.Log/GetConsistencyProof",
]


@pytest.fixture(scope="module")
def fuzz_channel(shared_exchange: Exchange) -> Iterator[tuple[Exchange, grpc.Channel]]:
    c = Credentials.load(shared_exchange.creds("demo-a"))
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    tls = grpc.ssl_channel_credentials(c.ca_pem, c.tls_key_pem, c.cert_pem)
    with grpc.secure_channel(shared_exchange.address, tls, options=options) as channel:
        before = shared_exchange.running.store.log_size()
        yield shared_exchange, channel
        assert shared_exchange.running.store.log_size() == before  # nothing was accepted


def _raw(channel: grpc.Channel, method: str, payload: bytes, timeout: float = 10) -> grpc.StatusCode:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        call(payload, timeout=timeout)
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]


def _ok(code: grpc.StatusCode) -> None:
    assert code not in FORBIDDEN, code


fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
fuzz_large = settings(fuzz, max_examples=LARGE_EXAMPLES)  # 20,000-character strings, 20,000-element batches


@fuzz
@given(method=st.sampled_from(METHODS), payload=st.binary(max_size=512))
def test_garbage_messages(fuzz_channel: tuple[Exchange, grpc.Channel], method: str, payload: bytes) -> None:
    _ok(_raw(fuzz_channel[1], method, payload))


@fuzz
@given(envelopes=st.lists(st.binary(max_size=300), max_size=20))
def test_random_envelopes(fuzz_channel: tuple[Exchange, grpc.Channel], envelopes: list[bytes]) -> None:
    request = exchange_pb2.SubmitRequest(envelopes=envelopes).SerializeToString()
    code = _raw(fuzz_channel[1], "/signal_exchange.v1.Exchange/Submit", request)
    assert code == grpc.StatusCode.OK  # per-item rejections, never a failed call


@fuzz
@given(envelope=st.binary(max_size=600), which=st.sampled_from(["Retract", "Feedback"]))
def test_random_single_envelopes(fuzz_channel: tuple[Exchange, grpc.Channel], envelope: bytes, which: str) -> None:
    request = exchange_pb2.RetractRequest(envelope=envelope).SerializeToString()
    code = _raw(fuzz_channel[1], f"/signal_exchange.v1.Exchange/{which}", request)
    assert code in {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED}


# A field number with the wrong wire type (varint where bytes belong, and the reverse).
wrong_types = st.sampled_from(
    [
        b"\x08\x01",
        b"\x0a\x05hello",
        b"\x10\xff\xff\xff\xff\x0f",
        b"\x0d\x00\x00\x00\x00",
        b"\x12\x02\x08\x01",
        b"\x09" + b"\x00" * 8,
        b"\x0b\x0c",
        b"\x18\x80",
    ]
)


@fuzz
@given(method=st.sampled_from(METHODS), parts=st.lists(wrong_types, min_size=1, max_size=6))
def test_wrong_field_types(fuzz_channel: tuple[Exchange, grpc.Channel], method: str, parts: list[bytes]) -> None:
    _ok(_raw(fuzz_channel[1], method, b"".join(parts)))


@fuzz_large
@given(text=st.text(min_size=1000, max_size=20000), size=st.integers(0, 2**64 - 1))
def test_huge_strings_and_numbers(fuzz_channel: tuple[Exchange, grpc.Channel], text: str, size: int) -> None:
    channel = fuzz_channel[1]
    _ok(
        _raw(
            channel,
            "/signal_exchange.v1.Exchange/Pull",
            exchange_pb2.PullRequest(cursor=text, categories=[text]).SerializeToString(),
        )
    )
    _ok(
        _raw(
            channel,
            "/signal_exchange.v1.Log/GetConsistencyProof",
            log_pb2.GetConsistencyProofRequest(size1=size, size2=size).SerializeToString(),
        )
    )
    _ok(
        _raw(
            channel,
            "/signal_exchange.v1.Log/GetInclusionProof",
            log_pb2.GetInclusionProofRequest(index=size, tree_size=size).SerializeToString(),
        )
    )


@fuzz_large
@given(count=st.integers(0, 20000), width=st.sampled_from([0, 1, 31, 32, 33]))
def test_absurd_batches(fuzz_channel: tuple[Exchange, grpc.Channel], count: int, width: int) -> None:
    channel = fuzz_channel[1]
    elements = [b"\x01" * width] * count
    code = _raw(
        channel,
        "/signal_exchange.v1.Pseudonymizer/Evaluate",
        pseudonymizer_pb2.EvaluateRequest(blinded_elements=elements).SerializeToString(),
    )
    assert code in {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
    queries = [exchange_pb2.LookupQuery(type=count % 12, value=b"\x00" * width)] * min(count, 5000)
    _ok(
        _raw(
            channel,
            "/signal_exchange.v1.Exchange/Lookup",
            exchange_pb2.LookupRequest(queries=queries).SerializeToString(),
        )
    )


@fuzz
@given(method=st.sampled_from(METHODS))
def test_zero_deadlines(fuzz_channel: tuple[Exchange, grpc.Channel], method: str) -> None:
    code = _raw(fuzz_channel[1], method, b"", timeout=0)
    assert code in {
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNAUTHENTICATED,
    }


@fuzz
@given(cursor=st.text(max_size=40), limit=st.integers(0, 2**32 - 1), types=st.lists(st.integers(0, 2**31 - 1)))
def test_pull_requests(fuzz_channel: tuple[Exchange, grpc.Channel], cursor: str, limit: int, types: list[int]) -> None:
    request = exchange_pb2.PullRequest(cursor=cursor, limit=limit, types=types).SerializeToString()
    call = fuzz_channel[1].unary_stream("/signal_exchange.v1.Exchange/Pull")
    try:
        for _ in call(request, timeout=10):
            pass
    except grpc.RpcError as exc:
        assert exc.code() not in FORBIDDEN, exc


@fuzz
@given(batches=st.lists(st.binary(max_size=64), min_size=1, max_size=5))
def test_submit_stream_garbage(fuzz_channel: tuple[Exchange, grpc.Channel], batches: list[bytes]) -> None:
    call = fuzz_channel[1].stream_stream("/signal_exchange.v1.Exchange/SubmitStream")
    try:
        for _ in call(iter(batches), timeout=10):
            pass
    except grpc.RpcError as exc:
        assert exc.code() not in FORBIDDEN, exc


@fuzz_large
@given(start=st.integers(0, 2**64 - 1), end=st.integers(0, 2**64 - 1))
def test_log_ranges_as_auditor(shared_exchange: Exchange, start: int, end: int) -> None:
    c = Credentials.load(shared_exchange.creds("auditor"))
    with grpc.secure_channel(
        shared_exchange.address, grpc.ssl_channel_credentials(c.ca_pem, c.tls_key_pem, c.cert_pem)
    ) as channel:
        call = channel.unary_stream("/signal_exchange.v1.Log/GetEntries")
        try:
            for _ in call(log_pb2.GetEntriesRequest(start=start, end=end).SerializeToString(), timeout=10):
                pass
        except grpc.RpcError as exc:
            assert exc.code() not in FORBIDDEN, exc


edge_ids = st.one_of(
    st.integers(0, 2**64 - 1), st.sampled_from([0, 2**31, 2**32, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1])
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(signal_id=edge_ids, which=st.sampled_from(["Retract", "Feedback"]))
def test_signed_requests_with_any_signal_id(
    fuzz_channel: tuple[Exchange, grpc.Channel], signal_id: int, which: str
) -> None:
    """Well-signed retractions and feedback naming any 64-bit id: NOT_FOUND, never INTERNAL (an id beyond
    what the database stores exists nowhere)."""
    exchange, channel = fuzz_channel
    key = Credentials.load(exchange.creds("demo-a")).signing_key
    now = int(time.time())
    if which == "Retract":
        body = signals_pb2.RetractBody(submitter="demo-a", signal_id=signal_id, reason="x", created_at=now)
    else:
        body = signals_pb2.FeedbackBody(submitter="demo-a", signal_id=signal_id, verdict=1, created_at=now)
    request = exchange_pb2.RetractRequest(envelope=seal_body(body, key)).SerializeToString()
    assert _raw(channel, f"/signal_exchange.v1.Exchange/{which}", request) == grpc.StatusCode.NOT_FOUND


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(seq=edge_ids)
def test_cursors_beyond_any_seq(fuzz_channel: tuple[Exchange, grpc.Channel], seq: int) -> None:
    call = fuzz_channel[1].unary_stream("/signal_exchange.v1.Exchange/Pull")
    request = exchange_pb2.PullRequest(cursor=f"c1.{seq}").SerializeToString()
    try:
        for _ in call(request, timeout=10):
            pass
        assert seq < 2**63
    except grpc.RpcError as exc:
        assert seq >= 2**63 and exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(size=st.integers(8_000, 100_000))
def test_long_values_get_their_real_status(fuzz_channel: tuple[Exchange, grpc.Channel], size: int) -> None:
    """An error quotes a bounded part of what was sent, so the real status (not a metadata overflow) arrives."""
    call = fuzz_channel[1].unary_stream("/signal_exchange.v1.Exchange/Pull")
    request = exchange_pb2.PullRequest(categories=["c" * size, "d" * size]).SerializeToString()
    with pytest.raises(grpc.RpcError) as info:
        for _ in call(request, timeout=10):
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(info.value.details()) < 300 and "characters" in info.value.details()
