"""Live streams against a real exchange (a ``sigx serve`` subprocess on 127.0.0.1): what 2,000 open
Subscribe streams cost everyone else.

    python bench/streams.py                          # 2,000 streams from 20 members, SQLite
    python bench/streams.py --streams 5000 --seconds 10
    python bench/streams.py --database postgresql://postgres@127.0.0.1:54330/bench

One run, two halves on the same server: first with no stream open, then with the streams open and
receiving. Each half runs (a) a paced mix (2 submits and 10 look-ups a second, 5 items each) whose
p99 latencies are compared (target: p99 with streams within 3x of p99 without), and (b) closed-loop
submit and look-up rates (batches of 100, as fast as one client goes). The streams are asyncio tasks in
this process, at a lower CPU priority (nice 10) so that on a small machine they stand in for clients
elsewhere; the unary clients run in a process of their own. Reported too: event delivery latency
(submit to arrival at every stream that may see it), server RSS per open stream and server CPU per
message delivered. Numbers from a shared 2-core machine (server and clients on it) are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from client_sdk.credentials import Credentials  # noqa: E402
from client_sdk.wire import exchange_pb2_grpc  # noqa: E402
from tests.harness_process import ServerProcess  # noqa: E402
from tests.live import Watcher, add_members, aio_channel, percentile, rss_mib, stop, unary_load, watch  # noqa: E402

MEMBERS = 20
TARGET_P99_RATIO = 3.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def closed_loop(address: str, submitter: Path, reader: Path, seconds: float, prefix: str) -> dict[str, float]:
    """Submits of 100 signals and look-ups of 100 identifiers, back to back on two threads: items per second."""
    from client_sdk import ExchangeClient, Identifier, Signal

    counts = {"submit": 0, "lookup": 0}
    deadline = time.monotonic() + seconds

    def submits() -> None:
        with ExchangeClient.connect(address, credentials=submitter) as client:
            i = 0
            while time.monotonic() < deadline:
                client.submit(
                    [Signal(Identifier("domain", f"{prefix}{i}-{j}.example"), "grooming") for j in range(100)]
                )
                counts["submit"] += 100
                i += 1

    def lookups() -> None:
        with ExchangeClient.connect(address, credentials=reader) as client:
            i = 0
            while time.monotonic() < deadline:
                client.lookup([Identifier("domain", f"{prefix}{i}-{j}.example") for j in range(100)])
                counts["lookup"] += 100
                i += 1

    threads = [threading.Thread(target=submits), threading.Thread(target=lookups)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    return {k: v / elapsed for k, v in counts.items()}


def half(pool: ProcessPoolExecutor, address: str, creds: list[Path], reader: Path, seconds: float, tag: str) -> dict:
    paced = pool.submit(unary_load, address, creds[0], reader, seconds, f"{tag}p", "").result()
    rates = pool.submit(closed_loop, address, creds[1], reader, seconds, f"{tag}c").result()
    return {"paced": paced, "rates": rates}


async def run(args: argparse.Namespace) -> dict:
    root = Path(tempfile.mkdtemp(prefix="sigx-bench-streams-"))
    config = root / "exchange.toml"
    config.write_text(f"[limits]\nmax_open_streams = {args.streams + 100}\n")
    extra = ("--database", args.database) if args.database else ()
    server = ServerProcess(root / "data", root / "server.log", "--config", str(config), *extra)
    loop = asyncio.get_running_loop()
    try:
        names = [f"m{i:02d}" for i in range(MEMBERS)]
        policy = "".join(f"[members.{n}]\nmax_streams = {args.streams}\n" for n in names)
        creds = await loop.run_in_executor(
            None, add_members, server.address, server.creds("operator"), root / "creds", names, policy
        )
        reader = server.creds("demo-b")
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(time.sleep, 0).result()  # the unary client's process exists now, at normal priority
            os.nice(10)  # the stream readers stand in for clients on other machines: they yield the CPU
            quiet = await loop.run_in_executor(None, half, pool, server.address, creds, reader, args.seconds, "q")
            channels = [aio_channel(server.address, Credentials.load(c)) for c in creds for _ in range(2)]
            stubs = [exchange_pb2_grpc.ExchangeStub(c) for c in channels]
            end = Watcher(names[0], stubs[0])  # one stream reads the history; the others start at its end
            await stop([end], await watch([end]))
            watchers = [
                Watcher(names[i % MEMBERS], stubs[(i % MEMBERS) * 2 + (i // MEMBERS) % 2], cursor=end.cursor)
                for i in range(args.streams)
            ]
            rss0 = rss_mib(server.proc.pid)
            t0 = time.monotonic()
            tasks = await watch(watchers, timeout=300)
            opened = time.monotonic() - t0
            failed = sum(1 for w in watchers if w.error is not None)
            await asyncio.sleep(1.0)
            rss1 = rss_mib(server.proc.pid)
            received0 = sum(w.pages for w in watchers)
            cpu0 = cpu_seconds(server.proc.pid)
            live = await loop.run_in_executor(None, half, pool, server.address, creds, reader, args.seconds, "l")
            sent = {seq: t for t, seq, _ in live["paced"]["sent"]}
            await asyncio.sleep(2.0)  # the last deliveries
            cpu1 = cpu_seconds(server.proc.pid)
            delivered = sum(w.pages for w in watchers) - received0
            delays = [at - sent[s] for w in watchers for s, at in zip(w.seqs, w.arrived, strict=True) if s in sent]
            held = sum(1 for w in watchers if w.open)
            await stop(watchers, tasks)
            for channel in channels:
                await channel.close()
        return {
            "quiet": quiet,
            "live": live,
            "streams": args.streams,
            "held": held,
            "failed": failed,
            "open_seconds": opened,
            "rss_kib_per_stream": (rss1 - rss0) * 1024 / max(1, args.streams),
            "delays": delays,
            "cpu_us_per_message": (cpu1 - cpu0) / max(1, delivered) * 1e6,
            "delivered": delivered,
        }
    finally:
        server.stop()


def report(r: dict, args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, value: str, target: str = "", ratio: str = "") -> None:
        rows.append((name, value, target, ratio))

    store = "PostgreSQL" if args.database else "SQLite"
    row("open streams sustained", f"{r['held']:,} of {r['streams']:,} ({r['failed']} refused)")
    row("time to open them", f"{r['open_seconds']:.1f} s")
    row("server RSS per open stream", f"{r['rss_kib_per_stream']:.1f} KiB")
    row("delivery latency p50", f"{percentile(r['delays'], 0.5) * 1000:.0f} ms")
    row("delivery latency p99", f"{percentile(r['delays'], 0.99) * 1000:.0f} ms", "<= 2000 ms")
    row("server CPU per message delivered", f"{r['cpu_us_per_message']:.0f} us ({r['delivered']:,} messages)")
    for method in ("Submit", "Lookup"):
        q = percentile(r["quiet"]["paced"][method], 0.99)
        live = percentile(r["live"]["paced"][method], 0.99)
        ratio = live / q if q else float("nan")
        ok = "yes" if ratio <= TARGET_P99_RATIO else "NO"
        row(
            f"{method} p99, no streams -> streams",
            f"{q * 1000:.1f} -> {live * 1000:.1f} ms",
            "<= 3x",
            f"{ratio:.2f}x {ok}",
        )
    for kind, label in (("submit", "submit rate"), ("lookup", "look-up rate")):
        q, live = r["quiet"]["rates"][kind], r["live"]["rates"][kind]
        row(f"{label}, no streams -> streams", f"{q:,.0f} -> {live:,.0f} /s", "", f"{live / q:.2f}x")
    widths = [max(len(x[i]) for x in rows) for i in range(4)]
    print(
        f"\nbench/streams.py: {r['streams']:,} streams from {MEMBERS} members, {store}, {args.seconds:.0f} s per half"
    )
    for cells in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="of load in each half")
    parser.add_argument("--database", default="", help="postgresql:// URL of an empty database (default: SQLite)")
    args = parser.parse_args()
    report(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
