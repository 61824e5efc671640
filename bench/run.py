"""End-to-end benchmark of a real exchange server (a subprocess on 127.0.0.1) driven through the SDK.

    python bench/run.py                      # 100,000 signals
    python bench/run.py --signals 1000000    # also reports the 1M-stored numbers
    python bench/run.py --quick              # ~1 minute smoke run, 20,000 signals
    python bench/run.py --out results.json   # also write the results as JSON

Phases, each bounded in time:
  * machine ceilings: Ed25519 verify via cryptography and libsodium on 1 and 2 threads, and
    in-process VOPRF evaluation (measured first and last; the best of each is kept);
  * submit over SubmitStream in batches of 1000 on 2 streams (all N, from an empty store;
    0->100k and, past 100k, the whole run and the last 100k), then 1 stream (an extra slice);
  * Pull of every event: raw stub, SDK verify=False, SDK verify=True;
  * batched Lookup (half hits, half misses) and single-value Lookup latency;
  * VOPRF: ``pseudonymise`` end to end, and the raw Evaluate RPC;
  * server peak RSS and database bytes per stored signal.
Each phase also reports server, bench-client and other-process CPU; phases where other
processes were busy are flagged. ``--profile DIR`` records the server and this client with
py-spy, one file per phase, and prints a summary (it perturbs the numbers: profile separately).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _workloads as wl

from client_sdk import Identifier
from client_sdk.client import oprf_input
from client_sdk.credentials import Credentials
from client_sdk.oprf import MODE_VOPRF, OprfClient
from client_sdk.wire import exchange_pb2, exchange_pb2_grpc, pseudonymizer_pb2, pseudonymizer_pb2_grpc

BATCH = 1000
MARK = 100_000  # the "100k stored" checkpoint
NOISE_CORES = 0.25  # other processes busier than this during a phase: its numbers are suspect

TARGETS = {
    "submit": 10_000.0,
    "pull_unverified": 100_000.0,
    "pull_verified_fraction_of_ceiling": 0.80,
    "lookup_batched": 150_000.0,
    "lookup_batched_fraction_of_sql": 0.40,
    "lookup_single_p99_ms": 3.0,
    "voprf": 10_000.0,
    "bytes_per_signal": 300.0,
    "rss_mib": 300.0,
    "audit": 20_000.0,
}


# -- bookkeeping --------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    server: wl.ServerGroup
    creds: Credentials
    profiler: wl.PhaseProfiler
    metrics: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        print(f"-- {name}", flush=True)
        s0, c0, t0 = self.server.cpu_seconds(), wl.client_cpu_seconds(), time.perf_counter()
        m0, st0 = wl.machine_cpu_seconds()
        self.profiler.start(name)
        try:
            yield
        finally:
            self.profiler.stop()
            wall = time.perf_counter() - t0
            server_cpu = self.server.cpu_seconds() - s0
            client_cpu = wl.client_cpu_seconds() - c0
            m1, st1 = wl.machine_cpu_seconds()
            other = max(0.0, (m1 - m0) - server_cpu - client_cpu)
            self.phases[name] = p = {
                "wall_s": round(wall, 3),
                "server_cpu_s": round(server_cpu, 3),
                "client_cpu_s": round(client_cpu, 3),
                "server_cores": round(server_cpu / wall, 2) if wall else 0.0,
                "client_cores": round(client_cpu / wall, 2) if wall else 0.0,
                "other_cores": round(other / wall, 2) if wall else 0.0,
                "steal_cores": round((st1 - st0) / wall, 2) if wall else 0.0,
                "server_rss_mib": round(self.server.rss_mib(), 1),
            }
            noisy = p["other_cores"] + p["steal_cores"] > NOISE_CORES
            print(
                f"   {wall:6.1f}s wall; server {p['server_cores']:.2f} cores, bench client {p['client_cores']:.2f}"
                f" cores, other processes {p['other_cores']:.2f} cores{' (NOISY)' if noisy else ''};"
                f" server RSS {p['server_rss_mib']:.0f} MiB",
                flush=True,
            )

    def noisy_phases(self) -> list[str]:
        return [k for k, p in self.phases.items() if p["other_cores"] + p["steal_cores"] > NOISE_CORES]

    def client(self) -> Any:
        return wl.open_client(self.server.next_address(), self.creds)


# -- submit -------------------------------------------------------------------------


class Feeder:
    """Hands out consecutive batches of envelopes to any number of streams until exhausted or past the deadline."""

    def __init__(self, envelopes: list[bytes], deadline: float) -> None:
        self._envelopes = envelopes
        self._next = 0
        self._deadline = deadline
        self._lock = threading.Lock()
        self.truncated = False

    def take(self) -> list[bytes] | None:
        with self._lock:
            if self._next >= len(self._envelopes):
                return None
            if time.perf_counter() > self._deadline:
                self.truncated = True
                return None
            lo = self._next
            self._next += BATCH
            return self._envelopes[lo : lo + BATCH]


class Acks:
    """Results as they come back: counts by status, and a (acked, time) timeline."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.lock = threading.Lock()
        self.acked = 0
        self.status: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.timeline: list[tuple[int, float]] = []
        self._last_print = time.perf_counter()
        self.started = time.perf_counter()

    def on_batch(self, results: list[Any]) -> None:
        now = time.perf_counter()
        with self.lock:
            self.acked += len(results)
            for r in results:
                self.status[r.status] += 1
                if r.status == "rejected":
                    self.reasons[r.tag or r.code] += 1
            self.timeline.append((self.acked, now))
            if now - self._last_print >= 10:
                self._last_print = now
                elapsed = now - self.started
                print(
                    f"   {self.label}: {self.acked:,} acked in {elapsed:.0f}s ({self.acked / elapsed:,.0f}/s)",
                    flush=True,
                )

    def point_at(self, count: int) -> tuple[int, float] | None:
        """(acked total, time) when the acknowledged total first reached ``count`` (0: the start)."""
        if count <= 0:
            return 0, self.started
        for acked, t in self.timeline:
            if acked >= count:
                return acked, t
        return None

    def rate(self, lo: int, hi: int) -> float | None:
        """Signals/s between the acked totals ``lo`` and ``hi`` (None if ``hi`` was never reached)."""
        a, b = self.point_at(lo), self.point_at(hi)
        if a is None or b is None or b[1] <= a[1]:
            return None
        return (b[0] - a[0]) / (b[1] - a[1])


