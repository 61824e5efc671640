"""The retention task: purges expired signals on an interval."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from exchange.periodic import PeriodicTask
from exchange.store.base import Store

log = structlog.get_logger("exchange.services.retention")


class RetentionTask(PeriodicTask):
    """Calls ``store.purge_expired`` every ``interval`` seconds."""

    def __init__(self, store: Store, clock: Callable[[], float], interval: float) -> None:
        super().__init__("retention", interval, self.run_once)
        self._store = store
        self._clock = clock

    def run_once(self) -> int:
        """Purge now; return how many signals were removed."""
        purged = self._store.purge_expired(int(self._clock()))
        log.info("retention_ran", purged=purged)
        return purged
