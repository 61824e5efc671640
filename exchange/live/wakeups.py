"""The wake-up bus: says "the log grew up to seq N" to whoever listens (the live-stream fan-out).

It carries no events, only the newest committed sequence number. Publishers are
the services that commit (and, on PostgreSQL, the listener for other replicas'
commits); a wake-up is a hint to read, never the data itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

Listener = Callable[[int], None]


class WakeupBus:
    """Tracks the newest committed seq and calls every listener when it grows. Thread-safe."""

    def __init__(self, latest: int = 0) -> None:
        self._lock = threading.Lock()
        self._latest = latest
        self._listeners: list[Listener] = []
        self._closed = False

    @property
    def latest(self) -> int:
        return self._latest

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, seq: int) -> None:
        """Announce that every event up to ``seq`` is committed. Listeners run on the caller's thread
        and must be quick (the fan-out only schedules a read on its event loop)."""
        with self._lock:
            if seq > self._latest:
                self._latest = seq
            listeners = list(self._listeners)
        for listener in listeners:
            listener(seq)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(seq)`` on every publish from now on; returns a function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return stop

    def close(self) -> None:
        """No more wake-ups: listeners are dropped."""
        with self._lock:
            self._closed = True
            self._listeners.clear()
