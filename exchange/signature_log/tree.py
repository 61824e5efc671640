"""Incremental tree building over tiles of height 8.

The store keeps the hash of every complete perfect subtree at levels 8, 16, 24
… (one 32-byte hash per 256 leaves, per 65,536, …); everything else is
recomputed on demand from at most 255 stored hashes. ``TreeBuilder`` holds the
incomplete tiles in memory and reports each tile hash that completes, so the
store writes it in the same transaction as the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from client_sdk import merkle

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT


@dataclass
class TreeBuilder:
    """The partial tiles of a log of ``size`` leaves."""

    size: int = 0
    partial: list[list[bytes]] = field(default_factory=lambda: [[]])  # partial[k]: hashes at level 8k

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return the (level, index, hash) of every tile hash this completes."""
        done: list[tuple[int, int, bytes]] = []
        self.partial[0].append(leaf_hash)
        self.size += 1
        k = 0
        while len(self.partial[k]) == TILE_WIDTH:
            h = merkle.root(self.partial[k])
            level = (k + 1) * TILE_HEIGHT
            done.append((level, (self.size >> level) - 1, h))
            self.partial[k] = []
            if len(self.partial) == k + 1:
                self.partial.append([])
            self.partial[k + 1].append(h)
            k += 1
        return done

    @classmethod
    def resume(
        cls,
        size: int,
        leaf_hashes: Callable[[int, int], list[bytes]],
        stored_hashes: Callable[[int, int, int], list[bytes]],
    ) -> TreeBuilder:
        """The builder for a log of ``size`` leaves, from its incomplete tiles.

        ``leaf_hashes(start, end)`` gives leaf hashes, ``stored_hashes(level, start, end)`` the
        stored tile hashes at ``level`` with indices in [start, end).
        """
        partial: list[list[bytes]] = []
        k, count = 0, size
        while True:
            start = count - count % TILE_WIDTH
            partial.append(leaf_hashes(start, count) if k == 0 else stored_hashes(k * TILE_HEIGHT, start, count))
            count >>= TILE_HEIGHT
            k += 1
            if count == 0:
                return cls(size, partial)

    def copy(self) -> TreeBuilder:
        return TreeBuilder(self.size, [list(p) for p in self.partial])
