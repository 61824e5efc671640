"""Load: 32 concurrent SDK clients with a mixed workload against 2 replicas on one PostgreSQL.

Zero errors other than the intended quota denials; every acknowledged event present exactly once; the
signature log gap-free and audited; and what every live subscriber received and every worker's cursor
pulls returned is exactly, in order and once, what the final log says that member may see. p50/p99 per
method are printed (run with ``-s`` to see them). Bounded: 127.0.0.1 only, ``$SIGX_LOAD_SECONDS``
(default 15; longer runs find more) of load, then it stops by itself.
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

import grpc
import pytest

from client_sdk import ExchangeClient, Identifier, Signal, SignalExchangeError
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.envelope import open_envelope
from client_sdk.errors import QuotaExceededError
from client_sdk.log_entry import LogEntry
from client_sdk.note import unverified_checkpoint
from client_sdk.vocab import KIND_FEEDBACK, KIND_RETRACT, KIND_SUBMIT
from client_sdk.wire import admin_pb2, log_pb2, log_pb2_grpc, signals_pb2
from exchange.cli import main
from tests.harness import postgres_database
from tests.harness_process import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 32
SECONDS = float(os.environ.get("SIGX_LOAD_SECONDS", "15"))


def test_mixed_load_on_two_replicas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with postgres_database() as dsn:
        first = ServerProcess(tmp_path / "data", tmp_path / "r1.log", "--database", dsn)
        second = ServerProcess(tmp_path / "data", tmp_path / "r2.log", "--database", dsn)
        replicas = f"ipv4:{first.address},{second.address}"
        try:
            with AdminClient.connect(first.address, first.creds("operator")) as op:
                quota = "[members.demo-b]\nlookups_per_day = 100\n"  # ten look-up calls: the quota bites at any speed
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
    live_seen: dict[str, list[int]] = {"demo-a": [], "demo-b": []}
    pulled: dict[int, tuple[str, list[int]]] = {}  # worker -> (member, seqs its cursor pulls returned)

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
        pulled[w] = (member, [])
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
                            pulled[w][1].append(e.seq)
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
                    live_seen[member].append(event.seq)
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

    streams = [*(seqs for _, seqs in pulled.values()), *live_seen.values()]
    known = max([*accepted, *feedback_seqs, *(seq for seqs in streams for seq in seqs)])
    visible = _visible_in_log(server, known)
    submitted = [seq for seq in visible["demo-a"] if seq in accepted]
    assert sorted(submitted) == sorted(accepted)  # every acknowledged signal once
    assert set(feedback_seqs) <= set(visible["demo-a"]) | set(visible["demo-b"])
    assert denials[0] > 0  # the quota did bite
    for member, seen in live_seen.items():  # live streams: exactly the log's visible events, in order, once
        assert seen, f"{member}'s subscription delivered nothing"
        assert seen == [seq for seq in visible[member] if seq <= seen[-1]], f"{member}'s live stream"
    for w, (member, seqs) in pulled.items():  # cursor pulls, resumed page after page across replicas
        if seqs:
            assert seqs == [seq for seq in visible[member] if seq <= seqs[-1]], f"worker {w}'s pulls"

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

    summary: dict[str, object] = {
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


def _visible_in_log(server: ServerProcess, known: int) -> dict[str, list[int]]:
    """From the signature log itself (read as the auditor): each member's visible events, in seq order.
    The log must be gap-free: entry i is event seq i + 1, every index present once. No audience groups are
    used here, so each member sees every submit and retraction, and the feedback on its own signals or its
    own verdicts."""
    creds = Credentials.load(server.creds("auditor"))
    tls = grpc.ssl_channel_credentials(creds.ca_pem, creds.tls_key_pem, creds.cert_pem)
    with grpc.secure_channel(server.address, tls, options=[("grpc.max_receive_message_length", 1 << 26)]) as ch:
        stub = log_pb2_grpc.LogStub(ch)
        note = stub.GetCheckpoint(log_pb2.GetCheckpointRequest(min_size=known), timeout=30).note
        size = unverified_checkpoint(note).size
        entries = [e for page in stub.GetEntries(log_pb2.GetEntriesRequest(start=0, end=size)) for e in page.entries]
    assert [e.index for e in entries] == list(range(size)), "the log has gaps or repeats"
    owner: dict[int, str] = {}
    visible: dict[str, list[int]] = {"demo-a": [], "demo-b": []}
    for e in entries:
        leaf, seq = LogEntry.decode(e.leaf), e.index + 1
        if leaf.kind == KIND_SUBMIT:
            owner[seq] = leaf.submitter
        if leaf.kind in (KIND_SUBMIT, KIND_RETRACT):
            for seen in visible.values():
                seen.append(seq)
        elif leaf.kind == KIND_FEEDBACK:
            signal = signals_pb2.FeedbackBody.FromString(open_envelope(e.envelope).payload).signal_id
            for member, seen in visible.items():
                if member in (owner.get(signal), leaf.submitter):
                    seen.append(seq)
    return visible
