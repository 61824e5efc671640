"""How fast the console's review queue page is at a given queue size, through the real path: a real exchange
(a subprocess), ``sigx console`` (a subprocess) over a match index holding N review items, and HTTP GETs.

    python bench/console_queue.py                      # 1,000, 10,000 and 50,000 items
    python bench/console_queue.py --items 2000 5000

Prints, per size: the median and worst of 10 GETs of the first queue page (100 rows), of a filtered page,
and of one item page (with its inclusion proof after the first view).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from client_sdk.credentials import Credentials  # noqa: E402
from client_sdk.member import MatchIndex  # noqa: E402
from client_sdk.member.review import Hit  # noqa: E402
from exchange.serve_process import ServeProcess  # noqa: E402
from tests.console_harness import ConsoleProcess  # noqa: E402

CATEGORIES = ("sextortion.financial", "grooming", "csam.distribution")


def build_index(path: Path, creds: Credentials, n: int) -> None:
    now = int(time.time())
    with MatchIndex.open(path, credentials=creds, create=True) as index:
        hits = [
            Hit("account", f"acct-{i:07d}", 1 + i % 50, f"demo-{'a' if i % 3 else 'c'}", "email", os.urandom(32),
                CATEGORIES[i % 3], "", 100, now - i)
            for i in range(n)
        ]  # fmt: skip
        for start in range(0, n, 5000):
            index.review.record_hits(hits[start : start + 5000])


def timed(session: requests.Session, url: str, runs: int = 10) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = session.get(url, timeout=120)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10_000, 50_000])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sigx-bench-console-"))
    server = ServeProcess(root / "data", root / "server.log")
    try:
        creds_dir = server.creds("demo-b")
        creds = Credentials.load(creds_dir)
        print(f"{'items':>8} {'queue p50':>10} {'queue max':>10} {'filter p50':>11} {'item p50':>9}  (ms)")
        for n in args.items:
            index = root / f"queue-{n}.idx"
            build_index(index, creds, n)
            console = ConsoleProcess(creds_dir, server.address, "--index", str(index))
            try:
                session = requests.Session()
                session.get(console.login_url, timeout=30).raise_for_status()
                q50, qmax = timed(session, console.base + "/queue")
                f50, _ = timed(session, console.base + "/queue?category=grooming&sort=recent")
                i50, _ = timed(session, console.base + "/items/1")
                print(f"{n:>8,} {q50:>10.1f} {qmax:>10.1f} {f50:>11.1f} {i50:>9.1f}")
            finally:
                console.stop()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
