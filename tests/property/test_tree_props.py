"""The server's tile builder agrees with the plain Merkle tree hash at every size."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk import merkle
from exchange.signature_log.tree import TILE_HEIGHT, TreeBuilder


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(n)]


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=70_000), st.data())
def test_tiles_reproduce_the_tree(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    tree = TreeBuilder()
    stored: dict[tuple[int, int], bytes] = {}
    for h in leaves:
        for level, idx, th in tree.append(h):
            assert (level, idx) not in stored
            stored[(level, idx)] = th

    def subtree(level: int, index: int) -> bytes:
        base = level - level % TILE_HEIGHT
        if base == level and level > 0:
            return stored[(level, index)]
        width = 1 << (level - base)
        hashes = (
            leaves[index * width : (index + 1) * width]
            if base == 0
            else [stored[(base, i)] for i in range(index * width, (index + 1) * width)]
        )
        return merkle.root(hashes)

    assert merkle.range_hash(0, size, subtree) == merkle.root(leaves)
    smaller = data.draw(st.integers(min_value=1, max_value=size))
    assert merkle.range_hash(0, smaller, subtree) == merkle.root(leaves[:smaller])
    assert len(stored) == sum(size >> (TILE_HEIGHT * k) for k in range(1, 4))
    _check_resume(leaves, stored, size, data.draw(st.integers(min_value=0, max_value=600)))


def _build(leaves: list[bytes]) -> tuple[TreeBuilder, dict[tuple[int, int], bytes]]:
    tree = TreeBuilder()
    stored: dict[tuple[int, int], bytes] = {}
    for h in leaves:
        stored.update(((level, idx), th) for level, idx, th in tree.append(h))
    return tree, stored


def _check_resume(leaves: list[bytes], stored: dict[tuple[int, int], bytes], size: int, more: int) -> None:
    """A builder resumed from what the store keeps (leaves and tile hashes, read through the same callbacks
    the stores give it) goes on exactly as the one that never stopped: the same tile hashes, the same state."""
    resumed = TreeBuilder.resume(
        size,
        lambda start, end: leaves[start:end],
        lambda level, start, end: [stored[(level, i)] for i in range(start, end)],
    )
    extra = _leaves(size + more)[size:]
    whole, everything = _build(leaves[:size] + extra)
    emitted = [t for h in extra for t in resumed.append(h)]
    expected = {k: v for k, v in everything.items() if k not in stored}
    assert {(level, idx): th for level, idx, th in emitted} == expected
    assert resumed == whole


@pytest.mark.parametrize("size", [1, 255, 256, 257, 511, 512, 65535, 65536, 65537])
def test_resume_at_the_tile_edges(size: int) -> None:
    leaves = _leaves(size)
    _, stored = _build(leaves)
    for more in (0, 1, 255, 256):
        _check_resume(leaves, stored, size, more)
