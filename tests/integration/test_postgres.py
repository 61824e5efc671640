"""PostgreSQL as the shared store of several exchange replicas, and the migration from SQLite.

Replicas share one data directory (keys, CA) and one database: the log stays
gap-free and duplicate-free whichever replica takes a write, quotas are exact
across replicas, admin changes on one are in force on the others within a
second, and a SQLite exchange moves to PostgreSQL with nothing lost.
Skipped (with the reason) when ``$SIGX_TEST_POSTGRES`` names no server.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.errors import QuotaExceededError
from client_sdk.wire import admin_pb2
from exchange.cli import main
from exchange.store.pg_schema import TABLES
from tests.harness import Clock, Exchange, postgres_database, start_exchange
from tests.harness_process import ServerProcess

pytestmark = pytest.mark.integration
CAT = "grooming"
_serial = itertools.count()


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database (skips the test when ``$SIGX_TEST_POSTGRES`` is unset)."""
    with postgres_database() as dsn:
        yield dsn


@pytest.fixture
def replicas(tmp_path: Path, database: str) -> Iterator[tuple[Exchange, Exchange]]:
    """Two in-process exchanges on one data directory and one database, sharing a clock."""
    clock = Clock()
    first = start_exchange(tmp_path, clock=clock, database=database)
    second = start_exchange(tmp_path, clock=clock, database=database)
    yield first, second
    second.running.stop(grace=1)
    first.running.stop(grace=1)


def _domains(n: int, prefix: str = "pg") -> list[Signal]:
    return [Signal(Identifier("domain", f"{prefix}{next(_serial)}.example"), category=CAT) for _ in range(n)]


def _audit(address: str, creds: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["audit", "verify", "--as", str(creds), "--server", address, "--state", str(state), "--json"])
    return rc, json.loads(capsys.readouterr().out)


def _seqs(database: str) -> list[int]:
    with psycopg.connect(database) as conn:
        return [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]


