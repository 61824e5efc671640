"""A member's safeguard pages: retractions for redress of signals it received, to acknowledge, and its own
quarantined signals, to release; and, on every item page, the warninglists naming the item's value.

Each action is the same signed event the SDK sends (``ExchangeClient.acknowledge`` / ``release``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from starlette.responses import Response

from client_sdk.errors import SignalExchangeError
from client_sdk.member import ReviewItem
from exchange.console import member
from exchange.console.app import Console, ConsoleError, Handler, Page

OUTCOMES = ("no_action", "action_taken", "action_reversed")
NAV = [("/redress", "Redress"), ("/quarantined", "Quarantined")]


def _signal_id(p: Page) -> int:
    raw = p.field("signal").strip()
    if not raw.isdigit():
        raise ConsoleError(f"not a signal id: {raw[:40]!r}")
    return int(raw)


def redress_page(p: Page) -> Response:
    items = p.console.exchange().redress()
    pending = [r for r in items if not r.outcome]
    return p.render("redress_member.html", pending=pending, done=[r for r in items if r.outcome], outcomes=OUTCOMES)


def redress_acknowledge(p: Page) -> Response:
    signal_id, outcome = _signal_id(p), p.field("outcome")
    if outcome not in OUTCOMES:
        raise ConsoleError(f"say what had been done on the signal: one of {', '.join(OUTCOMES)}")
    accepted = p.console.exchange().acknowledge(signal_id, outcome)
    return p.redirect("/redress", f"Acknowledged signal {signal_id} ({outcome}; log index {accepted.log_index})")


def quarantined_page(p: Page) -> Response:
    return p.render("quarantined.html", signals=p.console.exchange().quarantined())


def quarantined_release(p: Page) -> Response:
    signal_id = _signal_id(p)
    accepted = p.console.exchange().release(signal_id, p.field("reason").strip())
    return p.redirect("/quarantined", f"Released signal {signal_id} (log index {accepted.log_index}): it matches again")


def warninglist_flags(console: Console, item: ReviewItem) -> Iterable[tuple[str, str]]:
    """The inform warninglists naming the item's value, from a look-up of it (nothing if it no longer matches)."""
    try:
        [result] = console.exchange().lookup([(item.type, item.value)])
    except SignalExchangeError as exc:
        return [("warn", f"warninglists not checked: {exc.diagnostics()}")]
    lists = sorted({name for m in result.matches if m.signal_id == item.signal_id for name in m.warninglists})
    return [("warn", f"on warninglist {name}: the operator flags this value; weigh it accordingly") for name in lists]


member.ITEM_FLAGS.append(warninglist_flags)


def pages(console: Console) -> Iterator[tuple[str, Handler, tuple[str, ...]]]:
    yield "/redress", redress_page, ("GET",)
    yield "/redress/acknowledge", redress_acknowledge, ("POST",)
    yield "/quarantined", quarantined_page, ("GET",)
    yield "/quarantined/release", quarantined_release, ("POST",)
