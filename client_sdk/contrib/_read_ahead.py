"""Pages of an iterator read ahead on a thread of their own.

The plug-in's fetch spends its time in two places that can overlap on two cores: turning the pulled
stream into events (Python, holding the GIL) and writing each page into its SQLite index (which
releases the GIL while SQLite works). Reading the next page while the current one is written cuts
the fetch's wall time without changing what it yields, or in what order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_DONE = object()


class ReadAhead(Generic[T]):
    """Iterate over ``items`` in lists of ``size``, at most ``depth`` pages ahead of the reader. An
    error raised by ``items`` reaches the reader after the pages before it; closing the reader stops
    the reading thread and closes ``items`` (on that thread, where it runs)."""

    def __init__(self, items: Iterable[T], size: int, depth: int = 2) -> None:
        self._items = items
        self._size = size
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="sigx-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        iterator = iter(self._items)
        try:
            page: list[T] = []
            for item in iterator:
                page.append(item)
                if len(page) >= self._size:
                    if not self._put(page):
                        return
                    page = []
            if page and not self._put(page):
                return
            self._put(_DONE)
        except BaseException as exc:  # handed to the reader, raised there
            self._put(_Failed(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[list[T]]:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
