"""The exchange's transparency report: the period's numbers rebuilt from its own signature log (exactly what an
auditor rebuilds with ``client_sdk.audit.report``), anchored to a checkpoint signed now, signed with the log key."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from client_sdk.audit import report as reports
from client_sdk.note import unverified_checkpoint
from exchange.errors import InvalidArgumentError
from exchange.signature_log.checkpoints import Checkpointer
from exchange.store.base import Store

PAGE = 10_000


def _entries(store: Store, size: int) -> Iterator[reports.Entry]:
    for start in range(0, size, PAGE):
        for index, leaf, envelope in store.log_entries(start, min(size, start + PAGE)):
            yield index, bytes(leaf), bytes(envelope) if envelope else b""


def make_report(store: Store, checkpointer: Checkpointer, period: str, clock: Callable[[], float]) -> str:
    """The signed report of ``period``; InvalidArgumentError for a malformed period or one in the future."""
    try:
        start, end = reports.period_bounds(period, clock())
    except reports.ReportError as exc:
        raise InvalidArgumentError(str(exc), reason="bad_period") from None
    anchor = checkpointer.sign_now()
    size = unverified_checkpoint(anchor).size
    tally = reports.rebuild(_entries(store, size), start, end)
    return checkpointer.sign_text(reports.document(period, start, end, anchor, tally.numbers()))
