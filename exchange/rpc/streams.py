"""Open streaming calls on this process: the global cap, per-member counts and their gauges, and a way
to end a call from outside it.

Used on the event loop only (no lock): a reservation and its check happen in
one step, so concurrent openers can never exceed a cap. The per-member cap
itself is the policy's ``max_streams`` (``PolicyEngine.admit_stream``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextvars import ContextVar

from exchange.errors import ExchangeError, QuotaExceededError
from exchange.observability.metrics import Metrics
from exchange.policy.engine import STREAM_RETRY


class StreamRegistry:
    """Counts streams per member and method; refuses past ``limit`` streams in all (``max_open_streams``)."""

    def __init__(self, limit: int, metrics: Metrics | None = None) -> None:
        self.limit = limit
        self._metrics = metrics
        self._by_member: Counter[str] = Counter()
        self.total = 0

    def reserve(self, member_id: str, method: str) -> int:
        """Count one more stream of ``member_id``; returns how many it held before. Raises
        QuotaExceededError (RESOURCE_EXHAUSTED) when the process already holds ``limit``."""
        if self.total >= self.limit:
            raise QuotaExceededError(
                f"the exchange holds its maximum of {self.limit} open streams (max_open_streams); retry later",
                retry_after=STREAM_RETRY,
                reason="max_open_streams",
            )
        held = self._by_member[member_id]
        self._by_member[member_id] = held + 1
        self.total += 1
        if self._metrics is not None:
            self._metrics.stream_opened(member_id, method)
        return held

    def release(self, member_id: str, method: str) -> None:
        """The stream ``reserve`` counted has ended."""
        left = self._by_member[member_id] - 1
        if left > 0:
            self._by_member[member_id] = left
        else:
            del self._by_member[member_id]
        self.total -= 1
        if self._metrics is not None:
            self._metrics.stream_closed(member_id, method)

    def held_by(self, member_id: str) -> int:
        """Streams ``member_id`` holds open now."""
        return self._by_member.get(member_id, 0)


class CallEnder:
    """Ends one streaming call with a domain error from outside it, even while it is blocked writing to a
    client that stopped reading: its task is cancelled and the interceptor answers with ``error``."""

    def __init__(self, task: asyncio.Task[object] | None) -> None:
        self._task = task
        self.error: ExchangeError | None = None

    def end(self, error: ExchangeError) -> None:
        if self.error is None and self._task is not None:
            self.error = error
            self._task.cancel()


#: The streaming call being handled (set by the interceptor; None outside a streaming call).
CURRENT_CALL: ContextVar[CallEnder | None] = ContextVar("sigx_stream_call", default=None)
