"""A one-line progress report on stderr: a bar on a terminal, a line every few seconds otherwise.

Hand-written rather than taken from a progress-bar package: the member's base install stays at the
SDK's own dependencies, and the report must also work when stderr is a log file (a line every few
seconds with rate and ETA, no control characters) and keep a tally of outcomes for the summary."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO, total: int | None, noun: str = "items", quiet: bool = False) -> None:
        self._stream = stream
        self._quiet = quiet
        self.total = total
        self._noun = noun
        self._tty = stream.isatty()
        self._started = self._last = time.monotonic()
        self._start_done = 0
        self.done = 0
        self.counts: dict[str, int] = {}

    def count(self, *labels: str) -> None:
        """Advance by one item per label, tallying the labels."""
        for label in labels:
            self.counts[label] = self.counts.get(label, 0) + 1
        self.set(self.done + len(labels))

    def set(self, done: int, total: int | None = None) -> None:
        """Report that ``done`` items are finished (of ``total``, if it is known now)."""
        if total is not None:
            self.total = total
        if self.done == 0 and done and not self.counts:
            self._start_done = 0
        self.done = done
        now = time.monotonic()
        if self._tty or now - self._last >= 5:
            self._last = now
            self._write(end="\r" if self._tty else "\n")

    def _write(self, end: str) -> None:
        if self._quiet:
            return
        rate = (self.done - self._start_done) / max(time.monotonic() - self._started, 1e-9)
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        eta = ""
        if self.total:
            filled = int(30 * min(self.done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
            if rate > 0 and self.done < self.total:
                eta = f"  ETA {_duration((self.total - self.done) / rate)}"
        else:
            bar = f"{self.done}"
        self._stream.write(f"{bar} {self._noun}  {rate:,.0f}/s{eta}  {counts}".rstrip() + end)
        self._stream.flush()

    def finish(self) -> None:
        self._write(end="\n")


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