def submit(bench: Bench, envelopes: list[bytes], streams: int, budget: float, label: str) -> Acks:
    clients = [bench.client() for _ in range(streams)]
    acks = Acks(label)
    feeder = Feeder(envelopes, time.perf_counter() + budget)
    errors: list[BaseException] = []

    def one(client: Any) -> None:
        requests = (exchange_pb2.SubmitRequest(envelopes=b) for b in iter(feeder.take, None))
        try:
            for _ in client.submit_envelope_stream(requests, on_batch=acks.on_batch):
                pass
        except BaseException as exc:
            errors.append(exc)

    acks.started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(c,), name=f"bench-submit-{i}") for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - acks.started
    for c in clients:
        c.close()
    if errors:
        raise RuntimeError(f"{label}: stream failed: {errors[0]!r}")
    acks.timeline.append((acks.acked, acks.started + elapsed))
    if feeder.truncated:
        print(f"   {label}: stopped at the {budget:.0f}s budget after {acks.acked:,} signals", flush=True)
    print(
        f"   {label}: {acks.acked:,} in {elapsed:.1f}s = {acks.acked / elapsed:,.0f}/s;"
        f" {dict(acks.status)} {dict(acks.reasons) or ''}",
        flush=True,
    )
    return acks


def window_rates(acks: Acks, total: int, step: int = MARK) -> list[dict[str, float]]:
    out = []
    for lo in range(0, total, step):
        hi = min(lo + step, total)
        rate = acks.rate(lo, hi)
        if rate is not None:
            out.append({"from": lo, "to": hi, "rate": round(rate, 1)})
    return out


# -- pull ---------------------------------------------------------------------------


def pull_sdk(bench: Bench, verify: bool, budget: float) -> dict[str, Any]:
    client = bench.client()
    deadline = time.perf_counter() + budget
    n, partial = 0, False
    started = time.perf_counter()
    try:
        for _ in client.pull(None, verify=verify):
            n += 1
            if not n & 1023 and time.perf_counter() > deadline:
                partial = True
                break
    finally:
        elapsed = time.perf_counter() - started
        client.close()
    return {"events": n, "seconds": round(elapsed, 3), "rate": n / elapsed, "partial": partial}


def pull_raw(bench: Bench, budget: float) -> dict[str, Any]:
    """The Pull stream through the bare stub: pages counted, nothing decoded beyond protobuf parsing."""
    channel = wl.open_channel(bench.server.address, bench.creds)
    stub = exchange_pb2_grpc.ExchangeStub(channel)
    n, partial = 0, False
    started = time.perf_counter()
    try:
        call = stub.Pull(exchange_pb2.PullRequest(), timeout=budget + 30)
        for page in call:
            n += len(page.events)
            if time.perf_counter() - started > budget:
                partial = True
                call.cancel()
                break
    finally:
        elapsed = time.perf_counter() - started
        channel.close()
    return {"events": n, "seconds": round(elapsed, 3), "rate": n / elapsed, "partial": partial}


