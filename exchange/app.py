"""Wiring: the services of one exchange process, built from settings, a store and a clock."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from client_sdk.keys import SigningKey
from exchange.config import Settings
from exchange.datadir.paths import DataDir
from exchange.live.wakeups import WakeupBus
from exchange.pki.ca import CertificateAuthority
from exchange.pki.oprf_keyring import OprfKeyring
from exchange.policy.engine import PolicyEngine
from exchange.safeguards.report import make_report
from exchange.safeguards.service import Safeguards
from exchange.services.admin import AdminQueries, AdminService
from exchange.services.directory import DirectoryService
from exchange.services.envelopes import EnvelopeOpener
from exchange.services.ingest import IngestService
from exchange.services.log import LogService
from exchange.services.pseudonymizer import PseudonymizerService
from exchange.services.reader import ReaderService
from exchange.services.retention import RetentionTask
from exchange.signature_log.checkpoints import Checkpointer, log_origin
from exchange.store.base import Store

Clock = Callable[[], float]


@dataclass
class Services:
    """Everything the RPC layer calls into."""

    store: Store
    bus: WakeupBus
    policy: PolicyEngine
    ingest: IngestService
    reader: ReaderService
    safeguards: Safeguards
    admin: AdminService
    queries: AdminQueries
    directory: DirectoryService
    pseudonymizer: PseudonymizerService
    retention: RetentionTask
    log: LogService
    checkpointer: Checkpointer
    verify_pool: ThreadPoolExecutor

    def start(self) -> None:
        """Start the background tasks (retention, checkpoints)."""
        self.retention.start()
        self.checkpointer.start()

    def close(self) -> None:
        self.safeguards.close()
        self.bus.close()
        self.retention.stop()
        self.checkpointer.stop()
        self.verify_pool.shutdown(wait=True)


def build(settings: Settings, store: Store, clock: Clock, keyring: OprfKeyring | None = None) -> Services:
    """Wire the services of one exchange over ``store`` (nothing is started)."""
    paths = DataDir(settings.data_dir)
    keyring = keyring or OprfKeyring.load(paths.oprf_key)
    bus = WakeupBus(store.max_seq())
    policy = PolicyEngine(store, store.quota_ledger(clock))
    verify_pool = ThreadPoolExecutor(settings.verify_threads, thread_name_prefix="sigx-verify")
    opener = EnvelopeOpener(store, settings, clock, verify_pool)
    retention = RetentionTask(store, clock, settings.retention_interval)
    log_key = SigningKey.load(paths.log_key)
    checkpointer = Checkpointer(store, log_key, log_origin(settings, log_key), clock, settings.checkpoint_interval)

    log = LogService(store, checkpointer, policy)
    system_key = SigningKey.load(paths.system_key) if paths.system_key.exists() else None
    safeguards = Safeguards(store, policy, opener, clock, system_key)

    @cache
    def ca() -> CertificateAuthority:
        return CertificateAuthority.load(paths.ca_cert, paths.ca_key)

    return Services(
        store=store,
        bus=bus,
        policy=policy,
        ingest=IngestService(store, settings, keyring, bus, clock, policy, opener, safeguards),
        reader=ReaderService(store, settings, clock, policy, safeguards),
        safeguards=safeguards,
        admin=AdminService(store, opener, policy, ca),
        queries=AdminQueries(
            store, policy, retention.run_once, lambda period: make_report(store, checkpointer, period, clock), clock
        ),
        directory=DirectoryService(store, log),
        pseudonymizer=PseudonymizerService(keyring, settings, policy),
        retention=retention,
        log=log,
        checkpointer=checkpointer,
        verify_pool=verify_pool,
    )
