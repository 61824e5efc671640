"""The auditor's pages: run the audit (``client_sdk.audit``, as ``sigx audit verify`` does) with its progress,
the last report with every failure named by its entry, the last verified checkpoint, and the history of
checkpoints the audits accepted, each proved consistent with every one before it."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from starlette.responses import Response

from client_sdk.audit.sources import RemoteSource
from client_sdk.audit.state import AuditState
from client_sdk.audit.verifier import Auditor, Report
from exchange.console.app import Console, Handler, Page
from exchange.console.jobs import Job


@dataclass
class AuditRecord:
    """What this console's audits found (the state directory keeps the rest)."""

    state_dir: Path
    reports: list[tuple[float, Report]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def record(console: Console) -> AuditRecord:
    """This console's audit record; without ``--audit-state`` its state lives in a private temporary directory
    for as long as the console runs."""
    found = console.kept.get(__name__)
    if found is None:
        state = console.settings.audit_state or Path(tempfile.mkdtemp(prefix="sigx-console-audit-"))
        found = console.kept.setdefault(__name__, AuditRecord(state))
    return found  # type: ignore[no-any-return]


def audit_page(p: Page) -> Response:
    rec = record(p.console)
    state = AuditState.load(rec.state_dir)
    last = rec.reports[-1] if rec.reports else None
    return p.render("audit.html", last=last, state=state, runs=len(rec.reports), state_dir=rec.state_dir)


def audit_run(p: Page) -> Response:
    console = p.console
    rec = record(console)

    def work(job: Job) -> str:
        def progress(done: int, total: int | None = None) -> None:
            job.done, job.total = done, total or job.total

        with rec.lock:
            source = RemoteSource(console.settings.server, console.settings.credentials)
            try:
                report = Auditor(source, console.settings.credentials.log_public_key, rec.state_dir, progress).run()
            finally:
                source.close()
            rec.reports.append((time.time(), report))
        verdict = "OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        return f"{verdict}: {report.size} entries ({report.new_entries} new), {report.checkpoints} checkpoint(s)"

    job = console.jobs.start("Auditing the signature log", work, link="/audit")
    return p.redirect(f"/jobs/{job.id}")


def checkpoints_page(p: Page) -> Response:
    rec = record(p.console)
    state = AuditState.load(rec.state_dir)
    return p.render("checkpoints.html", checkpoints=list(reversed(state.checkpoints)), state=state)


NAV = [("/audit", "Audit"), ("/checkpoints", "Checkpoints")]


def pages(console: Console) -> Iterator[tuple[str, Handler, tuple[str, ...]]]:
    yield "/audit", audit_page, ("GET",)
    yield "/audit/run", audit_run, ("POST",)
    yield "/checkpoints", checkpoints_page, ("GET",)
