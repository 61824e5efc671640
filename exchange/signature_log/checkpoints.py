"""Signing checkpoints: C2SP tlog-checkpoints as C2SP signed notes, on an interval and on demand."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import structlog

from client_sdk import merkle
from client_sdk.keys import SigningKey
from client_sdk.note import Checkpoint, sign_note
from exchange.config import Settings
from exchange.periodic import PeriodicTask
from exchange.store.base import Store

log = structlog.get_logger("exchange.signature_log")


def log_origin(settings: Settings, key: SigningKey) -> str:
    """The checkpoints' origin line (and the log key's name): ``[log] origin``, else one from the key's id."""
    return settings.log_origin or f"signal-exchange/{key.key_id}"


class Checkpointer(PeriodicTask):
    """Signs the log's state with the exchange's log key: every ``interval`` seconds when it grew, at shutdown,
    and for a caller that needs entries no saved checkpoint covers yet — at most once per ``min_interval``
    seconds however many ask, so callers cannot grow the checkpoint table at will."""

    def __init__(
        self,
        store: Store,
        key: SigningKey,
        origin: str,
        clock: Callable[[], float],
        interval: float,
        min_interval: float = 1.0,
    ) -> None:
        super().__init__("checkpoints", interval, self.sign_now)
        self._store = store
        self._key = key
        self.origin = origin
        self._clock = clock
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._demand = threading.Lock()
        self._signed_at = -math.inf

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
            self._signed_at = time.monotonic()
            log.info("checkpoint_signed", size=size)
            return note

    def sign_text(self, text: str) -> str:
        """``text`` signed as a note with the log key, under the log's name (a transparency report)."""
        return sign_note(text, self.origin, self._key.sign, self._key.public_key)

    def at_least(self, min_size: int) -> str:
        """The newest saved checkpoint if it covers ``min_size`` entries (``min_size`` at most the log's size);
        else one signed now, or after waiting out ``min_interval`` since the last signing (callers who need
        one at the same moment share it)."""
        latest = self._store.latest_checkpoint()
        if latest is not None and latest[0] >= min_size:
            return latest[1]
        with self._demand:
            latest = self._store.latest_checkpoint()  # signed for another caller while this one waited
            if latest is not None and latest[0] >= min_size:
                return latest[1]
            time.sleep(max(0.0, self._signed_at + self._min_interval - time.monotonic()))
            return self.sign_now()
