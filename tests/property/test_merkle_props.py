"""Property tests for client_sdk.merkle: generated proofs verify, tampering never does.

The reference for every property is a direct recursive MTH over a plain list of leaf hashes
(RFC 9162 §2.1.1 written out literally), independent of the module's level-by-level ``root``.
"""

from __future__ import annotations

from functools import cache

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from client_sdk import merkle

PROPS = settings(max_examples=100, deadline=None)
MAX_SIZE = 300
LEAVES = tuple(merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(MAX_SIZE))


@cache
def mth(start: int, end: int) -> bytes:
    """RFC 9162 MTH of LEAVES[start:end], recursively (the reference)."""
    n = end - start
    if n == 0:
        return merkle.EMPTY_ROOT
    if n == 1:
        return LEAVES[start]
    k = 1
    while k * 2 < n:
        k *= 2
    return merkle.node_hash(mth(start, start + k), mth(start + k, end))


def subtree(level: int, index: int) -> bytes:
    return mth(index << level, (index + 1) << level)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


sizes = st.integers(1, MAX_SIZE)
bits = st.integers(0, 8 * merkle.HASH_SIZE - 1)


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(sizes)
    return draw(st.integers(1, size2)), size2


@PROPS
@given(size=st.integers(0, MAX_SIZE))
def test_root_matches_reference(size: int) -> None:
    assert merkle.root(LEAVES[:size]) == mth(0, size)


def test_compact_range_matches_root_at_every_size() -> None:
    compact = merkle.CompactRange()
    assert compact.root() == merkle.EMPTY_ROOT
    for size in range(1, MAX_SIZE + 1):
        compact.append(LEAVES[size - 1])
        assert compact.size == size
        assert len(compact.hashes) == size.bit_count()
        assert compact.root() == merkle.root(LEAVES[:size]) == mth(0, size)
        assert [h for _, _, h in compact.subtrees()] == list(compact.hashes)
        assert all(h == subtree(level, index) for level, index, h in compact.subtrees())


@PROPS
@given(size=st.integers(0, MAX_SIZE), more=st.integers(0, 40))
def test_compact_range_persistence(size: int, more: int) -> None:
    compact = merkle.CompactRange()
    compact.extend(LEAVES[:size])
    saved = compact.to_list()
    assert all(isinstance(h, str) for h in saved)
    restored = merkle.CompactRange.from_list(size, saved)
    assert restored == compact
    assert merkle.CompactRange.from_list(size, [bytes.fromhex(h) for h in saved]) == compact
    end = min(size + more, MAX_SIZE)
    restored.extend(LEAVES[size:end])
    assert restored.root() == mth(0, end)
    assert compact.size == size  # restoring made an independent copy


@PROPS
@given(size=st.integers(1, MAX_SIZE))
def test_compact_range_from_list_checks_shape(size: int) -> None:
    compact = merkle.CompactRange()
    compact.extend(LEAVES[:size])
    saved = compact.to_list()
    for bad_size in (size + 1, size - 1):
        if bad_size.bit_count() != size.bit_count():
            try:
                merkle.CompactRange.from_list(bad_size, saved)
            except ValueError:
                pass
            else:
                raise AssertionError(f"accepted {len(saved)} hashes for size {bad_size}")
    try:
        merkle.CompactRange.from_list(size, [*saved[:-1], saved[-1][:-2]])
    except ValueError:
        pass
    else:
        raise AssertionError("accepted a 31-byte hash")


@PROPS
@given(data=st.data(), size=st.integers(0, MAX_SIZE))
def test_range_hash_matches_direct_computation(data: st.DataObject, size: int) -> None:
    start = data.draw(st.integers(0, size))
    assert merkle.range_hash(0, size, subtree) == mth(0, size)
    assert merkle.range_hash(start, size, subtree) == mth(start, size)  # also misaligned starts


@PROPS
@given(size=st.integers(1, MAX_SIZE))
def test_range_hash_on_aligned_ranges_calls_one_subtree_per_bit(size: int) -> None:
    calls: list[tuple[int, int]] = []

    def counting(level: int, index: int) -> bytes:
        calls.append((level, index))
        return subtree(level, index)

    assert merkle.range_hash(0, size, counting) == mth(0, size)
    assert len(calls) == size.bit_count()


def _range_mth(start: int, end: int) -> bytes:
    """The ``mth`` a server builds from stored subtrees."""
    return merkle.range_hash(start, end, subtree)


@PROPS
@given(case=leaf_in_tree())
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    index, size = case
    proof = merkle.inclusion_proof(index, size, mth)
    assert proof == merkle.inclusion_proof(index, size, _range_mth)
    merkle.verify_inclusion(index, size, LEAVES[index], proof, merkle.root(LEAVES[:size]))


