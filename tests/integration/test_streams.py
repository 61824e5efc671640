"""Live streams that cannot starve the exchange: caps, a client that stops reading, the fan-out.

Streams are asyncio tasks on ``grpc.aio`` channels (``tests/live.py``); unary calls go through the SDK.
"""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.wire import admin_pb2, exchange_pb2, exchange_pb2_grpc
from tests.harness import Exchange
from tests.harness_process import ServerProcess
from tests.live import Watcher, aio_channel, rss_mib, stop, watch

pytestmark = pytest.mark.integration
CAT = "grooming"


def _stub(exchange_address: str, creds: Path) -> tuple[grpc.aio.Channel, exchange_pb2_grpc.ExchangeStub]:
    channel = aio_channel(exchange_address, Credentials.load(creds))
    return channel, exchange_pb2_grpc.ExchangeStub(channel)


def _reason(error: grpc.aio.AioRpcError) -> str:
    return dict(error.trailing_metadata() or ()).get("sigx-reason", "")


async def _until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _submit(address: str, creds: Path, n: int, prefix: str, audience: str | None = None) -> list[int]:
    with ExchangeClient.connect(address, credentials=creds) as client:
        results = client.submit(
            [Signal(Identifier("domain", f"{prefix}{i}.example"), category=CAT, audience=audience) for i in range(n)]
        )
    assert {r.status for r in results} == {"accepted"}
    return [r.seq for r in results]


_LABELS = tuple(f"{i:02d}" + "x" * 62 for i in range(16))  # the most an envelope may carry: ~1.4 KiB each


def _submit_heavy(address: str, creds: Path, n: int, start: int) -> list[int]:
    """``n`` large envelopes (media hashes: no pseudonymiser round trip), in batches of 500."""
    seqs: list[int] = []
    with ExchangeClient.connect(address, credentials=creds) as client:
        for first in range(start, start + n, 500):
            batch = [
                Signal(Identifier("media_md5", f"{i:032x}"), category=CAT, labels=_LABELS)
                for i in range(first, min(first + 500, start + n))
            ]
            results = client.submit(batch)
            assert {r.status for r in results} == {"accepted"}
            seqs += [r.seq for r in results]
    return seqs


def test_stream_17_of_16_is_refused_and_other_members_are_unaffected(exchange: Exchange) -> None:
    running = exchange.running

    async def scenario() -> None:
        a_channel, a = _stub(exchange.address, exchange.creds("demo-a"))
        b_channel, b = _stub(exchange.address, exchange.creds("demo-b"))
        sixteen = [Watcher("demo-a", a) for _ in range(16)]
        tasks = await watch(sixteen)
        assert [w.error for w in sixteen] == [None] * 16
        seventeenth = Watcher("demo-a", a)
        tasks += await watch([seventeenth])
        assert seventeenth.error is not None
        assert seventeenth.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _reason(seventeenth.error) == "max_streams" and "max_streams=16" in seventeenth.error.details()
        pull = a.Pull(exchange_pb2.PullRequest())  # every streaming call counts
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pull.read()
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        other = Watcher("demo-b", b)
        tasks += await watch([other])
        assert other.error is None and running.streams.held_by("demo-b") == 1
        seqs = await asyncio.to_thread(_submit, exchange.address, exchange.creds("demo-b"), 3, "cap")
        await _until(lambda: all(w.seqs == seqs for w in [*sixteen, other]))
        sixteen[0].cancel()  # a closed stream gives its place back
        await _until(lambda: running.streams.held_by("demo-a") == 15)
        again = Watcher("demo-a", a)
        tasks += await watch([again])
        assert again.error is None
        await stop([*sixteen, seventeenth, other, again], tasks)
        await a_channel.close()
        await b_channel.close()

    asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while running.streams.total and time.monotonic() < deadline:  # the server sees the cancellations
        time.sleep(0.02)
    assert running.streams.total == 0


