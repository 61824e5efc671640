"""Property tests for the parser of a member's TLS public key (``IssueCertificate.tls_public_key``):
it answers every input with a P-256 key or a ValueError, and a key it accepts is exactly the bytes it was
given (canonical DER: what the certificate will certify is what the operator's machine made)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.pki.ca import parse_tls_public_key

PROPS = settings(max_examples=200, deadline=None)
DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
GOOD_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
GOOD = GOOD_KEY.public_bytes(DER, SPKI)


def _compressed_spki(key: ec.EllipticCurvePublicKey) -> bytes:
    """The same key as a SubjectPublicKeyInfo with a compressed point: valid DER, but not the canonical form."""
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    algorithm = GOOD[2:23]  # SEQUENCE { id-ecPublicKey, prime256v1 }
    bit_string = bytes([0x03, len(point) + 1, 0x00]) + point
    body = algorithm + bit_string
    return bytes([0x30, len(body)]) + body


def _accepts_exactly(data: bytes) -> bool:
    """True if accepted (and then it is this very P-256 key), False if refused with a ValueError."""
    try:
        key = parse_tls_public_key(data)
    except ValueError as exc:
        assert str(exc)  # says what is wrong
        return False
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.public_bytes(DER, SPKI) == data
    return True


@PROPS
@given(st.binary(max_size=200))
def test_random_bytes_are_refused(data: bytes) -> None:
    assert not _accepts_exactly(data)


@PROPS
@given(st.integers(0, len(GOOD) * 8 - 1))
def test_a_flipped_bit_is_refused_or_another_exact_p256_key(bit: int) -> None:
    data = bytearray(GOOD)
    data[bit // 8] ^= 1 << (bit % 8)
    if _accepts_exactly(bytes(data)):  # a flip inside the point may land on another curve point
        assert parse_tls_public_key(bytes(data)) != GOOD_KEY


@PROPS
@given(st.integers(0, len(GOOD) - 1))
def test_truncation_is_refused(cut: int) -> None:
    assert not _accepts_exactly(GOOD[:cut])


@PROPS
@given(st.binary(min_size=1, max_size=16))
def test_anything_appended_is_refused(tail: bytes) -> None:
    assert not _accepts_exactly(GOOD + tail)


@pytest.mark.parametrize(
    "other",
    [
        ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(DER, SPKI),
        ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(DER, SPKI),
        rsa.generate_private_key(65537, 2048).public_key().public_bytes(DER, SPKI),
        GOOD_KEY.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint),
        _compressed_spki(GOOD_KEY),
    ],
    ids=["p384", "ed25519", "rsa", "bare-compressed-point", "compressed-spki"],
)
def test_other_keys_are_refused(other: bytes) -> None:
    assert not _accepts_exactly(other)


def test_round_trip() -> None:
    assert _accepts_exactly(GOOD)
    assert serialization.load_der_public_key(_compressed_spki(GOOD_KEY)) == GOOD_KEY  # what the check is for