@PROPS
@given(case=two_sizes())
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    size1, size2 = case
    proof = merkle.consistency_proof(size1, size2, mth)
    assert proof == merkle.consistency_proof(size1, size2, _range_mth)
    merkle.verify_consistency(size1, size2, proof, merkle.root(LEAVES[:size1]), merkle.root(LEAVES[:size2]))


def _inclusion_fails(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(index, size, leaf, proof, root)
    except merkle.ProofError as exc:
        assert str(exc)
        return True
    return False


def _consistency_fails(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> bool:
    try:
        merkle.verify_consistency(size1, size2, proof, root1, root2)
    except merkle.ProofError as exc:
        assert str(exc)
        return True
    return False


@PROPS
@given(case=leaf_in_tree(), bit=bits, target=st.integers(0, 1000))
def test_inclusion_bit_flips_fail(case: tuple[int, int], bit: int, target: int) -> None:
    index, size = case
    leaf, root = LEAVES[index], mth(0, size)
    proof = merkle.inclusion_proof(index, size, mth)
    assert _inclusion_fails(index, size, _flip(leaf, bit), proof, root)
    assert _inclusion_fails(index, size, leaf, proof, _flip(root, bit))
    if proof:
        i = target % len(proof)
        flipped = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        assert _inclusion_fails(index, size, leaf, flipped, root)


@PROPS
@given(case=two_sizes(), bit=bits, target=st.integers(0, 1000))
def test_consistency_bit_flips_fail(case: tuple[int, int], bit: int, target: int) -> None:
    size1, size2 = case
    root1, root2 = mth(0, size1), mth(0, size2)
    proof = merkle.consistency_proof(size1, size2, mth)
    assert _consistency_fails(size1, size2, proof, _flip(root1, bit), root2)
    assert _consistency_fails(size1, size2, proof, root1, _flip(root2, bit))
    if proof:
        i = target % len(proof)
        flipped = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        assert _consistency_fails(size1, size2, flipped, root1, root2)


@PROPS
@given(case=leaf_in_tree(), extra=st.sampled_from([*LEAVES[:3], merkle.EMPTY_ROOT]), where=st.integers(0, 1000))
def test_inclusion_truncated_or_extended_proofs_fail(case: tuple[int, int], extra: bytes, where: int) -> None:
    index, size = case
    leaf, root = LEAVES[index], mth(0, size)
    proof = merkle.inclusion_proof(index, size, mth)
    i = where % (len(proof) + 1)
    assert _inclusion_fails(index, size, leaf, [*proof[:i], extra, *proof[i:]], root)
    assert _inclusion_fails(index, size, leaf, [*proof, root], root)
    if proof:
        assert _inclusion_fails(index, size, leaf, proof[:-1], root)
        assert _inclusion_fails(index, size, leaf, proof[1:], root)
        j = where % len(proof)
        assert _inclusion_fails(index, size, leaf, [*proof[:j], *proof[j + 1 :]], root)


@PROPS
@given(case=two_sizes(), extra=st.sampled_from([*LEAVES[:3], merkle.EMPTY_ROOT]), where=st.integers(0, 1000))
def test_consistency_truncated_or_extended_proofs_fail(case: tuple[int, int], extra: bytes, where: int) -> None:
    size1, size2 = case
    root1, root2 = mth(0, size1), mth(0, size2)
    proof = merkle.consistency_proof(size1, size2, mth)
    i = where % (len(proof) + 1)
    assert _consistency_fails(size1, size2, [*proof[:i], extra, *proof[i:]], root1, root2)
    assert _consistency_fails(size1, size2, [*proof, root1], root1, root2)
    if proof:
        assert _consistency_fails(size1, size2, proof[:-1], root1, root2)
        assert _consistency_fails(size1, size2, proof[1:], root1, root2)


@PROPS
@given(case=leaf_in_tree(), other=st.integers(0, MAX_SIZE - 1))
def test_proof_does_not_transfer_to_another_leaf(case: tuple[int, int], other: int) -> None:
    index, size = case
    assume(LEAVES[other] != LEAVES[index])
    proof = merkle.inclusion_proof(index, size, mth)
    assert _inclusion_fails(index, size, LEAVES[other], proof, mth(0, size))


@PROPS
@given(case=two_sizes(), delta=st.integers(1, 20))
def test_consistency_proof_against_a_different_old_tree_fails(case: tuple[int, int], delta: int) -> None:
    size1, size2 = case
    assume(size1 < size2)
    other = min(size1 + delta, size2)
    assume(other != size1)
    proof = merkle.consistency_proof(size1, size2, mth)
    assert _consistency_fails(other, size2, proof, mth(0, other), mth(0, size2))
