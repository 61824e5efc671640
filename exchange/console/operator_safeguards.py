"""The operator's safeguard pages: pending redress acknowledgements by member and age, acknowledgement times,
warninglists and quarantines, the charter in force with its rules spelt out, and the signed transparency report
of a period (verified here against the log key before it is shown)."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterator

from starlette.responses import Response

from client_sdk.audit import report as reports
from client_sdk.errors import SignalExchangeError
from exchange.console import charts
from exchange.console.app import Console, Handler, Page

NAV = [("/redress", "Redress"), ("/safeguards", "Safeguards"), ("/charter", "Charter"), ("/report", "Report")]
AGES = (("under a day", 86_400), ("1 to 7 days", 7 * 86_400), ("over 7 days", None))


def _age(seconds: float) -> str:
    for name, limit in AGES:
        if limit is None or seconds < limit:
            return name
    return AGES[-1][0]


def redress_page(p: Page) -> Response:
    items = p.console.exchange().redress()
    now = time.time()
    pending = sorted((r for r in items if not r.outcome), key=lambda r: r.retracted_at)
    by_member: dict[str, dict[str, int]] = {}
    for r in pending:
        bucket = by_member.setdefault(r.member, {})
        bucket[_age(now - r.retracted_at)] = bucket.get(_age(now - r.retracted_at), 0) + 1
    times: dict[str, list[float]] = {}
    for r in items:
        if r.outcome and r.acknowledged_at:
            times.setdefault(r.member, []).append(max(r.acknowledged_at - r.retracted_at, 0) / 60)
    medians = {m: {"median minutes": max(math.ceil(statistics.median(t)), 1)} for m, t in times.items()}
    return p.render(
        "redress_operator.html",
        pending=pending,
        now=now,
        age=_age,
        ages=charts.bar_chart("Pending acknowledgements by member and age", by_member, [a for a, _ in AGES]),
        ack=charts.bar_chart(
            "Median acknowledgement time per member (minutes, rounded up)", medians, ["median minutes"]
        ),
        acknowledged=sum(1 for r in items if r.outcome),
    )


def safeguards_page(p: Page) -> Response:
    return p.render(
        "safeguards.html", warninglists=p.console.admin().warninglists(), quarantined=p.console.exchange().quarantined()
    )


def charter_page(p: Page) -> Response:
    """The charter in force: version, SHA-256, when it was applied, and its rules (from the exchange's canonical
    JSON of them, whatever format the document was applied in)."""
    charter = p.console.admin().charter()
    rules = json.loads(charter.canonical or charter.document)
    forbid = {kind: ["everything"] if "*" in acts else acts for kind, acts in rules.get("forbid", {}).items()}
    return p.render("charter.html", charter=charter, rules=rules, forbid=forbid)


def _this_quarter() -> str:
    t = time.gmtime()
    return f"{t.tm_year}-Q{(t.tm_mon - 1) // 3 + 1}"


def report_page(p: Page) -> Response:
    period = p.field("period").strip() or _this_quarter()
    creds = p.console.settings.credentials
    try:
        note = p.console.admin().report(period)
        opened = reports.open_report(note, creds.log_public_key, creds.log_key_name, creds.log_origin or None)
    except (SignalExchangeError, reports.ReportError) as exc:
        message = exc.diagnostics() if isinstance(exc, SignalExchangeError) else str(exc)
        return p.render("report.html", status=400, period=period, opened=None, note="", numbers=[], error=message)
    return p.render(
        "report.html", period=period, opened=opened, note=note, numbers=list(reports.flatten(opened.numbers))
    )


def pages(console: Console) -> Iterator[tuple[str, Handler, tuple[str, ...]]]:
    yield "/redress", redress_page, ("GET",)
    yield "/safeguards", safeguards_page, ("GET",)
    yield "/charter", charter_page, ("GET",)
    yield "/report", report_page, ("GET",)
