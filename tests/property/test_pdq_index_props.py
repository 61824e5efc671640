"""The PDQ index finds exactly what a brute-force scan finds, at every distance and in every state.

Stored hashes are random, queries are stored hashes with exactly ``k`` bits flipped (``k`` around
the default limit: 0, 1, 15, 16, 17, 30, 31, 32, 33, 47, 48, 64) or fresh random hashes; the index
is searched while its tail is small, after merges into the main part, during a background merge,
and with limits on both sides of the probe-radius steps (15/16, 31/32, 47/48), its queries measured one
by one, a few at a time or all together.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.store.pdq_index import PdqIndex

SETTINGS = settings(max_examples=60, deadline=None)
FLIPS = [0, 1, 15, 16, 17, 30, 31, 32, 33, 47, 48, 64]
LIMITS = [0, 1, 15, 16, 30, 31, 32, 47, 48, 64, 256]


def _flip(value: bytes, bits: list[int]) -> bytes:
    out = bytearray(value)
    for b in bits:
        out[b // 8] ^= 1 << (b % 8)
    return bytes(out)


def _brute(stored: list[tuple[int, bytes]], query: bytes, limit: int) -> list[tuple[int, int]]:
    q = int.from_bytes(query, "big")
    hits = [(i, (q ^ int.from_bytes(v, "big")).bit_count()) for i, v in stored]
    return sorted(((i, d) for i, d in hits if d <= limit), key=lambda h: (h[1], h[0]))


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[tuple[int, bytes]], list[bytes], int]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    n = draw(st.integers(0, 300))
    values = [rng.randbytes(32) for _ in range(n)]
    # a few near-duplicates among the stored hashes, so buckets hold more than one true match
    for _ in range(draw(st.integers(0, 20))):
        if values:
            values.append(_flip(rng.choice(values), rng.sample(range(256), rng.choice(FLIPS))))
    stored = list(enumerate(values, start=1))
    queries = []
    for _ in range(draw(st.integers(1, 12))):
        if values and rng.random() < 0.85:
            queries.append(_flip(rng.choice(values), rng.sample(range(256), rng.choice(FLIPS))))
        else:
            queries.append(rng.randbytes(32))
    return stored, queries, draw(st.sampled_from(LIMITS))


@SETTINGS
@given(workloads(), st.integers(1, 64), st.booleans(), st.sampled_from([1, 3, 5, 1 << 15]))
def test_index_equals_brute_force(
    work: tuple[list[tuple[int, bytes]], list[bytes], int], batch: int, bg: bool, budget: int
) -> None:
    # candidate budgets from one query per block to every query in one block
    stored, queries, limit = work
    index = PdqIndex(min_tail=16, sync_merge_below=0 if bg else 1 << 30, candidate_budget=budget)
    for start in range(0, len(stored), batch):
        index.add(stored[start : start + batch])
        seen = stored[: start + batch]
        # searched as the additions go, a background merge possibly under way
        assert index.search(queries[:2], limit) == [_brute(seen, q, limit) for q in queries[:2]]
    index.wait_merged()
    assert len(index) == len(stored)
    assert index.search(queries, limit) == [_brute(stored, q, limit) for q in queries]


def test_exact_distance_edges_at_the_default_limit() -> None:
    rng = random.Random(5)
    base = [rng.randbytes(32) for _ in range(5000)]
    stored = list(enumerate(base, start=1))
    index = PdqIndex(min_tail=64)
    index.add(stored)
    index.wait_merged()
    for k in (31, 32):
        for j in range(50):
            q = _flip(base[j * 7], rng.sample(range(256), k))
            got = index.search([q], 31)[0]
            assert got == _brute(stored, q, 31)
            assert ((j * 7 + 1, 31) in got) == (k == 31)


def test_ids_already_indexed_are_skipped_and_short_values_ignored() -> None:
    index = PdqIndex()
    v = bytes(32)
    index.add([(5, v), (6, b"short")])
    index.add([(5, v), (4, v)])  # not above last_id: ignored
    assert index.last_id == 5
    assert index.search([v], 0) == [[(5, 0)]]
