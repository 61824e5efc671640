"""A daemon thread that runs a function every so many seconds until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("exchange.periodic")


class PeriodicTask:
    def __init__(self, name: str, interval: float, run: Callable[[], object]) -> None:
        self._name = name
        self._interval = interval
        self._run = run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sigx-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._run()
            except Exception:
                log.exception("task_failed", task=self._name)
