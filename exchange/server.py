"""Build and run the exchange server.

``create_server(settings)`` returns a started server and its bound port (tests
use port 0); ``serve(settings)`` runs until SIGINT/SIGTERM and shuts down
gracefully, letting in-flight calls finish.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from client_sdk._wire import (
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
)
from exchange import app
from exchange.app import Services
from exchange.bootstrap import ensure_initialised, record_address
from exchange.config import Settings
from exchange.errors import ConfigError
from exchange.metrics import Metrics
from exchange.paths import DataDir
from exchange.periodic import PeriodicTask
from exchange.retention import RetentionTask
from exchange.rpc.handlers import (
    AdminHandler,
    DirectoryHandler,
    ExchangeHandler,
    LogHandler,
    PseudonymizerHandler,
)
from exchange.rpc.interceptor import ExchangeInterceptor
from exchange.store import open_store
from exchange.store.base import Store
from exchange.tls import ServerTls

log = structlog.get_logger("exchange.server")

SERVICE_NAMES = (
    admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
    exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name,
    pseudonymizer_pb2.DESCRIPTOR.services_by_name["Pseudonymizer"].full_name,
    directory_pb2.DESCRIPTOR.services_by_name["Directory"].full_name,
    log_pb2.DESCRIPTOR.services_by_name["Log"].full_name,
)


@dataclass
class RunningExchange:
    """A started server and what it owns; ``stop()`` shuts it all down."""

    server: grpc.Server
    port: int
    services: Services
    health: health.HealthServicer
    metrics: Metrics
    health_task: PeriodicTask
    metrics_server: Any = None
    taxii: Any = None  # exchange.taxii.TaxiiHandle when taxii_listen is set

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def retention(self) -> RetentionTask:
        return self.services.retention

    def stop(self, grace: float | None = 5.0) -> None:
        """Stop accepting calls, let in-flight ones finish within ``grace``, then close the store."""
        self.health.enter_graceful_shutdown()
        self.health_task.stop()
        self.services.bus.close()
        if self.taxii is not None:
            self.taxii.stop()
        self.server.stop(grace).wait()
        try:
            self.services.checkpointer.sign_now()  # a final checkpoint covering every accepted event
        except Exception:
            log.exception("final_checkpoint_failed")
        self.services.close()
        self.services.store.close()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()


def create_server(settings: Settings, clock: Callable[[], float] = time.time) -> RunningExchange:
    """Initialise the data directory if needed, then start a server on ``settings.listen``."""
    ensure_initialised(settings, clock)
    tls = ServerTls(DataDir(settings.data_dir))
    services = app.build(settings, open_store(settings), clock)
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    metrics = Metrics()
    metrics.watch(services.store, services.policy, tls.expiry)
    server = grpc.server(
        ThreadPoolExecutor(settings.workers, thread_name_prefix="sigx-rpc"),
        interceptors=[ExchangeInterceptor(services.policy, metrics)],
        options=options,
        maximum_concurrent_rpcs=settings.workers * 4,
    )
    exchange_pb2_grpc.add_ExchangeServicer_to_server(ExchangeHandler(services.ingest, services.reader), server)
    pseudonymizer_pb2_grpc.add_PseudonymizerServicer_to_server(PseudonymizerHandler(services.pseudonymizer), server)
    directory_pb2_grpc.add_DirectoryServicer_to_server(DirectoryHandler(services.directory), server)
    admin_pb2_grpc.add_AdminServicer_to_server(AdminHandler(services.admin, services.queries), server)
    log_pb2_grpc.add_LogServicer_to_server(LogHandler(services.log, settings.max_batch), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_task = PeriodicTask("health", 2.0, lambda: _report_health(health_servicer, services))
    _report_health(health_servicer, services)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_secure_port(settings.listen, tls.credentials())
    except RuntimeError as exc:
        services.close()
        raise ConfigError(f"listen: cannot bind {settings.listen}: {exc}") from None
    if settings.listen.endswith(":0"):
        record_address(settings.data_dir, f"{settings.listen_host}:{port}")
    metrics_server = metrics.serve(settings.metrics_listen) if settings.metrics_listen else None
    server.start()
    services.start()
    health_task.start()
    running = RunningExchange(server, port, services, health_servicer, metrics, health_task, metrics_server)
    if settings.taxii_listen:
        from exchange.taxii import start_taxii

        try:
            running.taxii = start_taxii(settings, services)
        except ConfigError:
            running.stop(0)
            raise
    return running


def _report_health(servicer: health.HealthServicer, services: Services) -> None:
    """SERVING only while the store answers."""
    try:
        services.store.log_size()
        status = health_pb2.HealthCheckResponse.SERVING
    except Exception:
        log.warning("store_unreachable")
        status = health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *SERVICE_NAMES):
        servicer.set(name, status)


def serve(settings: Settings, on_ready: Callable[[RunningExchange], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    running = create_server(settings)
    done = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("exchange_started", listen=settings.listen, port=running.port, data_dir=str(settings.data_dir))
    if on_ready is not None:
        on_ready(running)
    done.wait()
    running.stop(settings.grace)
    log.info("exchange_stopped")
