"""DSSE envelopes (client_sdk.envelope) and key files (client_sdk.keys)."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from google.protobuf.message import Message

from client_sdk import envelope, keys, secure_files
from client_sdk.envelope import EnvelopeError
from client_sdk.errors import CredentialsError, VerificationError
from client_sdk.wire import signals_pb2


@pytest.fixture(scope="module")
def key() -> keys.SigningKey:
    return keys.SigningKey.generate()


@pytest.fixture(scope="module")
def other_key() -> keys.SigningKey:
    return keys.SigningKey.generate()


def _envelope(payload: bytes, payload_type: str, sigs: list[tuple[str, bytes]]) -> bytes:
    env = signals_pb2.Envelope(payload=payload, payload_type=payload_type)
    for keyid, sig in sigs:
        env.signatures.add(keyid=keyid, sig=sig)
    return env.SerializeToString()


def _reason(raw: bytes) -> str:
    with pytest.raises(EnvelopeError) as info:
        envelope.open_envelope(raw)
    return info.value.reason


# --- PAE ---


def test_pae_matches_dsse_spec_example() -> None:
    # secure-systems-lab/dsse protocol.md, "Test Vectors".
    assert envelope.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_edge_cases() -> None:
    assert envelope.pae("", b"") == b"DSSEv1 0  0 "
    # LEN counts UTF-8 bytes, not characters, and the body is copied verbatim.
    assert envelope.pae("t\u00e9", b"\x00 \xff") == b"DSSEv1 3 t\xc3\xa9 3 \x00 \xff"
    assert envelope.pae("a", bytes(10)) == b"DSSEv1 1 a 10 " + bytes(10)  # no leading zeros


# --- round trips ---


BODIES = [
    signals_pb2.SignalBody(
        submitter="member-1",
        type=signals_pb2.SIGNAL_TYPE_EMAIL,
        value=b"\x01" * 32,
        category="spam",
        confidence=90,
        created_at=1_700_000_000,
        labels=["a", "b"],
        oprf_epoch=3,
    ),
    signals_pb2.RetractBody(submitter="member-1", signal_id=42, reason="mistake", created_at=1_700_000_001),
    signals_pb2.FeedbackBody(
        submitter="member-2", signal_id=42, verdict=signals_pb2.VERDICT_CONFIRMED, created_at=1_700_000_002
    ),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_seal_body_open_verify_body_round_trip(key: keys.SigningKey, body: Message) -> None:
    raw = envelope.seal_body(body, key)
    opened = envelope.open_envelope(raw)
    assert opened.payload_type in envelope.BODY_TYPES
    assert envelope.BODY_TYPES[opened.payload_type] is type(body)
    assert opened.key_id == key.key_id == keys.key_id_for(key.public_key)
    assert opened.payload == body.SerializeToString()
    assert opened.signed_message() == envelope.pae(opened.payload_type, opened.payload)
    opened.verify(key.public_key)
    assert opened.body() == body


def test_seal_open_round_trip_with_arbitrary_type(key: keys.SigningKey) -> None:
    raw = envelope.seal("application/x-anything", b"\x00payload\xff", key)
    opened = envelope.open_envelope(raw)
    assert (opened.payload_type, opened.payload) == ("application/x-anything", b"\x00payload\xff")
    opened.verify(key.public_key)
    assert keys.verify(key.public_key, envelope.pae(opened.payload_type, opened.payload), opened.signature)


def test_seal_body_rejects_non_body(key: keys.SigningKey) -> None:
    with pytest.raises(TypeError):
        envelope.seal_body(signals_pb2.Envelope(), key)


# --- verification failures ---


def test_wrong_key_fails(key: keys.SigningKey, other_key: keys.SigningKey) -> None:
    opened = envelope.open_envelope(envelope.seal_body(BODIES[0], key))
    with pytest.raises(VerificationError) as info:
        opened.verify(other_key.public_key)
    assert not isinstance(info.value, EnvelopeError)
    assert key.key_id in str(info.value)


def test_tampered_payload_fails(key: keys.SigningKey) -> None:
    opened = envelope.open_envelope(envelope.seal_body(BODIES[0], key))
    tampered = envelope.OpenedEnvelope(opened.payload_type, opened.payload + b"\x00", opened.key_id, opened.signature)
    with pytest.raises(VerificationError):
        tampered.verify(key.public_key)


def test_payload_type_is_authenticated(key: keys.SigningKey) -> None:
    """Relabelling a signed body as another type (same bytes, same signature) must not verify."""
    opened = envelope.open_envelope(envelope.seal_body(BODIES[1], key))
    relabelled = envelope.OpenedEnvelope(envelope.PAYLOAD_FEEDBACK, opened.payload, opened.key_id, opened.signature)
    with pytest.raises(VerificationError):
        relabelled.verify(key.public_key)


def test_key_id_is_not_authenticated(key: keys.SigningKey) -> None:
    """DSSE's KEYID is a hint only: changing it does not break the signature."""
    opened = envelope.open_envelope(envelope.seal("t", b"p", key))
    raw = _envelope(b"p", "t", [("someone-else", opened.signature)])
    reopened = envelope.open_envelope(raw)
    assert reopened.key_id == "someone-else"
    reopened.verify(key.public_key)


# --- malformed envelopes ---


def test_zero_signatures() -> None:
    assert _reason(_envelope(b"p", envelope.PAYLOAD_SIGNAL, [])) == "signature_count"
    assert _reason(b"") == "signature_count"  # the empty message parses as an empty Envelope


