"""The SDK verifies every pulled envelope: a tampered store is caught, not passed on."""

from __future__ import annotations

import sqlite3

import pytest

from client_sdk import ExchangeClient, Identifier, Signal, VerificationError
from client_sdk.wire import signals_pb2
from tests.harness import Exchange, stored_envelope

# These tests edit envelopes in the SQLite file behind the server's back: SQLite store only.
pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


def _tamper(exchange: Exchange, seq: int, edit: object) -> None:
    conn = sqlite3.connect(exchange.db_path)
    env = signals_pb2.Envelope.FromString(stored_envelope(exchange.db_path, seq))
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


@pytest.mark.parametrize("fault", ["signature", "unknown key"])
def test_a_bad_event_stops_the_pull_at_its_page_after_every_earlier_page(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient, fault: str
) -> None:
    """Pages are checked ahead of the one being handed out: a bad event in page 3 (pages of 7 here) still
    lets pages 1-2 through, verified, and nothing of page 3 is handed out; the error names the event."""
    results = client_a.submit([Signal(Identifier("domain", f"s{i}.example"), category="grooming") for i in range(30)])
    seqs = [e.seq for e in client_b.pull(verify=False)]
    bad = seqs[17]  # the 4th event of the 3rd page

    def edit(env: signals_pb2.Envelope) -> None:
        if fault == "unknown key":
            env.signatures[0].keyid = "0000000000000000"
        else:
            body = signals_pb2.SignalBody.FromString(env.payload)
            body.category = "csam.distribution"
            env.payload = body.SerializeToString()

    assert any(r.seq == bad for r in results)
    _tamper(exchange, bad, edit)
    handed_out = []
    named = "signature does not verify" if fault == "signature" else "signed by unknown key"
    with pytest.raises(VerificationError, match=f"event {bad}: {named}"):
        for event in client_b.pull():
            handed_out.append(event.seq)
    assert handed_out == seqs[:14]
    assert [e.seq for e in client_b.pull(limit=14)] == seqs[:14]  # the good pages alone pass


def test_envelope_of_another_member_in_place_of_an_event_fails(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """demo-b's genuine envelope served as event seq_a: its signature verifies (it is demo-b's), but the
    signature log says what seq_a is, and ``prove`` checks every event against it."""
    seq_a = _submit(client_a)
    [rb] = client_b.submit([Signal(Identifier("domain", "other.example"), category="grooming")])
    raw_b = stored_envelope(exchange.db_path, rb.seq)
    conn = sqlite3.connect(exchange.db_path)
    conn.execute("UPDATE events SET envelope = ? WHERE seq = ?", (raw_b, seq_a))  # replay b's event as a's
    conn.commit()
    conn.close()
    [replayed, original] = client_a.pull()  # each envelope alone is genuine: demo-b signed both
    assert replayed.seq == seq_a and replayed.submitter == original.submitter == "demo-b"
    with pytest.raises(VerificationError, match=f"event {seq_a} is not in the signature log as pulled"):
        list(client_a.pull(prove=True))
    with pytest.raises(VerificationError, match="not in the signature log"):
        client_a.verify_inclusion(replayed)
    client_a.verify_inclusion(original)


def test_pulled_events_are_proven_in_the_log(client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    results = client_a.submit([Signal(Identifier("domain", f"p{i}.example"), category="grooming") for i in range(30)])
    client_a.retract(results[0].signal_id, reason="mistake")
    client_b.feedback(results[1].signal_id, "confirmed")
    events = list(client_a.pull(prove=True))
    assert [e.kind for e in events].count("submit") == 30 and len(events) == 32
    for event in events[:3]:
        checkpoint = client_a.verify_inclusion(event)
        assert checkpoint.size >= event.seq and event.log_index == event.seq - 1
    assert all(e.expires_at > e.received_at for e in events)


def test_an_edited_receipt_time_is_caught_by_the_proof(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """Fields outside the signed envelope (when it was received, when it expires) are committed to by the log."""
    seq = _submit(client_a)
    conn = sqlite3.connect(exchange.db_path)
    conn.execute("UPDATE events SET received_at = received_at + 5 WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    [event] = client_b.pull()  # the signature covers the body only: this passes
    with pytest.raises(VerificationError, match=f"event {seq} is not in the signature log"):
        client_b.verify_inclusion(event)
