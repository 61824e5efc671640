"""Signing checkpoints: C2SP tlog-checkpoints as C2SP signed notes, on an interval and on demand."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from client_sdk import merkle
from client_sdk.keys import SigningKey
from client_sdk.note import Checkpoint, sign_note
from exchange.periodic import PeriodicTask
from exchange.store.base import Store

log = structlog.get_logger("exchange.log")


class Checkpointer(PeriodicTask):
    """Signs the log's state with the exchange's log key (every ``interval`` seconds when it grew)."""

    def __init__(self, store: Store, key: SigningKey, origin: str, clock: Callable[[], float], interval: float) -> None:
        super().__init__("checkpoints", interval, self.sign_now)
        self._store = store
        self._key = key
        self.origin = origin
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def public_key(self) -> bytes:
        return self._key.public_key

    def root(self, size: int) -> bytes:
        """The Merkle tree hash of the first ``size`` entries."""
        return merkle.range_hash(0, size, self._store.subtree_hash) if size else merkle.EMPTY_ROOT

    def sign_now(self) -> str:
        """Sign a checkpoint of the log as it is now (or return the latest if nothing was added)."""
        with self._lock:
            size = self._store.log_size()
            latest = self._store.latest_checkpoint()
            if latest is not None and latest[0] >= size:
                return latest[1]
            text = Checkpoint(self.origin, size, self.root(size)).to_text()
            note = sign_note(text, self.origin, self._key.sign, self._key.public_key)
            self._store.save_checkpoint(size, note, int(self._clock()))
            log.info("checkpoint_signed", size=size)
            return note

    def at_least(self, min_size: int) -> str:
        """The latest checkpoint, signing a fresh one if it covers fewer than ``min_size`` entries."""
        latest = self._store.latest_checkpoint()
        if latest is not None and latest[0] >= min_size:
            return latest[1]
        return self.sign_now()
