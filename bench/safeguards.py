"""What the safeguards cost on the read paths, measured on a real server (a subprocess on 127.0.0.1).

Every Pull page now records who received its signals and reads their flags (warninglists, quarantine);
every look-up with matches records the deliveries, counts matches against the flood threshold, reads
flags and the submitters' quality. demo-a submits N signals; demo-b then pulls them all (SDK, verify=False)
and looks up batches that all hit. Run it on a checkout before the safeguards to compare (the script
needs nothing they added).

    python bench/safeguards.py [--signals 20000] [--lookups 300] [--batch 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _workloads import ServerProcess, lift_quotas

from client_sdk import ExchangeClient, Identifier, Signal


def run(server: ServerProcess, args: argparse.Namespace) -> None:
    lift_quotas(server.address, server.data_dir / "operator")
    with ExchangeClient.connect(server.address, credentials=server.data_dir / "members" / "demo-a") as a:
        idents = [Identifier("email", f"s{i}@example.com") for i in range(args.signals)]
        values = a.pseudonymise(idents)
        for start in range(0, len(idents), 1000):
            a.submit([Signal(i, category="sextortion.financial") for i in idents[start : start + 1000]])
    present = [("email", v) for v in values]
    with ExchangeClient.connect(server.address, credentials=server.data_dir / "members" / "demo-b") as b:
        t = time.perf_counter()
        pulled = sum(1 for _ in b.pull(verify=False))
        pull_s = time.perf_counter() - t
        for i in range(20):  # warm up
            b.lookup(present[i * args.batch : (i + 1) * args.batch])
        ms: list[float] = []
        for i in range(args.lookups):
            start = (i * args.batch) % (len(present) - args.batch)
            t = time.perf_counter()
            results = b.lookup(present[start : start + args.batch])
            ms.append((time.perf_counter() - t) * 1000)
            assert all(r.found for r in results)
    ms.sort()
    print(f"pull of {pulled} events (SDK, verify=False): {pulled / pull_s:,.0f} events/s")
    print(
        f"look-up of {args.batch} values, all hits, {args.lookups} calls: p50 {statistics.median(ms):.1f} ms,"
        f" p90 {ms[int(0.9 * len(ms))]:.1f} ms, p99 {ms[int(0.99 * len(ms))]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", Path(tmp) / "server.log")
        try:
            run(server, args)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
