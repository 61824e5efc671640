"""A member analyst's pages: the review queue, an item, decisions (one, or in bulk), a look-up, a CSV
submission with its progress, and the match index's status.

Raw identifiers typed into the look-up form or uploaded in a CSV are pseudonymised in this process, as
the SDK always does, and are neither logged nor kept: the look-up page shows the value back only to the
browser that sent it. Item pages show the member's own account or content id and the signal's provenance,
never another member's raw identifier (the exchange holds none).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from client_sdk import Identifier
from client_sdk.errors import SignalExchangeError, VerificationError
from client_sdk.files import InputFileError, parse_rows, sniff
from client_sdk.member import ReviewItem, StaleItemError
from client_sdk.member.review import DECIDED, OPEN, STATUSES, WITHDRAWN, ReviewQueue, SendReport
from client_sdk.models import Signal
from client_sdk.positions import encode_cursor
from client_sdk.vocab import TYPES, VERDICTS
from exchange.console.app import Console, ConsoleError, Handler, Page
from exchange.console.jobs import Job

#: One key per verdict in the queue (and shown by ``?``).
VERDICT_KEYS = {"c": "confirmed", "a": "actioned", "f": "false_positive", "n": "not_found", "d": "duplicate"}
SORTS = {"corroboration": "corroboration, then most recent", "recent": "most recent first"}
#: Queue rows per page.
PAGE_SIZE = 100
#: The qualifier field each identifier type takes in the look-up form.
QUALIFIER = {"payment_handle": "provider", "username": "platform", "phone": "region"}
#: What else an item page says of its signal: each function gives ``(kind, text)`` flags (kind ok, warn or error),
#: e.g. a quarantine or a warninglist entry; the safeguards' pages add theirs here.
ITEM_FLAGS: list[Callable[[Console, ReviewItem], Iterable[tuple[str, str]]]] = []
#: Bad lines shown on the page before "… and N more".
SHOWN_BAD_LINES = 20


@dataclass(frozen=True)
class QueueFilter:
    status: str = OPEN
    category: str = ""
    type: str = ""
    submitter: str = ""
    min_corroboration: int = 0
    sort: str = "corroboration"
    page: int = 1

    @classmethod
    def from_page(cls, p: Page) -> QueueFilter:
        status = p.field("status", OPEN)
        if status not in STATUSES:
            raise ConsoleError(f"unknown status {status[:40]!r}: one of {', '.join(STATUSES)}")
        raw = p.field("min_corroboration", "0").strip() or "0"
        if not raw.isdigit():
            raise ConsoleError(f"minimum corroboration must be a whole number, not {raw[:40]!r}")
        sort = p.field("sort", "corroboration")
        page = p.field("page", "1").strip() or "1"
        if not page.isdigit() or int(page) < 1:
            raise ConsoleError(f"page must be a whole number from 1, not {page[:40]!r}")
        return cls(
            status=status,
            category=p.field("category").strip(),
            type=p.field("type").strip(),
            submitter=p.field("submitter").strip(),
            min_corroboration=int(raw),
            sort=sort if sort in SORTS else "corroboration",
            page=int(page),
        )

    @property
    def filtered(self) -> bool:
        return bool(self.category or self.type or self.submitter or self.min_corroboration)

    def query(self, **change: object) -> str:
        from urllib.parse import urlencode

        values = {**self.__dict__, **change}
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})


def queue_page(p: Page) -> Response:
    wanted = QueueFilter.from_page(p)
    with p.console.index() as index:
        queue = index.review
        counts, choices = queue.summary()
        items, total = queue.page(
            wanted.status,
            category=wanted.category,
            type=wanted.type,
            submitter=wanted.submitter,
            min_corroboration=wanted.min_corroboration,
            order=wanted.sort,
            limit=PAGE_SIZE,
            offset=(wanted.page - 1) * PAGE_SIZE,
        )
        versions = queue.versions([i.id for i in items])
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    first = (wanted.page - 1) * PAGE_SIZE
    return p.render(
        "queue.html",
        items=items,
        shown=(first + 1 if items else 0, first + len(items), total),
        pages=pages,
        versions=versions,
        wanted=wanted,
        counts=counts,
        choices=choices,
        statuses=STATUSES,
        sorts=SORTS,
        verdicts=VERDICTS,
        verdict_keys=VERDICT_KEYS,
    )


def _sent_message(report: SendReport) -> tuple[str, str]:
    parts = []
    if report.sent:
        parts.append(f"{len(report.sent)} sent as signed feedback")
    if report.refused:
        parts.append(f"{len(report.refused)} refused by the exchange ({report.refused[0].error})")
    if report.queued:
        parts.append(f"{report.queued} queued: the exchange could not be reached ({report.error})")
    return ("warn" if report.refused or report.queued else "ok"), "; ".join(parts)


def decide(
    p: Page, queue: ReviewQueue, choices: list[tuple[int, int | None]], verdict: str, note: str
) -> tuple[str, str]:
    """Decide every (item, version) with ``verdict`` after checking them all (a withdrawn, stale or unknown item
    refuses the whole batch, changing nothing), then send the feedback. (flash kind, what happened) for the page."""
    if verdict not in VERDICTS:
        raise ConsoleError(f"choose a verdict: one of {', '.join(VERDICTS)}")
    if not choices:
        raise ConsoleError("no item chosen: tick the items to decide")
    versions = queue.versions([item for item, _ in choices])
    problems = []
    for item_id, version in choices:
        item = queue.item(item_id)
        if item.status == WITHDRAWN:
            problems.append(f"item {item_id} was withdrawn ({item.reason or 'the signal is gone'}): nobody acts on it")
        elif version is not None and versions.get(item_id) != version:
            problems.append(f"item {item_id} changed since this page was loaded: it is {item.status} now"
                            + (f" ({item.reason})" if item.reason else ""))  # fmt: skip
    if problems:
        raise ConsoleError("; ".join(problems) + ". Nothing was decided: reload the queue and decide again.")
    try:
        for item_id, version in choices:
            queue.decide(item_id, verdict, reviewer=p.session.reviewer, note=note, expect_version=version)
    except StaleItemError as exc:
        raise ConsoleError(f"{exc}; reload the queue and decide again") from None
    report = queue.send_feedback(p.console.exchange())
    kind, sent = _sent_message(report)
    return kind, f"{len(choices)} item(s) decided {verdict}" + (f": {sent}" if sent else "")


def _choices(p: Page) -> list[tuple[int, int | None]]:
    assert p.form is not None
    out = []
    for raw in p.form.getlist("item"):
        if not isinstance(raw, str) or not raw.isdigit():
            raise ConsoleError(f"not an item id: {str(raw)[:40]!r}")
        version = p.form.get(f"v{raw}")
        out.append((int(raw), int(version) if isinstance(version, str) and version.isdigit() else None))
    return out


def queue_decide(p: Page) -> Response:
    back = "/queue" + (f"?{p.field('back')}" if p.field("back") else "")
    with p.console.index() as index:
        try:
            kind, message = decide(p, index.review, _choices(p), p.field("verdict"), p.field("note"))
        except ConsoleError as exc:
            return p.redirect(back, str(exc), "error")
    return p.redirect(back, message, kind)


def item_page(p: Page) -> Response:
    item_id = _item_id(p)
    with p.console.index() as index:
        queue = index.review
        item = queue.item(item_id)
        history = queue.history(item_id)
        decisions = queue.decisions(item_id)
        version = queue.versions([item_id]).get(item_id)
        record = queue.track_record(item.submitter)
    inclusion = inclusion_of(p.console, item.signal_id)
    flags = [flag for source in ITEM_FLAGS for flag in source(p.console, item)]
    return p.render(
        "item.html",
        flags=flags,
        record=record,
        item=item,
        history=history,
        decisions=decisions,
        version=version,
        verdicts=VERDICTS,
        inclusion=inclusion,
        can_decide=item.status in (OPEN, DECIDED),
    )


def item_decide(p: Page) -> Response:
    item_id = _item_id(p)
    raw = p.field("version")
    version = int(raw) if raw.isdigit() else None
    with p.console.index() as index:
        try:
            kind, message = decide(p, index.review, [(item_id, version)], p.field("verdict"), p.field("note"))
        except ConsoleError as exc:
            return p.redirect(f"/items/{item_id}", str(exc), "error")
    return p.redirect(f"/items/{item_id}", message, kind)


def _item_id(p: Page) -> int:
    raw = str(p.request.path_params.get("item", ""))
    if not raw.isdigit():
        raise ConsoleError(f"not an item id: {raw[:40]!r}")
    return int(raw)


def inclusion_of(console: Console, signal_id: int) -> tuple[int, str]:
    """Whether the signal's SUBMIT event is in the signature log: (checkpoint size, text); size 0 if it could
    not be proved. Proved once per console run (the log is append-only) with the SDK's own checks."""
    known = console.inclusion.get(signal_id)
    if known is not None and known[0]:
        return known
    client = console.exchange()
    try:
        events = list(client.pull(encode_cursor(signal_id - 1), limit=1))  # the stream ends after one event
        event = events[0] if events else None
        if event is None or event.seq != signal_id:
            result = (0, "not visible to this member any more (retracted, expired or out of its policy)")
        else:
            checkpoint = client.verify_inclusion(event)
            result = (checkpoint.size, f"verified in the signature log at checkpoint size {checkpoint.size}")
    except VerificationError as exc:
        result = (0, f"inclusion proof FAILED: {exc.diagnostics()}")
    except SignalExchangeError as exc:
        result = (0, f"not checked: {exc.diagnostics()}")
    console.inclusion[signal_id] = result
    return result


