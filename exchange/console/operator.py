"""The operator's pages."""

from __future__ import annotations

from collections.abc import Iterator

from exchange.console.app import Console, Handler


def pages(console: Console) -> Iterator[tuple[str, Handler, tuple[str, ...]]]:
    yield from ()
