"""Build and run the exchange server.

The server is gRPC's asyncio server on an event loop of its own (a background
thread), so an open stream costs a coroutine, not a thread. Blocking work
(SQL, OPRF evaluation, signature checks) runs on a bounded pool of ``workers``
threads (``exchange.rpc.offload``); the live fan-out has a thread of its own.

``create_server(settings)`` returns a started server and its bound port (tests
use port 0) with a synchronous API; ``serve(settings)`` runs until SIGINT/SIGTERM
and shuts down gracefully: live subscriptions end (clients resume elsewhere from
their cursor), in-flight calls finish within ``grace``, work already on the pool
completes, and a final checkpoint is signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import gc
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from client_sdk.wire import (
    admin_pb2,
    admin_pb2_grpc,
    directory_pb2,
    directory_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    log_pb2,
    log_pb2_grpc,
    pseudonymizer_pb2,
    pseudonymizer_pb2_grpc,
    safeguards_pb2,
    safeguards_pb2_grpc,
)
from exchange import app
from exchange.app import Services
from exchange.config import Settings
from exchange.datadir.bootstrap import check_data_dir, ensure_initialised, record_address
from exchange.datadir.paths import DataDir
from exchange.errors import ConfigError
from exchange.live.fanout import Fanout
from exchange.observability.metrics import Metrics
from exchange.pki.server_tls import ServerTls
from exchange.rpc import convert, reflection
from exchange.rpc.handlers import (
    AdminHandler,
    DirectoryHandler,
    ExchangeHandler,
    LogHandler,
    PseudonymizerHandler,
    SafeguardsHandler,
)
from exchange.rpc.interceptor import ExchangeInterceptor
from exchange.rpc.offload import Offload
from exchange.rpc.streams import StreamRegistry
from exchange.services.retention import RetentionTask
from exchange.store import open_store
from exchange.store.base import Store

log = structlog.get_logger("exchange.server")
T = TypeVar("T")

SERVICE_NAMES = (
    admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
    exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name,
    pseudonymizer_pb2.DESCRIPTOR.services_by_name["Pseudonymizer"].full_name,
    directory_pb2.DESCRIPTOR.services_by_name["Directory"].full_name,
    log_pb2.DESCRIPTOR.services_by_name["Log"].full_name,
    safeguards_pb2.DESCRIPTOR.services_by_name["Safeguards"].full_name,
)
HEALTH_INTERVAL = 2.0  # seconds between store probes behind the health service
GC_THRESHOLDS = (50_000, 20, 100)  # for ``serve``: see there
SWITCH_INTERVAL = 0.0002  # seconds; for ``serve``: see there
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc malloc.h)


class EventLoopThread:
    """An asyncio event loop running in a daemon thread; ``run`` executes a coroutine on it and waits."""

    def __init__(self, name: str = "sigx-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop from another thread; its result or exception."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop, join its thread, close it."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self.loop.close()


class Health:
    """The standard health service (asyncio), with a synchronous face for tests and shutdown."""

    def __init__(self, loop: EventLoopThread) -> None:
        self._loop = loop
        self.servicer = health.aio.HealthServicer()

    async def report(self, status: int) -> None:
        for name in ("", *SERVICE_NAMES):
            await self.servicer.set(name, status)

    def enter_graceful_shutdown(self) -> None:
        """Answer NOT_SERVING from now on (load balancers drain this replica)."""
        self._loop.run(self.servicer.enter_graceful_shutdown())


@dataclass
class RunningExchange:
    """A started server and what it owns; ``stop()`` shuts it all down."""

    port: int
    services: Services
    health: Health
    metrics: Metrics
    streams: StreamRegistry
    fanout: Fanout
    metrics_server: Any
    _loop: EventLoopThread
    _server: grpc.aio.Server
    _pools: tuple[ThreadPoolExecutor, ...]
    _exchange: ExchangeHandler
    _background: list[asyncio.Task[None]] = field(default_factory=list)
    _unwatch: list[Callable[[], None]] = field(default_factory=list)
    _stopped: bool = False
    taxii: Any = None  # exchange.taxii.TaxiiHandle when taxii_listen is set

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def retention(self) -> RetentionTask:
        return self.services.retention

    def stop(self, grace: float | None = 5.0) -> None:
        """Stop accepting calls, end live subscriptions, let in-flight calls finish within ``grace`` and
        work already on the pool complete, sign a final checkpoint, then close the store. Blocks until done."""
        if self._stopped:
            return
        self._stopped = True
        if self.taxii is not None:
            self.taxii.stop()
        try:
            self._loop.run(self._shutdown(grace))
        finally:
            self._loop.close()
        try:
            self.services.checkpointer.sign_now()  # a final checkpoint covering every accepted event
        except Exception:
            log.exception("final_checkpoint_failed")
        self.services.close()
        self.services.store.close()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()

    async def _shutdown(self, grace: float | None) -> None:
        await self.health.servicer.enter_graceful_shutdown()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)  # done before the pools shut down
        for unwatch in self._unwatch:
            unwatch()
        self.fanout.close()  # live subscriptions end now: their clients resume elsewhere from their cursor
        self._exchange.stopping = True  # bulk submits end after the batch in hand
        await self._server.stop(grace)
        loop = asyncio.get_running_loop()
        for pool in self._pools:  # a write already running finishes before the store closes
            await loop.run_in_executor(None, functools.partial(pool.shutdown, wait=True, cancel_futures=True))
        await loop.shutdown_default_executor()


def preflight(settings: Settings) -> None:
    """What can be refused before anything is created or logged: an unusable data directory, a taken port."""
    check_data_dir(settings.data_dir)
    _check_bindable(settings)


def _check_bindable(settings: Settings) -> None:
    """ConfigError, in one line, when the listen address is taken or not ours (port 0 is always free)."""
    host, _, port = settings.listen.rpartition(":")
    if int(port) == 0:
        return
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as gRPC binds: connections of a stopped exchange in TIME_WAIT do not hold the port, while
        # another process listening on it still does (the probe sets no SO_REUSEPORT)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise ConfigError(
                f"listen: cannot bind {settings.listen}: {exc.strerror} (is another exchange running?)"
            ) from None


def create_server(settings: Settings, clock: Callable[[], float] = time.time) -> RunningExchange:
    """Initialise the data directory if needed, then start a server on ``settings.listen``.

    Raises ConfigError when the address cannot be bound or the data directory is unusable."""
    preflight(settings)  # before a first start creates anything
    ensure_initialised(settings, clock)
    tls = ServerTls(DataDir(settings.data_dir))
    services = app.build(settings, open_store(settings), clock)
    metrics = Metrics()
    metrics.watch(services.store, services.policy, tls.expiry, services.safeguards.oldest_pending)
    loop = EventLoopThread()
    try:
        running = loop.run(_start(settings, services, tls, metrics, loop))
    except BaseException:
        loop.close()
        services.close()
        services.store.close()
        raise
    if settings.listen.endswith(":0"):
        record_address(settings.data_dir, f"{settings.listen_host}:{running.port}")
    running.metrics_server = metrics.serve(settings.metrics_listen) if settings.metrics_listen else None
    services.start()
    if settings.taxii_listen:
        try:
            from exchange.taxii import start_taxii
        except ModuleNotFoundError as exc:
            running.stop(0)
            raise ConfigError(
                f"taxii_listen needs the 'taxii' extra (missing {exc.name}): pip install 'signal-exchange[taxii]'"
            ) from None
        try:
            running.taxii = start_taxii(settings, services)
        except ConfigError:
            running.stop(0)
            raise
    return running


async def _start(
    settings: Settings, services: Services, tls: ServerTls, metrics: Metrics, loop: EventLoopThread
) -> RunningExchange:
    pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="sigx-work")
    reads = ThreadPoolExecutor(1, thread_name_prefix="sigx-fanout")
    offload = Offload(pool)
    streams = StreamRegistry(settings.max_open_streams, metrics)
    fanout = Fanout(
        services.store,
        services.reader,
        services.policy,
        settings,
        offload,
        Offload(reads),
        convert.pull_response,
        services.safeguards,
        metrics,
    )
    server = grpc.aio.server(
        interceptors=[ExchangeInterceptor(services.policy, offload, streams, metrics)],
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
            # Calls that arrived before the loop asked for them: past the soft limit gRPC refuses some at
            # random. A burst of reconnecting subscribers is that many calls at once: allow every one the
            # stream cap would admit.
            ("grpc.server.max_pending_requests", settings.max_open_streams),
            ("grpc.server.max_pending_requests_hard_limit", 2 * settings.max_open_streams),
        ],
        maximum_concurrent_rpcs=settings.max_open_streams + 64 * settings.workers,
    )
    exchange_handler = ExchangeHandler(offload, services.ingest, services.reader, fanout)
    exchange_pb2_grpc.add_ExchangeServicer_to_server(exchange_handler, server)
    pseudonymizer_pb2_grpc.add_PseudonymizerServicer_to_server(
        PseudonymizerHandler(offload, services.pseudonymizer), server
    )
    directory_pb2_grpc.add_DirectoryServicer_to_server(DirectoryHandler(offload, services.directory), server)
    admin_pb2_grpc.add_AdminServicer_to_server(AdminHandler(offload, services.admin, services.queries), server)
    log_pb2_grpc.add_LogServicer_to_server(LogHandler(offload, services.log, settings.max_batch), server)
    safeguards_pb2_grpc.add_SafeguardsServicer_to_server(SafeguardsHandler(offload, services.safeguards), server)
    health_ = Health(loop)
    health_pb2_grpc.add_HealthServicer_to_server(health_.servicer, server)
    reflection.enable(server, (*SERVICE_NAMES, health.SERVICE_NAME))
    try:
        port = server.add_secure_port(settings.listen, tls.credentials())
    except RuntimeError as exc:
        raise ConfigError(f"listen: cannot bind {settings.listen}: {exc}") from None
    await health_.report(await offload(_store_answers, services.store))
    await server.start()
    await fanout.start()
    running = RunningExchange(
        port, services, health_, metrics, streams, fanout, None, loop, server, (pool, reads), exchange_handler
    )
    running._unwatch = [services.bus.listen(fanout.wake), services.store.watch_commits(services.bus.publish)]
    running._background = [asyncio.get_running_loop().create_task(_watch_health(health_, services, offload))]
    return running


def _store_answers(store: Store) -> int:
    """SERVING while the store answers, else NOT_SERVING (blocking: runs on the pool)."""
    try:
        store.log_size()
        return health_pb2.HealthCheckResponse.SERVING
    except Exception:
        log.warning("store_unreachable")
        return health_pb2.HealthCheckResponse.NOT_SERVING


async def _watch_health(health_: Health, services: Services, offload: Callable[..., Awaitable[int]]) -> None:
    while True:
        await asyncio.sleep(HEALTH_INTERVAL)
        await health_.report(await offload(_store_answers, services.store))


def _fixed_malloc_thresholds(mmap_from: int = 1 << 20, trim_from: int = 8 << 20) -> None:
    """Allocations of ``mmap_from`` and more get pages of their own, given back when freed. glibc's default
    raises that threshold to the largest block freed so far (up to 32 MiB), after which the PDQ index's
    arrays, rebuilt on a background thread, came from per-thread heaps that kept the memory: at 1M PDQ
    signals the server held ~240 MiB for an index of ~110 MiB. Fixing it also stops glibc raising the trim
    threshold, which stays at 128 KiB unless set: every thread's heap would then be handed back to the kernel
    whenever its free top passed 128 KiB and faulted in again by the next call (a batched PDQ search at 1M
    hashes spent half its CPU in the kernel, ~90 page faults a query). So each of glibc's heaps (one per
    thread that allocated, up to 8 per core) keeps up to ``trim_from`` free: at most ~128 MiB on 2 cores,
    +3-6 MiB measured under a flood of submits (tests/integration/test_streams.py). Not glibc: nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, mmap_from)
        libc.mallopt(_M_TRIM_THRESHOLD, trim_from)


