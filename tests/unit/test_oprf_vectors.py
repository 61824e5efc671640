"""RFC 9497 test vectors (ristretto255-SHA512, modes 0 and 1) for client_sdk.oprf."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client_sdk import oprf

MODES = (oprf.MODE_OPRF, oprf.MODE_VOPRF)
# RFC 9497 Appendix A.1 is frozen: mode 0 has 2 vectors, mode 1 has 3 (one batched).
# test_vector_counts checks the file against this, so no vector goes untested.
VECTOR_COUNTS = {oprf.MODE_OPRF: 2, oprf.MODE_VOPRF: 3}
CASES = [(mode, i) for mode, count in VECTOR_COUNTS.items() for i in range(count)]


def _hexlist(field: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in field.split(",")]


@pytest.fixture(scope="module")
def suites(vectors: Path) -> dict[int, dict[str, Any]]:
    data = json.loads((vectors / "rfc9497" / "allVectors.json").read_text())
    found = {s["mode"]: s for s in data if s["identifier"] == oprf.SUITE and s["mode"] in MODES}
    assert set(found) == set(MODES)
    return found


@pytest.mark.parametrize("mode", MODES)
def test_derive_key_pair(suites: dict[int, dict[str, Any]], mode: int) -> None:
    suite = suites[mode]
    sk, pk = oprf.derive_key_pair(bytes.fromhex(suite["seed"]), bytes.fromhex(suite["keyInfo"]), mode)
    assert sk.hex() == suite["skSm"]
    assert pk == oprf.public_key(sk)
    if "pkSm" in suite:
        assert pk.hex() == suite["pkSm"]


def test_vector_counts(suites: dict[int, dict[str, Any]]) -> None:
    assert {mode: len(s["vectors"]) for mode, s in suites.items()} == VECTOR_COUNTS


@pytest.mark.parametrize(("mode", "index"), CASES, ids=[f"mode{m}-vector{i}" for m, i in CASES])
def test_vector(suites: dict[int, dict[str, Any]], mode: int, index: int) -> None:
    suite = suites[mode]
    vector = suite["vectors"][index]
    sk = bytes.fromhex(suite["skSm"])
    server = oprf.OprfServer(mode, sk)
    client = oprf.OprfClient(mode, server.public_key if mode == oprf.MODE_VOPRF else None)
    inputs = _hexlist(vector["Input"])
    assert len(inputs) == vector["Batch"]

    blinds, blinded = client.blind(inputs, _hexlist(vector["Blind"]))
    assert blinded == _hexlist(vector["BlindedElement"])

    r = bytes.fromhex(vector["Proof"]["r"]) if "Proof" in vector else None
    evaluated, proof = server.blind_evaluate(blinded, r)
    assert evaluated == _hexlist(vector["EvaluationElement"])
    if mode == oprf.MODE_VOPRF:
        assert proof is not None and proof.hex() == vector["Proof"]["proof"]
    else:
        assert proof is None

    outputs = client.finalize(inputs, blinds, blinded, evaluated, proof)
    assert outputs == _hexlist(vector["Output"])
    assert [server.evaluate(x) for x in inputs] == outputs
