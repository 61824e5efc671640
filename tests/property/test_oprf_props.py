"""Property tests for client_sdk.oprf: round trips, proof soundness, input validation."""

from __future__ import annotations

import pysodium
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from client_sdk import oprf
from client_sdk.errors import OprfError, ProofError

MODES = st.sampled_from([oprf.MODE_OPRF, oprf.MODE_VOPRF])
SEEDS = st.binary(min_size=32, max_size=32)
INPUTS = st.lists(st.binary(max_size=64), min_size=1, max_size=8)
PROPS = settings(max_examples=50, deadline=None)


def _pair(mode: int, seed: bytes) -> tuple[oprf.OprfClient, oprf.OprfServer]:
    sk, pk = oprf.derive_key_pair(seed, b"props", mode)
    server = oprf.OprfServer(mode, sk)
    assert server.public_key == pk
    return oprf.OprfClient(mode, pk if mode == oprf.MODE_VOPRF else None), server


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@PROPS
@given(mode=MODES, seed=SEEDS, inputs=INPUTS)
def test_round_trip_matches_evaluate(mode: int, seed: bytes, inputs: list[bytes]) -> None:
    client, server = _pair(mode, seed)
    blinds, blinded = client.blind(inputs)
    evaluated, proof = server.blind_evaluate(blinded)
    assert (proof is None) == (mode == oprf.MODE_OPRF)
    outputs = client.finalize(inputs, blinds, blinded, evaluated, proof)
    assert outputs == [server.evaluate(x) for x in inputs]
    assert all(len(o) == oprf.OUTPUT_BYTES for o in outputs)


@settings(max_examples=4, deadline=None)
@given(seed=SEEDS, size=st.integers(oprf.PARALLEL_THRESHOLD, 3 * oprf.PARALLEL_THRESHOLD))
def test_parallel_batches_match_serial(seed: bytes, size: int) -> None:
    client, server = _pair(oprf.MODE_VOPRF, seed)
    inputs = [i.to_bytes(4, "big") for i in range(size)]
    blinds, blinded = client.blind(inputs)
    r = pysodium.crypto_core_ristretto255_scalar_random()
    evaluated, proof = server.blind_evaluate(blinded, r)
    outputs = client.finalize(inputs, blinds, blinded, evaluated, proof)
    saved, oprf.PARALLEL_THRESHOLD = oprf.PARALLEL_THRESHOLD, 10**9
    try:
        assert server.blind_evaluate(blinded, r) == (evaluated, proof)
        assert client.finalize(inputs, blinds, blinded, evaluated, proof) == outputs
    finally:
        oprf.PARALLEL_THRESHOLD = saved
    assert outputs == [server.evaluate(x) for x in inputs]


@PROPS
@given(seed=SEEDS, inputs=INPUTS, bit=st.integers(0, 8 * 64 - 1))
def test_flipped_proof_bit_fails(seed: bytes, inputs: list[bytes], bit: int) -> None:
    client, server = _pair(oprf.MODE_VOPRF, seed)
    blinds, blinded = client.blind(inputs)
    evaluated, proof = server.blind_evaluate(blinded)
    assert proof is not None
    with pytest.raises(ProofError):
        client.finalize(inputs, blinds, blinded, evaluated, _flip(proof, bit))


@PROPS
@given(seed=SEEDS, inputs=INPUTS, data=st.data())
def test_flipped_evaluated_element_fails(seed: bytes, inputs: list[bytes], data: st.DataObject) -> None:
    client, server = _pair(oprf.MODE_VOPRF, seed)
    blinds, blinded = client.blind(inputs)
    evaluated, proof = server.blind_evaluate(blinded)
    index = data.draw(st.integers(0, len(evaluated) - 1))
    evaluated[index] = _flip(evaluated[index], data.draw(st.integers(0, 8 * 32 - 1)))
    with pytest.raises((ProofError, OprfError)):
        client.finalize(inputs, blinds, blinded, evaluated, proof)


