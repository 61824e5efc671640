"""Ed25519 signing keys: the one module that signs.

Keys, PEM and key files stay with ``cryptography``; the hot verification path
uses libsodium (through ``pysodium``), whose ``crypto_sign_verify_detached``
rejects non-canonical signatures and small-order keys and releases the GIL.
"""

from __future__ import annotations

import ctypes
import hashlib
from concurrent.futures import Executor
from pathlib import Path

import pysodium
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.errors import CredentialsError
from client_sdk.secure_files import check_private_file

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

_sodium = pysodium.sodium
_sodium.crypto_core_ed25519_is_valid_point.argtypes = [ctypes.c_char_p]
_sodium.crypto_core_ed25519_is_valid_point.restype = ctypes.c_int
_sodium.crypto_sign_verify_detached.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulonglong,
    ctypes.c_char_p,
]
_sodium.crypto_sign_verify_detached.restype = ctypes.c_int


def key_id_for(public_key: bytes) -> str:
    """The key id of a raw Ed25519 public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


#: The seq of an event not yet accepted: after every event in the log.
NEXT_EVENT = 2**63


def window_admits(not_before: int, registered_seq: int, ended_seq: int, seq: int, t: float) -> bool:
    """The one validity rule for a signing key, used by the exchange, the SDK and the auditor alike.

    A key signs the events that come after the admin event that registered it (``registered_seq``) and
    before the one that retired or revoked it (``ended_seq``; 0: still open), in the log's order — which a
    one-second clock cannot blur, as an event accepted in the same second as a later retirement shows —
    and none dated before its ``not_before``. For an event being accepted now, ``seq`` is NEXT_EVENT: the
    key must not have been ended at all.
    """
    return registered_seq <= seq and (not ended_seq or seq < ended_seq) and t >= not_before


def is_valid_public_key(public_key: bytes) -> bool:
    """True for a canonical, prime-order-subgroup Ed25519 point (no small-order keys)."""
    return len(public_key) == PUBLIC_KEY_BYTES and _sodium.crypto_core_ed25519_is_valid_point(public_key) == 1


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check an Ed25519 signature (strict: canonical S, no small-order R or key)."""
    if len(signature) != SIGNATURE_BYTES or len(public_key) != PUBLIC_KEY_BYTES:
        return False
    return _sodium.crypto_sign_verify_detached(signature, message, len(message), public_key) == 0


class SigningKey:
    """A member's Ed25519 signing key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id: str = key_id_for(self.public_key)
        seed = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self._sodium_sk = seed + self.public_key

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Load a PKCS#8 PEM Ed25519 private key; raises CredentialsError."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise CredentialsError(f"signing key is not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CredentialsError("signing key is not an Ed25519 key")
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Load a key file, refusing one that others can read (mode must be 0600 or stricter)."""
        check_private_file(path)
        return cls.from_pem(path.read_bytes())

    def to_pem(self) -> bytes:
        """PKCS#8 PEM, unencrypted (the file's permissions protect it)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def sign(self, message: bytes) -> bytes:
        """A detached Ed25519 signature over ``message``."""
        return pysodium.crypto_sign_detached(message, self._sodium_sk)


def verify_many(
    items: list[tuple[bytes, bytes, bytes]], executor: Executor | None = None, chunk: int = 128
) -> list[bool]:
    """Verify (public_key, message, signature) triples, spread over ``executor``'s threads.

    libsodium's verify releases the GIL, so threads give real parallelism.
    """
    if executor is None or len(items) <= chunk:
        return [verify(*item) for item in items]
    parts = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    results: list[bool] = []
    for part in executor.map(lambda p: [verify(*item) for item in p], parts):
        results.extend(part)
    return results
