"""The signature log through a real server: receipts, checkpoints, proofs, audits and tampering."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from client_sdk import Identifier, Signal, merkle
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.envelope import seal_body
from client_sdk.errors import PermissionDeniedError, VerificationError
from client_sdk.keys import SigningKey
from client_sdk.log_entry import LogEntry
from client_sdk.wire import admin_pb2, log_pb2, signals_pb2
from exchange.cli import main
from exchange.store.base import AdminEvent
from tests.harness import Exchange, start_exchange, stored_envelope

pytestmark = pytest.mark.integration
CAT = "sextortion.financial"


_serial = iter(range(10**9))


def _fill(exchange: Exchange, n: int = 40) -> list[int]:
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        signals = [Signal(Identifier("domain", f"log{next(_serial)}.example"), category=CAT) for _ in range(n)]
        results = a.submit(signals, batch_size=250)
        b.feedback(results[0].signal_id, verdict="confirmed")
        a.retract(results[1].signal_id, reason="mistake")
    return [r.seq for r in results]


def audit(exchange: Exchange, capsys: pytest.CaptureFixture[str], state: Path, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(
        [
            "audit",
            "verify",
            "--as",
            str(exchange.creds("auditor")),
            "--server",
            exchange.address,
            "--state",
            str(state),
            "--json",
            *extra,
        ]
    )
    return rc, json.loads(capsys.readouterr().out)


def test_receipts_verify(exchange: Exchange) -> None:
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        results = a.submit([Signal(Identifier("email", f"r{i}@example.com"), category=CAT) for i in range(3)])
        for r in results:
            checkpoint = a.verify_receipt(r)
            assert checkpoint.size > r.log_index  # type: ignore[operator]
        fb = b.feedback(results[0].signal_id, verdict="confirmed")
        assert b.verify_receipt(fb).size == fb.log_index + 1
        [dup] = a.submit([Signal(Identifier("email", "r0@example.com"), category=CAT)])
        assert dup.status == "duplicate" and dup.log_index is None
        with pytest.raises(VerificationError, match="not this member"):
            b.verify_receipt(results[0])  # demo-b cannot pass off demo-a's entry as its own


def test_checkpoints_are_signed_and_consistent(exchange: Exchange) -> None:
    _fill(exchange, 10)
    with exchange.client("demo-a") as a:
        first = a.checkpoint()
        _fill(exchange, 300)
        second = a.checkpoint(min_size=first.size + 300)
        assert second.size >= first.size + 300
        resp = a._log.GetConsistencyProof(log_pb2.GetConsistencyProofRequest(size1=first.size, size2=second.size))
        merkle.verify_consistency(first.size, second.size, list(resp.proof), first.root, second.root)
        assert first.origin.startswith("signal-exchange/")
    note = exchange.running.store.latest_checkpoint()[1]  # type: ignore[index]
    assert "\n\n\u2014 signal-exchange/" in note


def test_audit_passes_and_resumes(exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(exchange, 600)
    exchange.running.services.checkpointer.sign_now()
    rc, report = audit(exchange, capsys, tmp_path / "state")
    assert rc == 0 and report["ok"], report["problems"]
    assert report["entries"] == report["new_entries"] > 600
    # the first start's operator, demo-a, demo-b, auditor and the exchange's own key (member "exchange")
    assert report["members"] == 5 and report["keys"] == 5
    assert report["counts"]["submit"] == 600 and report["counts"]["admin"] == 5
    _fill(exchange, 5)
    exchange.running.services.checkpointer.sign_now()
    rc, again = audit(exchange, capsys, tmp_path / "state")
    assert rc == 0 and again["new_entries"] == 7 and again["entries"] == report["entries"] + 7
    assert again["checkpoints"] == 2


def test_audit_accepts_purges_after_expiry(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with exchange.client("demo-a") as a:
        now = int(exchange.clock())
        a.submit([Signal(Identifier("ip", "192.0.2.1"), category=CAT, expires_at=now + 2)])
        a.submit([Signal(Identifier("ip", "192.0.2.2"), category=CAT)])
    time.sleep(2.5)  # the auditor judges expiry by its own (real) clock
    assert exchange.running.retention.run_once() == 1
    exchange.running.services.checkpointer.sign_now()
    rc, report = audit(exchange, capsys, tmp_path / "state")
    assert rc == 0, report["problems"]
    assert report["purged_envelopes"] == 1


# -- tampering: stop the server, edit its database, restart, audit ----------------------------
# (SQLite store only: these edit the database file directly.)


def _tamper(exchange: Exchange, root: Path, sql: str, *args: object) -> Exchange:
    exchange.running.stop(grace=1)
    conn = sqlite3.connect(exchange.db_path)
    conn.execute(sql, args)
    conn.commit()
    conn.close()
    return start_exchange(root)


@pytest.fixture
def audited(tmp_path: Path) -> Exchange:
    ex = start_exchange(tmp_path)
    _fill(ex, 300)
    ex.running.services.checkpointer.sign_now()
    return ex


def _edited_envelope(exchange: Exchange, seq: int) -> bytes:
    env = signals_pb2.Envelope.FromString(stored_envelope(exchange.db_path, seq))
    body = signals_pb2.SignalBody.FromString(env.payload)
    body.category = "grooming"
    env.payload = body.SerializeToString()
    return env.SerializeToString()


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        # leaves are rebuilt from rows: a row edited, moved or emptied is served with no leaf (NO_LEAF)
        ("edit_envelope", "no leaf record"),
        ("delete_entry", "is missing"),
        ("reorder", "no leaf record"),
        ("purge_early", "no leaf record"),
        ("forge_signature", "signature does not verify"),
    ],
)
def test_tampering_is_caught_and_named(
    audited: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, reason: str
) -> None:
    target = 100  # seq of an ordinary SUBMIT; its log index is 99
    ex = audited
    if case == "edit_envelope":
        ex = _tamper(ex, tmp_path, "UPDATE events SET envelope = ? WHERE seq = ?", _edited_envelope(ex, target), target)
    elif case == "delete_entry":
        ex = _tamper(ex, tmp_path, "DELETE FROM events WHERE seq = ?", target)
    elif case == "reorder":
        ex = _tamper(
            ex,
            tmp_path,
            "UPDATE events SET seq = CASE seq WHEN ? THEN ? ELSE ? END WHERE seq IN (?, ?)",
            target,
            -1,
            target,
            target,
            target + 1,
        )
        conn = sqlite3.connect(ex.db_path)
        conn.execute("UPDATE events SET seq = ? WHERE seq = -1", (target + 1,))
        conn.commit()
        conn.close()
    elif case == "purge_early":
        ex = _tamper(ex, tmp_path, "UPDATE events SET envelope = NULL WHERE seq = ?", target)
    elif case == "forge_signature":
        forged = _edited_envelope(ex, target)
        _, entry = _entry(ex, target)
        new_leaf = LogEntry.for_envelope(
            entry.index, entry.kind, entry.time, entry.expires_at, entry.submitter, entry.key_id, forged
        ).encode()
        ex = _tamper(ex, tmp_path, "UPDATE events SET envelope = ?, leaf = ? WHERE seq = ?", forged, new_leaf, target)
    rc, report = audit(ex, capsys, tmp_path / "state")
    ex.running.stop(grace=1)
    assert rc == 1 and not report["ok"]
    named = [p for p in report["problems"] if p["index"] in (target - 1, target)]
    assert named and any(reason in p["reason"] for p in named), report["problems"]


@pytest.mark.sqlite_only
def test_rewritten_history_with_resigned_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex = start_exchange(tmp_path)
    _fill(ex, 300)
    ex.running.services.checkpointer.sign_now()
    rc, report = audit(ex, capsys, tmp_path / "state")
    assert rc == 0
    # The operator rewrites entry 150 (a valid envelope of the same member, so every signature
    # still verifies), rebuilds the tree and signs a new checkpoint with the real log key.
    raw, e = _entry(ex, 200)
    ex.running.stop(grace=1)
    conn = sqlite3.connect(ex.db_path)
    rewritten = LogEntry(150, e.kind, e.time, e.expires_at, e.submitter, e.key_id, e.envelope_sha256).encode()
    conn.execute("UPDATE events SET envelope = ?, leaf = ? WHERE seq = 151", (raw, rewritten))
    conn.execute("DELETE FROM log_hashes")
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    conn.close()
    ex = start_exchange(tmp_path)
    _fill(ex, 3)
    ex.running.services.checkpointer.sign_now()
    rc, report = audit(ex, capsys, tmp_path / "state")
    ex.running.stop(grace=1)
    assert rc == 1
    reasons = " | ".join(p["reason"] for p in report["problems"])
    assert "not consistent" in reasons and "history was rewritten" in reasons
    assert any(p["index"] == 150 for p in report["problems"]), report["problems"]


@pytest.mark.sqlite_only
def test_export_and_offline_verify(audited: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export_dir = tmp_path / "export"
    auditor = str(audited.creds("auditor"))
    assert main(["audit", "export", str(export_dir), "--as", auditor, "--server", audited.address]) == 0
    assert (export_dir / "checkpoint").exists() and (export_dir / "tile" / "0" / "000").exists()
    assert (export_dir / "tile" / "entries" / "000").exists() and (export_dir / "envelopes" / "000").exists()
    capsys.readouterr()
    assert main(["audit", "verify", str(export_dir), "--as", auditor, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"]
    log_key = Credentials.load(auditor).log_public_key.hex()
    tile = export_dir / "tile" / "0" / "000"
    data = bytearray(tile.read_bytes())
    data[40] ^= 1
    tile.write_bytes(bytes(data))
    assert main(["audit", "verify", str(export_dir), "--log-key", log_key, "--json"]) == 1
    assert "tile/0/000 is missing or differs" in capsys.readouterr().out


def test_members_cannot_read_entries(exchange: Exchange) -> None:
    with exchange.client("demo-a") as a:
        with pytest.raises(PermissionDeniedError):
            list(a._stream(a._log.GetEntries(log_pb2.GetEntriesRequest(start=0, end=1))))
        proof = a._log.GetInclusionProof(log_pb2.GetInclusionProofRequest(index=0, tree_size=1))
        assert proof.leaf == b""  # the genesis entry is the operator's: its record is not for members
        assert len(proof.proof) == 0  # a tree of one: the leaf is the root


def _checkpoint_rows(exchange: Exchange) -> int:
    store = exchange.running.store
    with store._read() as conn:  # type: ignore[attr-defined]
        return int(store._one(conn, "SELECT count(*) FROM checkpoints")[0])  # type: ignore[attr-defined]


def test_checkpoint_requests_cannot_grow_the_table(exchange: Exchange) -> None:
    """Members asking for checkpoints are served the saved one; on demand, at most one is signed a second."""
    _fill(exchange, 5)
    with exchange.client("demo-a") as a:
        a.checkpoint(min_size=exchange.running.store.log_size())
        rows = _checkpoint_rows(exchange)
        _fill(exchange, 5)  # the log grew past the newest checkpoint
        notes = {a._log.GetCheckpoint(log_pb2.GetCheckpointRequest(), timeout=10).note for _ in range(1000)}
        assert len(notes) == 1 and _checkpoint_rows(exchange) == rows
        started = time.monotonic()
        for _ in range(3):  # each asks for everything, while the log keeps growing
            _fill(exchange, 2)
            size = exchange.running.store.log_size()
            assert a.checkpoint(min_size=size).size >= size
        elapsed = time.monotonic() - started
        assert _checkpoint_rows(exchange) - rows <= elapsed + 2


def _rewrite_and_resign(tmp_path: Path, ex: Exchange, seq: int, envelope: bytes, leaf: bytes) -> Exchange:
    """What a dishonest operator can do: rewrite an entry, rebuild the tree and sign it with the real log key."""
    ex.running.stop(grace=1)
    conn = sqlite3.connect(ex.db_path)
    conn.execute("UPDATE events SET envelope = ?, leaf = ? WHERE seq = ?", (envelope, leaf, seq))
    conn.execute("DELETE FROM log_hashes")
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    conn.close()
    ex = start_exchange(tmp_path)
    ex.running.services.checkpointer.sign_now()
    return ex


def _entry(ex: Exchange, seq: int) -> tuple[bytes, LogEntry]:
    """Event ``seq``'s envelope and leaf, as the running exchange serves them (leaves are rebuilt from rows)."""
    [(_, leaf, raw)] = ex.running.store.log_entries(seq - 1, seq)
    return raw, LogEntry.decode(leaf)


