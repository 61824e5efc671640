"""Bulk pseudonymisation of a member's own accounts into its match index.

Batches go through a small pipeline: while the exchange evaluates batch *k*, other threads blind batch
*k + 1* and verify and unblind batch *k - 1* (libsodium releases the GIL, so this uses every core), and
the calling thread reads and normalises the file and writes finished batches to the index in order.
Each batch is written together with how far the file was read, in one transaction, so a run that is
killed, loses the exchange or runs out of bulk quota resumes exactly where it stopped, and re-running a
file adds nothing twice. Only blinded elements leave the process.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from client_sdk import oprf
from client_sdk.client import ExchangeClient
from client_sdk.errors import InvalidArgumentError, QuotaExceededError
from client_sdk.member.accounts import AccountRow, BadRow, Row, guess_format, read_rows
from client_sdk.member.errors import IndexQuotaError, MatchIndexError, unreadable
from client_sdk.member.index import MatchIndex, SourceProgress

BATCH = 1000
WORKERS = 3


@dataclass
class AddReport:
    """What one ``index add`` run did."""

    rows: int = 0  # readable rows pseudonymised and written in this run
    added: int = 0  # of which new (pseudonym, account id) pairs
    bad: int = 0  # rows skipped (reported through ``on_bad_row``)
    resumed_at_line: int = 0  # 0: read from the start
    already_complete: bool = False
    lines: int = 0  # the last line read
    evaluations: int = 0  # bulk OPRF evaluations spent


@dataclass
class _Batch:
    rows: list[AccountRow]
    progress: SourceProgress
    future: Future[list[bytes]] | None = None


class BulkPseudonymiser:
    """Pseudonyms for many OPRF inputs through the exchange's VOPRF, charged as bulk evaluations."""

    def __init__(self, client: ExchangeClient, workers: int = WORKERS) -> None:
        self._client = client
        self._oprf = oprf.OprfClient(oprf.MODE_VOPRF, client.credentials.oprf_public_key)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sigx-bulk-oprf")
        self._lock = threading.Lock()
        self.evaluations = 0
        self.max_batch = 1 << 16  # lowered when the exchange says a batch is too large

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, inputs: Sequence[bytes]) -> Future[list[bytes]]:
        """Start pseudonymising one batch on the pool; the future gives 32-byte pseudonyms in order."""
        return self._pool.submit(self.pseudonymise, inputs)

    def pseudonymise(self, inputs: Sequence[bytes]) -> list[bytes]:
        """Blind, evaluate (bulk), verify the proof and unblind, on this thread. Raises QuotaExceededError,
        ProofError, ExchangeRpcError."""
        out: list[bytes] = []
        start = 0
        while start < len(inputs):
            chunk = inputs[start : start + self.max_batch]
            blinds, blinded = self._oprf.blind(chunk, parallel=False)
            try:
                evaluated, proof = self._client.evaluate(blinded, bulk=True)
            except InvalidArgumentError as exc:
                if exc.reason != "batch_too_large" or len(chunk) < 2:
                    raise
                with self._lock:
                    self.max_batch = min(self.max_batch, len(chunk) // 2)
                continue
            with self._lock:
                self.evaluations += len(chunk)
            outputs = self._oprf.finalize(chunk, blinds, blinded, evaluated, proof, parallel=False)
            out.extend(o[:32] for o in outputs)
            start += len(chunk)
        return out


def index_accounts(
    index: MatchIndex,
    client: ExchangeClient,
    rows: Iterable[tuple[int, Row]],
    *,
    source: str | None = None,
    start: SourceProgress | None = None,
    batch_size: int = BATCH,
    workers: int = WORKERS,
    on_bad_row: Callable[[BadRow], None] | None = None,
    on_progress: Callable[[AddReport], None] | None = None,
) -> AddReport:
    """Pseudonymise ``(end offset, row)`` records and add them to the index, resumably.

    ``source`` names the input (its progress is saved with each batch); ``start`` is where this run began.
    Raises IndexQuotaError when the bulk quota runs out (everything before is kept), and ExchangeRpcError,
    ProofError or MatchIndexError on other failures, after writing every batch finished before them."""
    report = AddReport(resumed_at_line=start.line if start else 0, lines=start.line if start else 0)
    bulk = BulkPseudonymiser(client, workers)
    inflight: deque[_Batch] = deque()
    progress = start or SourceProgress(0, 0, False)

    failed: list[bool] = []

    def write(batch: _Batch) -> None:
        assert batch.future is not None
        try:
            pseudonyms = batch.future.result()
        except BaseException:
            failed.append(True)  # the batches after this one must not be written: they would skip its rows
            raise
        pairs = [(p, r.account_id, r.type_code) for p, r in zip(pseudonyms, batch.rows, strict=True)]
        report.added += index.add_pseudonyms(pairs, source, batch.progress)
        report.rows += len(pairs)
        report.lines = batch.progress.line
        report.evaluations = bulk.evaluations
        if on_progress is not None:
            on_progress(report)

    def launch(batch: _Batch) -> None:
        batch.future = bulk.submit([r.oprf_input for r in batch.rows])
        inflight.append(batch)
        while len(inflight) > workers or (inflight and inflight[0].future.done()):  # type: ignore[union-attr]
            write(inflight.popleft())

    try:
        pending: list[AccountRow] = []
        for offset, row in rows:
            progress = SourceProgress(offset, row.line, False)
            if isinstance(row, BadRow):
                report.bad += 1
                if on_bad_row is not None:
                    on_bad_row(row)
                continue
            pending.append(row)
            if len(pending) >= batch_size:
                launch(_Batch(pending, progress))
                pending = []
        if pending:
            launch(_Batch(pending, progress))
        while inflight:
            write(inflight.popleft())
        final = SourceProgress(progress.offset, progress.line, True)
        if source is not None:
            index.save_progress(source, final)
        report.lines = final.line
        if on_progress is not None:
            on_progress(report)
        return report
    except QuotaExceededError as exc:
        _drain(inflight, write if not failed else None)
        retry = f"; retry in {exc.retry_after:.0f}s" if exc.retry_after else ""
        raise IndexQuotaError(
            f"the exchange's bulk OPRF quota is exhausted ({exc.message}){retry}. {report.rows} rows were indexed"
            f" in this run, up to line {report.lines}; run the same command again to resume there",
            exc.retry_after,
        ) from None
    except BaseException:
        _drain(inflight, write if not failed else None)
        raise
    finally:
        bulk.close()


def _drain(inflight: deque[_Batch], write: Callable[[_Batch], None] | None) -> None:
    """After a failure: write (in order) the batches that finish well, until one fails; drop the rest."""
    while inflight and write is not None:
        try:
            write(inflight.popleft())
        except BaseException:
            break
    for rest in inflight:
        if rest.future is not None:
            rest.future.cancel()
    inflight.clear()


def source_key(path: Path) -> str:
    """What identifies an input file between runs: its real path and its size, mtime and inode.

    A file that changed is read again from the start (nothing is added twice); nothing derived from its
    contents is stored."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_dev}:{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


def count_lines(path: Path) -> int:
    """Lines in a file (for a progress total), read in blocks."""
    lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
    return lines


def index_file(
    index: MatchIndex,
    client: ExchangeClient,
    path: str | Path,
    *,
    fmt: str | None = None,
    batch_size: int = BATCH,
    workers: int = WORKERS,
    on_bad_row: Callable[[BadRow], None] | None = None,
    on_progress: Callable[[AddReport], None] | None = None,
) -> AddReport:
    """Index an accounts file (CSV or JSON lines), resuming where an earlier run on the same file stopped
    (a finished file is not read again). Bad rows go to ``on_bad_row``; a file that cannot be opened raises
    MatchIndexError; see ``index_accounts`` for the rest."""
    path = Path(path)
    try:
        key = source_key(path)
        with open(path, "rb") as fh:
            first = fh.readline(4096).decode("utf-8", "replace")
            chosen = fmt or guess_format(path.name, first)
            start = index.progress(key)
            if start is not None and start.complete:
                return AddReport(resumed_at_line=start.line, already_complete=True, lines=start.line)
            return index_accounts(
                index,
                client,
                read_rows(fh, chosen, start.offset if start else 0, start.line if start else 0),
                source=key,
                start=start,
                batch_size=batch_size,
                workers=workers,
                on_bad_row=on_bad_row,
                on_progress=on_progress,
            )
    except OSError as exc:
        raise MatchIndexError(unreadable(path, exc)) from None
