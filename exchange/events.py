"""Wakes live subscribers when new events are committed."""

from __future__ import annotations

import threading


class EventBus:
    """Tracks the newest committed sequence number and lets readers wait for a newer one."""

    def __init__(self, latest: int = 0) -> None:
        self._cond = threading.Condition()
        self._latest = latest
        self._closed = False

    @property
    def latest(self) -> int:
        return self._latest

    def publish(self, seq: int) -> None:
        """Announce that every event up to ``seq`` is committed."""
        with self._cond:
            if seq > self._latest:
                self._latest = seq
            self._cond.notify_all()

    def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Block until an event after ``seq`` exists, the bus closes, or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed or self._latest > seq, timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake every waiter for shutdown."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
