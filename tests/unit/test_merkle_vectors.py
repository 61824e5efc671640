"""RFC 9162 proof verification against published vectors (the project's copy in tests/vectors/published).

* ``merkle/inclusion`` and ``merkle/consistency``: transparency-dev/merkle's test data, happy
  paths and corrupted proofs; verification must succeed exactly when ``wantErr`` is false.
* ``ct-argon2020``: a real Certificate Transparency log (tree of 961,984,013 entries).

Cases are parametrised at collection time (one test id per file), locating the directory the way
``tests/conftest.py`` does; :func:`test_vector_inventory` goes through the ``vectors`` fixture so
a missing directory fails loudly instead of collecting nothing.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from client_sdk import merkle
from client_sdk.errors import VerificationError
from tests.conftest import vectors_path

EXPECTED_CASES = 196
_vectors_dir = vectors_path


def _files(kind: str) -> list[Path]:
    base = _vectors_dir() / "merkle" / kind
    return sorted(base.rglob("*.json")) if base.is_dir() else []


def _case_id(path: Path) -> str:
    return path.relative_to(_vectors_dir() / "merkle").as_posix()


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in case["proof"] or []]


def _inclusion(case: dict[str, Any]) -> None:
    merkle.verify_inclusion(case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), _proof(case), _b64(case["root"]))


def _consistency(case: dict[str, Any]) -> None:
    merkle.verify_consistency(case["size1"], case["size2"], _proof(case), _b64(case["root1"]), _b64(case["root2"]))


def _check(case: dict[str, Any], verify: Any) -> None:
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError) as info:
            verify(case)
        assert str(info.value), "a ProofError must say why"
    else:
        verify(case)


INCLUSION = _files("inclusion")
CONSISTENCY = _files("consistency")


def test_vector_inventory(vectors: Path) -> None:
    """The published set is where the parametrisation looked, and complete."""
    assert vectors.resolve() == _vectors_dir().resolve()
    assert len(INCLUSION) + len(CONSISTENCY) == EXPECTED_CASES
    assert len(INCLUSION) == len(list((vectors / "merkle" / "inclusion").rglob("*.json")))
    for path in INCLUSION + CONSISTENCY:
        case = json.loads(path.read_text("utf-8"))
        assert isinstance(case["wantErr"], bool), path


@pytest.mark.parametrize("path", INCLUSION, ids=_case_id)
def test_inclusion_vector(path: Path) -> None:
    _check(json.loads(path.read_text("utf-8")), _inclusion)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_case_id)
def test_consistency_vector(path: Path) -> None:
    _check(json.loads(path.read_text("utf-8")), _consistency)


def test_proof_error_is_a_verification_error() -> None:
    assert issubclass(merkle.ProofError, VerificationError)


# --- a real CT log -------------------------------------------------------------------------


def _argon(vectors: Path, name: str) -> dict[str, Any]:
    return json.loads((vectors / "ct-argon2020" / name).read_text("utf-8"))


def test_argon2020_inclusion(vectors: Path) -> None:
    case = _argon(vectors, "inclusion-case.json")
    assert case["wantErr"] is False and case["treeSize"] == 961_984_013
    _inclusion(case)


def test_argon2020_consistency(vectors: Path) -> None:
    case = _argon(vectors, "consistency-case.json")
    assert case["wantErr"] is False and case["size1"] == 3_654_490
    _consistency(case)


def test_argon2020_tampering_is_caught(vectors: Path) -> None:
    """Each single change to the real proofs fails: a neighbouring index, a tree of half the size,
    a dropped hash, a swapped pair of hashes. (A size change that keeps the path's shape, such as
    size - 1 here, is invisible to the proof by design: the signed checkpoint binds size to root.)"""
    inc = _argon(vectors, "inclusion-case.json")
    con = _argon(vectors, "consistency-case.json")
    proof = _proof(inc)
    bad_inclusions = [
        (inc["leafIdx"] + 1, inc["treeSize"], proof),
        (inc["leafIdx"], inc["treeSize"] // 2, proof),
        (inc["leafIdx"], inc["treeSize"], proof[:-1]),
        (inc["leafIdx"], inc["treeSize"], [proof[1], proof[0], *proof[2:]]),
    ]
    for index, size, p in bad_inclusions:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, _b64(inc["leafHash"]), p, _b64(inc["root"]))
    cproof = _proof(con)
    bad_consistency = [
        (con["size1"] + 1, con["size2"], cproof),
        (con["size1"], con["size2"] // 2, cproof),
        (con["size1"], con["size2"], cproof[1:]),
        (con["size1"], con["size2"], [cproof[1], cproof[0], *cproof[2:]]),
    ]
    for size1, size2, p in bad_consistency:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(size1, size2, p, _b64(con["root1"]), _b64(con["root2"]))


def test_argon2020_roots_agree(vectors: Path) -> None:
    """The consistency case's new root is the inclusion case's root (same signed tree head)."""
    assert _argon(vectors, "inclusion-case.json")["root"] == _argon(vectors, "consistency-case.json")["root2"]


# --- a few fixed edge cases ------------------------------------------------------------------


def test_edge_cases() -> None:
    leaf = merkle.leaf_hash(b"x")
    assert merkle.root([]) == merkle.EMPTY_ROOT
    assert merkle.root([leaf]) == leaf
    merkle.verify_inclusion(0, 1, leaf, [], leaf)
    merkle.verify_inclusion(0, 1, leaf, None, leaf)  # type: ignore[arg-type]  # JSON null proofs
    merkle.verify_consistency(5, 5, [], leaf, leaf)
    for args in [(-1, 1, leaf, [], leaf), (True, 2, leaf, [leaf], leaf), (0, 1, leaf, leaf, leaf)]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)  # type: ignore[arg-type]
    with pytest.raises(merkle.ProofError, match="empty tree"):
        merkle.verify_consistency(0, 3, [], merkle.EMPTY_ROOT, leaf)
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, 3, lambda s, e: leaf)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, 3, lambda s, e: leaf)
    assert merkle.consistency_proof(4, 4, lambda s, e: leaf) == []
