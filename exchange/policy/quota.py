"""Per-member quotas over fixed windows: submits per minute, look-ups, evaluations and bulk evaluations per day.

Admission is exact: a batch is admitted only if it fits in what is left of the
window, so concurrent callers can never push a member over its quota.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from exchange.errors import QuotaExceededError

WINDOWS = {
    "submits_per_minute": 60,
    "lookups_per_day": 86_400,
    "evaluations_per_day": 86_400,
    "oprf_bulk_per_day": 86_400,
    "feedback_per_day": 86_400,
}
_NOUN = {
    "submits_per_minute": "submits",
    "lookups_per_day": "look-ups",
    "evaluations_per_day": "OPRF evaluations",
    "oprf_bulk_per_day": "bulk OPRF evaluations",
    "feedback_per_day": "feedback events",
}
#: The quotas whose admitted units ``sigx admin stats`` shows per member, by the UsageSummary field.
COUNTED = {"lookups_per_day": "lookups", "evaluations_per_day": "evaluations", "oprf_bulk_per_day": "bulk_evaluations"}


def exhausted(quota: str, limit: int, amount: int, used: int, now: float) -> QuotaExceededError:
    """The error for ``amount`` units refused with ``used`` of ``limit`` taken in the window holding ``now``."""
    size = WINDOWS[quota]
    retry = max(1, math.ceil((int(now // size) + 1) * size - now))
    left = max(0, limit - used)
    return QuotaExceededError(
        f"quota {quota}={limit} exhausted: {amount} {_NOUN[quota]} asked, {left} left; retry in {retry}s",
        retry_after=float(retry),
        reason=quota,
    )


def used_today(rows: Iterable[tuple[str, str, int, int]], now: float) -> dict[tuple[str, str], int]:
    """From ``(member, quota, window, units used)`` rows: the daily quotas' units used in the current window."""
    return {(m, q): n for m, q, w, n in rows if q in COUNTED and n and w == int(now // WINDOWS[q])}


@dataclass(frozen=True)
class UsageSummary:
    """Admitted look-ups, OPRF evaluations (ordinary and bulk) and quota denials per member, and what they cover."""

    lookups: dict[str, int]
    denials: dict[str, int]
    scope: str
    evaluations: dict[str, int] = field(default_factory=dict)
    bulk_evaluations: dict[str, int] = field(default_factory=dict)
    #: (member, daily quota) -> units used in the current window, as enforced
    today: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, admitted: Iterable[tuple[str, str, int]], denials: Mapping[str, int], scope: str) -> UsageSummary:
        """From ``(member, quota, units admitted)`` rows: the COUNTED quotas, per member."""
        per: dict[str, dict[str, int]] = {name: {} for name in COUNTED.values()}
        for member, quota, units in admitted:
            name = COUNTED.get(quota)
            if name is not None and units:
                per[name][member] = per[name].get(member, 0) + int(units)
        lookups, evaluations, bulk = per["lookups"], per["evaluations"], per["bulk_evaluations"]
        return cls(lookups, dict(denials), scope, evaluations=evaluations, bulk_evaluations=bulk)


class QuotaLedger:
    """Counts use per (member, quota, window) in memory; thread-safe.

    ``denials`` and ``totals`` count this process's decisions since it started (for its metrics)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._used: dict[tuple[str, str], tuple[int, int]] = {}  # (member, quota) -> (window, used)
        self.denials: dict[str, int] = {}
        self.totals: dict[tuple[str, str], int] = {}

    def charge(self, member_id: str, quota: str, amount: int, limit: int) -> int:
        """Admit ``amount`` units or raise QuotaExceededError with the seconds until the window resets;
        the window charged (for ``refund``)."""
        size = WINDOWS[quota]
        now = self._clock()
        window = int(now // size)
        with self._lock:
            held_window, used = self._used.get((member_id, quota), (window, 0))
            if held_window != window:
                used = 0
            if used + amount > limit:
                self.denials[member_id] = self.denials.get(member_id, 0) + 1
                raise exhausted(quota, limit, amount, used, now)
            self._used[(member_id, quota)] = (window, used + amount)
            self.totals[(member_id, quota)] = self.totals.get((member_id, quota), 0) + amount
        return window

    def refund(self, member_id: str, quota: str, amount: int, window: int) -> None:
        """Give back units charged in ``window`` for work that could not be done (the store was down)."""
        with self._lock:
            held_window, used = self._used.get((member_id, quota), (window, 0))
            if held_window == window:
                self._used[(member_id, quota)] = (window, max(0, used - amount))
                total = self.totals.get((member_id, quota), 0)
                self.totals[(member_id, quota)] = max(0, total - amount)

    def summary(self) -> UsageSummary:
        """Look-ups and OPRF evaluations admitted and quota denials per member, for ``sigx admin stats``."""
        with self._lock:
            admitted = [(m, q, n) for (m, q), n in self.totals.items()]
            summary = UsageSummary.of(admitted, self.denials, "this exchange process, since it started")
            used = [(m, q, w, n) for (m, q), (w, n) in self._used.items()]
        return replace(summary, today=used_today(used, self._clock()))

    def used(self, member_id: str, quota: str) -> int:
        window = int(self._clock() // WINDOWS[quota])
        with self._lock:
            held_window, used = self._used.get((member_id, quota), (window, 0))
            return used if held_window == window else 0
