"""The look-up's query check (a C-speed pass for the common batch, a loop otherwise) refuses exactly what a
query-by-query check refuses, naming the same first query."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client_sdk.vocab import TYPE_MEDIA_MD5, VALUE_BYTES
from exchange.errors import InvalidArgumentError
from exchange.services.reader import _check_queries

types = st.sampled_from([*sorted(VALUE_BYTES)[:2], TYPE_MEDIA_MD5, 0, 99])  # 32- and 16-byte types, unknown ones
queries = st.lists(st.tuples(types, st.integers(0, 40).map(bytes)), max_size=30)


def _first_problem(batch: list[tuple[int, bytes]]) -> tuple[str, str] | None:
    for i, (type_, value) in enumerate(batch):
        want = VALUE_BYTES.get(type_)
        if want is None:
            return f"query {i}: unknown signal type {type_}", "unknown_type"
        if len(value) != want:
            return f"query {i}: value must be {want} bytes", "bad_value"
    return None


@given(queries, st.booleans())
def test_check_names_the_first_bad_query(batch: list[tuple[int, bytes]], uniform: bool) -> None:
    if uniform and batch:  # the common case: one known type, every value of its size, perhaps one not
        type_ = sorted(VALUE_BYTES)[0]
        batch = [(type_, bytes(VALUE_BYTES[type_] if i else len(v))) for i, (_, v) in enumerate(batch)]
    types_, values = [t for t, _ in batch], [v for _, v in batch]
    expected = _first_problem(batch)
    try:
        _check_queries(types_, values, set(types_))
    except InvalidArgumentError as exc:
        assert (str(exc), exc.reason) == expected
    else:
        assert expected is None
