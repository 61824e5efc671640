"""Wycheproof Ed25519 verification vectors, public-key validation and a cross-implementation check.

The vectors are read from the shared published-vectors directory through the ``vectors``
fixture; nothing is copied into the repository. All cases are checked inside one test and every
failing tcId is named in the assertion message.

Policy for Wycheproof's ``"acceptable"`` result: ``keys.verify`` promises *strict* verification
(canonical S, canonical non-small-order R and key, exact 64-byte signatures), so an acceptable
case whose flags all describe malleability, encoding or edge-value issues must be *rejected*.
An acceptable case carrying any other flag has no policy and fails the test until one is chosen.
(The file pinned today has no acceptable cases: 90 valid, 61 invalid.)

Wycheproof's Ed25519 file has no key-level flags and all of its group keys are canonical
prime-order points, so public-key validation is checked two ways: every group key must be
classified by ``is_valid_public_key`` exactly as an independent pure-Python RFC 8032 decoder
classifies it, and a set of constructed small-order, mixed-order, off-curve and non-canonical
encodings must be rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from client_sdk import keys

VECTOR_FILE = "ed25519/wycheproof_ed25519_test.json"
RESULTS = {"valid", "invalid", "acceptable"}
# Flags under which a strict verifier must reject an "acceptable" case (see module docstring).
STRICT_REJECT_FLAGS = {
    "CompressedSignature",
    "InvalidEncoding",
    "InvalidKtv",
    "InvalidSignature",
    "SignatureMalleability",
    "SignatureWithGarbage",
    "TruncatedSignature",
}


@pytest.fixture(scope="module")
def wycheproof(vectors: Path) -> dict[str, Any]:
    return json.loads((vectors / VECTOR_FILE).read_text())


def _cases(data: dict[str, Any]) -> list[tuple[bytes, dict[str, Any]]]:
    return [(bytes.fromhex(g["publicKey"]["pk"]), t) for g in data["testGroups"] for t in g["tests"]]


def _expected(case: dict[str, Any]) -> bool | None:
    """True/False for the outcome ``keys.verify`` must give, None when no policy covers the case."""
    if case["result"] == "valid":
        return True
    if case["result"] == "invalid":
        return False
    if set(case["flags"]) <= STRICT_REJECT_FLAGS:
        return False
    return None


# --- an independent reference: RFC 8032 point decoding and group arithmetic, in pure Python ---

P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
L = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)  # extended homogeneous coordinates (X, Y, Z, T)
# A point of order 8 (the torsion generator used by libsodium's small-order blocklist);
# test_reference_arithmetic checks its order rather than trusting this constant.
ORDER_8_POINT = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")

Point = tuple[int, int, int, int]


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(k: int, point: Point) -> Point:
    out = IDENTITY
    while k:
        if k & 1:
            out = _add(out, point)
        point = _add(point, point)
        k >>= 1
    return out


def _equal(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decode(data: bytes) -> Point | None:
    """RFC 8032 section 5.1.3 decoding; None for a non-canonical or off-curve encoding."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little") & ((1 << 255) - 1)
    sign = data[31] >> 7
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        if sign:
            return None
        return (0, y, 1, 0)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _encode(point: Point) -> bytes:
    zinv = pow(point[2], P - 2, P)
    x, y = point[0] * zinv % P, point[1] * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _reference_valid_key(data: bytes) -> bool:
    """Canonical encoding of a point in the prime-order subgroup, other than the identity."""
    point = _decode(data)
    return point is not None and not _equal(point, IDENTITY) and _equal(_mul(L, point), IDENTITY)


BASE = _decode((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))  # RFC 8032: y = 4/5, x even


def _small_order_points() -> list[Point]:
    torsion = _decode(ORDER_8_POINT)
    assert torsion is not None
    return [_mul(k, torsion) for k in range(8)]


def _non_canonical_encodings() -> list[bytes]:
    """y + p for every y with y + p < 2**255, with either sign bit: all name a point non-canonically."""
    out = []
    for y in range(2**255 - P):
        for sign in (0, 1):
            out.append((y + P + (sign << 255)).to_bytes(32, "little"))
    return out


def _off_curve_encoding() -> bytes:
    y = 2
    while _decode(y.to_bytes(32, "little")) is not None:
        y += 1
    return y.to_bytes(32, "little")


# --- the Wycheproof file ---


def test_vector_file_is_the_ed25519_verify_suite(wycheproof: dict[str, Any]) -> None:
    assert wycheproof["algorithm"] == "EDDSA"
    assert wycheproof["schema"] == "eddsa_verify_schema_v1.json"
    assert {g["type"] for g in wycheproof["testGroups"]} == {"EddsaVerify"}
    assert {g["publicKey"]["curve"] for g in wycheproof["testGroups"]} == {"edwards25519"}
    cases = _cases(wycheproof)
    assert len(cases) == wycheproof["numberOfTests"]
    tc_ids = [case["tcId"] for _, case in cases]
    assert len(set(tc_ids)) == len(tc_ids)
    assert {case["result"] for _, case in cases} <= RESULTS
    flags = {flag for _, case in cases for flag in case["flags"]}
    assert flags <= set(wycheproof["notes"])
    # Both outcomes are exercised, so a verifier that always answers one way cannot pass.
    assert {case["result"] for _, case in cases} >= {"valid", "invalid"}


