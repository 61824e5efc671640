"""Long work (a CSV submission, a match run, an audit) in a thread of its own, with a page that shows its
progress: the page refreshes itself while the job runs, so it needs no script."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Job:
    id: str
    title: str
    total: int | None = None  # None: unknown
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    state: str = "running"  # running, done, failed
    message: str = ""
    lines: list[str] = field(default_factory=list)  # what the job reports, for the page
    started_at: float = field(default_factory=time.time)
    link: str = ""  # where to go when it is done
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class Jobs:
    """Jobs by id; each runs ``work(job)`` in a daemon thread, which updates the job as it goes."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(
        self, title: str, work: Callable[[Job], str], *, total: int | None = None, link: str = "", wait: float = 0.5
    ) -> Job:
        """Run ``work`` (which returns the closing message; an exception fails the job with its text); return
        when it is done or after ``wait`` seconds, so short work shows its result at once."""
        job = Job(secrets.token_urlsafe(8), title, total=total, link=link)
        with self._lock:
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.message = work(job)
                job.state = "done"
            except Exception as exc:  # whatever stopped the work is the job's outcome, shown on its page
                job.message = _describe(exc)
                job.state = "failed"
            finally:
                job.finished.set()

        threading.Thread(target=run, name=f"console-job-{job.id}", daemon=True).start()
        job.finished.wait(wait)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)


def _describe(exc: Exception) -> str:
    diagnostics = getattr(exc, "diagnostics", None)
    return str(diagnostics()) if callable(diagnostics) else f"{type(exc).__name__}: {exc}"
