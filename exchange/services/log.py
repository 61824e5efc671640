"""Serving the signature log: checkpoints, inclusion and consistency proofs, entries."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from client_sdk import merkle
from client_sdk.log_entry import LogEntry
from client_sdk.note import unverified_checkpoint
from exchange.errors import BatchTooLargeError, InvalidArgumentError
from exchange.identity import Caller
from exchange.policy.engine import PolicyEngine
from exchange.signature_log.checkpoints import Checkpointer
from exchange.store.base import Store

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Evidence:
    """One log entry with its inclusion proof."""

    index: int
    leaf: bytes
    envelope: bytes
    proof: list[bytes]


class LogService:
    def __init__(self, store: Store, checkpointer: Checkpointer, policy: PolicyEngine) -> None:
        self._store = store
        self.checkpointer = checkpointer
        self._policy = policy

    def _mth(self, start: int, end: int) -> bytes:
        return merkle.range_hash(start, end, self._store.subtree_hash)

    def _check_size(self, size: int, name: str) -> None:
        have = self._store.log_size()
        if not 0 < size <= have:
            raise InvalidArgumentError(f"{name} must be 1..{have} (the log's size)", reason="bad_size")

    def checkpoint(self, min_size: int) -> str:
        """The newest signed checkpoint that covers at least ``min_size`` entries (see ``Checkpointer.at_least``:
        a request signs nothing when the saved one is enough, and on-demand signing is rate-limited)."""
        if min_size > self._store.log_size():
            raise InvalidArgumentError(f"the log has fewer than {min_size} entries", reason="bad_size")
        return self.checkpointer.at_least(min_size)

    def inclusion(self, caller: Caller, index: int, size: int) -> tuple[list[bytes], bytes]:
        """Proof that entry ``index`` is in the tree of ``size``; its leaf for those allowed to read it."""
        self._check_size(size, "tree_size")
        if index >= size:
            raise InvalidArgumentError("index must be below tree_size", reason="bad_index")
        [(_, leaf, _)] = self._store.log_entries(index, index + 1)
        if not self._policy.may_read_leaf(caller, LogEntry.decode(leaf).submitter):
            leaf = b""
        return merkle.inclusion_proof(index, size, self._mth), leaf

    def inclusions(self, indices: Sequence[int], size: int, max_batch: int) -> list[list[bytes]]:
        """Inclusion proofs of many entries in the tree of ``size`` (subtree hashes shared between them)."""
        if len(indices) > max_batch:
            raise BatchTooLargeError(f"{len(indices)} indices exceed the maximum of {max_batch}")
        self._check_size(size, "tree_size")
        if any(i >= size for i in indices):
            raise InvalidArgumentError("every index must be below tree_size", reason="bad_index")
        mth = functools.lru_cache(maxsize=4096)(self._mth)
        return [merkle.inclusion_proof(i, size, mth) for i in indices]

    def evidence(self, indices: Iterable[int]) -> tuple[str, list[Evidence]]:
        """A signed checkpoint covering every one of ``indices`` and, for each, its leaf, envelope and proof."""
        wanted = sorted(set(indices))
        if not wanted:
            return self.checkpointer.at_least(0), []
        note = self.checkpointer.at_least(wanted[-1] + 1)
        size = unverified_checkpoint(note).size
        proofs = self.inclusions(wanted, size, len(wanted))
        out = []
        for index, proof in zip(wanted, proofs, strict=True):
            [(_, leaf, envelope)] = self._store.log_entries(index, index + 1)
            out.append(Evidence(index, leaf, envelope or b"", proof))
        return note, out

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        self._check_size(size2, "size2")
        if not 0 < size1 <= size2:
            raise InvalidArgumentError("size1 must be 1..size2", reason="bad_size")
        return merkle.consistency_proof(size1, size2, self._mth)

    def entries(self, start: int, end: int, page: int = PAGE) -> Iterator[list[tuple[int, bytes, bytes]]]:
        """Pages of (index, leaf record, envelope or b"") for [start, end); end 0 means the latest checkpoint."""
        if end == 0:
            latest = self._store.latest_checkpoint()
            end = latest[0] if latest else 0
        if end > self._store.log_size() or start > end:
            raise InvalidArgumentError(f"range [{start}, {end}) is outside the log", reason="bad_range")
        for first in range(start, end, page):
            rows = self._store.log_entries(first, min(end, first + page))
            yield [(i, leaf, env or b"") for i, leaf, env in rows]