@pytest.mark.sqlite_only
def test_a_backdated_entry_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Leaf times never go backwards: an entry dated before its predecessor is named, even re-signed."""
    ex = start_exchange(tmp_path)
    ex.clock.advance(100)  # the keys' windows opened 100 s before these entries
    seqs = _fill(ex, 20)
    raw, e = _entry(ex, seqs[10])
    backdated = LogEntry(e.index, e.kind, e.time - 50, e.expires_at, e.submitter, e.key_id, e.envelope_sha256)
    ex = _rewrite_and_resign(tmp_path, ex, seqs[10], raw, backdated.encode())
    rc, report = audit(ex, capsys, tmp_path / "state")
    ex.running.stop(grace=1)
    assert rc == 1
    [problem] = report["problems"]  # inside the key's window: only the order of times gives it away
    assert problem["index"] == seqs[10] - 1 and "before the previous entry's" in problem["reason"]


@pytest.mark.sqlite_only
def test_an_admin_body_is_read_only_after_its_signature(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A forged admin change with garbage for a body is reported as a bad signature; the body is never parsed."""
    ex = start_exchange(tmp_path)
    _fill(ex, 3)
    seq = ex.running.store.log_size()
    with AdminClient.connect(ex.address, ex.creds("operator")) as op:
        seq = op.change(create_group=admin_pb2.CreateGroup(name="forged")).seq
    raw, e = _entry(ex, seq)
    env = signals_pb2.Envelope.FromString(raw)
    env.payload = b"\xff\xff\xff"  # does not parse as an AdminChange
    forged = env.SerializeToString()
    leaf = LogEntry.for_envelope(e.index, e.kind, e.time, e.expires_at, e.submitter, e.key_id, forged).encode()
    ex = _rewrite_and_resign(tmp_path, ex, seq, forged, leaf)
    rc, report = audit(ex, capsys, tmp_path / "state")
    ex.running.stop(grace=1)
    assert rc == 1
    assert report["problems"] == [{"index": seq - 1, "reason": "admin change signature does not verify"}]


def test_the_store_never_logs_an_entry_for_nobody(exchange: Exchange) -> None:
    store = exchange.running.store
    size = store.log_size()
    envelope = seal_body(admin_pb2.AdminChange(submitter="nobody", created_at=1), SigningKey.generate())
    with pytest.raises(RuntimeError, match="an entry naming no one is never written"):
        store.set_category("x.nobody", 1, AdminEvent(999_999, envelope, int(time.time())))
    assert store.log_size() == size and "x.nobody" not in store.categories()
