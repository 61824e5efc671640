"""Blocking work off the event loop: the synchronous services run on a bounded thread pool.

``run_in_executor`` does not carry contextvars into the thread, so every call runs
inside a copy of the caller's context: the authenticated caller
(``exchange.identity``) and the request's structlog fields are there too.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


class Offload:
    """Runs blocking functions on ``executor`` (a bounded pool) from coroutines on the event loop."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the pool, in a copy of the current context; its result or exception."""
        call = functools.partial(fn, *args, **kwargs)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self.executor, context.run, call)

    async def stream(self, make: Callable[..., Iterator[T]], *args: Any) -> AsyncIterator[T]:
        """``make(*args)`` on the pool (it may check its arguments and raise), then each of its items."""
        async for item in self.iterate(await self(make, *args)):
            yield item

    async def iterate(self, items: Iterator[T]) -> AsyncIterator[T]:
        """Each ``next(items)`` on the pool (a blocking generator, such as a paged read), one at a time,
        always in the same copied context."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        step: Callable[[], Any] = functools.partial(next, items, _DONE)
        while True:
            item = await loop.run_in_executor(self.executor, context.run, step)
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
