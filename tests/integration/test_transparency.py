"""Key transparency: a member trusts a signing key only as far as the signature log proves it, and every
checkpoint it meets is pinned and consistent with the ones it saw before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal, VerificationError, merkle
from client_sdk.credentials import Credentials
from client_sdk.envelope import seal
from client_sdk.keys import SigningKey
from client_sdk.note import Checkpoint, sign_checkpoint
from client_sdk.transparency import CheckpointTracker, KeyTransparencyError, LogPin
from client_sdk.wire import signals_pb2
from exchange.cli import main
from tests.harness import Exchange, stored_envelope

pytestmark = pytest.mark.integration
CAT = "grooming"


def _admin(exchange: Exchange, *argv: str) -> None:
    assert main(["admin", *argv, "--as", str(exchange.creds("operator")), "--server", exchange.address]) == 0


def test_keys_are_proven_by_the_log(exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    """Registration, rotation and revocation are all admin entries the SDK checks before trusting a window."""
    client_a.submit([Signal(Identifier("domain", "kt1.example"), category=CAT)])
    creds = exchange.creds("demo-a")
    _admin(exchange, "key", "rotate", "demo-a", "--credentials", str(creds))
    exchange.clock.advance(1)
    with ExchangeClient.connect(exchange.address, credentials=creds) as rotated:
        rotated.submit([Signal(Identifier("domain", "kt2.example"), category=CAT)])
    events = list(client_b.pull(prove=True))
    assert len({e.key_id for e in events}) == 2
    keys = {k.key_id: k for k in (client_b._directory.key(e.key_id, e.seq) for e in events) if k}
    old, new = sorted(keys.values(), key=lambda k: k.registered_index)
    assert old.not_after is not None and old.ended_index > old.registered_index
    assert new.not_after is None and new.ended_index == 0 and new.registered_index > old.registered_index


def _db(exchange: Exchange) -> sqlite3.Connection:
    return sqlite3.connect(exchange.db_path)


@pytest.mark.sqlite_only
def test_a_key_the_log_never_registered_is_refused(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """A directory that slips in a key (here beside the genuine registration of demo-a) cannot make events
    signed with it verify."""
    [r] = client_a.submit([Signal(Identifier("domain", "kt3.example"), category=CAT)])
    forged = SigningKey.generate()
    conn = _db(exchange)
    member, registered, not_before = conn.execute(
        "SELECT member, registered_seq, not_before FROM signing_keys k JOIN members m ON m.id = k.member"
        " WHERE m.member_id = 'demo-a'"
    ).fetchone()
    conn.execute(
        "INSERT INTO signing_keys (key_id, member, public_key, not_before, registered_seq) VALUES (?, ?, ?, ?, ?)",
        (forged.key_id, member, forged.public_key, not_before, registered),
    )
    env = signals_pb2.Envelope.FromString(stored_envelope(exchange.db_path, r.seq))
    conn.execute("UPDATE events SET envelope = ? WHERE seq = ?", (seal(env.payload_type, env.payload, forged), r.seq))
    conn.commit()
    conn.close()
    with pytest.raises(KeyTransparencyError, match=f"key {forged.key_id} of demo-a: entry .* registers another key"):
        list(client_b.pull())


@pytest.mark.sqlite_only
def test_a_moved_window_is_refused(exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient) -> None:
    client_a.submit([Signal(Identifier("domain", "kt4.example"), category=CAT)])
    conn = _db(exchange)
    conn.execute(
        "UPDATE signing_keys SET not_before = not_before - 86400 WHERE member ="
        " (SELECT id FROM members WHERE member_id = 'demo-a')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(KeyTransparencyError, match="does not start when the log registered it"):
        list(client_b.pull())


@pytest.mark.sqlite_only
def test_a_window_shown_open_after_the_log_closed_it_is_refused(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """The end entry is named in the directory: showing the key open while naming it is caught."""
    key = Credentials.load(exchange.creds("demo-a")).signing_key
    client_a.submit([Signal(Identifier("domain", "kt5.example"), category=CAT)])
    _admin(exchange, "key", "revoke", key.key_id, "--reason", "x")
    conn = _db(exchange)
    conn.execute("UPDATE signing_keys SET revoked_at = NULL WHERE key_id = ?", (key.key_id,))
    conn.commit()
    conn.close()
    with pytest.raises(KeyTransparencyError, match="the log ended its window but the directory shows it open"):
        list(client_b.pull())


def test_checkpoints_must_match_the_pinned_origin(exchange: Exchange, tmp_path: Path) -> None:
    creds = tmp_path / "demo-b"
    source = exchange.creds("demo-b")
    creds.mkdir(mode=0o700)
    for f in source.iterdir():
        (creds / f.name).write_bytes(f.read_bytes())
        (creds / f.name).chmod(f.stat().st_mode)
    info = json.loads((creds / "member.json").read_text())
    assert info["log_origin"].startswith("signal-exchange/") and info["log_key_name"] == info["log_origin"]
    info["log_origin"] = info["log_key_name"] = "another-log.example/1"
    (creds / "member.json").write_text(json.dumps(info))
    with (
        ExchangeClient.connect(exchange.address, credentials=creds) as client,
        pytest.raises(KeyTransparencyError, match="does not verify against the pinned log key"),
    ):
        client.checkpoint()


def test_two_histories_are_refused() -> None:
    """A client that saw one tree refuses a checkpoint of a tree that does not extend it."""
    key = SigningKey.generate()
    origin = "test.example/log"
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(8)]
    forked = [*leaves[:3], merkle.leaf_hash(b"rewritten"), *leaves[4:]]

    def note(hashes: list[bytes]) -> str:
        return sign_checkpoint(Checkpoint(origin, len(hashes), merkle.root(hashes)), origin, key.sign, key.public_key)

    def honest(size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof(size1, size2, lambda a, b: merkle.root(leaves[a:b]))

    tracker = CheckpointTracker(LogPin(key.public_key, origin), honest)
    tracker.accept(note(leaves[:5]))
    assert tracker.accept(note(leaves)).size == 8  # extends what was seen
    with pytest.raises(KeyTransparencyError, match="history was rewritten"):
        tracker.accept(note(forked))
    with pytest.raises(KeyTransparencyError, match="different roots"):
        tracker.accept(note(forked[:8]))
    assert tracker.latest is not None and tracker.latest.root == merkle.root(leaves)


@pytest.mark.sqlite_only
def test_an_event_after_its_key_was_retired_is_refused(
    exchange: Exchange, client_a: ExchangeClient, client_b: ExchangeClient
) -> None:
    """The SDK applies the key's whole window (the exchange's rule): after retirement the old key signs nothing."""
    old = Credentials.load(exchange.creds("demo-a")).signing_key
    _admin(exchange, "key", "rotate", "demo-a", "--credentials", str(exchange.creds("demo-a")))
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-a")) as rotated:
        [later] = rotated.submit([Signal(Identifier("domain", "kt6.example"), category=CAT)])
    conn = _db(exchange)
    env = signals_pb2.Envelope.FromString(stored_envelope(exchange.db_path, later.seq))
    conn.execute("UPDATE events SET envelope = ? WHERE seq = ?", (seal(env.payload_type, env.payload, old), later.seq))
    conn.commit()
    conn.close()
    with pytest.raises(VerificationError, match=f"event {later.seq}: key {old.key_id} was not valid"):
        list(client_b.pull())