def test_two_processes_one_gap_free_log(tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Concurrent submits through two `sigx serve` processes: one sequence, no gap, no duplicate; audits pass."""
    data = tmp_path / "data"
    first = ServerProcess(data, tmp_path / "first.log", "--database", database)
    second = ServerProcess(data, tmp_path / "second.log", "--database", database)
    servers = (first, second)
    results: list[tuple[str, int]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        member = "demo-a" if w % 4 < 2 else "demo-b"
        try:
            with ExchangeClient.connect(servers[w % 2].address, credentials=first.creds(member)) as client:
                for _ in range(6):
                    batch = client.submit(_domains(25, f"w{w}-"))
                    with lock:
                        results.extend((r.status, r.seq) for r in batch)
        except Exception as exc:  # named in the assertion below, not lost with the thread
            with lock:
                failures.append(f"worker {w} via replica {w % 2}: {type(exc).__name__}: {exc}")

    try:
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures and not any(t.is_alive() for t in threads), failures
        assert [s for s, _ in results] == ["accepted"] * 8 * 6 * 25, sorted({s for s, _ in results})
        accepted = sorted(seq for _, seq in results)
        assert len(set(accepted)) == len(accepted)
        seqs = _seqs(database)
        assert seqs == list(range(1, len(seqs) + 1))  # gap-free, duplicate-free, across both writers
        # + the genesis, 3 accounts and the exchange's own key
        assert set(accepted) <= set(seqs) and len(seqs) == len(accepted) + 5

        # The same signal sent again through the other replica is a duplicate of the first.
        with (
            ExchangeClient.connect(first.address, credentials=first.creds("demo-a")) as a1,
            ExchangeClient.connect(second.address, credentials=first.creds("demo-a")) as a2,
        ):
            signal = _domains(1, "dup")
            [original] = a1.submit(signal)
            [again] = a2.submit(signal)
            assert (original.status, again.status) == ("accepted", "duplicate")
            assert again.signal_id == original.signal_id

        # Both replicas serve the same events, and the log audits through either of them.
        pulled = []
        for server in servers:
            with ExchangeClient.connect(server.address, credentials=first.creds("demo-b")) as b:
                pulled.append([(e.seq, e.envelope) for e in b.pull()])
        assert pulled[0] == pulled[1] and len(pulled[0]) == len(accepted) + 1
        for server in servers:
            rc, report = _audit(server.address, first.creds("auditor"), tmp_path / "state", capsys)
            assert rc == 0 and report["ok"], report["problems"]
        assert report["entries"] == len(seqs) + 1
    finally:
        assert second.stop() == 0
        assert first.stop() == 0
    assert _seqs(database) == list(range(1, len(seqs) + 2))


def test_quota_is_exact_across_replicas(replicas: tuple[Exchange, Exchange]) -> None:
    first, second = replicas
    clock = first.clock
    now = clock()
    clock.advance(math.ceil(now / 60) * 60 - now + 0.5)  # start of a minute: one window for the test
    limit, batch = 120, 5
    with AdminClient.connect(first.address, first.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document=f"[members.demo-a]\nsubmits_per_minute = {limit}\n"))
    second.running.services.policy.reload()
    accepted: list[int] = []
    denied: list[int] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        ex = replicas[w % 2]
        with ex.client("demo-a") as client:
            while True:
                try:
                    results = client.submit(_domains(batch, f"q{w}-"))
                except QuotaExceededError as exc:
                    assert exc.retry_after is not None and 0 < exc.retry_after <= 60
                    with lock:
                        denied.append(w % 2)
                    return
                with lock:
                    accepted.extend(r.seq for r in results if r.status == "accepted")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(accepted) == limit == len(set(accepted))  # exact: never over, never lost, whichever replica
    assert sorted(denied) == [0] * 4 + [1] * 4
    for ex in replicas:
        assert ex.running.services.policy.ledger.used("demo-a", "submits_per_minute") == limit
    clock.advance(60)  # the next window is fresh on both
    with second.client("demo-a") as client:
        assert all(r.status == "accepted" for r in client.submit(_domains(batch)))


def test_pdq_search_sees_the_other_replicas_submits_at_once(replicas: tuple[Exchange, Exchange]) -> None:
    """Each replica's PDQ index catches up from the shared store on every search: a hash stored through
    one replica is found through the other in the next call, and a retraction there is honoured too."""
    first, second = replicas
    value = int("5a" * 32, 16)
    near = (value ^ ((1 << 31) - 1)).to_bytes(32, "big")
    with first.client("demo-a") as a, second.client("demo-b") as b:
        assert b.lookup([("media_pdq", near)])[0].matches == []  # the second replica's index is loaded
        [r] = a.submit([Signal(Identifier("media_pdq", f"{value:064x}"), category=CAT)])
        assert [(m.signal_id, m.distance) for m in b.lookup([("media_pdq", near)])[0].matches] == [(r.signal_id, 31)]
        a.retract(r.signal_id, reason="mistake")
        assert b.lookup([("media_pdq", near)])[0].matches == []


def test_quota_refund_is_shared(replicas: tuple[Exchange, Exchange]) -> None:
    """Units given back on one replica (its store failed mid-call) are free again on the other."""
    ledgers = [ex.running.services.policy.ledger for ex in replicas]
    window = ledgers[0].charge("demo-a", "lookups_per_day", 7, limit=10)
    assert ledgers[1].used("demo-a", "lookups_per_day") == 7
    ledgers[1].refund("demo-a", "lookups_per_day", 5, window)
    assert ledgers[0].used("demo-a", "lookups_per_day") == 2
    ledgers[0].refund("demo-a", "lookups_per_day", 5, window - 1)  # another window: nothing to give back
    ledgers[0].refund("demo-a", "lookups_per_day", 50, window)  # never below zero
    assert ledgers[1].used("demo-a", "lookups_per_day") == 0


def test_stats_count_every_replica(replicas: tuple[Exchange, Exchange]) -> None:
    """Look-ups and quota denials in ``sigx admin stats`` are the cluster's, whichever replica answers."""
    first, second = replicas
    with AdminClient.connect(first.address, first.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-b]\nlookups_per_day = 5\n"))
    second.running.services.policy.reload()
    for ex in replicas:
        with ex.client("demo-b") as b:
            b.lookup([Identifier("domain", "x.example")] * 2)
            with pytest.raises(QuotaExceededError):  # 2 + 4 > 5 on the first, 2 + 2 + 2 > 5 on the second
                b.lookup([Identifier("domain", "x.example")] * (4 if ex is first else 2))
    for ex in replicas:
        with AdminClient.connect(ex.address, ex.creds("operator")) as op:
            stats = op.stats()
        assert stats.counts_scope == "every replica, since the database was created"
        assert {c.key: c.value for c in stats.lookups_by_member} == {"demo-b": 4}
        assert {c.key: c.value for c in stats.quota_denials_by_member} == {"demo-b": 2}


def test_admin_changes_reach_the_other_replica(replicas: tuple[Exchange, Exchange]) -> None:
    first, second = replicas
    received: list[int] = []
    ready = threading.Event()
    with (
        AdminClient.connect(first.address, first.creds("operator")) as op,
        second.client("demo-a") as a_on_second,
        first.client("demo-a") as a_on_first,
        second.client("demo-b") as b_on_second,
    ):

        def listen() -> None:
            for event in b_on_second.subscribe(on_cursor=lambda _c: ready.set()):
                received.append(event.seq)
                return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ready.wait(10)

        # An event submitted through one replica reaches a live subscription on the other.
        [live] = a_on_first.submit(_domains(1, "live"))
        listener.join(5)
        assert received == [live.seq]

        # A new category set on one replica is usable on the other within a second.
        op.change(set_category=admin_pb2.SetCategory(name="sextortion.replica", retention_days=30))
        start = time.monotonic()
        while True:
            [r] = a_on_second.submit(
                [Signal(Identifier("domain", f"cat{next(_serial)}.example"), "sextortion.replica")]
            )
            if r.status == "accepted":
                break
            assert time.monotonic() - start < 2.0, r.reason
            time.sleep(0.05)

        # A policy applied on one replica is in force on the other within about a second.
        op.change(apply_policy=admin_pb2.ApplyPolicy(document='[members.demo-a]\nsubmit_categories = ["grooming"]\n'))
        start = time.monotonic()
        while True:
            [r] = a_on_second.submit([Signal(Identifier("domain", f"pol{next(_serial)}.example"), "trafficking")])
            if r.status == "rejected":
                break
            time.sleep(0.05)
        assert time.monotonic() - start < 1.5
        assert r.code == "PERMISSION_DENIED" and r.tag == "submit_categories"


def test_migrate_sqlite_exchange_to_postgres(tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]) -> None:
    ex = start_exchange(tmp_path)  # SQLite
    state = tmp_path / "audit-state"
    with (
        ex.client("demo-a") as a,
        ex.client("demo-b") as b,
        AdminClient.connect(ex.address, ex.creds("operator")) as op,
    ):
        results = a.submit(_domains(300, "m"), batch_size=100)
        b.feedback(results[0].signal_id, verdict="confirmed")
        a.retract(results[1].signal_id, reason="mistake")
        pdq = Identifier("media_pdq", "f" * 64)
        a.submit([Signal(pdq, category=CAT)])
        op.change(create_group=admin_pb2.CreateGroup(name="partners"))
        op.change(set_group_membership=admin_pb2.SetGroupMembership(group="partners", member_id="demo-b", member=True))
        op.change(set_category=admin_pb2.SetCategory(name="sextortion.migrated", retention_days=10))
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-b]\nlookups_per_day = 5000\n"))
        ex.running.services.checkpointer.sign_now()
        rc, report = _audit(ex.address, ex.creds("auditor"), state, capsys)  # keeps this checkpoint in state
        assert rc == 0, report["problems"]
        a.submit(_domains(20, "late"))
        ex.running.services.checkpointer.sign_now()
        before_events = [(e.seq, e.kind, e.envelope) for e in b.pull()]
        before_policy = op.policy()
        before_lookup = b.lookup([Identifier("domain", "m5.example"), pdq])
    ex.running.stop(grace=1)

    source = sqlite3.connect(ex.db_path)
    source_counts = {t: source.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    checkpoints = source.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    last_seq = source.execute("SELECT max(seq) FROM events").fetchone()[0]
    source.close()
    assert checkpoints >= 2
    capsys.readouterr()
    argv = ["admin", "migrate", "--data-dir", str(ex.data_dir), "--to", database, "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"tables": source_counts, "verified": True}
    assert "events: " in err and f"verified: {checkpoints} checkpoint root(s) match" in err
    assert main(argv) == 2  # the target is no longer empty: refused, nothing touched
    assert "not empty" in capsys.readouterr().err

    pg = start_exchange(tmp_path, database=database)
    try:
        with (
            pg.client("demo-a") as a,
            pg.client("demo-b") as b,
            AdminClient.connect(pg.address, pg.creds("operator")) as op,
        ):
            assert [(e.seq, e.kind, e.envelope) for e in b.pull()] == before_events
            assert op.policy() == before_policy
            assert b.lookup([Identifier("domain", "m5.example"), pdq]) == before_lookup
            assert {g.name: list(g.members) for g in op.groups()} == {"partners": ["demo-b"]}
            assert {c.name: c.retention_days for c in op.categories()}["sextortion.migrated"] == 10
            [after] = a.submit(_domains(1, "after"))
            assert after.seq == last_seq + 1
        pg.running.services.checkpointer.sign_now()
        rc, report = _audit(pg.address, pg.creds("auditor"), state, capsys)  # consistent with the pre-migration state
        assert rc == 0 and report["ok"], report["problems"]
        assert report["new_entries"] > 0 and report["checkpoints"] >= 2
    finally:
        pg.running.stop(grace=1)
