"""The SDK verifies every pulled envelope: a tampered store is caught, not passed on."""

from __future__ import annotations

import sqlite3

import pytest

from client_sdk import ExchangeClient, Identifier, Signal, VerificationError
from client_sdk._wire import signals_pb2
from tests.harness import Exchange

# These tests edit envelopes in the SQLite file behind the server's back: SQLite store only.
pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


def _tamper(exchange: Exchange, seq: int, edit: object) -> None:
    conn = sqlite3.connect(exchange.db_path)
    [raw] = conn.execute("SELECT envelope FROM events WHERE seq = ?", (seq,)).fetchone()
    env = signals_pb2.Envelope.FromString(raw)
    edit(env)  # type: ignore[operator]
    conn.execute("UPDATE events SET envelope = ? WHERE seq = ?", (env.SerializeToString(), seq))
    conn.commit()
    conn.close()


def _submit(client: ExchangeClient) -> int:
    [r] = client.submit([Signal(Identifier("domain", "victim.example"), category="grooming")])
    return r.seq


def test_edited_body_fails_verification(exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    seq = _submit(client_a)

    def edit(env: signals_pb2.Envelope) -> None:
        body = signals_pb2.SignalBody.FromString(env.payload)
        body.category = "csam.distribution"
        env.payload = body.SerializeToString()

    _tamper(exchange, seq, edit)
    with pytest.raises(VerificationError, match=f"event {seq}: signature does not verify"):
        list(client_b.pull())
    [event] = client_b.pull(verify=False)
    assert event.signal is not None and event.signal.category == "csam.distribution"


def test_unknown_signer_fails_verification(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    seq = _submit(client_a)
    _tamper(exchange, seq, lambda env: setattr(env.signatures[0], "keyid", "0000000000000000"))
    with pytest.raises(VerificationError, match="unknown key"):
        list(client_b.pull())


def test_envelope_signed_by_another_member_fails(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    seq_a = _submit(client_a)
    [rb] = client_b.submit([Signal(Identifier("domain", "other.example"), category="grooming")])
    conn = sqlite3.connect(exchange.db_path)
    [raw_b] = conn.execute("SELECT envelope FROM events WHERE seq = ?", (rb.seq,)).fetchone()
    conn.execute("UPDATE events SET envelope = ? WHERE seq = ?", (raw_b, seq_a))  # replay b's event as a's
    conn.commit()
    conn.close()
    events = list(client_a.pull())  # the envelope itself is genuine: it verifies as demo-b's
    assert events[0].submitter == "demo-b"