def test_two_signatures(key: keys.SigningKey, other_key: keys.SigningKey) -> None:
    msg = envelope.pae("t", b"p")
    raw = _envelope(b"p", "t", [(key.key_id, key.sign(msg)), (other_key.key_id, other_key.sign(msg))])
    assert _reason(raw) == "signature_count"
    # Even two copies of the same valid signature are refused.
    raw = _envelope(b"p", "t", [(key.key_id, key.sign(msg))] * 2)
    assert _reason(raw) == "signature_count"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xff\xff",  # an over-long varint tag
        b"\x0a\x05ab",  # payload whose length runs past the end
        b"\x12\x01\xff",  # payload_type that is not UTF-8
        b"\x1a\x03\x0a",  # a signature whose nested message is truncated
        b"\x07",  # field 0 is not a valid field number
    ],
    ids=["bad-varint", "truncated-length", "bad-utf8-type", "truncated-signature", "field-zero"],
)
def test_garbage_bytes(raw: bytes) -> None:
    assert _reason(raw) == "envelope_unparseable"


def test_random_garbage_never_escapes_as_another_exception() -> None:
    rng = random.Random(1234)
    for _ in range(500):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        try:
            envelope.open_envelope(raw)
        except EnvelopeError as exc:
            assert exc.reason in {"envelope_unparseable", "signature_count", "signature_malformed"}


@pytest.mark.parametrize("length", [0, 1, 63, 65, 128])
def test_wrong_signature_length(key: keys.SigningKey, length: int) -> None:
    sig = (key.sign(envelope.pae("t", b"p")) * 2)[:length]
    assert _reason(_envelope(b"p", "t", [(key.key_id, sig)])) == "signature_malformed"


def test_envelope_error_is_a_verification_error() -> None:
    with pytest.raises(VerificationError):
        envelope.open_envelope(b"\xff")


# --- body parsing ---


def test_unknown_payload_type_body(key: keys.SigningKey) -> None:
    opened = envelope.open_envelope(envelope.seal("sigx.unknown/v1", b"", key))
    opened.verify(key.public_key)  # the signature is fine; the type is not supported
    with pytest.raises(EnvelopeError) as info:
        opened.body()
    assert info.value.reason == "unknown_payload_type"


def test_payload_type_match_is_exact(key: keys.SigningKey) -> None:
    opened = envelope.open_envelope(envelope.seal(envelope.PAYLOAD_SIGNAL.upper(), b"", key))
    with pytest.raises(EnvelopeError) as info:
        opened.body()
    assert info.value.reason == "unknown_payload_type"


def test_unparseable_body(key: keys.SigningKey) -> None:
    opened = envelope.open_envelope(envelope.seal(envelope.PAYLOAD_SIGNAL, b"\xff\xff\xff", key))
    opened.verify(key.public_key)
    with pytest.raises(EnvelopeError) as info:
        opened.body()
    assert info.value.reason == "body_unparseable"


# --- key files ---


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610, 0o601, 0o777])
def test_check_private_file_rejects_group_or_other_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"x")
    path.chmod(mode)
    with pytest.raises(CredentialsError, match="chmod 600"):
        secure_files.check_private_file(path)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700, 0o200])
def test_check_private_file_accepts_owner_only(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"x")
    path.chmod(mode)
    secure_files.check_private_file(path)


def test_check_private_file_missing(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="does not exist"):
        secure_files.check_private_file(tmp_path / "absent.pem")


def test_write_private_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "sub" / "dir" / "key.pem"
        secure_files.write_private_file(path, b"secret")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"secret"
    assert _mode(path) == 0o600


def test_write_private_file_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"old contents, longer than the new")
    path.chmod(0o644)
    secure_files.write_private_file(path, b"new")
    assert path.read_bytes() == b"new"
    assert _mode(path) == 0o600
    secure_files.check_private_file(path)


def test_signing_key_load_round_trip(tmp_path: Path, key: keys.SigningKey) -> None:
    path = tmp_path / "signing.pem"
    secure_files.write_private_file(path, key.to_pem())
    loaded = keys.SigningKey.load(path)
    assert loaded.public_key == key.public_key
    assert loaded.key_id == key.key_id
    assert loaded.sign(b"m") == key.sign(b"m")
    assert keys.verify(key.public_key, b"m", loaded.sign(b"m"))


def test_signing_key_load_refuses_readable_file(tmp_path: Path, key: keys.SigningKey) -> None:
    path = tmp_path / "signing.pem"
    secure_files.write_private_file(path, key.to_pem())
    path.chmod(0o644)
    with pytest.raises(CredentialsError):
        keys.SigningKey.load(path)


def test_signing_key_from_pem_rejects_garbage_and_other_algorithms() -> None:
    with pytest.raises(CredentialsError, match="not a PEM private key"):
        keys.SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    ec_pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(CredentialsError, match="not an Ed25519 key"):
        keys.SigningKey.from_pem(ec_pem)


def test_rpc_errors_with_inconsistent_details_still_map() -> None:
    """A status whose rich details disagree with it (a proxy rewrote it) maps by its code, never ValueError."""
    from google.rpc import status_pb2

    from client_sdk.errors import QuotaExceededError, from_rpc_error

    class _Call(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.RESOURCE_EXHAUSTED

        def details(self) -> str:
            return "trailer too large"

        def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
            other = status_pb2.Status(code=3, message="something else").SerializeToString()
            return (("grpc-status-details-bin", other),)

    err = from_rpc_error(_Call())
    assert isinstance(err, QuotaExceededError) and err.message == "trailer too large"
