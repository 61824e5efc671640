"""The retention task: purges expired signals on an interval."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from exchange.store.base import Store

log = structlog.get_logger("exchange.retention")


class RetentionTask:
    """A daemon thread that calls ``store.purge_expired`` every ``interval`` seconds."""

    def __init__(self, store: Store, clock: Callable[[], float], interval: float) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sigx-retention", daemon=True)

    def run_once(self) -> int:
        """Purge now; return how many signals were removed."""
        purged = self._store.purge_expired(int(self._clock()))
        log.info("retention_ran", purged=purged)
        return purged

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception:
                log.exception("retention_failed")
