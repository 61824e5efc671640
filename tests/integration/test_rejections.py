"""Bad envelopes get a precise status and reason; their good neighbours are still accepted."""

from __future__ import annotations

import os
import time

import grpc
import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.envelope import PAYLOAD_RETRACT, PAYLOAD_SIGNAL, seal, seal_body
from client_sdk.errors import InvalidArgumentError
from client_sdk.keys import SigningKey
from client_sdk.wire import admin_pb2, exchange_pb2, signals_pb2
from tests.harness import Exchange

pytestmark = pytest.mark.integration

CAT = "sextortion.financial"


def body(**overrides: object) -> signals_pb2.SignalBody:
    fields: dict[str, object] = {
        "submitter": "demo-a",
        "type": 1,
        "value": os.urandom(32),
        "category": CAT,
        "created_at": int(time.time()),
        "oprf_epoch": 1,
    }
    fields.update(overrides)
    return signals_pb2.SignalBody(**fields)  # type: ignore[arg-type]


def _flip_sig(raw: bytes) -> bytes:
    env = signals_pb2.Envelope.FromString(raw)
    sig = bytearray(env.signatures[0].sig)
    sig[5] ^= 1
    env.signatures[0].sig = bytes(sig)
    return env.SerializeToString()


def test_each_bad_envelope_gets_its_status(exchange: Exchange, client_a: ExchangeClient) -> None:
    key = Credentials.load(exchange.creds("demo-a")).signing_key
    other_members_key = Credentials.load(exchange.creds("demo-b")).signing_key
    good = [seal_body(body(), key) for _ in range(3)]
    now = int(time.time())
    cases = {
        "unknown_key": (seal_body(body(), SigningKey.generate()), "UNAUTHENTICATED"),
        "bad_signature": (_flip_sig(seal_body(body(), key)), "UNAUTHENTICATED"),
        "body_unparseable": (seal(PAYLOAD_SIGNAL, b"\xff\xff\xff\xff", key), "INVALID_ARGUMENT"),
        "envelope_unparseable": (b"\x0a\xff", "INVALID_ARGUMENT"),
        "payload_type": (seal(PAYLOAD_RETRACT, body().SerializeToString(), key), "INVALID_ARGUMENT"),
        "submitter_mismatch": (seal_body(body(submitter="demo-b"), key), "PERMISSION_DENIED"),
        "not_your_key": (seal_body(body(submitter="demo-b"), other_members_key), "PERMISSION_DENIED"),
        "unknown_type": (seal_body(body(type=42), key), "INVALID_ARGUMENT"),
        "unknown_category": (seal_body(body(category="no.such"), key), "INVALID_ARGUMENT"),
        "expiry_beyond_retention": (seal_body(body(expires_at=now + 400 * 86400), key), "INVALID_ARGUMENT"),
        "already_expired": (seal_body(body(expires_at=now - 10), key), "INVALID_ARGUMENT"),
        "bad_value": (seal_body(body(value=b"short"), key), "INVALID_ARGUMENT"),
        "clock_skew": (seal_body(body(created_at=now + 3600), key), "INVALID_ARGUMENT"),
        "unknown_epoch": (seal_body(body(oprf_epoch=9), key), "INVALID_ARGUMENT"),
        "audience": (seal_body(body(audience="nobody"), key), "PERMISSION_DENIED"),
        "qualifier": (seal_body(body(type=4), key), "INVALID_ARGUMENT"),
        "labels": (seal_body(body(labels=["x" * 65]), key), "INVALID_ARGUMENT"),
        "confidence": (seal_body(body(confidence=101), key), "INVALID_ARGUMENT"),
    }
    batch = [good[0]] + [raw for raw, _ in cases.values()] + good[1:]
    results = client_a.submit_envelopes(batch)
    assert [r.status for r in results] == ["accepted"] + ["rejected"] * len(cases) + ["accepted", "accepted"]
    for (reason, (_, code)), result in zip(cases.items(), results[1:-2], strict=True):
        assert (result.tag, result.code) == (reason, code), result
        assert result.reason  # a message that says what was wrong
    assert [e.seq for e in client_a.pull()] == [results[0].seq, results[-2].seq, results[-1].seq]


def test_rejections_change_nothing_already_accepted(exchange: Exchange, client_a: ExchangeClient) -> None:
    [accepted] = client_a.submit([Signal(Identifier("email", "keep@example.com"), category=CAT)])
    before = [(e.seq, e.envelope) for e in client_a.pull()]
    key = Credentials.load(exchange.creds("demo-a")).signing_key
    client_a.submit_envelopes([_flip_sig(seal_body(body(), key)), b"garbage"])
    with pytest.raises(InvalidArgumentError):
        client_a.submit_envelopes([b"x"] * 501)
    assert [(e.seq, e.envelope) for e in client_a.pull()] == before
    assert client_a.lookup([Identifier("email", "keep@example.com")])[0].matches[0].signal_id == accepted.signal_id


def test_oversized_batch_is_invalid_argument(client_a: ExchangeClient) -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        client_a.submit_envelopes([b"x"] * 501)
    assert exc.value.reason == "batch_too_large" and "500" in exc.value.message
    with pytest.raises(InvalidArgumentError) as exc:
        client_a.lookup([("email", b"\x00" * 32)] * 501)
    assert exc.value.reason == "batch_too_large"


def test_bad_lookup_and_cursor_inputs(client_a: ExchangeClient) -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        client_a.lookup([("email", b"short")])
    assert exc.value.reason == "bad_value"
    with pytest.raises(InvalidArgumentError) as exc:
        list(client_a.pull(after="not-a-cursor"))
    assert exc.value.reason == "bad_cursor"
    with pytest.raises(InvalidArgumentError) as exc:
        list(client_a.pull(categories=["no.such"]))
    assert exc.value.reason == "unknown_category"


def test_raw_stub_errors_carry_reason_trailer(exchange: Exchange, client_a: ExchangeClient) -> None:
    stub = client_a._exchange
    with pytest.raises(grpc.RpcError) as exc:
        stub.Retract(exchange_pb2.RetractRequest(envelope=b"junk"), timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(exc.value.trailing_metadata())["sigx-reason"] == "envelope_unparseable"


def test_audience_refusals_do_not_tell_which_groups_exist(exchange: Exchange, client_a: ExchangeClient) -> None:
    """A group the submitter is not in and a group that does not exist are refused alike."""
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(create_group=admin_pb2.CreateGroup(name="closed"))
    key = Credentials.load(exchange.creds("demo-a")).signing_key
    closed, missing = client_a.submit_envelopes(
        [seal_body(body(audience="closed"), key), seal_body(body(audience="absent"), key)]
    )
    assert (closed.status, closed.code, closed.tag) == (missing.status, missing.code, missing.tag)
    assert (closed.code, closed.tag) == ("PERMISSION_DENIED", "audience")
    assert closed.reason.replace("closed", "X") == missing.reason.replace("absent", "X")
