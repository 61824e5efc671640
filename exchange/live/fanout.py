"""Live subscriptions: each commit is read once and handed to every live stream that may see it.

A Subscribe first catches up on its own (paged reads, like Pull), then joins the
fan-out. The fan-out runs on the server's event loop: a wake-up (a local commit,
or another replica's through the store's ``watch_commits``) makes it read the
new events once, with the attributes visibility depends on, and filter them per
stream in memory (``EventFilter.admits``; streams with the same filter share the
work and the rendered message). No stream polls the database and no stream holds
a thread while it waits. A read every ``POLL`` seconds is the safety net for
commits nobody announced (admin changes).

Policy follows live streams: after every admin event in the log (and every
``RECHECK`` seconds) each group of streams of one caller and request is admitted
again and its filter rebuilt, before the events after that change are handed
out. A suspended member or a revoked certificate ends its streams with the
denial. A stream whose client stops reading is ended once ``stream_backlog``
events wait for it, so memory stays bounded whatever the client does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from client_sdk.vocab import KIND_ADMIN, KIND_SUBMIT
from exchange.config import Settings
from exchange.errors import ExchangeError, QuotaExceededError, UnavailableError
from exchange.identity import Caller
from exchange.observability.metrics import Metrics
from exchange.policy.engine import PolicyEngine
from exchange.rpc.offload import Offload
from exchange.rpc.streams import CURRENT_CALL, CallEnder
from exchange.safeguards.service import Safeguards
from exchange.services.reader import FilterFn, Page, ReaderService, decode_cursor, encode_cursor
from exchange.store.base import EventFilter, EventRecord, LiveEvent, SignalFlags, Store

log = structlog.get_logger("exchange.live.fanout")

HEARTBEAT = 15.0  # seconds of silence before a live stream gets an empty page with its cursor
POLL = 1.0  # seconds between the fan-out's safety-net reads while streams are open
RECHECK = 5.0  # seconds between re-admissions of every live stream (admin events trigger one at once)
WAKE_SLICE = 16  # streams written to at a time; other calls' steps on the event loop run between slices
SLICE_WAIT = 0.05  # seconds a slice may take before the next one starts anyway (a client stopped reading)

Render = Callable[[Page], Any]
Key = tuple[str, int, tuple[int, ...], tuple[str, ...]]


@dataclass(eq=False)
class _Live:
    """One live stream: where it is in the log, what it may see, what waits to be written to it."""

    caller: Caller
    key: Key
    visibility: FilterFn
    filter: EventFilter
    seq: int
    pages: deque[tuple[Any, int]] = field(default_factory=deque)
    queued: int = 0  # events in ``pages``
    error: ExchangeError | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    call: CallEnder | None = None
    slice: _Slice | None = None  # the fan-out slice waiting for this stream's write

    def written(self) -> None:
        """What was queued has gone out (or never will): the fan-out may move on."""
        if self.slice is not None:
            self.slice.finished()
            self.slice = None

    def end(self, error: ExchangeError) -> None:
        """End the stream with ``error`` now, even if it is blocked writing to a client that stopped reading."""
        self.error = error
        self.pages.clear()
        self.queued = 0
        if self.call is not None:
            self.call.end(error)  # cancels the call's task wherever it waits; the interceptor answers
        else:
            self.wake.set()


class _Slice:
    """Streams woken together; done when each has written what was queued for it."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.done = asyncio.Event()

    def finished(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.done.set()


class Fanout:
    """The live part of Subscribe, on one event loop. ``wake(seq)`` may be called from any thread."""

    def __init__(
        self,
        store: Store,
        reader: ReaderService,
        policy: PolicyEngine,
        settings: Settings,
        offload: Offload,
        reads: Offload,
        render: Render,
        safeguards: Safeguards,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._safeguards = safeguards
        self._deliveries: list[tuple[int, int]] = []  # (member row, signal id) received by Subscribe
        self._reader = reader
        self._policy = policy
        self._page = settings.pull_page
        self._backlog = settings.stream_backlog
        self._offload = offload  # catch-up pages, with every other request
        self._reads = reads  # the fan-out's own reads and re-admissions: never queued behind requests
        self._render = render
        self._metrics = metrics
        self._groups: dict[Key, set[_Live]] = {}
        self._head = 0  # every event up to here has been handed out
        self._kick = asyncio.Event()
        self._woken_at: float | None = None
        self._to_wake: list[_Live] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start handing out commits (from the log's end as it is now)."""
        self._loop = asyncio.get_running_loop()
        self._head = await self._reads(self._store.max_seq)
        self._task = self._loop.create_task(self._run(), name="sigx-fanout")

    def close(self) -> None:
        """End every live stream (each returns normally: its client resumes from its cursor elsewhere)."""
        self.closed = True
        for live in self._streams():
            live.wake.set()
        if self._task is not None:
            self._task.cancel()

    def wake(self, seq: int) -> None:
        """The log grew up to ``seq`` (called from any thread: a service that committed, a listener)."""
        loop = self._loop
        if loop is None or self.closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop has stopped
            loop.call_soon_threadsafe(self._woken, seq)

    @property
    def streams(self) -> int:
        """Live streams joined to the fan-out now (catching-up streams are not counted)."""
        return sum(len(g) for g in self._groups.values())

    # -- one stream ------------------------------------------------------------------------------

    async def stream(
        self, caller: Caller, cursor: str, visibility: FilterFn, request: tuple[Sequence[int], Sequence[str]]
    ) -> AsyncIterator[Any]:
        """Everything visible after ``cursor``, then live events as they commit, rendered as messages.

        An empty page marks the end of the catch-up, and another follows every ``HEARTBEAT``
        seconds of silence so the client keeps an up-to-date cursor. Raises the denial when the
        caller may no longer read, QuotaExceededError [stream_backlog] when its client stopped reading.
        """
        seq = decode_cursor(cursor)
        while True:  # catch up alone, page by page, until level with the fan-out
            if self.closed:
                return
            caller, current, page, message = await self._offload(self._catch_up, caller, seq, visibility)
            seq = decode_cursor(page.cursor)
            if page.events:
                yield message
                if len(page.events) == self._page:
                    continue
            if seq >= self._head:
                break
        key = (caller.member_id, caller.cert_issued, tuple(request[0]), tuple(request[1]))
        live = _Live(caller, key, visibility, current, seq, call=CURRENT_CALL.get())
        self._groups.setdefault(key, set()).add(live)
        try:
            yield self._render(Page([], encode_cursor(seq)))  # caught up: live from here
            while True:
                if live.error is not None:
                    raise live.error
                if self.closed:
                    return
                if live.pages:
                    message, count = live.pages.popleft()
                    live.queued -= count
                    yield message  # resumes once the message is written
                    if not live.pages:
                        live.written()
                    continue
                live.wake.clear()
                try:
                    async with asyncio.timeout(HEARTBEAT):
                        await live.wake.wait()
                except TimeoutError:
                    yield self._render(Page([], encode_cursor(live.seq)))
        finally:
            live.written()
            self._leave(live)

    def _catch_up(self, caller: Caller, seq: int, visibility: FilterFn) -> tuple[Caller, EventFilter, Page, Any]:
        caller, current, page = self._reader.catch_up(caller, seq, visibility)
        return caller, current, page, self._render(page) if page.events else None

    def _leave(self, live: _Live) -> None:
        group = self._groups.get(live.key)
        if group is not None:
            group.discard(live)
            if not group:
                del self._groups[live.key]

    def _streams(self) -> list[_Live]:
        return [live for group in self._groups.values() for live in group]

    # -- the fan-out -------------------------------------------------------------------------------

    def _woken(self, seq: int) -> None:
        if seq <= self._head:
            return
        if not self._groups:
            self._head = seq  # nobody to hand anything to: a stream that joins later caught up past it
            return
        if self._woken_at is None:
            self._woken_at = time.monotonic()
        self._kick.set()

    async def _run(self) -> None:
        next_recheck = time.monotonic() + RECHECK
        while not self.closed:
            try:
                async with asyncio.timeout(POLL):
                    await self._kick.wait()
            except TimeoutError:
                pass
            self._kick.clear()
            if not self._groups:
                continue
            try:
                await self._hand_out_new()
                if time.monotonic() >= next_recheck:
                    next_recheck = time.monotonic() + RECHECK
                    await self._recheck()
            except UnavailableError as exc:
                log.warning("fanout_read_failed", reason=exc.reason)
                await asyncio.sleep(POLL)
            except Exception:
                log.exception("fanout_failed")
                await asyncio.sleep(POLL)

    async def _hand_out_new(self) -> None:
        """Read what committed since the last round (one read per ``pull_page`` events) and hand it out."""
        woken, self._woken_at = self._woken_at, None
        while self._groups:
            events = await self._reads(self._store.live_events, self._head, self._page)
            flags = await self._reads(self._safeguards.flags, [e.event.signal_id for e in events if e.type is not None])
            start = 0
            for i, event in enumerate(events):
                if event.event.kind == KIND_ADMIN:  # policy may have changed: re-admit before what follows
                    self._hand_out(events[start : i + 1], flags)
                    start = i + 1
                    await self._recheck()
            self._hand_out(events[start:], flags)
            self._record_deliveries()
            await self._wake_queued()
            if len(events) < self._page:
                break
        if woken is not None and self._metrics is not None:
            self._metrics.fanout_lag.observe(time.monotonic() - woken)

    def _hand_out(self, events: Sequence[LiveEvent], flags: dict[int, SignalFlags]) -> None:
        """Queue ``events`` on every live stream that may see them (synchronous: no stream joins midway);
        ``flags``: of their signals, by signal id."""
        if not events:
            return
        top = events[-1].event.seq
        cursor = encode_cursor(top)
        shared: dict[EventFilter, tuple[list[EventRecord], Any]] = {}
        given: set[tuple[int, EventFilter]] = set()  # a member's streams with one filter received the same
        for live in self._streams():
            hit = shared.get(live.filter)
            if hit is None:
                visible = [e.event for e in events if live.filter.admits(e)]
                page = Page(visible, cursor, flags)
                hit = shared[live.filter] = (visible, self._render(page) if visible else None)
            visible, message = hit
            if visible and visible[-1].seq > live.seq:
                whole = visible[0].seq > live.seq
                if not whole:  # it caught up past part of this read on its own
                    visible = [e for e in visible if e.seq > live.seq]
                    message = self._render(Page(visible, cursor, flags))
                once = (live.caller.row, live.filter)
                if self._queue(live, message, len(visible)) and not (whole and once in given):
                    if whole:
                        given.add(once)
                    self._deliveries.extend((live.caller.row, e.signal_id) for e in visible if e.kind == KIND_SUBMIT)
            live.seq = max(live.seq, top)
        self._head = max(self._head, top)

    def _record_deliveries(self) -> None:
        """Hand what the last hand-out queued on each stream (signals received by Subscribe) to the recorder,
        which writes them in the background."""
        done, self._deliveries = self._deliveries, []
        if done:
            self._safeguards.live_deliveries.add(done, "subscribe")

    def _queue(self, live: _Live, message: Any, count: int) -> bool:
        """Queue a message on a stream; False when the stream was cut off instead (its backlog is full)."""
        if live.queued and live.queued + count > self._backlog:
            self._leave(live)
            live.end(
                QuotaExceededError(
                    f"the client stopped reading: {live.queued + count} events waited for it (stream_backlog="
                    f"{self._backlog}); resume from cursor {encode_cursor(live.seq)}",
                    retry_after=0.0,
                    reason="stream_backlog",
                )
            )
            log.warning("stream_cut_off", member=live.caller.member_id, backlog=self._backlog)
            if self._metrics is not None:
                self._metrics.streams_cut.inc()
            return False
        live.pages.append((message, count))
        live.queued += count
        self._to_wake.append(live)
        return True

    async def _wake_queued(self) -> None:
        """Wake the streams that got pages a slice at a time, the next slice once this one's writes are
        done: the event loop never holds more than a slice of stream writes, so another call's next step
        waits for a few of them, not for every stream's."""
        waking, self._to_wake = self._to_wake, []
        for start in range(0, len(waking), WAKE_SLICE):
            part = waking[start : start + WAKE_SLICE]
            batch = _Slice(len(part))
            for live in part:
                live.written()  # (a slice that timed out no longer waits for it)
                live.slice = batch
                live.wake.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SLICE_WAIT):
                    await batch.done.wait()

    async def _recheck(self) -> None:
        """Admit every group of live streams again and rebuild its filter (policy and groups as they are now)."""
        groups = [(key, next(iter(lives))) for key, lives in self._groups.items() if lives]
        if not groups:
            return
        asked = [(key, live.caller, live.visibility) for key, live in groups]
        outcomes = await self._reads(self._recheck_groups, asked)
        for key, outcome in outcomes:
            for live in list(self._groups.get(key, ())):
                if isinstance(outcome, ExchangeError):
                    self._leave(live)
                    live.end(outcome)
                else:
                    live.caller, live.filter = outcome

    def _recheck_groups(
        self, groups: list[tuple[Key, Caller, FilterFn]]
    ) -> list[tuple[Key, tuple[Caller, EventFilter] | ExchangeError]]:
        self._policy.reload()
        outcomes: list[tuple[Key, tuple[Caller, EventFilter] | ExchangeError]] = []
        for key, caller, visibility in groups:
            try:
                outcomes.append((key, self._reader.recheck(caller, visibility)))
            except UnavailableError:
                raise  # the store is down: keep every stream as it is and try again next round
            except ExchangeError as exc:
                outcomes.append((key, exc))
        return outcomes
