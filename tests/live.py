"""Many live subscriptions from one asyncio client, for the stream tests and ``bench/streams.py``.

Thousands of streams on threads would be absurd: each ``Watcher`` is a task reading one
``Subscribe`` call on a ``grpc.aio`` channel (raw stubs, no signature checks: what is
measured is the exchange). Members are set up through the real admin path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.wire import admin_pb2, exchange_pb2, exchange_pb2_grpc
from exchange.cli import main

_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024), ("grpc.use_local_subchannel_pool", 1)]


def aio_channel(address: str, creds: Credentials) -> grpc.aio.Channel:
    """A mutual-TLS asyncio channel with a connection of its own."""
    tls = grpc.ssl_channel_credentials(creds.ca_pem, creds.tls_key_pem, creds.cert_pem)
    return grpc.aio.secure_channel(address, tls, options=_OPTIONS)


def add_members(address: str, operator: Path, out: Path, names: Sequence[str], policy: str = "") -> list[Path]:
    """``sigx admin member add`` for each name (credentials under ``out``), then apply ``policy``."""
    dirs = []
    for name in names:
        rc = main(
            ["admin", "member", "add", name, "--out", str(out / name), "--as", str(operator), "--server", address]
        )
        if rc != 0:
            raise RuntimeError(f"member add {name} failed ({rc})")
        dirs.append(out / name)
    if policy:
        with AdminClient.connect(address, operator) as op:
            op.change(apply_policy=admin_pb2.ApplyPolicy(document=policy))
    return dirs


@dataclass(eq=False)
class Watcher:
    """One Subscribe call read by a task: every event's seq and when it arrived (time.monotonic)."""

    member: str
    stub: exchange_pb2_grpc.ExchangeStub
    cursor: str = ""
    seqs: list[int] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    pages: int = 0  # messages received
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    error: grpc.aio.AioRpcError | None = None
    _call: grpc.aio.UnaryStreamCall | None = None

    async def run(self) -> None:
        self._call = self.stub.Subscribe(exchange_pb2.PullRequest(cursor=self.cursor))
        try:
            async for page in self._call:
                now = time.monotonic()
                self.pages += 1
                self.cursor = page.cursor
                for event in page.events:
                    self.seqs.append(event.seq)
                    self.arrived.append(now)
                if not page.events:
                    self.caught_up.set()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc
        finally:
            self.caught_up.set()

    @property
    def open(self) -> bool:
        """The call is still open (not ended by the server, not failed)."""
        return self.error is None and self._call is not None and not self._call.done()

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()


async def watch(watchers: Sequence[Watcher], timeout: float = 120.0) -> list[asyncio.Task[None]]:
    """Start every watcher and wait until each has caught up (or failed); their tasks."""
    tasks = [asyncio.get_running_loop().create_task(w.run()) for w in watchers]
    async with asyncio.timeout(timeout):
        for w in watchers:
            await w.caught_up.wait()
    return tasks


async def stop(watchers: Sequence[Watcher], tasks: Sequence[asyncio.Task[None]]) -> None:
    for w in watchers:
        w.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux), in MiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- a paced mix of unary calls, run in a process of its own (the stream readers' loop shares no GIL with it)


def unary_load(
    address: str,
    submitter: Path,
    reader: Path,
    seconds: float,
    prefix: str,
    audience: str = "",
    submits_per_second: float = 2.0,
    lookups_per_second: float = 10.0,
) -> dict[str, list]:
    """Paced submits (5 signals each; every third to ``audience``) and look-ups (5 identifiers each).

    Returns the latencies per method and, for every accepted signal, (monotonic time sent, seq, audience).
    """
    import threading

    from client_sdk import ExchangeClient, Identifier, Signal

    out: dict[str, list] = {"Submit": [], "Lookup": [], "sent": []}
    deadline = time.monotonic() + seconds

    def paced(period: float, step: object) -> None:
        next_at = time.monotonic()
        i = 0
        while time.monotonic() < deadline:
            step(i)  # type: ignore[operator]
            i += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))

    with (
        ExchangeClient.connect(address, credentials=submitter) as sub,
        ExchangeClient.connect(address, credentials=reader) as look,
    ):

        def submit(i: int) -> None:
            group = audience if audience and i % 3 == 0 else None
            batch = [Signal(Identifier("domain", f"{prefix}{i}-{j}.example"), "grooming", group) for j in range(5)]
            t0 = time.monotonic()
            results = sub.submit(batch)
            out["Submit"].append(time.monotonic() - t0)
            out["sent"] += [(t0, r.seq, group or "") for r in results if r.status == "accepted"]

        def lookup(i: int) -> None:
            t0 = time.monotonic()
            done = max(0, int(i * submits_per_second / lookups_per_second) - 1)  # a batch already submitted
            look.lookup([Identifier("domain", f"{prefix}{done}-{j}.example") for j in range(5)])
            out["Lookup"].append(time.monotonic() - t0)

        threads = [
            threading.Thread(target=paced, args=(1 / submits_per_second, submit)),
            threading.Thread(target=paced, args=(1 / lookups_per_second, lookup)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")