def test_the_cap_is_a_policy_field(exchange: Exchange) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-a]\nmax_streams = 2\n"))

    async def scenario() -> None:
        channel, a = _stub(exchange.address, exchange.creds("demo-a"))
        watchers = [Watcher("demo-a", a) for _ in range(3)]
        tasks = await watch(watchers)
        [refused] = [w.error for w in watchers if w.error is not None]  # whichever came third
        assert "max_streams=2" in refused.details()
        await stop(watchers, tasks)
        await channel.close()

    asyncio.run(scenario())


def test_the_process_wide_cap(tmp_path: Path) -> None:
    from tests.harness import start_exchange

    ex = start_exchange(tmp_path, max_open_streams=3)
    try:

        async def scenario() -> None:
            a_channel, a = _stub(ex.address, ex.creds("demo-a"))
            b_channel, b = _stub(ex.address, ex.creds("demo-b"))
            watchers = [Watcher("demo-a", a), Watcher("demo-a", a), Watcher("demo-b", b), Watcher("demo-b", b)]
            tasks = await watch(watchers)
            [refused] = [w.error for w in watchers if w.error is not None]
            assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert _reason(refused) == "max_open_streams" and "3 open streams" in refused.details()
            await stop(watchers, tasks)
            await a_channel.close()
            await b_channel.close()

        asyncio.run(scenario())
    finally:
        ex.running.stop(grace=1)


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


BACKLOG = 500
FLOOD = 20_000  # events of ~1.4 KiB: 27 MiB of envelopes, which a stream buffering without limit would hold
# Measured here: 14-20 MiB with the stream cut off at BACKLOG, 40 MiB with no backlog limit. `sigx serve` keeps up
# to 8 MiB of freed heap per heap instead of trimming it (exchange.server._fixed_malloc_thresholds), which added
# 3-6 MiB to the first figure; the bound sits between the two.
RSS_BOUND_MIB = 26.0


def test_a_reader_that_never_reads_is_cut_off_with_memory_bounded(tmp_path: Path) -> None:
    """A client that opens a stream and never reads: past ``stream_backlog`` events the stream ends
    (RESOURCE_EXHAUSTED [stream_backlog], its cursor in the message) and the server's memory stays within
    a bound while far more than that is committed; a reading member's stream is not disturbed."""
    config = tmp_path / "exchange.toml"
    config.write_text(f"[limits]\nstream_backlog = {BACKLOG}\npull_page = 100\n")
    metrics_port = _free_port()
    metrics = ("--metrics-listen", f"127.0.0.1:{metrics_port}")
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log", "--config", str(config), *metrics)
    try:

        async def scenario() -> float:
            stalled_channel, stalled = _stub(server.address, server.creds("demo-b"))
            reader_channel, reader = _stub(server.address, server.creds("demo-a"))
            call = stalled.Subscribe(exchange_pb2.PullRequest())  # never read
            live = Watcher("demo-a", reader)
            tasks = await watch([live])
            await _until(lambda: _metric(metrics_port, "sigx_member_streams") == 2)
            before = rss_mib(server.proc.pid)
            sent = await asyncio.to_thread(_submit_heavy, server.address, server.creds("demo-a"), FLOOD, 0)
            await _until(lambda: _metric(metrics_port, "sigx_streams_cut_total") == 1, timeout=30)
            await _until(lambda: _metric(metrics_port, "sigx_member_streams") == 1)  # its place is given back
            grown = rss_mib(server.proc.pid) - before
            await _until(lambda: live.seqs == sent, timeout=30)  # the reading member got everything
            pages = 0
            with pytest.raises(grpc.aio.AioRpcError) as ended:  # reading now: what was in flight, then the end
                async for _page in call:
                    pages += 1
            assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert _reason(ended.value) == "stream_backlog" and "resume from cursor c1." in ended.value.details()
            await stop([live], tasks)
            await stalled_channel.close()
            await reader_channel.close()
            assert pages >= 1  # what was in flight before the end
            return grown

        grown = asyncio.run(scenario())
        print(f"\nstalled reader: server RSS grew {grown:.1f} MiB while {FLOOD} events (27 MiB) committed")
        assert grown < RSS_BOUND_MIB
    finally:
        assert server.stop() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
