"""PDQ search against exact look-up on the same server, in the same run.

    python bench/pdq.py [--pdq 1000000] [--exact 20000] [--singles 1000] [--seconds 15]

A real ``sigx serve`` (SQLite) is given N random PDQ hashes and some random e-mail pseudonyms as
pre-signed envelopes. Then, interleaved so both see the same machine: single look-ups (one query per
call; PDQ queries are stored hashes with 0-31 bits flipped or random hashes, at distance 31; exact
ones are stored pseudonyms or random values) and batched look-ups (calls of 1,000 exact queries
against calls of 100 PDQ queries). Printed: p50/p99 of each and their ratio, both batched rates and
their ratio, the server's RSS before and after its PDQ index is loaded (the index's memory) and how
long the load took, and recall/precision against a brute-force scan of every stored hash for a
sample of queries at exactly 31 and 32 bits from a stored hash (and at random ones).
The machine is shared and noisy: read ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _workloads as wl
import numpy as np

from client_sdk import ExchangeClient
from client_sdk.credentials import Credentials
from client_sdk.wire import exchange_pb2


def _flip(value: bytes, bits: int, rng: random.Random) -> bytes:
    out = bytearray(value)
    for b in rng.sample(range(256), bits):
        out[b // 8] ^= 1 << (b % 8)
    return bytes(out)


def _submit(address: str, creds: Credentials, envelopes: list[bytes], streams: int = 2) -> float:
    """Submit pre-signed envelopes in batches of 1,000 on ``streams`` streams; signals/s."""
    lock = threading.Lock()
    cursor = [0]

    def batches() -> object:
        while True:
            with lock:
                lo = cursor[0]
                cursor[0] += 1000
            if lo >= len(envelopes):
                return
            yield exchange_pb2.SubmitRequest(envelopes=envelopes[lo : lo + 1000])

    refused: list[object] = []

    def one() -> None:
        with wl.open_client(address, creds) as client:
            refused.extend(r for r in client.submit_envelope_stream(batches()) if r.status != "accepted")  # type: ignore[arg-type]

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if refused:
        raise SystemExit(f"{len(refused)} envelopes refused, e.g. {refused[0]}")
    return len(envelopes) / (time.perf_counter() - t0)


def _pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]


def _brute(stored: np.ndarray, query: bytes, limit: int) -> list[int]:
    """Distances of every stored hash within ``limit`` of ``query``, ascending (a scan)."""
    d = np.bitwise_count(stored ^ np.frombuffer(query, dtype=np.uint64)).sum(axis=1)
    return sorted(d[d <= limit].tolist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdq", type=int, default=1_000_000, help="PDQ signals stored")
    ap.add_argument("--exact", type=int, default=20_000, help="e-mail signals stored for the exact look-ups")
    ap.add_argument("--singles", type=int, default=1000, help="single look-ups of each kind")
    ap.add_argument("--seconds", type=float, default=15.0, help="seconds of each batched phase")
    ap.add_argument("--recall-sample", type=int, default=200)
    ap.add_argument("--gen-processes", type=int, default=2)
    args = ap.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="sigx-pdq-") as tmp:
        server = wl.ServerProcess(Path(tmp) / "data", Path(tmp) / "server.log")
        try:
            run(server, args, rng)
        finally:
            server.stop()


def run(server: wl.ServerProcess, args: argparse.Namespace, rng: random.Random) -> None:
    creds_dir = server.data_dir / "members" / "demo-a"
    creds = Credentials.load(creds_dir)
    wl.lift_quotas(server.address, server.data_dir / "operator")
    t0 = time.perf_counter()
    pdq_values, pdq_envs = wl.generate_envelopes(
        creds_dir, args.pdq, args.gen_processes, signal_type=wl.SIGNAL_TYPE_MEDIA_PDQ
    )
    exact_values, exact_envs = wl.generate_envelopes(creds_dir, args.exact, args.gen_processes)
    print(f"generated {len(pdq_envs):,} PDQ + {len(exact_envs):,} e-mail envelopes in {time.perf_counter() - t0:.0f}s")
    rate = _submit(server.address, creds, pdq_envs + exact_envs)
    del pdq_envs, exact_envs
    print(f"submitted at {rate:,.0f}/s; server RSS {server.rss_mib():.0f} MiB")

    client = ExchangeClient.connect(server.address, credentials=creds_dir)
    for _ in range(20):
        client.lookup([("email", rng.choice(exact_values))])
    rss_before = server.rss_mib()
    t0 = time.perf_counter()
    client.lookup([("media_pdq", rng.choice(pdq_values))])
    load_s = time.perf_counter() - t0
    time.sleep(2.0)  # let a background merge finish
    for _ in range(20):
        client.lookup([("media_pdq", rng.choice(pdq_values))])
    rss_after = server.rss_mib()
    print(
        f"PDQ index: first PDQ look-up (loads {args.pdq:,} hashes) {load_s:.2f}s;"
        f" server RSS {rss_before:.0f} -> {rss_after:.0f} MiB (+{rss_after - rss_before:.0f} MiB)"
    )

    # single look-ups, interleaved
    pdq_ms: list[float] = []
    exact_ms: list[float] = []
    for i in range(args.singles):
        stored = i % 2 == 0
        pdq_q = _flip(rng.choice(pdq_values), rng.randint(0, 31), rng) if stored else rng.randbytes(32)
        exact_q = rng.choice(exact_values) if stored else rng.randbytes(32)
        for kind, value, into in (("media_pdq", pdq_q, pdq_ms), ("email", exact_q, exact_ms))[
            :: 1 if i % 4 < 2 else -1
        ]:
            t = time.perf_counter()
            [result] = client.lookup([(kind, value)])
            into.append((time.perf_counter() - t) * 1000)
            if kind == "media_pdq" and stored:
                assert result.found, "a stored hash within 31 bits was not found"
    p50 = (statistics.median(pdq_ms), statistics.median(exact_ms))
    p99 = (_pct(pdq_ms, 0.99), _pct(exact_ms, 0.99))

    # batched look-ups, alternating phases of a few seconds each
    pdq_batches = [
        [
            ("media_pdq", _flip(rng.choice(pdq_values), rng.randint(0, 31), rng) if j % 2 else rng.randbytes(32))
            for j in range(100)
        ]
        for _ in range(20)
    ]
    exact_batches = [
        [("email", rng.choice(exact_values) if j % 2 else rng.randbytes(32)) for j in range(1000)] for _ in range(20)
    ]
    done = {"pdq": [0, 0.0], "exact": [0, 0.0]}
    phase_s = 3.0
    end = time.perf_counter() + 2 * args.seconds
    k = 0
    while time.perf_counter() < end:
        for name, batches in (("pdq", pdq_batches), ("exact", exact_batches)):
            t_end = time.perf_counter() + phase_s
            t0 = time.perf_counter()
            n = 0
            while time.perf_counter() < t_end:
                n += len(client.lookup(batches[k % len(batches)]))
                k += 1
            done[name][0] += n
            done[name][1] += time.perf_counter() - t0
    pdq_rate = done["pdq"][0] / done["pdq"][1]
    exact_rate = done["exact"][0] / done["exact"][1]

    # recall and precision against a scan of every stored hash
    stored = np.frombuffer(b"".join(pdq_values), dtype=np.uint64).reshape(-1, 4)
    misses = extras = checked = found = 0
    edges = {31: 0, 32: 0}
    for i in range(args.recall_sample):
        bits = (31, 32, None)[i % 3]
        q = _flip(rng.choice(pdq_values), bits, rng) if bits is not None else rng.randbytes(32)
        want = _brute(stored, q, 31)
        [result] = client.lookup([("media_pdq", q)])
        got = [m.distance for m in result.matches]
        missing, extra = (
            collections.Counter(want) - collections.Counter(got),
            collections.Counter(got) - collections.Counter(want),
        )
        misses += sum(missing.values())
        extras += sum(extra.values())
        checked += 1
        found += len(got)
        if bits is not None and got:
            edges[bits] += 1
    client.close()

    print(f"\nPDQ search, {args.pdq:,} PDQ signals stored (SQLite), shared 2-core machine")
    print(f"{'':38} | {'PDQ (d<=31)':>12} | {'exact':>10} | ratio | target")
    print(f"{'single look-up p50':38} | {p50[0]:9.2f} ms | {p50[1]:7.2f} ms | {p50[0] / p50[1]:4.2f}x | <= 3x")
    print(f"{'single look-up p99':38} | {p99[0]:9.2f} ms | {p99[1]:7.2f} ms | {p99[0] / p99[1]:4.2f}x | <= 3x")
    print(
        f"{'batched (100 PDQ / 1000 exact per call)':38} | {pdq_rate:10,.0f}/s | {exact_rate:8,.0f}/s |"
        f" {pdq_rate / exact_rate:5.1%} | >= 10%"
    )
    print(f"index memory (server RSS after - before) | +{rss_after - rss_before:.0f} MiB | target <= 200 MiB")
    print(f"index load at the first PDQ look-up: {load_s:.2f}s")
    print(
        f"recall check: {checked} queries, {found} matches; missed {misses}, extra {extras};"
        f" found at exactly 31 bits: {edges[31]}/{-(-args.recall_sample // 3)},"
        f" at exactly 32 bits: {edges[32]} (expect 0)"
    )


if __name__ == "__main__":
    main()
