"""An in-memory index of PDQ hashes for Hamming-distance search: multi-index hashing on numpy.

Each 256-bit hash is cut into 16 chunks of 16 bits. Two hashes within distance ``d`` differ in at
least one chunk by at most ``d // 16`` bits (16 chunks of ``d // 16 + 1`` bits would add up to more
than ``d``), so probing, in every chunk, each value within ``d // 16`` bits of the query's chunk
finds every hash within ``d``: at the default distance 31, 16 chunks x 17 values. Candidates are
then measured exactly, so the answer is exactly the set within ``d`` (recall and precision 100%);
for ``d`` of 48 and more the probes would outnumber a scan, and the index scans.

The index maps hashes to signal ids and nothing else: whether a signal is active and visible to the
reader is decided by the store's query on the ids found, in the reader's snapshot. The store feeds
it every PDQ signal with an id above :attr:`PdqIndex.last_id` before each search (ids are event
seqs, committed in order on both stores, so a snapshot sees a prefix of them and a hash submitted
a moment ago, by this process or another replica, is found at once).

New hashes go to a tail that is scanned; once the tail outgrows ``max(4096, n / 64)`` it is merged
into the bucketed main part, so a merge costs a sort of ``n`` chunks once per ``n / 64`` additions.
Memory: 32 bytes of hash, 8 of id and 16 x 4 of bucket order per hash (104 bytes; ~100 MiB for 1M),
plus 16 x 256 KiB of bucket offsets.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

HASH_BYTES = 32
CHUNKS = 16
_BUCKETS = 1 << 16
_MAX_RADIUS = 2  # probe radius per chunk; beyond it (distance >= 48) a scan is cheaper
_MIN_TAIL = 4096
#: Candidates measured together (their gathered hashes take 32 bytes each): queries go in blocks of about this
#: many candidates. Small enough for the temporaries to stay in cache and, at ~0.75 MiB, below the server's
#: mmap threshold (``sigx serve`` fixes it at 1 MiB), above which every temporary would be fresh pages,
#: faulted in and zeroed on each search. At 1M hashes that is blocks of 5 queries; in process, blocks of 64
#: took 1.5x as long a query as blocks of 8.
_CANDIDATE_BUDGET = 3 << 13
_MAX_QUERY_BLOCK = 64

Ids = npt.NDArray[np.int64]
Hashes = npt.NDArray[np.uint64]


def _as_words(values: Sequence[bytes]) -> Hashes:
    """(n, 4) uint64 words of 32-byte hashes (any fixed byte order: only XOR popcounts are taken)."""
    return np.frombuffer(b"".join(values), dtype=np.uint64).reshape(-1, 4)


def _chunks(words: Hashes) -> npt.NDArray[np.uint16]:
    """(n, 16) 16-bit chunks of hashes given as words."""
    return words.view(np.uint16).reshape(-1, CHUNKS)


def _distances(words: Hashes, query: Hashes) -> npt.NDArray[np.int16]:
    """Hamming distances of rows of ``words`` to ``query`` (one row, or one per row of ``words``)."""
    bits = np.bitwise_count(words ^ query)  # uint8 per word; two words add up to at most 128
    return np.add(bits[:, 0] + bits[:, 1], bits[:, 2] + bits[:, 3], dtype=np.int16)


def _flip_masks(radius: int) -> npt.NDArray[np.uint32]:
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(16), r)]
    return np.array(masks, dtype=np.uint32)


_MASKS = [_flip_masks(r) for r in range(_MAX_RADIUS + 1)]
_CHUNK_BASE = (np.arange(CHUNKS, dtype=np.int64) * _BUCKETS)[:, None]


@dataclass(frozen=True)
class _Main:
    """The bucketed part: hashes, ids, and per chunk the positions sorted by chunk value."""

    words: Hashes
    ids: Ids
    order: npt.NDArray[np.uint32]  # (16 * n,): chunk c's positions at [c * n, (c + 1) * n)
    starts: npt.NDArray[np.int64]  # (16 * 65536 + 1,): bucket (c, v) is order[starts[c*65536+v] : next]

    @classmethod
    def build(cls, words: Hashes, ids: Ids) -> _Main:
        n = len(ids)
        columns = np.ascontiguousarray(_chunks(words).T)  # radix sorts on contiguous 16-bit columns
        order = np.empty(CHUNKS * n, dtype=np.uint32)
        starts = np.zeros(CHUNKS * _BUCKETS + 1, dtype=np.int64)
        for c in range(CHUNKS):
            col = columns[c]
            order[c * n : (c + 1) * n] = np.argsort(col, kind="stable")
            counts = np.bincount(col, minlength=_BUCKETS)
            starts[c * _BUCKETS + 1 : (c + 1) * _BUCKETS + 1] = c * n + np.cumsum(counts)
        return cls(words, ids, order, starts)

    def candidates(self, queries: Hashes, radius: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(query number, position) of every hash sharing a chunk within ``radius`` bits with a query."""
        keys = (_chunks(queries).astype(np.uint32)[:, :, None] ^ _MASKS[radius][None, None, :]).reshape(
            len(queries), CHUNKS, -1
        )
        flat = (keys + _CHUNK_BASE[None]).reshape(len(queries), -1)
        lo = self.starts[flat]
        lens = self.starts[flat + 1] - lo
        per_query = lens.sum(axis=1)
        lo, lens = lo.ravel(), lens.ravel()
        total = int(lens.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        shift = np.repeat(lo - (np.cumsum(lens) - lens), lens)
        positions = np.take(self.order, shift + np.arange(total)).astype(np.int64)
        which = np.repeat(np.arange(len(queries), dtype=np.int64), per_query)
        return which, positions


_EMPTY_MAIN = _Main(
    np.empty((0, 4), np.uint64),
    np.empty(0, np.int64),
    np.empty(0, np.uint32),
    np.zeros(CHUNKS * _BUCKETS + 1, np.int64),
)


def _block_size(indexed: int, radius: int, budget: int) -> int:
    """Queries to measure together against ``indexed`` bucketed hashes probed at ``radius``: about
    ``budget`` candidates (each probed bucket holds ``indexed / 65536`` hashes on average)."""
    if radius > _MAX_RADIUS:
        return 1  # a scan: each query measures every hash on its own
    per_query = CHUNKS * len(_MASKS[radius]) * indexed // _BUCKETS
    return max(1, min(_MAX_QUERY_BLOCK, budget // max(1, per_query)))


class PdqIndex:
    """Signal ids by PDQ hash; thread-safe (additions under a lock, searches on a consistent copy).

    Merging the tail into the main part runs on the adding thread while the main part is small, and
    on a background thread once it is not (searches go on meanwhile, on the old main part and the
    whole tail), so no search or submit waits for a sort of a million rows."""

    def __init__(
        self, *, min_tail: int = _MIN_TAIL, sync_merge_below: int = 1 << 16, candidate_budget: int = _CANDIDATE_BUDGET
    ) -> None:
        self._lock = threading.Lock()
        self._main = _EMPTY_MAIN
        self._tail_words: Hashes = np.empty((0, 4), np.uint64)
        self._tail_ids: Ids = np.empty(0, np.int64)
        self._merging: threading.Thread | None = None
        self._min_tail = min_tail
        self._sync_below = sync_merge_below
        self._budget = candidate_budget
        self.last_id = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._main.ids) + len(self._tail_ids)

    def add(self, rows: Iterable[tuple[int, bytes]]) -> None:
        """Index ``(id, 32-byte hash)`` rows in ascending id order; ids up to :attr:`last_id` are skipped."""
        self.add_pages([rows])

    def add_pages(self, pages: Iterable[Iterable[tuple[int, bytes]]]) -> None:
        """:meth:`add` for pages of rows read one after another: each page becomes two small arrays at once
        (so a million rows never exist as Python objects together) and the lot is indexed in one step."""
        ids_parts: list[Ids] = []
        words_parts: list[Hashes] = []
        after = self.last_id
        for rows in pages:
            fresh = [(int(i), bytes(v)) for i, v in rows if int(i) > after and len(v) == HASH_BYTES]
            if fresh:
                ids_parts.append(np.array([i for i, _ in fresh], dtype=np.int64))
                words_parts.append(_as_words([v for _, v in fresh]))
                after = fresh[-1][0]
        if not ids_parts:
            return
        with self._lock:
            keep = np.concatenate(ids_parts) > self.last_id  # another thread may have added some meanwhile
            if not keep.any():
                return
            self._tail_ids = np.concatenate([self._tail_ids, np.concatenate(ids_parts)[keep]])
            self._tail_words = np.concatenate([self._tail_words, np.concatenate(words_parts)[keep]])
            self.last_id = int(self._tail_ids[-1])
            self._maybe_merge()

    def _maybe_merge(self) -> None:
        """Under the lock: merge the tail into the main part once it outgrows ``max(4096, n / 64)``."""
        if len(self._tail_ids) <= max(self._min_tail, len(self._main.ids) // 64) or self._merging is not None:
            return
        main, words, ids = self._main, self._tail_words, self._tail_ids
        if len(main.ids) < self._sync_below:
            self._swap(_Main.build(np.concatenate([main.words, words]), np.concatenate([main.ids, ids])), len(ids))
            return
        self._merging = threading.Thread(
            target=self._merge, args=(main, words, ids), name="sigx-pdq-merge", daemon=True
        )
        self._merging.start()

    def wait_merged(self) -> None:
        """Block until no background merge is running (benchmarks and tests)."""
        while True:
            with self._lock:
                merging = self._merging
            if merging is None:
                return
            merging.join()

    def _merge(self, main: _Main, words: Hashes, ids: Ids) -> None:
        merged = _Main.build(np.concatenate([main.words, words]), np.concatenate([main.ids, ids]))
        with self._lock:
            self._swap(merged, len(ids))

    def _swap(self, merged: _Main, merged_tail: int) -> None:
        """Under the lock: the new main part holds the tail's first ``merged_tail`` rows."""
        self._main = merged
        # copies, not views: a view would keep the whole merged tail alive
        self._tail_words, self._tail_ids = self._tail_words[merged_tail:].copy(), self._tail_ids[merged_tail:].copy()
        self._merging = None
        self._maybe_merge()

    def search(self, values: Sequence[bytes], max_distance: int) -> list[list[tuple[int, int]]]:
        """For each 32-byte hash, (signal id, distance) of every indexed hash within ``max_distance``,
        nearest first (ties by id)."""
        with self._lock:
            main, tail_words, tail_ids = self._main, self._tail_words, self._tail_ids
        out: list[list[tuple[int, int]]] = []
        radius = max_distance // CHUNKS
        step = _block_size(len(main.ids), radius, self._budget)
        for start in range(0, len(values), step):
            block = _as_words(values[start : start + step])
            found: list[dict[int, int]] = [{} for _ in range(len(block))]
            if radius <= _MAX_RADIUS and len(main.ids):
                which, positions = main.candidates(block, radius)
                distances = _distances(np.take(main.words, positions, axis=0), np.take(block, which, axis=0))
                near = np.flatnonzero(distances <= max_distance)
                self._keep(found, which[near], np.take(main.ids, positions[near]), distances[near])
            elif len(main.ids):
                self._scan(found, main.words, main.ids, block, max_distance)
            if len(tail_ids):
                self._scan(found, tail_words, tail_ids, block, max_distance)
            out.extend(sorted(hits.items(), key=lambda h: (h[1], h[0])) for hits in found)
        return out

    @staticmethod
    def _scan(found: list[dict[int, int]], words: Hashes, ids: Ids, block: Hashes, max_distance: int) -> None:
        for q in range(len(block)):
            d = _distances(words, block[q])
            hit = np.flatnonzero(d <= max_distance)
            found[q].update(zip(ids[hit].tolist(), d[hit].tolist(), strict=True))

    @staticmethod
    def _keep(
        found: list[dict[int, int]], which: npt.NDArray[np.int64], ids: Ids, distances: npt.NDArray[np.integer[Any]]
    ) -> None:
        for q, i, d in zip(which.tolist(), ids.tolist(), distances.tolist(), strict=True):
            found[q][i] = d
