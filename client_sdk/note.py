"""C2SP signed notes (Ed25519) and C2SP tlog checkpoints.

A signed note (https://c2sp.org/signed-note) is UTF-8 text ending in a newline, a blank line,
then one or more signature lines ``— <key name> <base64(key ID || signature)>``, the key ID
being ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` for Ed25519. A checkpoint
(https://c2sp.org/tlog-checkpoint) is a note whose text is the log's origin, its tree size in
decimal and its base64 root hash, one per line, optionally followed by extension lines.

Keys are written as in golang.org/x/mod/sumdb/note: a verifier key is
``name+hexkeyid+base64(0x01 || public key)``. Signing goes through a callback, so private keys
stay in :mod:`client_sdk.keys`; verification uses :func:`client_sdk.keys.verify` (strict RFC 8032).

Parsing is strict: every malformed input raises :class:`NoteError`, naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from client_sdk import keys
from client_sdk.errors import VerificationError

__all__ = [
    "ALG_ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteError",
    "NoteSignature",
    "key_hash",
    "open_checkpoint",
    "open_note",
    "parse_note",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "signer_key_from_text",
    "unverified_checkpoint",
    "verifier_key",
]

ALG_ED25519 = 0x01
"""C2SP signed-note signature type byte for Ed25519."""

MAX_NOTE_BYTES = 1 << 20
"""Largest signed note accepted, in UTF-8 bytes."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (C2SP asks verifiers to accept at least 16)."""

MAX_CHECKPOINT_SIZE = (1 << 64) - 1
"""Largest tree size a checkpoint may state (tree sizes are uint64 everywhere else)."""

