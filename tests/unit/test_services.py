"""Services on an in-memory SQLite store with a fixed clock: no sockets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from client_sdk.envelope import seal_body
from client_sdk.keys import SigningKey
from client_sdk.secure_files import write_private_file
from client_sdk.wire import signals_pb2
from exchange import app
from exchange.config import Settings
from exchange.errors import BatchTooLargeError, InvalidArgumentError
from exchange.identity import Caller
from exchange.pki.oprf_keyring import OprfKeyring
from exchange.services.reader import decode_cursor, encode_cursor
from exchange.store.sqlite import SqliteStore

NOW = 1_800_000_000


class World:
    def __init__(self, tmp: Path) -> None:
        self.now = float(NOW)
        self.store = SqliteStore(":memory:")
        self.settings = Settings.build(environ={}, data_dir=tmp, max_batch=50, pull_page=4)
        write_private_file(tmp / "secrets" / "log.key", SigningKey.generate().to_pem())
        keyring = OprfKeyring.create(tmp / "oprf.key")
        self.services = app.build(self.settings, self.store, self.clock, keyring)
        self.bus, self.ingest, self.reader = self.services.bus, self.services.ingest, self.services.reader
        self.keys: dict[str, SigningKey] = {}
        self.callers: dict[str, Caller] = {}
        for name in ("a", "b"):
            member = self.store.add_member(name, "member", name, NOW - 10)
            key = SigningKey.generate()
            self.store.add_signing_key(name, key.key_id, key.public_key, NOW - 10)
            self.keys[name], self.callers[name] = key, Caller(member)

    def clock(self) -> float:
        return self.now

    def envelope(self, who: str = "a", **fields: object) -> bytes:
        body = {
            "submitter": who,
            "type": 1,
            "value": os.urandom(32),
            "category": "grooming",
            "created_at": int(self.now),
            "oprf_epoch": 1,
        }
        body.update(fields)
        return seal_body(signals_pb2.SignalBody(**body), self.keys[who])  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_submit_assigns_gap_free_sequence_and_publishes(world: World) -> None:
    results = world.ingest.submit(world.callers["a"], [world.envelope() for _ in range(5)])
    assert [(r.status, r.seq, r.signal_id) for r in results] == [("accepted", i, i) for i in range(1, 6)]
    assert world.bus.latest == 5


def test_expiry_defaults_to_category_maximum(world: World) -> None:
    [r] = world.ingest.submit(world.callers["a"], [world.envelope()])
    signal = world.store.get_signal(r.signal_id)
    assert signal is not None and signal.expires_at == NOW + 365 * 86400


def test_batch_limit(world: World) -> None:
    with pytest.raises(BatchTooLargeError):
        world.ingest.submit(world.callers["a"], [b""] * 51)


def test_pull_pages_and_cursor(world: World) -> None:
    world.ingest.submit(world.callers["a"], [world.envelope() for _ in range(10)])
    flt = world.reader.visibility(world.callers["b"])
    pages = list(world.reader.pull(world.callers["b"], "", 0, flt))
    assert [len(p.events) for p in pages] == [4, 4, 2]
    assert pages[-1].cursor == encode_cursor(10)
    limited = list(world.reader.pull(world.callers["b"], encode_cursor(3), 5, flt))
    assert [e.seq for p in limited for e in p.events] == [4, 5, 6, 7, 8]


def test_cursor_codec() -> None:
    assert decode_cursor("") == 0
    assert decode_cursor(encode_cursor(123)) == 123
    for bad in ("c1.", "c1.-1", "c2.5", "c1.1e3", "x" * 50):
        with pytest.raises(InvalidArgumentError):
            decode_cursor(bad)


def test_retention_purges_only_expired(world: World) -> None:
    [short, long] = world.ingest.submit(
        world.callers["a"], [world.envelope(expires_at=NOW + 100), world.envelope(expires_at=NOW + 1000)]
    )
    world.now += 101
    assert world.store.purge_expired(int(world.now)) == 1
    assert world.store.get_signal(short.signal_id) is None
    assert world.store.get_signal(long.signal_id) is not None
    events, _ = world.store.events_after(0, 10, world.reader.visibility(world.callers["a"])())
    assert [e.seq for e in events] == [long.seq]


def test_created_at_skew_is_bounded(world: World) -> None:
    [ok, bad] = world.ingest.submit(
        world.callers["a"], [world.envelope(created_at=NOW + 299), world.envelope(created_at=NOW + 301)]
    )
    assert ok.status == "accepted"
    assert bad.error is not None and bad.error.reason == "clock_skew"


def test_revoked_key_is_refused(world: World) -> None:
    world.store._writer.execute("UPDATE signing_keys SET revoked_at = ?", (NOW - 1,))
    [r] = world.ingest.submit(world.callers["a"], [world.envelope()])
    assert r.error is not None and r.error.reason == "key_revoked"
