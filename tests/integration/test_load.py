"""Load: 32 concurrent SDK clients for 60 s with a mixed workload against 2 replicas on one PostgreSQL.

Zero errors other than the intended quota denials, every acknowledged event present exactly once, and
the log audit passes. p50/p99 per method are printed (run with ``-s`` to see them). Bounded: 127.0.0.1
only, ``$SIGX_LOAD_SECONDS`` (default 60) of load, then it stops by itself.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal, SignalExchangeError
from client_sdk._wire import admin_pb2
from client_sdk.errors import QuotaExceededError
from exchange.admin_client import AdminClient
from exchange.cli import main
from tests.harness import postgres_database
from tests.harness_process import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 32
SECONDS = float(os.environ.get("SIGX_LOAD_SECONDS", "60"))


def test_mixed_load_on_two_replicas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with postgres_database() as dsn:
        first = ServerProcess(tmp_path / "data", tmp_path / "r1.log", "--database", dsn)
        second = ServerProcess(tmp_path / "data", tmp_path / "r2.log", "--database", dsn)
        replicas = f"ipv4:{first.address},{second.address}"
        try:
            with AdminClient.connect(first.address, first.creds("operator")) as op:
                quota = f"[members.demo-b]\nlookups_per_day = {int(30 * SECONDS)}\n"  # some denials are intended
                op.change(apply_policy=admin_pb2.ApplyPolicy(document=quota))
            _run_load(replicas, first, tmp_path, capsys)
        finally:
            codes = (first.stop(), second.stop())
        assert codes == (0, 0)


def _run_load(replicas: str, server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latencies: dict[str, list[float]] = defaultdict(list)
    accepted: dict[int, int] = {}
    feedback_seqs: list[int] = []
    errors: list[str] = []
    denials = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS
    live_seen: dict[str, set[int]] = {"demo-a": set(), "demo-b": set()}

    def timed(name: str, fn: object) -> object:
        t0 = time.perf_counter()
        try:
            return fn()  # type: ignore[operator]
        finally:
            with lock:
                latencies[name].append(time.perf_counter() - t0)

    def worker(w: int) -> None:
        member = "demo-a" if w % 2 == 0 else "demo-b"
        other_ids: list[int] = []
        rng = random.Random(w)
        cursor = None
        with ExchangeClient.connect(replicas, credentials=server.creds(member), timeout=30) as client:
            i = 0
            while time.monotonic() < deadline:
                i += 1
                op = rng.choice(["submit", "submit", "lookup", "pull", "feedback"])
                try:
                    if op == "submit":
                        signals = [
                            Signal(Identifier("domain", f"w{w}-{i}-{j}.example"), category="grooming")
                            for j in range(20)
                        ]
                        results = timed("Submit", lambda s=signals: client.submit(s))
                        with lock:
                            for r in results:  # type: ignore[union-attr]
                                assert r.status == "accepted", r
                                accepted[r.signal_id] = accepted.get(r.signal_id, 0) + 1
                    elif op == "lookup":
                        queries = [
                            Identifier("domain", f"w{rng.randrange(CLIENTS)}-{rng.randrange(1, i + 1)}-0.example")
                            for _ in range(10)
                        ]
                        timed("Lookup", lambda q=queries: client.lookup(q))
                    elif op == "pull":
                        events = timed("Pull", lambda c=cursor: list(client.pull(after=c, limit=200)))
                        for e in events:  # type: ignore[union-attr]
                            cursor = e.cursor
                            if e.kind == "submit" and e.submitter != member:
                                other_ids.append(e.signal_id)
                    elif op == "feedback" and other_ids:
                        target = rng.choice(other_ids[-500:])
                        done = timed("Feedback", lambda t=target: client.feedback(t, verdict="confirmed"))
                        with lock:
                            feedback_seqs.append(done.seq)  # type: ignore[union-attr]
                except QuotaExceededError:
                    with lock:
                        denials[0] += 1
                except Exception as exc:
                    with lock:
                        errors.append(f"{op}: {type(exc).__name__}: {exc}")

    def subscriber(member: str) -> None:
        try:
            with ExchangeClient.connect(replicas, credentials=server.creds(member), timeout=30) as client:
                for event in client.subscribe():
                    live_seen[member].add(event.seq)
                    if time.monotonic() > deadline:
                        return
        except SignalExchangeError as exc:  # the replicas stopping at the end is expected
            if time.monotonic() < deadline:
                with lock:
                    errors.append(f"subscribe: {exc}")

    subs = [threading.Thread(target=subscriber, args=(m,), daemon=True) for m in ("demo-a", "demo-b")]
    workers = [threading.Thread(target=worker, args=(w,)) for w in range(CLIENTS)]
    for t in (*subs, *workers):
        t.start()
    for t in workers:
        t.join(SECONDS + 120)
    assert not errors, errors[:10]
    assert accepted and all(n == 1 for n in accepted.values())

    with ExchangeClient.connect(replicas, credentials=server.creds("demo-a")) as reader:
        events = list(reader.pull())
    seqs = [e.seq for e in events]
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)  # gap-free order, no duplicates
    submitted = [e.signal_id for e in events if e.kind == "submit"]
    assert sorted(submitted) == sorted(accepted)  # every acknowledged signal once
    assert set(feedback_seqs) <= set(seqs)
    assert denials[0] > 0  # the quota did bite
    assert all(live_seen.values())  # live streams delivered

    capsys.readouterr()
    rc = main(
        [
            "audit",
            "verify",
            "--as",
            str(server.creds("auditor")),
            "--server",
            server.address,
            "--state",
            str(tmp_path / "audit"),
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, report["problems"]

    summary = {
        name: {
            "calls": len(v),
            "p50_ms": round(statistics.median(v) * 1000, 2),
            "p99_ms": round(sorted(v)[int(len(v) * 0.99) - 1] * 1000, 2) if len(v) > 1 else None,
        }
        for name, v in sorted(latencies.items())
    }
    summary["_totals"] = {
        "signals": len(accepted),
        "feedback": len(feedback_seqs),
        "quota_denials": denials[0],
        "seconds": SECONDS,
        "audited_entries": report["entries"],
    }
    with capsys.disabled():
        print("\nload test (32 clients, 2 replicas, PostgreSQL):", json.dumps(summary, indent=1))
    (tmp_path / "load-summary.json").write_text(json.dumps(summary))
