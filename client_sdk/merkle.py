"""RFC 9162 Merkle trees: hashing, compact ranges, proof generation and verification.

The exchange's log is an append-only Merkle tree as defined in RFC 9162 §2.1 (the same tree as
RFC 6962): SHA-256, leaf hashes ``SHA-256(0x00 || data)`` and interior nodes
``SHA-256(0x01 || left || right)``, the tree of ``n`` leaves split at the largest power of two
smaller than ``n``.

* :func:`root` computes the Merkle tree hash (MTH) of a list of leaf hashes, level by level.
* :class:`CompactRange` is the right frontier of a tree built left to right: one perfect-subtree
  hash per set bit of the size, so appends are amortised O(1) and the root is O(log n).
* :func:`inclusion_proof` and :func:`consistency_proof` generate proofs (RFC 9162 §2.1.3.1 and
  §2.1.4.1) from any source of subtree hashes; :func:`range_hash` builds that source from the
  perfect subtrees a server keeps in its tiles.
* :func:`verify_inclusion` and :func:`verify_consistency` check proofs (RFC 9162 §2.1.3.2 and
  §2.1.4.2) and raise :class:`ProofError`, naming the reason, on every failure. Their edge cases
  follow transparency-dev/merkle's verifier and its published test data: a consistency proof from
  the empty tree is rejected as meaningless, and equal sizes need an empty proof and equal roots.

Only the standard library is used, so the module can be vendored into any verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from client_sdk.errors import VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The Merkle tree hash of the empty tree: SHA-256 of the empty string."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_BYTES_LIKE = bytes | bytearray | memoryview


class ProofError(VerificationError):
    """An inclusion or consistency proof did not verify; the message says why."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf holding ``data``: ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash_size(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def root(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (RFC 9162 §2.1.1) of a sequence of leaf hashes.

    Computed bottom-up, one level at a time: adjacent nodes are paired and a lone last node is
    carried up unchanged, which builds exactly the tree that splits at the largest power of two.
    ``hashes`` are leaf hashes (see :func:`leaf_hash`), not leaf data; each must be 32 bytes.
    """
    level = [bytes(h) for h in hashes]
    for i, h in enumerate(level):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} must be {HASH_SIZE} bytes, got {len(h)}")
    if not level:
        return EMPTY_ROOT
    sha, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        even = len(level) & ~1
        paired = [
            sha(prefix + left + right).digest() for left, right in zip(level[0:even:2], level[1:even:2], strict=True)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


class CompactRange:
    """The right frontier of a Merkle tree being built left to right.

    It holds the hashes of the perfect subtrees that make up leaves ``[0, size)``, largest
    (leftmost) first: one hash for each set bit of ``size``. That is enough to append further
    leaves (amortised O(1) hashes each) and to compute the tree's root at the current size.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        """An empty range (size 0)."""
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree hashes of the frontier, largest subtree first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf by its leaf hash, merging the subtrees it completes."""
        h = bytes(leaf_hash)
        _check_hash_size("leaf hash", h)
        hashes, n = self._hashes, self._size
        sha, prefix = _sha256, _NODE_PREFIX
        while n & 1:
            h = sha(prefix + hashes.pop() + h).digest()
            n >>= 1
        hashes.append(h)
        self._size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Append several leaves, in order, by their leaf hashes."""
        for h in hashes:
            self.append(h)

    def root(self) -> bytes:
        """The Merkle tree hash of leaves ``[0, size)``; :data:`EMPTY_ROOT` when empty."""
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        acc = hashes[-1]
        for h in reversed(hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def subtrees(self) -> list[tuple[int, int, bytes]]:
        """The frontier as ``(level, index, hash)``: the subtree covering leaves
        ``[index * 2**level, (index + 1) * 2**level)``, largest first."""
        out: list[tuple[int, int, bytes]] = []
        start = 0
        it = iter(self._hashes)
        for level in range(self._size.bit_length() - 1, -1, -1):
            if self._size >> level & 1:
                out.append((level, start >> level, next(it)))
                start += 1 << level
        return out

    def to_list(self) -> list[str]:
        """The frontier hashes as lower-case hex strings (JSON-able); store with :attr:`size`."""
        return [h.hex() for h in self._hashes]

    @classmethod
    def from_list(cls, size: int, hashes: Sequence[str | bytes]) -> CompactRange:
        """Rebuild a range saved by :meth:`to_list` (hex strings) or from raw 32-byte hashes.

        Raises ValueError unless there is exactly one 32-byte hash per set bit of ``size``.
        """
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"size must be a non-negative integer, got {size!r}")
        want = size.bit_count()
        if len(hashes) != want:
            raise ValueError(f"a compact range of size {size} has {want} hashes, got {len(hashes)}")
        decoded: list[bytes] = []
        for i, item in enumerate(hashes):
            if isinstance(item, str):
                try:
                    h = bytes.fromhex(item)
                except ValueError:
                    raise ValueError(f"hash {i} is not hex: {item!r}") from None
            else:
                h = bytes(item)
            _check_hash_size(f"hash {i}", h)
            decoded.append(h)
        new = cls()
        new._size = size
        new._hashes = decoded
        return new

    def copy(self) -> CompactRange:
        """An independent copy."""
        new = CompactRange()
        new._size = self._size
        new._hashes = list(self._hashes)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


