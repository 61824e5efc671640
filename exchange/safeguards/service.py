"""What the safeguards add to submitting and reading: warninglist checks, flags for consumers.

Ingest asks ``check_submit`` before a batch reaches the store (a value on a ``block`` list is refused,
naming the list); the reader asks ``flags`` for every page it hands out and every look-up result (a
value on an ``inform`` list is delivered with the list's name, a quarantined signal with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exchange.errors import FailedPreconditionError, quoted
from exchange.store.base import NewSignal, SignalFlags, Store

MODES = ("block", "inform")


class Safeguards:
    """Warninglists and flags over a store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def blocked(self, items: Sequence[NewSignal]) -> dict[int, FailedPreconditionError]:
        """For each item (by position) whose value is on a ``block`` warninglist, its refusal naming the list."""
        by_type: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            by_type.setdefault(item.type, []).append(i)
        refused: dict[int, FailedPreconditionError] = {}
        for type_, positions in by_type.items():
            hits = self._store.warninglist_hits(type_, [items[i].value for i in positions])
            if not hits:
                continue
            for i in positions:
                blocking = [name for name, mode in hits.get(items[i].value, ()) if mode == "block"]
                if blocking:
                    refused[i] = FailedPreconditionError(
                        f"the value is on block warninglist {quoted(blocking[0])}: it must never become a signal",
                        reason="warninglist",
                    )
        return refused

    def flags(self, signal_ids: Iterable[int]) -> dict[int, SignalFlags]:
        """Flags of the signals among ``signal_ids`` that have any (none asked: none read)."""
        ids = sorted({s for s in signal_ids if s})
        return self._store.signal_flags(ids) if ids else {}
