"""The server's tile builder agrees with the plain Merkle tree hash at every size."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk import merkle
from exchange.log.tree import TILE_HEIGHT, TreeBuilder


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
    rebuilt = TreeBuilder(size, [list(p) for p in tree.partial])
    assert rebuilt.copy() == tree