# --- proof generation ------------------------------------------------------------------------


def _check_size(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")


def inclusion_proof(index: int, size: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """The inclusion proof (audit path, RFC 9162 §2.1.3.1) of leaf ``index`` in a tree of ``size``.

    ``mth(start, end)`` must return the Merkle tree hash of leaves ``[start, end)``; it is only
    called for ranges whose start is a multiple of the smallest power of two covering them. The
    proof lists sibling hashes from the leaf upwards. Raises ValueError unless ``0 <= index < size``.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split_point(end - start)
        if index < mid:
            path.append(mth(mid, end))
            end = mid
        else:
            path.append(mth(start, mid))
            start = mid
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """The consistency proof (RFC 9162 §2.1.4.1) from the tree of ``size1`` to that of ``size2``.

    ``mth(start, end)`` must return the Merkle tree hash of leaves ``[start, end)``. Equal sizes
    give an empty proof. Raises ValueError unless ``0 < size1 <= size2``: a proof from the empty
    tree is meaningless (every tree extends it) and :func:`verify_consistency` rejects it.
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 ({size1}) is larger than size2 ({size2})")
    if size1 == 0:
        raise ValueError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        return []
    # SUBPROOF(m, D[start:end], whole) unrolled: ``m`` leaves of the old tree lie in this range.
    path: list[bytes] = []
    start, end, m = 0, size2, size1
    whole = True  # the old tree's root is exactly this range's root, known to the verifier
    while m != end - start:
        k = _split_point(end - start)
        if m <= k:
            path.append(mth(start + k, end))
            end = start + k
        else:
            path.append(mth(start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        path.append(mth(start, end))
    path.reverse()
    return path


def range_hash(start: int, end: int, subtree: Callable[[int, int], bytes]) -> bytes:
    """The Merkle tree hash of leaves ``[start, end)`` from perfect-subtree hashes.

    ``subtree(level, index)`` must return the hash of the perfect subtree covering leaves
    ``[index * 2**level, (index + 1) * 2**level)`` (level 0 is a leaf hash). The range is split at
    the largest power of two, recursively, so it decomposes into perfect subtrees, one per set bit
    of ``end - start``; for the ranges proofs ask for these are aligned and each costs one call.
    A misaligned piece is split into halves until aligned (correct, but more calls).
    """
    _check_size("start", start)
    _check_size("end", end)
    if end < start:
        raise ValueError(f"range end ({end}) is before its start ({start})")
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    pieces: list[bytes] = []
    pos = start
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            pieces.append(_perfect_hash(level, pos, subtree))
            pos += 1 << level
    acc = pieces[-1]
    for h in reversed(pieces[:-1]):
        acc = node_hash(h, acc)
    return acc


def _perfect_hash(level: int, pos: int, subtree: Callable[[int, int], bytes]) -> bytes:
    """Hash of the ``2**level`` leaves starting at ``pos``, split until aligned for ``subtree``."""
    if pos & ((1 << level) - 1) == 0:
        return subtree(level, pos >> level)
    half = 1 << (level - 1)
    return node_hash(_perfect_hash(level - 1, pos, subtree), _perfect_hash(level - 1, pos + half, subtree))


# --- proof verification ----------------------------------------------------------------------


def _require_size(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{what} must not be negative, got {value}")


def _require_hash(what: str, value: bytes) -> bytes:
    if not isinstance(value, _BYTES_LIKE):
        raise ProofError(f"{what} must be bytes, got {type(value).__name__}")
    value = bytes(value)
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _require_proof(proof: Sequence[bytes] | None) -> list[bytes]:
    if proof is None:
        return []
    if isinstance(proof, _BYTES_LIKE | str):
        raise ProofError("proof must be a sequence of hashes, not a single byte string")
    return [_require_hash(f"proof[{i}]", p) for i, p in enumerate(proof)]


def _inclusion_path_length(fn: int, sn: int) -> int:
    """Hashes in an inclusion path from node ``fn`` to the root over nodes ``0..sn`` of a level.

    Walks the RFC 9162 §2.1.3.2 index arithmetic without hashing.
    """
    count = 0
    while sn:
        if fn & 1 == 0 and fn == sn:
            while fn and fn & 1 == 0:
                fn >>= 1
                sn >>= 1
        count += 1
        fn >>= 1
        sn >>= 1
    return count


def _root_from_path(fn: int, sn: int, seed: bytes, path: Sequence[bytes]) -> bytes:
    """The root reached from ``seed`` at node ``fn`` (last node ``sn``) along ``path``.

    The caller has checked that ``len(path)`` is exactly the path length for ``(fn, sn)``.
    """
    r = seed
    for p in path:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and fn & 1 == 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r


def verify_inclusion(leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree of ``tree_size`` with ``root``.

    RFC 9162 §2.1.3.2. ``proof`` lists sibling hashes from the leaf upwards (``None`` counts as
    empty). Returns None on success and raises :class:`ProofError` saying why otherwise: index
    out of range, a hash that is not 32 bytes, a proof of the wrong length, or a root mismatch.
    """
    _require_size("leaf index", leaf_index)
    _require_size("tree size", tree_size)
    if leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index} is not in a tree of size {tree_size}")
    seed = _require_hash("leaf hash", leaf_hash)
    expected_root = _require_hash("root", root)
    path = _require_proof(proof)
    want = _inclusion_path_length(leaf_index, tree_size - 1)
    if len(path) != want:
        raise ProofError(
            f"inclusion proof for leaf {leaf_index} of {tree_size} has {len(path)} hashes, expected {want}"
        )
    computed = _root_from_path(leaf_index, tree_size - 1, seed, path)
    if computed != expected_root:
        raise ProofError(
            f"inclusion proof for leaf {leaf_index} of {tree_size} leads to root {computed.hex()}, "
            f"not the expected {expected_root.hex()}"
        )


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    RFC 9162 §2.1.4.2, with the edge cases of transparency-dev/merkle's verifier (whose published
    vectors this module passes):

    * ``size1 > size2`` fails;
    * ``size1 == 0`` fails: a proof from the empty tree proves nothing (every tree extends it), so
      a caller holding no earlier checkpoint should skip the check rather than call this;
    * ``size1 == size2`` needs an empty proof and ``root1 == root2`` (the roots are only compared);
    * otherwise the proof must be non-empty, exactly as long as the sizes imply, made of 32-byte
      hashes, and reproduce both roots.

    Returns None on success and raises :class:`ProofError` saying why otherwise.
    """
    _require_size("size1", size1)
    _require_size("size2", size2)
    if size1 > size2:
        raise ProofError(f"size1 ({size1}) is larger than size2 ({size2})")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError(f"sizes are equal ({size1}) but the proof has {len(proof)} hashes")
        if not isinstance(root1, _BYTES_LIKE) or not isinstance(root2, _BYTES_LIKE):
            raise ProofError("roots must be bytes")
        if bytes(root1) != bytes(root2):
            raise ProofError(f"sizes are equal ({size1}) but the roots differ")
        return
    path = _require_proof(proof)
    if not path:
        raise ProofError(f"consistency proof from {size1} to {size2} is empty")
    old_root = _require_hash("root1", root1)
    new_root = _require_hash("root2", root2)

    # When size1 is a power of two the old tree is a complete subtree of the new one; its root
    # (root1) is the starting node and the proof omits it.
    if size1 & (size1 - 1) == 0:
        path = [old_root, *path]
    fn, sn = size1 - 1, size2 - 1
    # Skip the levels where the old tree's last node is a right child: the first proof hash is
    # the root of the largest complete subtree ending at leaf size1-1.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    want = _inclusion_path_length(fn, sn) + 1
    if len(path) != want:
        given = len(path) - (1 if size1 & (size1 - 1) == 0 else 0)
        expected = want - (1 if size1 & (size1 - 1) == 0 else 0)
        raise ProofError(f"consistency proof from {size1} to {size2} has {given} hashes, expected {expected}")

    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and fn & 1 == 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != old_root:
        raise ProofError(
            f"consistency proof from {size1} to {size2} leads to old root {fr.hex()}, not root1 {old_root.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof from {size1} to {size2} leads to new root {sr.hex()}, not root2 {new_root.hex()}"
        )