# -- look-up ------------------------------------------------------------------------------------------


def lookup_page(p: Page) -> Response:
    return p.render("lookup.html", types=TYPES, qualifier=QUALIFIER, results=None, form={})


def lookup_run(p: Page) -> Response:
    kind = p.field("type")
    value = p.field("value")
    qualifier = p.field("qualifier").strip()
    shown = {"type": kind, "value": value, "qualifier": qualifier}
    try:
        if kind not in TYPES:
            raise ConsoleError(f"choose an identifier type: one of {', '.join(TYPES)}")
        if not value.strip():
            raise ConsoleError("type the value to look up")
        extra = {QUALIFIER[kind]: qualifier} if qualifier and kind in QUALIFIER else {}
        ident = Identifier(kind, value, **extra)
        ident.normalised()  # an invalid value is refused here, before anything is sent
        [result] = p.console.exchange().lookup([ident])
    except (ConsoleError, SignalExchangeError) as exc:
        message = exc.diagnostics() if isinstance(exc, SignalExchangeError) else str(exc)
        return p.render("lookup.html", status=400, types=TYPES, qualifier=QUALIFIER, results=None, form=shown,
                        error=message)  # fmt: skip
    return p.render("lookup.html", types=TYPES, qualifier=QUALIFIER, results=result.matches, form=shown)