SIG_PREFIX = "\u2014 "  # em dash, space
_ROOT_BYTES = 32
_KEY_HASH_BYTES = 4
_FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(VerificationError):
    """A signed note, key or checkpoint is malformed or does not verify; the message says why."""


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note, not yet verified."""

    name: str
    key_hash: bytes
    signature: bytes


# --- names and keys --------------------------------------------------------------------------


def _check_name(name: str, what: str = "key name") -> None:
    if not isinstance(name, str) or not name:
        raise NoteError(f"{what} must be a non-empty string")
    if "+" in name:
        raise NoteError(f"{what} {name!r} contains '+'")
    if any(ch.isspace() for ch in name):
        raise NoteError(f"{what} {name!r} contains a space")
    if _FORBIDDEN_CONTROLS.search(name):
        raise NoteError(f"{what} {name!r} contains a control character")
    _utf8(name, what)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8 (lone surrogate)") from None


def _b64decode(text: str, what: str) -> bytes:
    """Standard, padded, canonical base64 (the only form an encoder produces)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_public_key(public_key: bytes) -> bytes:
    if not isinstance(public_key, bytes | bytearray | memoryview):
        raise NoteError(f"public key must be bytes, got {type(public_key).__name__}")
    pk = bytes(public_key)
    if len(pk) != keys.PUBLIC_KEY_BYTES:
        raise NoteError(f"Ed25519 public key must be {keys.PUBLIC_KEY_BYTES} bytes, got {len(pk)}")
    return pk


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of an Ed25519 key: ``SHA-256(name || "\\n" || 0x01 || public key)[:4]``."""
    _check_name(name)
    pk = _check_public_key(public_key)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + pk).digest()[:_KEY_HASH_BYTES]


def verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key text ``name+<8 hex digits of key ID>+base64(0x01 || public key)``."""
    kh = key_hash(name, public_key)
    return f"{name}+{kh.hex()}+{_b64(bytes([ALG_ED25519]) + bytes(public_key))}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """``(name, public_key)`` from a verifier key; raises NoteError unless well formed, Ed25519,
    a valid public key, and its key ID matches the name and key."""
    if not isinstance(text, str):
        raise NoteError("verifier key must be a string")
    parts = text.split("+", 2)  # the base64 key may itself contain '+'
    if len(parts) != 3:
        raise NoteError("verifier key must have the form name+keyid+key")
    name, hash_hex, key_b64 = parts
    _check_name(name)
    if not _HEX8.fullmatch(hash_hex):
        raise NoteError("verifier key ID must be 8 hex digits")
    raw = _b64decode(key_b64, "verifier key")
    if len(raw) != 1 + keys.PUBLIC_KEY_BYTES or raw[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key (type 0x01 and 32 bytes)")
    public_key = raw[1:]
    if not keys.is_valid_public_key(public_key):
        raise NoteError("verifier key is not a valid Ed25519 public key")
    if key_hash(name, public_key) != bytes.fromhex(hash_hex):
        raise NoteError("verifier key ID does not match its name and key")
    return name, public_key


def signer_key_from_text(text: str) -> tuple[str, bytes]:
    """``(name, seed)`` from a sumdb-style signer key ``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``.

    The 32-byte seed is the Ed25519 private key; the key ID is checked against the public key
    derived from it. Raises NoteError if anything is off.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(text, str):
        raise NoteError("signer key must be a string")
    parts = text.split("+", 4)  # the base64 seed may itself contain '+'
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("signer key must have the form PRIVATE+KEY+name+keyid+key")
    name, hash_hex, key_b64 = parts[2:]
    _check_name(name)
    if not _HEX8.fullmatch(hash_hex):
        raise NoteError("signer key ID must be 8 hex digits")
    raw = _b64decode(key_b64, "signer key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("signer key is not an Ed25519 key (type 0x01 and a 32-byte seed)")
    seed = raw[1:]
    public_key = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    if key_hash(name, public_key) != bytes.fromhex(hash_hex):
        raise NoteError("signer key ID does not match its name and key")
    return name, seed


# --- notes ----------------------------------------------------------------------------------


def _check_text(text: str) -> None:
    """The rules for a note's text: non-empty, ends in newline, no other ASCII controls, UTF-8."""
    if not isinstance(text, str):
        raise NoteError("note text must be a string")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _FORBIDDEN_CONTROLS.search(text):
        raise NoteError("note text contains an ASCII control character other than newline")
    if len(_utf8(text, "note text")) > MAX_NOTE_BYTES:
        raise NoteError(f"note text is larger than {MAX_NOTE_BYTES} bytes")


def sign_note(text: str, name: str, sign: Callable[[bytes], bytes], public_key: bytes) -> str:
    """Sign ``text`` as a C2SP note by the Ed25519 key ``name``/``public_key``.

    ``sign(message)`` must return the Ed25519 signature of ``message`` (the UTF-8 text) by the
    private key matching ``public_key``; the signature is checked before use. Returns
    ``text + "\\n" + "— name base64(keyid || signature)\\n"``.
    """
    _check_text(text)
    kh = key_hash(name, public_key)
    message = text.encode("utf-8")
    signature = bytes(sign(message))
    if not keys.verify(bytes(public_key), message, signature):
        raise NoteError(f"the signing callback's signature does not verify under the public key of {name}")
    return f"{text}\n{SIG_PREFIX}{name} {_b64(kh + signature)}\n"


def parse_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, without verifying anything.

    Strict C2SP syntax: valid UTF-8 of at most :data:`MAX_NOTE_BYTES`, no ASCII control characters
    but newline, text ending in a newline, the last blank line separating it from 1 to
    :data:`MAX_SIGNATURES` lines ``— name base64(4-byte key ID || signature)``, and nothing else.
    """
    if isinstance(note, bytes | bytearray | memoryview):
        raw = bytes(note)
        if len(raw) > MAX_NOTE_BYTES:
            raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            note = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise NoteError("note must be text")
    if len(_utf8(note, "note")) > MAX_NOTE_BYTES:
        raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    if _FORBIDDEN_CONTROLS.search(note):
        raise NoteError("note contains an ASCII control character other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("note has no signatures")
    if not block.endswith("\n"):
        raise NoteError("note's last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures: list[NoteSignature] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"signature line {number} does not start with an em dash and a space")
        name, space, sig_b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError(f"signature line {number} has no signature after the key name")
        _check_name(name, f"signature line {number}'s key name")
        raw_sig = _b64decode(sig_b64, f"signature line {number}")
        if len(raw_sig) <= _KEY_HASH_BYTES:
            raise NoteError(f"signature line {number} is too short to hold a key ID and a signature")
        signatures.append(NoteSignature(name, raw_sig[:_KEY_HASH_BYTES], raw_sig[_KEY_HASH_BYTES:]))
    return text, signatures


def open_note(note: str | bytes, name: str, public_key: bytes) -> str:
    """The text of ``note`` if it carries a valid signature by the Ed25519 key ``name``/``public_key``.

    Signatures by other keys (a different name or key ID) are ignored, as C2SP requires. Raises
    NoteError if the note is malformed, if a signature by this key fails to verify, or if there is
    no signature by this key.
    """
    expected_hash = key_hash(name, public_key)
    pk = bytes(public_key)
    text, signatures = parse_note(note)
    message = text.encode("utf-8")
    verified = False
    for sig in signatures:
        if sig.name != name or sig.key_hash != expected_hash:
            continue
        if not keys.verify(pk, message, sig.signature):
            raise NoteError(f"the signature by {name} does not verify")
        verified = True
    if not verified:
        raise NoteError(f"note has no signature by {name}+{expected_hash.hex()}")
    return text


# --- checkpoints ----------------------------------------------------------------------------


def _check_line(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if not value:
        raise ValueError(f"{what} must not be empty")
    if "\n" in value or _FORBIDDEN_CONTROLS.search(value):
        raise ValueError(f"{what} must be one line without control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid UTF-8") from None


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog checkpoint: the log's origin, tree size and root hash, plus extension lines.

    Constructing one with bad fields raises ValueError; :meth:`from_text` raises NoteError.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "checkpoint origin")
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise ValueError("checkpoint size must be an integer")
        if not 0 <= self.size <= MAX_CHECKPOINT_SIZE:
            raise ValueError(f"checkpoint size {self.size} is out of range")
        if not isinstance(self.root, bytes) or len(self.root) != _ROOT_BYTES:
            raise ValueError(f"checkpoint root must be {_ROOT_BYTES} bytes")
        if not isinstance(self.extensions, tuple):
            object.__setattr__(self, "extensions", tuple(self.extensions))
        for i, ext in enumerate(self.extensions):
            _check_line(ext, f"checkpoint extension line {i + 1}")

    def to_text(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` followed by the extension lines."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text, strictly; raises NoteError.

        At least three lines, each ending in newline and non-empty: a non-empty origin, a decimal
        size without sign or leading zeros, a canonical base64 32-byte root, then extension lines.
        """
        if not isinstance(text, str):
            raise NoteError("checkpoint text must be a string")
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline")
        if _FORBIDDEN_CONTROLS.search(text):
            raise NoteError("checkpoint text contains an ASCII control character other than newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint text needs an origin, a tree size and a root hash")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not _DECIMAL.fullmatch(size_text):
            raise NoteError(f"checkpoint tree size {size_text!r} is not a decimal number without leading zeros")
        size = int(size_text)
        if size > MAX_CHECKPOINT_SIZE:
            raise NoteError(f"checkpoint tree size {size} is too large")
        root = _b64decode(root_text, "checkpoint root hash")
        if len(root) != _ROOT_BYTES:
            raise NoteError(f"checkpoint root hash is {len(root)} bytes, not {_ROOT_BYTES}")
        for i, ext in enumerate(extensions):
            if not ext:
                raise NoteError(f"checkpoint extension line {i + 1} is empty")
        try:
            return cls(origin, size, root, tuple(extensions))
        except ValueError as exc:
            raise NoteError(str(exc)) from None


def sign_checkpoint(checkpoint: Checkpoint, name: str, sign: Callable[[bytes], bytes], public_key: bytes) -> str:
    """The signed note of ``checkpoint`` by the key ``name`` (which SHOULD be the origin)."""
    return sign_note(checkpoint.to_text(), name, sign, public_key)


def unverified_checkpoint(note: str | bytes) -> Checkpoint:
    """The checkpoint a signed note carries, parsed but **not verified**: for what only needs its size (the
    exchange serving its own notes, an export) or its origin before verifying it. Raises NoteError."""
    text, _ = parse_note(note)
    return Checkpoint.from_text(text)


def open_checkpoint(
    note: str | bytes, public_key: bytes, name: str | None = None, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and parse it; raises NoteError.

    The key's name defaults to the checkpoint's origin (C2SP: the log's key name SHOULD match it).
    If ``origin`` is given the checkpoint must have exactly that origin.
    """
    text, _ = parse_note(note)
    key_name = name if name is not None else text.split("\n", 1)[0]
    checkpoint = Checkpoint.from_text(open_note(note, key_name, public_key))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin is {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
