"""Property tests for the parser of a member's TLS public key (``IssueCertificate.tls_public_key``):
it answers every input with a P-256 key or a ValueError, and takes back exactly what it is given."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.ca import parse_tls_public_key

PROPS = settings(max_examples=200, deadline=None)
DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
GOOD = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(DER, SPKI)


@PROPS
@given(st.binary(max_size=200))
def test_random_bytes_are_a_key_or_a_value_error(data: bytes) -> None:
    try:
        key = parse_tls_public_key(data)
    except ValueError:
        return
    assert isinstance(key.curve, ec.SECP256R1)


@PROPS
@given(st.integers(0, len(GOOD) * 8 - 1))
def test_a_flipped_bit_is_refused_or_a_valid_p256_key(bit: int) -> None:
    data = bytearray(GOOD)
    data[bit // 8] ^= 1 << (bit % 8)
    try:
        key = parse_tls_public_key(bytes(data))
    except ValueError:
        return
    assert isinstance(key.curve, ec.SECP256R1)  # a flip inside the point may land on another curve point


@PROPS
@given(st.integers(0, len(GOOD) - 1))
def test_truncation_is_refused(cut: int) -> None:
    try:
        parse_tls_public_key(GOOD[:cut])
    except ValueError:
        return
    raise AssertionError("a truncated key was accepted")


def test_round_trip() -> None:
    assert parse_tls_public_key(GOOD).public_bytes(DER, SPKI) == GOOD