# -- lookups ------------------------------------------------------------------------


def lookup_batches(values: list[bytes], count: int, rng: random.Random) -> list[list[tuple[str, bytes]]]:
    """``count`` batches of 1000 (type, value) queries: 500 stored pseudonyms and 500 random misses, shuffled."""
    batches = []
    for _ in range(count):
        queries = [("email", v) for v in rng.sample(values, BATCH // 2)]
        queries += [("email", rng.randbytes(32)) for _ in range(BATCH - BATCH // 2)]
        rng.shuffle(queries)
        batches.append(queries)
    return batches


def lookup_batched_sdk(
    bench: Bench, batches: list[list[tuple[str, bytes]]], threads: int, seconds: float
) -> dict[str, Any]:
    clients = [bench.client() for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def work(i: int) -> tuple[int, int]:
        client, done, found = clients[i], 0, 0
        j = i
        while time.perf_counter() < deadline:
            results = client.lookup(batches[j % len(batches)])
            done += len(results)
            found += sum(1 for r in results if r.found)
            j += threads
        return done, found

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(work, range(threads)))
    elapsed = time.perf_counter() - started
    for c in clients:
        c.close()
    done = sum(p[0] for p in parts)
    found = sum(p[1] for p in parts)
    return {"queries": done, "hit_fraction": round(found / done, 4) if done else 0.0, "rate": done / elapsed}


def lookup_batched_raw(bench: Bench, batches: list[list[tuple[str, bytes]]], seconds: float) -> dict[str, Any]:
    channel = wl.open_channel(bench.server.address, bench.creds)
    stub = exchange_pb2_grpc.ExchangeStub(channel)
    requests = [
        exchange_pb2.LookupRequest(queries=[exchange_pb2.LookupQuery(type=wl.SIGNAL_TYPE_EMAIL, value=v) for _, v in b])
        for b in batches
    ]
    done, found, i = 0, 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        resp = stub.Lookup(requests[i % len(requests)], timeout=60)
        done += len(resp.results)
        found += sum(1 for r in resp.results if r.matches)
        i += 1
    elapsed = time.perf_counter() - started
    channel.close()
    return {"queries": done, "hit_fraction": round(found / done, 4) if done else 0.0, "rate": done / elapsed}


def lookup_batched_sql(db_path: Path, batches: list[list[tuple[str, bytes]]], seconds: float) -> dict[str, Any]:
    """The same batches as bare SQL on the server's SQLite file (read-only, in this process, one thread): the
    store's look-up SELECT (``lookup_sql``) with the reader's audience clause, rows fetched, nothing else. The
    SDK's batched look-up is measured against this."""
    from exchange.store.sqlite import lookup_sql

    visible = " AND (s.audience IS NULL OR s.audience IN (?))"  # what ``_visible`` gives a member in no group

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.execute("PRAGMA cache_size = -65536")
    now = int(time.time())
    done, found, i = 0, 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        values = [v for _, v in batches[i % len(batches)]]
        for start in range(0, len(values), 900):  # the store's chunks (SQLite's parameter limit)
            chunk = values[start : start + 900]
            rows = conn.execute(lookup_sql(len(chunk), visible), [*chunk, wl.SIGNAL_TYPE_EMAIL, now, 0]).fetchall()
            found += len(rows)
        done += len(values)
        i += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return {"queries": done, "hit_fraction": round(found / done, 4) if done else 0.0, "rate": done / elapsed}


def lookup_single(bench: Bench, values: list[bytes], count: int, budget: float, rng: random.Random) -> dict[str, Any]:
    client = bench.client()
    hits = rng.sample(values, count // 2 + 1)
    queries = [[("email", hits[i // 2] if i % 2 == 0 else rng.randbytes(32))] for i in range(count)]
    for q in queries[:20]:  # warm the channel and the server's per-thread connections
        client.lookup(q)
    latencies: list[float] = []
    found = 0
    deadline = time.perf_counter() + budget
    for q in queries:
        t0 = time.perf_counter()
        result = client.lookup(q)
        latencies.append(time.perf_counter() - t0)
        found += result[0].found
        if t0 > deadline:
            break
    client.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "lookups": len(ms),
        "hit_fraction": round(found / len(ms), 4),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "max_ms": ms[-1],
        "mean_ms": statistics.fmean(ms),
    }


# -- VOPRF --------------------------------------------------------------------------


def voprf_sdk(bench: Bench, seconds: float) -> dict[str, Any]:
    client = bench.client()
    batches = [[Identifier("email", f"bench.user{b}.{i}@example.com") for i in range(BATCH)] for b in range(4)]
    client.pseudonymise(batches[0][:10])  # warm-up
    done, i = 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        out = client.pseudonymise(batches[i % len(batches)])
        assert len(out) == BATCH
        done += len(out)
        i += 1
    elapsed = time.perf_counter() - started
    client.close()
    return {"evaluations": done, "rate": done / elapsed}


def voprf_raw(bench: Bench, threads: int, seconds: float) -> dict[str, Any]:
    """The Evaluate RPC alone: pre-blinded batches of 1000, responses not finalized."""
    oc = OprfClient(MODE_VOPRF, bench.creds.oprf_public_key)
    requests = []
    for b in range(4):
        _, blinded = oc.blind([oprf_input("email", f"raw.user{b}.{i}@example.com") for i in range(BATCH)])
        requests.append(pseudonymizer_pb2.EvaluateRequest(blinded_elements=blinded, epoch=bench.creds.oprf_epoch))
    channels = [wl.open_channel(bench.server.address, bench.creds) for _ in range(threads)]
    stubs = [pseudonymizer_pb2_grpc.PseudonymizerStub(c) for c in channels]
    deadline = time.perf_counter() + seconds

    def work(t: int) -> int:
        done, i = 0, t
        while time.perf_counter() < deadline:
            resp = stubs[t].Evaluate(requests[i % len(requests)], timeout=60)
            assert len(resp.evaluated_elements) == BATCH
            done += BATCH
            i += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(work, range(threads)))
    elapsed = time.perf_counter() - started
    for c in channels:
        c.close()
    return {"evaluations": done, "rate": done / elapsed}


# -- database size ------------------------------------------------------------------


def audit_verify(address: str, creds_dir: Path, state: Path) -> dict[str, Any]:
    """``sigx audit verify``'s engine over the whole log, as an auditor would run it (first run, no state)."""
    from client_sdk.audit.sources import RemoteSource
    from client_sdk.audit.verifier import Auditor

    source = RemoteSource(address, creds_dir)
    try:
        report = Auditor(source, source.credentials.log_public_key, state).run()
    finally:
        source.close()
    return {
        "entries": report.new_entries,
        "seconds": round(report.seconds, 3),
        "rate": report.new_entries / report.seconds if report.seconds else 0.0,
        "ok": report.ok,
        "problems": len(report.problems),
    }


def database_size_pg(url: str) -> dict[str, Any]:
    """Bytes of every table with its indexes and TOAST in a PostgreSQL database."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = dict(
            conn.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC"
            ).fetchall()
        )
        signals = conn.execute("SELECT count(*) FROM signals").fetchone()[0]  # type: ignore[index]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        envelope_bytes = conn.execute("SELECT coalesce(sum(length(envelope)), 0) FROM events").fetchone()[0]  # type: ignore[index]
    return {
        "bytes": sum(tables.values()),
        "signals": signals,
        "events": events,
        "page_size": 8192,
        "free_bytes": 0,
        "envelope_bytes": envelope_bytes,
        "tables": tables,
    }


def database_size(data_dir: Path) -> dict[str, Any]:
    """Checkpoint the (stopped) server's WAL into the main file, then measure it; per-table bytes if dbstat exists."""
    db = data_dir / "exchange.db"
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = Path(f"{db}-wal")
        size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
        tables: dict[str, int] = {}
        try:
            for name, pgsize in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
                tables[name] = pgsize
        except sqlite3.DatabaseError:
            pass
        signals = conn.execute("SELECT count(*) FROM signals").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        envelope_bytes = conn.execute("SELECT coalesce(sum(length(envelope)), 0) FROM events").fetchone()[0]
    finally:
        conn.close()
    return {
        "bytes": size,
        "signals": signals,
        "events": events,
        "page_size": page_size,
        "free_bytes": free_pages * page_size,
        "envelope_bytes": envelope_bytes,
        "tables": tables,
    }


# -- the report ---------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("/s", "B", "MiB") and value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def build_rows(m: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """(metric, value, unit, target, higher_is_better, ceiling_name) rows for the table and the JSON."""
    sodium2 = m["ceilings"]["verify_libsodium_2t"]
    rows: list[dict[str, Any]] = []

    def row(
        metric: str,
        value: float | None,
        unit: str,
        target: float | None = None,
        higher: bool = True,
        ceiling: float | None = None,
        ceiling_name: str = "",
    ) -> None:
        ratio = None if value is None or not target else value / target
        meets = None if ratio is None else (ratio >= 1.0 if higher else ratio <= 1.0)
        rows.append(
            {
                "metric": metric,
                "value": value,
                "unit": unit,
                "target": target,
                "higher_is_better": higher,
                "ratio_to_target": ratio,
                "meets": meets,
                "ratio_to_ceiling": None if value is None or not ceiling else value / ceiling,
                "ceiling": ceiling_name,
            }
        )

    sub = m["submit"]
    first = min(n, MARK)
    row(
        f"submit, 2 streams, 0->{first // 1000}k stored",
        sub["rate_first_100k"],
        "/s",
        TARGETS["submit"],
        ceiling=sodium2,
        ceiling_name="sodium 2t",
    )
    if n > MARK:
        row(
            f"submit, 2 streams, 0->{n // 1000}k stored (whole run)",
            sub["rate_all"],
            "/s",
            TARGETS["submit"],
            ceiling=sodium2,
            ceiling_name="sodium 2t",
        )
        row(
            f"submit, 2 streams, last 100k ({(n - MARK) // 1000}k->{n // 1000}k)",
            sub["rate_last_100k"],
            "/s",
            TARGETS["submit"],
            ceiling=sodium2,
            ceiling_name="sodium 2t",
        )
    row(
        f"submit, 1 stream, +{m['submit_1']['signals'] // 1000}k at {n // 1000}k stored",
        m["submit_1"]["rate"],
        "/s",
        TARGETS["submit"],
        ceiling=m["ceilings"]["verify_libsodium_2t"],
        ceiling_name="sodium 2t",
    )
    pulls = m["pull"]
    row("pull, SDK, verify=False", pulls["sdk_unverified"]["rate"], "/s", TARGETS["pull_unverified"])
    row(
        "pull, SDK, verify=True",
        pulls["sdk_verified"]["rate"],
        "/s",
        TARGETS["pull_verified_fraction_of_ceiling"] * sodium2,
        ceiling=sodium2,
        ceiling_name="sodium 2t",
    )
    row("pull, raw stub, no decode (info)", pulls["raw"]["rate"], "/s", TARGETS["pull_unverified"])
    lk = m["lookup"]
    if "batched_sql" in lk:  # the target: a share of the same look-ups as bare SQL, measured in this run
        sql_rate = lk["batched_sql"]["rate"]
        row(
            "lookup batched x1000, SDK, 1 client",
            lk["batched_1"]["rate"],
            "/s",
            TARGETS["lookup_batched_fraction_of_sql"] * sql_rate,
            ceiling=sql_rate,
            ceiling_name="bare SQL",
        )
    else:
        row("lookup batched x1000, SDK, 1 client", lk["batched_1"]["rate"], "/s", TARGETS["lookup_batched"])
    row("lookup batched x1000, SDK, 2 clients (info)", lk["batched_2"]["rate"], "/s", TARGETS["lookup_batched"])
    if "batched_4000" in lk:
        row("lookup batched x4000, SDK, 1 client (info)", lk["batched_4000"]["rate"], "/s", TARGETS["lookup_batched"])
    row("lookup batched x1000, raw stub (info)", lk["batched_raw"]["rate"], "/s", TARGETS["lookup_batched"])
    if "batched_sql" in lk:
        row("lookup batched x1000, bare SQL (info)", lk["batched_sql"]["rate"], "/s")
    row("lookup single, p50", lk["single"]["p50_ms"], "ms")
    row("lookup single, p99", lk["single"]["p99_ms"], "ms", TARGETS["lookup_single_p99_ms"], higher=False)
    vo = m["voprf"]
    row(
        "VOPRF pseudonymise x1000, SDK end to end",
        vo["sdk"]["rate"],
        "/s",
        TARGETS["voprf"],
        ceiling=m["ceilings"]["oprf_server_inprocess"],
        ceiling_name="in-proc eval",
    )
    row(
        "VOPRF Evaluate RPC x1000, 1 caller",
        vo["raw_1"]["rate"],
        "/s",
        TARGETS["voprf"],
        ceiling=m["ceilings"]["oprf_server_inprocess"],
        ceiling_name="in-proc eval",
    )
    row(
        "VOPRF Evaluate RPC x1000, 2 callers (info)",
        vo["raw_2"]["rate"],
        "/s",
        TARGETS["voprf"],
        ceiling=m["ceilings"]["oprf_server_inprocess"],
        ceiling_name="in-proc eval",
    )
    if "audit" in m:
        row(
            "audit verify (online, signatures checked)",
            m["audit"]["rate"],
            "/s",
            TARGETS["audit"],
            ceiling=sodium2,
            ceiling_name="sodium 2t",
        )
    row("database bytes per signal", m["db"]["bytes_per_signal"], "B", TARGETS["bytes_per_signal"], higher=False)
    row("server peak RSS", m["server_peak_rss_mib"], "MiB", TARGETS["rss_mib"], higher=False)
    c = m["ceilings"]
    row("ceiling: Ed25519 verify, cryptography, 1 thread", c["verify_cryptography_1t"], "/s")
    row("ceiling: Ed25519 verify, cryptography, 2 threads", c["verify_cryptography_2t"], "/s")
    row("ceiling: Ed25519 verify, libsodium, 1 thread", c["verify_libsodium_1t"], "/s")
    row("ceiling: Ed25519 verify, libsodium, 2 threads", c["verify_libsodium_2t"], "/s")
    row("ceiling: VOPRF blind_evaluate x1000 in-process", c["oprf_server_inprocess"], "/s")
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("metric", "value", "target", "ratio", "meets", "vs ceiling")
    lines = []
    for r in rows:
        target = "" if r["target"] is None else ("≥ " if r["higher_is_better"] else "≤ ") + fmt(r["target"], r["unit"])
        ratio = "" if r["ratio_to_target"] is None else f"{r['ratio_to_target']:.2f}x"
        meets = "" if r["meets"] is None else ("yes" if r["meets"] else "NO")
        ceiling = "" if r["ratio_to_ceiling"] is None else f"{r['ratio_to_ceiling']:.0%} of {r['ceiling']}"
        lines.append((r["metric"], fmt(r["value"], r["unit"]), target, ratio, meets, ceiling))
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    sep = "-+-".join("-" * w for w in widths)
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(sep)
    for line in lines:
        print(
            " | ".join(
                (c.ljust(w) if i in (0, 2, 5) else c.rjust(w))
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )


# -- main ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--signals", type=int, default=100_000, help="signals to store (default 100000)")
    p.add_argument("--quick", action="store_true", help="~1 minute smoke run: 20000 signals, short phases")
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON to FILE")
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="py-spy record the server and this client per phase into DIR (perturbs the numbers)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    p.add_argument("--gen-processes", type=int, default=os.cpu_count() or 2, help="envelope generation processes")
    p.add_argument("--seed", type=int, default=1, help="random seed for look-up samples")
    p.add_argument("--database", default="", metavar="URL", help="run on PostgreSQL (an empty database)")
    p.add_argument("--replicas", type=int, default=1, help="exchange processes (more than 1 needs --database)")
    args = p.parse_args(argv)
    if args.quick:
        args.signals = 20_000
    if args.signals < BATCH:
        p.error("--signals must be at least 1000")
    if args.replicas > 1 and not args.database:
        p.error("--replicas above 1 needs --database (replicas share one PostgreSQL)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    n = args.signals
    extra = max(5_000, min(50_000, n // 5))  # the 1-stream slice, submitted on top of the N
    # Phase durations and budgets (seconds); every phase stops at its bound.
    ceiling_s = 1.0 if quick else 3.0
    submit_budget = 60 + n / 400
    pull_budget = max(20.0, n / 4_000)
    lookup_s, lookup2_s, lookup_raw_s = (5.0, 3.0, 3.0) if quick else (20.0, 8.0, 8.0)
    singles = 500 if quick else 2000
    voprf_s = 4.0 if quick else 10.0
    rng = random.Random(args.seed)

    tmp = Path(tempfile.mkdtemp(prefix="sigx-bench-"))
    data_dir = tmp / "data"
    print(f"Signal Exchange benchmark: {n:,} signals (+{extra:,} on 1 stream), data in {tmp}", flush=True)
    started = time.perf_counter()
    try:
        first = wl.ServerProcess(data_dir, tmp / "server.log", database=args.database)
        replicas = [first] + [
            wl.ServerProcess(data_dir, tmp / f"server-{i}.log", database=args.database) for i in range(1, args.replicas)
        ]
        server = wl.ServerGroup(replicas)
    except BaseException:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"server pid {server.pid} listening on {server.address}", flush=True)
    metrics: dict[str, Any] = {
        "signals": n,
        "extra_1_stream": extra,
        "batch": BATCH,
        "quick": quick,
        "cpu_count": os.cpu_count(),
        "store": "postgresql" if args.database else "sqlite",
        "replicas": args.replicas,
    }
    bench: Bench | None = None
    try:
        creds_dir = data_dir / "members" / "demo-a"
        creds = Credentials.load(creds_dir)
        wl.lift_quotas(server.address, data_dir / "operator")
        bench = Bench(
            args, server, creds, wl.PhaseProfiler({"server": server.pid, "client": os.getpid()}, args.profile), metrics
        )

        t0 = time.perf_counter()
        values, envelopes = wl.generate_envelopes(creds_dir, n + extra, args.gen_processes)
        gen_s = time.perf_counter() - t0
        metrics["generation"] = {
            "envelopes": len(envelopes),
            "seconds": round(gen_s, 2),
            "rate": len(envelopes) / gen_s,
            "processes": args.gen_processes,
            "mean_envelope_bytes": sum(len(e) for e in envelopes[:10_000]) / min(10_000, n),
        }
        print(
            f"generated {len(envelopes):,} signed envelopes in {gen_s:.1f}s ({len(envelopes) / gen_s:,.0f}/s,"
            f" {args.gen_processes} processes, ~{metrics['generation']['mean_envelope_bytes']:.0f} B each)",
            flush=True,
        )

        sample = envelopes[0]

        def measure_ceilings(label: str) -> None:
            """Machine ceilings; measured at the start and the end (server idle), the best of each is kept."""
            with bench.phase(label):
                found = wl.verify_ceilings(sample, creds.signing_key.public_key, ceiling_s)
                found["oprf_server_inprocess"] = wl.oprf_ceiling(BATCH, ceiling_s)
            metrics.setdefault("ceiling_samples", {})[label] = found
            best = metrics.setdefault("ceilings", {})
            for k, v in found.items():
                best[k] = max(best.get(k, 0.0), v)
            print("   " + ", ".join(f"{k} {v:,.0f}/s" for k, v in found.items()), flush=True)

        measure_ceilings("ceilings_start")

        with bench.phase("submit_2_streams"):
            acks = submit(bench, envelopes[:n], 2, submit_budget, "submit x2")
            total_time = acks.timeline[-1][1] - acks.started
            metrics["submit"] = {
                "signals": acks.acked,
                "status": dict(acks.status),
                "rejections": dict(acks.reasons),
                "seconds": round(total_time, 3),
                "rate_all": acks.acked / total_time,
                "rate_first_100k": acks.rate(0, min(n, MARK)),
                "rate_last_100k": acks.rate(n - MARK, n) if n > MARK else None,
                "windows": window_rates(acks, n),
                "truncated": acks.acked < n,
            }
        with bench.phase("submit_1_stream"):
            acks1 = submit(bench, envelopes[n:], 1, submit_budget, "submit x1")
            t1 = acks1.timeline[-1][1] - acks1.started
            metrics["submit_1"] = {
                "signals": acks1.acked,
                "status": dict(acks1.status),
                "seconds": round(t1, 3),
                "rate": acks1.acked / t1,
                "stored_before": acks.acked,
            }
        del envelopes
        stored = values[: acks.acked]

        metrics["pull"] = {}
        with bench.phase("pull_raw"):
            metrics["pull"]["raw"] = r = pull_raw(bench, pull_budget)
            print(f"   {r['events']:,} events, {r['rate']:,.0f}/s{' (partial)' if r['partial'] else ''}")
        with bench.phase("pull_sdk_unverified"):
            metrics["pull"]["sdk_unverified"] = r = pull_sdk(bench, False, pull_budget)
            print(f"   {r['events']:,} events, {r['rate']:,.0f}/s{' (partial)' if r['partial'] else ''}")
        with bench.phase("pull_sdk_verified"):
            metrics["pull"]["sdk_verified"] = r = pull_sdk(bench, True, pull_budget)
            print(f"   {r['events']:,} events, {r['rate']:,.0f}/s{' (partial)' if r['partial'] else ''}")

        metrics["lookup"] = {}
        batches = lookup_batches(stored, 16, rng)
        with bench.phase("lookup_batched_1"):
            metrics["lookup"]["batched_1"] = r = lookup_batched_sdk(bench, batches, 1, lookup_s)
            print(f"   {r['queries']:,} queries, {r['rate']:,.0f}/s, hits {r['hit_fraction']:.1%}")
        with bench.phase("lookup_batched_2"):
            metrics["lookup"]["batched_2"] = r = lookup_batched_sdk(bench, batches, 2, lookup2_s)
            print(f"   {r['queries']:,} queries, {r['rate']:,.0f}/s, hits {r['hit_fraction']:.1%}")
        with bench.phase("lookup_batched_4000"):  # a member's list of 4,000: calls of 1,000, two in flight
            big = [[q for b in batches[i : i + 4] for q in b] for i in range(0, len(batches), 4)]
            metrics["lookup"]["batched_4000"] = r = lookup_batched_sdk(bench, big, 1, lookup2_s)
            print(f"   {r['queries']:,} queries, {r['rate']:,.0f}/s, hits {r['hit_fraction']:.1%}")
        with bench.phase("lookup_batched_raw"):
            metrics["lookup"]["batched_raw"] = r = lookup_batched_raw(bench, batches, lookup_raw_s)
            print(f"   {r['queries']:,} queries, {r['rate']:,.0f}/s, hits {r['hit_fraction']:.1%}")
        if not args.database:
            with bench.phase("lookup_batched_sql"):
                metrics["lookup"]["batched_sql"] = r = lookup_batched_sql(
                    data_dir / "exchange.db", batches, lookup_raw_s
                )
                print(f"   {r['queries']:,} queries, {r['rate']:,.0f}/s, hits {r['hit_fraction']:.1%}")
        with bench.phase("lookup_single"):
            metrics["lookup"]["single"] = r = lookup_single(bench, stored, singles, 60.0, rng)
            print(
                f"   {r['lookups']} lookups: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms,"
                f" max {r['max_ms']:.2f} ms, hits {r['hit_fraction']:.1%}"
            )

        metrics["voprf"] = {}
        with bench.phase("voprf_sdk"):
            metrics["voprf"]["sdk"] = r = voprf_sdk(bench, voprf_s)
            print(f"   {r['evaluations']:,} evaluations, {r['rate']:,.0f}/s")
        with bench.phase("voprf_raw_1"):
            metrics["voprf"]["raw_1"] = r = voprf_raw(bench, 1, voprf_s)
            print(f"   {r['evaluations']:,} evaluations, {r['rate']:,.0f}/s")
        with bench.phase("voprf_raw_2"):
            metrics["voprf"]["raw_2"] = r = voprf_raw(bench, 2, voprf_s)
            print(f"   {r['evaluations']:,} evaluations, {r['rate']:,.0f}/s")

        with bench.phase("audit_verify"):
            metrics["audit"] = r = audit_verify(server.address, data_dir / "auditor", tmp / "audit-state")
            print(f"   {r['entries']:,} entries, {r['rate']:,.0f}/s, ok={r['ok']}")

        metrics["server_peak_rss_mib"] = server.peak_rss_mib()
        measure_ceilings("ceilings_end")
    finally:
        code = server.stop()
        print(f"server stopped (exit code {code})", flush=True)

    db = database_size_pg(args.database) if args.database else database_size(data_dir)
    db["bytes_per_signal"] = db["bytes"] / max(db["signals"], 1)
    metrics["db"] = db
    print(
        f"database: {db['bytes']:,} bytes for {db['signals']:,} signals / {db['events']:,} events"
        f" = {db['bytes_per_signal']:.0f} B/signal (envelopes alone {db['envelope_bytes'] / max(db['events'], 1):.0f}"
        f" B/event; free {db['free_bytes']:,} B)"
    )
    if db["tables"]:
        print("   by b-tree: " + ", ".join(f"{k} {v / max(db['signals'], 1):.0f} B" for k, v in db["tables"].items()))
    metrics["phases"] = bench.phases if bench else {}
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)

    rows = build_rows(metrics, n)
    print()
    if metrics["submit"].get("windows") and n > MARK:
        print(
            "submit, 2 streams, per 100k window: "
            + ", ".join(f"{w['to'] // 1000}k {w['rate']:,.0f}/s" for w in metrics["submit"]["windows"])
        )
    print(f"results: {n:,} signals, total run {metrics['total_seconds']:.0f}s")
    print_table(rows)
    noisy = bench.noisy_phases() if bench else []
    if noisy:
        print(f"WARNING: other processes used > {NOISE_CORES} cores during {', '.join(noisy)}: rerun for clean numbers")
    metrics["noisy_phases"] = noisy

    if args.profile is not None and bench is not None:
        print("\nprofiles (py-spy, per phase, server and bench client):")
        for name, path in bench.profiler.files.items():
            print(f"[{name}] {path}")
            for line in wl.summarise_collapsed(path):
                print(line)

    if args.out is not None:
        args.out.write_text(json.dumps({"metrics": metrics, "table": rows}, indent=2, default=str))
        print(f"\nwrote {args.out}")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