@PROPS
@given(mode=MODES, seeds=st.lists(SEEDS, min_size=2, max_size=2, unique=True), x=st.binary())
def test_different_keys_give_different_outputs(mode: int, seeds: list[bytes], x: bytes) -> None:
    (_, one), (client, two) = _pair(mode, seeds[0]), _pair(mode, seeds[1])
    blinds, blinded = client.blind([x])
    evaluated, proof = two.blind_evaluate(blinded)
    [output] = client.finalize([x], blinds, blinded, evaluated, proof)
    assert output == two.evaluate(x) != one.evaluate(x)


@PROPS
@given(seeds=st.lists(SEEDS, min_size=2, max_size=2, unique=True), inputs=INPUTS)
def test_proof_from_other_key_fails(seeds: list[bytes], inputs: list[bytes]) -> None:
    client, _ = _pair(oprf.MODE_VOPRF, seeds[0])
    _, other = _pair(oprf.MODE_VOPRF, seeds[1])
    blinds, blinded = client.blind(inputs)
    evaluated, proof = other.blind_evaluate(blinded)
    with pytest.raises(ProofError):
        client.finalize(inputs, blinds, blinded, evaluated, proof)


@PROPS
@given(mode=MODES, seed=SEEDS, junk=st.binary(min_size=32, max_size=32))
def test_invalid_element_bytes_rejected(mode: int, seed: bytes, junk: bytes) -> None:
    assume(not pysodium.crypto_core_ristretto255_is_valid_point(junk))
    client, server = _pair(mode, seed)
    bad = [junk, bytes(32), junk[:31], junk + b"\x00"]
    blinds, blinded = client.blind([b"x"])
    for element in bad:
        with pytest.raises(OprfError):
            server.blind_evaluate([blinded[0], element])
        with pytest.raises(OprfError):
            client.finalize([b"x"], blinds, blinded, [element], bytes(64))
        with pytest.raises(OprfError):
            oprf.OprfClient(oprf.MODE_VOPRF, element)


@PROPS
@given(seed=SEEDS, info=st.binary(max_size=40), mode=MODES)
def test_derive_key_pair_is_deterministic(seed: bytes, info: bytes, mode: int) -> None:
    sk, pk = oprf.derive_key_pair(seed, info, mode)
    assert (sk, pk) == oprf.derive_key_pair(seed, info, mode)
    assert oprf.public_key(sk) == pk
    assert oprf.derive_key_pair(seed, info, 1 - mode) != (sk, pk)


def test_bad_arguments_rejected() -> None:
    sk, pk = oprf.generate_key_pair()
    assert oprf.public_key(sk) == pk and len(sk) == oprf.SCALAR_BYTES
    for bad_mode in (2, -1):
        with pytest.raises(OprfError):
            oprf.OprfServer(bad_mode, sk)
    with pytest.raises(OprfError):
        oprf.OprfClient(oprf.MODE_VOPRF)
    with pytest.raises(OprfError):
        oprf.OprfServer(oprf.MODE_OPRF, bytes(32))
    with pytest.raises(OprfError):
        oprf.OprfServer(oprf.MODE_OPRF, b"\xff" * 32)
    with pytest.raises(OprfError):
        oprf.derive_key_pair(b"short", b"", oprf.MODE_OPRF)
    client = oprf.OprfClient(oprf.MODE_VOPRF, pk)
    blinds, blinded = client.blind([b"a"])
    evaluated, proof = oprf.OprfServer(oprf.MODE_VOPRF, sk).blind_evaluate(blinded)
    with pytest.raises(ProofError):
        client.finalize([b"a"], blinds, blinded, evaluated, None)
    with pytest.raises(ProofError):
        client.finalize([b"a"], blinds, blinded, evaluated, (proof or b"")[:63])
    with pytest.raises(OprfError):
        client.finalize([b"a", b"b"], blinds, blinded, evaluated, proof)
    with pytest.raises(OprfError):
        client.blind([b"a"], [bytes(32)])