# -- CSV submission ------------------------------------------------------------------------------------


def submit_page(p: Page) -> Response:
    return p.render("submit.html")


def read_upload(upload: Any) -> list[Signal]:
    """Every signal of an uploaded CSV or JSON-lines file; ConsoleError naming every bad line (or why the
    file is not one) when any line is bad, so nothing is sent."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ConsoleError("choose a file to upload (CSV type,value,category[,provider|platform] or JSON lines)")
    data = upload.file.read()
    name = upload.filename[:80]
    if b"\0" in data[:4096]:
        raise ConsoleError(f"{name}: not a text file (it holds NUL bytes): upload CSV or JSON lines; nothing was sent")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConsoleError(f"{name}: not UTF-8 text (byte {exc.start} cannot be decoded); nothing was sent") from None
    lines = io.StringIO(text, newline="").readlines()
    first = lines[0] if lines else ""
    try:
        kind = sniff(first)
    except InputFileError as exc:
        raise ConsoleError(f"{name}: {exc}; nothing was sent") from None
    signals: list[Signal] = []
    bad: list[InputFileError] = []
    for row in parse_rows(iter(lines), kind, first):
        (bad if isinstance(row, InputFileError) else signals).append(row)  # type: ignore[arg-type]
    if bad:
        shown = "; ".join(str(e) for e in bad[:SHOWN_BAD_LINES])
        more = f"; … and {len(bad) - SHOWN_BAD_LINES} more" if len(bad) > SHOWN_BAD_LINES else ""
        raise ConsoleError(f"{name}: {len(bad)} malformed line(s), nothing was sent: {shown}{more}")
    if not signals:
        raise ConsoleError(f"{name}: holds no signals (CSV type,value,category[,provider|platform] or JSON lines)")
    return signals


def submit_upload(p: Page) -> Response:
    assert p.form is not None
    try:
        signals = read_upload(p.form.get("file"))
    except ConsoleError as exc:
        return p.render("submit.html", status=400, error=str(exc))
    client = p.console.exchange()

    def work(job: Job) -> str:
        stored = rejected = 0
        for n, result in enumerate(client.submit_stream(iter(signals), batch_size=500), start=1):
            job.done = n
            if result.status == "rejected":
                rejected += 1
                if len(job.lines) < SHOWN_BAD_LINES:
                    job.lines.append(f"signal {n}: rejected: {result.reason}")
            else:
                stored += 1
            job.counts = {"stored": stored, "rejected": rejected}
        return f"{stored} stored, {rejected} rejected, of {len(signals)} signals"

    job = p.console.jobs.start(f"Submitting {len(signals)} signals", work, total=len(signals), link="/submit")
    return p.redirect(f"/jobs/{job.id}")


# -- the index --------------------------------------------------------------------------------------


def index_page(p: Page) -> Response:
    with p.console.index() as index:
        stats = index.stats()
    lag: str = "-"
    cursor_seq = _cursor_seq(stats.cursor)
    try:
        size = p.console.exchange().checkpoint().size
        lag = f"{max(size - cursor_seq, 0):,} log entries behind the exchange's checkpoint (size {size:,})"
    except SignalExchangeError as exc:
        lag = f"unknown: {exc.diagnostics()}"
    return p.render("index.html", stats=stats, lag=lag, cursor_seq=cursor_seq)


def _cursor_seq(cursor: str) -> int:
    from client_sdk.positions import decode_cursor

    try:
        return decode_cursor(cursor) if cursor else 0
    except ValueError:
        return 0


def index_match(p: Page) -> Response:
    console = p.console

    def work(job: Job) -> str:
        with console.index() as index:
            report = index.match(console.exchange(), on_step=lambda r: _step(job, r))
        return (
            f"{report.events} events ({report.submits} submits): {report.hits} hit(s), {report.new_items} new or"
            f" re-opened item(s), {report.withdrawn} withdrawn"
        )

    job = console.jobs.start("Matching the exchange's signals against the index", work, link="/queue")
    return p.redirect(f"/jobs/{job.id}")


def _step(job: Job, report: Any) -> None:
    job.done = report.events
    job.counts = {"events": report.events, "hits": report.hits, "new items": report.new_items}


NAV = [("/queue", "Review queue"), ("/lookup", "Look up"), ("/submit", "Submit"), ("/index", "Index")]


def pages(console: Console) -> Iterator[tuple[str, Handler, tuple[str, ...]]]:
    yield "/queue", queue_page, ("GET",)
    yield "/queue/decide", queue_decide, ("POST",)
    yield "/items/{item}", item_page, ("GET",)
    yield "/items/{item}/decide", item_decide, ("POST",)
    yield "/lookup", lookup_page, ("GET",)
    yield "/lookup", lookup_run, ("POST",)
    yield "/submit", submit_page, ("GET",)
    yield "/submit", submit_upload, ("POST",)
    yield "/index", index_page, ("GET",)
    yield "/index/match", index_match, ("POST",)