def test_verify_matches_every_wycheproof_case(wycheproof: dict[str, Any]) -> None:
    wrong, no_policy = [], []
    for pk, case in _cases(wycheproof):
        expected = _expected(case)
        got = keys.verify(pk, bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
        if expected is None:
            no_policy.append(f"tcId {case['tcId']} ({case['result']}, flags {case['flags']}): verify gave {got}")
        elif got != expected:
            label = f"tcId {case['tcId']} ({case['result']}, flags {case['flags']}, {case['comment']!r})"
            wrong.append(f"{label}: verify gave {got}")
    assert not wrong, f"{len(wrong)} Wycheproof case(s) disagree:\n" + "\n".join(wrong)
    assert not no_policy, "acceptable case(s) with no policy for their flags:\n" + "\n".join(no_policy)


def test_cryptography_accepts_every_valid_case(wycheproof: dict[str, Any]) -> None:
    """The vectors are fed the same way to an independent implementation (OpenSSL via cryptography)."""
    rejected = []
    for pk, case in _cases(wycheproof):
        if case["result"] != "valid":
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pk).verify(bytes.fromhex(case["sig"]), bytes.fromhex(case["msg"]))
        except InvalidSignature:
            rejected.append(case["tcId"])
    assert not rejected, f"cryptography rejected valid tcIds {rejected}"


def test_group_public_keys_are_classified_like_the_reference(wycheproof: dict[str, Any]) -> None:
    wrong = []
    for group in wycheproof["testGroups"]:
        pk = bytes.fromhex(group["publicKey"]["pk"])
        expected = _reference_valid_key(pk)
        if keys.is_valid_public_key(pk) != expected:
            wrong.append(f"{pk.hex()} (tcIds {[t['tcId'] for t in group['tests']]}): reference says {expected}")
        # A group holding a valid signature must have a usable key.
        if any(t["result"] == "valid" for t in group["tests"]) and not keys.is_valid_public_key(pk):
            wrong.append(f"{pk.hex()} carries valid signatures but is_valid_public_key rejects it")
    assert not wrong, "\n".join(wrong)


# --- public-key validation on constructed encodings ---


def test_reference_arithmetic() -> None:
    assert BASE is not None
    assert _encode(BASE).hex() == "5866666666666666666666666666666666666666666666666666666666666666"
    assert _equal(_mul(L, BASE), IDENTITY)
    torsion = _decode(ORDER_8_POINT)
    assert torsion is not None
    assert _equal(_mul(8, torsion), IDENTITY)
    assert not _equal(_mul(4, torsion), IDENTITY)
    assert len({_encode(pt) for pt in _small_order_points()}) == 8
    key = keys.SigningKey.generate().public_key
    assert _encode(_decode(key)) == key  # type: ignore[arg-type]


@pytest.mark.parametrize("k", range(8))
def test_small_order_keys_are_rejected(k: int) -> None:
    encoded = _encode(_small_order_points()[k])
    assert not _reference_valid_key(encoded)
    assert not keys.is_valid_public_key(encoded)
    # The sign-flipped encoding (x = -x; for x == 0 it is the non-canonical "negative zero").
    flipped = bytes([*encoded[:31], encoded[31] ^ 0x80])
    assert not keys.is_valid_public_key(flipped)


def test_non_canonical_encodings_are_rejected() -> None:
    accepted = [enc.hex() for enc in _non_canonical_encodings() if keys.is_valid_public_key(enc)]
    assert not accepted


def test_mixed_order_and_off_curve_keys_are_rejected() -> None:
    assert BASE is not None
    for multiple in (1, 2, 12345):
        point = _mul(multiple, BASE)
        assert keys.is_valid_public_key(_encode(point)), "prime-order control must be accepted"
        for torsion in _small_order_points()[1:]:
            mixed = _encode(_add(point, torsion))
            assert not _reference_valid_key(mixed)
            assert not keys.is_valid_public_key(mixed), mixed.hex()
    off_curve = _off_curve_encoding()
    assert not _reference_valid_key(off_curve)
    assert not keys.is_valid_public_key(off_curve)


def test_wrong_length_keys_are_rejected() -> None:
    key = keys.SigningKey.generate()
    assert keys.is_valid_public_key(key.public_key)
    for bad in (b"", key.public_key[:31], key.public_key + b"\x00"):
        assert not keys.is_valid_public_key(bad)
        assert not keys.verify(bad, b"m", key.sign(b"m"))


def test_identity_key_forgery_is_rejected() -> None:
    """With A = R = identity and S = 0, a cofactorless lax verifier accepts any message."""
    identity = _encode(IDENTITY)
    forged = identity + bytes(32)
    for message in (b"", b"pay alice", bytes(range(256))):
        assert not keys.verify(identity, message, forged)


# --- cross-implementation signing ---


@pytest.mark.parametrize("message", [b"", b"abc", bytes(range(256)) * 4], ids=["empty", "short", "1KiB"])
def test_generated_key_interoperates_with_cryptography(message: bytes) -> None:
    key = keys.SigningKey.generate()
    assert keys.is_valid_public_key(key.public_key)
    assert _reference_valid_key(key.public_key)
    sig = key.sign(message)
    assert len(sig) == keys.SIGNATURE_BYTES
    assert keys.verify(key.public_key, message, sig)
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(sig, message)  # raises if rejected

    # Ed25519 is deterministic: OpenSSL with the same private key produces the same bytes.
    other = serialization.load_pem_private_key(key.to_pem(), password=None)
    assert isinstance(other, Ed25519PrivateKey)
    assert other.sign(message) == sig

    assert not keys.verify(key.public_key, message + b"x", sig)
    assert not keys.verify(keys.SigningKey.generate().public_key, message, sig)
