"""Does a look-up reveal that a value exists in a group the caller may not read? Timing, measured.

A real server; demo-a submits N e-mail signals to a closed group demo-b is not in. demo-b then looks
up, in alternating pairs of calls, batches of those values (present but invisible to it) and batches
of random values (absent). If the two paths cost the same, neither is systematically slower: the
share of pairs in which the invisible batch was slower stays near 50%, and the median difference is
within the noise of one call.

    python bench/lookup_oracle.py [--signals 20000] [--pairs 400] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _workloads import ServerProcess, lift_quotas

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.wire import admin_pb2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", Path(tmp) / "server.log")
        try:
            run(server, args)
        finally:
            server.stop()


def run(server: ServerProcess, args: argparse.Namespace) -> None:
    with AdminClient.connect(server.address, server.data_dir / "operator") as op:
        op.change(create_group=admin_pb2.CreateGroup(name="closed"))
        op.change(set_group_membership=admin_pb2.SetGroupMembership(group="closed", member_id="demo-a", member=True))
    lift_quotas(server.address, server.data_dir / "operator")
    with ExchangeClient.connect(server.address, credentials=server.data_dir / "members" / "demo-a") as a:
        idents = [Identifier("email", f"hidden{i}@example.com") for i in range(args.signals)]
        values = a.pseudonymise(idents)
        for start in range(0, len(idents), 1000):
            a.submit(
                [Signal(i, category="sextortion.financial", audience="closed") for i in idents[start : start + 1000]]
            )
    present = [("email", v) for v in values]
    with ExchangeClient.connect(server.address, credentials=server.data_dir / "members" / "demo-b") as b:
        assert not any(r.found for r in b.lookup(present[: args.batch])), "demo-b must not see the closed group"
        for _ in range(20):  # warm up both paths
            b.lookup(present[: args.batch])
            b.lookup([("email", os.urandom(32)) for _ in range(args.batch)])
        diffs: list[float] = []
        invisible_ms: list[float] = []
        absent_ms: list[float] = []
        for i in range(args.pairs):
            start = (i * args.batch) % (len(present) - args.batch)
            batch_present = present[start : start + args.batch]
            batch_absent = [("email", os.urandom(32)) for _ in range(args.batch)]
            order = [(batch_present, invisible_ms), (batch_absent, absent_ms)]
            if i % 2:
                order.reverse()  # alternate which goes first
            for batch, into in order:
                t = time.perf_counter()
                b.lookup(batch)
                into.append((time.perf_counter() - t) * 1000)
            diffs.append(invisible_ms[-1] - absent_ms[-1])
    slower = sum(1 for d in diffs if d > 0) / len(diffs)
    print(f"look-ups of {args.batch} values per call, {args.pairs} alternating pairs, {args.signals} hidden signals")
    print(f"  invisible (present in a closed group): median {statistics.median(invisible_ms):.3f} ms")
    print(f"  absent (random values):                median {statistics.median(absent_ms):.3f} ms")
    print(
        f"  median difference per call: {statistics.median(diffs) * 1000:+.1f} us"
        f" ({statistics.median(diffs) / args.batch * 1000:+.2f} us per value)"
    )
    print(f"  pairs in which the invisible call was slower: {slower:.0%}")
    print(
        f"  spread of one call (IQR of the absent calls): "
        f"{(statistics.quantiles(absent_ms, n=4)[2] - statistics.quantiles(absent_ms, n=4)[0]) * 1000:.0f} us"
    )


if __name__ == "__main__":
    main()
