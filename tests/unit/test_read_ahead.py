"""The plug-in's read-ahead: the same pages in the same order as reading them in place, errors after
the pages before them, and a reader that stops early stops (and closes) the source."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk.contrib._read_ahead import ReadAhead


def _in_place(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.integers(), max_size=300), size=st.integers(1, 40), depth=st.integers(1, 4))
def test_same_pages_as_reading_in_place(items: list[int], size: int, depth: int) -> None:
    assert list(ReadAhead(iter(items), size, depth)) == _in_place(items, size)


@settings(max_examples=50, deadline=None)
@given(good=st.integers(0, 50), size=st.integers(1, 10))
def test_an_error_comes_after_the_pages_before_it(good: int, size: int) -> None:
    def source():
        yield from range(good)
        raise ConnectionError("stream broke")

    pages: list[list[int]] = []
    with pytest.raises(ConnectionError, match="stream broke"):
        for page in ReadAhead(source(), size):
            pages.append(page)
    assert [x for p in pages for x in p] == list(range(good - good % size))


def test_stopping_early_stops_the_reader_and_closes_the_source() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def endless():
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    pages = ReadAhead(endless(), 10, depth=2)
    for page in pages:
        assert page == list(range(10))
        break
    pages.close()
    assert closed.wait(5), "the source was not closed"
    assert len(produced) <= 10 * 4, "the reader ran ahead without bound"