def serve(settings: Settings, on_ready: Callable[[RunningExchange], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully (``RunningExchange.stop``)."""
    running = create_server(settings)
    # Thousands of open streams are many long-lived objects, and every message written allocates: the
    # collector's defaults (a pass every 700 allocations) took a fifth of the event loop's time at 2,000
    # streams (bench/streams.py). What exists after start-up is never collected; passes are rarer.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    # A worker thread gives up the GIL at every blocking call (each libsodium call of an OPRF evaluation,
    # each SQL statement) and waits up to the switch interval to get it back from an event loop busy
    # writing to thousands of streams: 5 ms by default, a tenth of a second for one Evaluate. At 0.2 ms
    # look-up p99 under fan-out roughly halved (bench/streams.py).
    sys.setswitchinterval(SWITCH_INTERVAL)
    _fixed_malloc_thresholds()
    done = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("exchange_started", listen=settings.listen, port=running.port, data_dir=str(settings.data_dir))
    if on_ready is not None:
        on_ready(running)
    # Python runs signal handlers on the main thread only, when it next executes bytecode: a SIGTERM the
    # kernel hands to another of the process's threads cannot interrupt an untimed wait here, so it is timed.
    while not done.wait(0.25):
        pass
    running.stop(settings.grace)
    log.info("exchange_stopped")
