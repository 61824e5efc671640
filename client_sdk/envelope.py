"""DSSE envelopes: sign a body, open and verify an envelope.

The signature covers DSSE's pre-authentication encoding
``"DSSEv1" SP len(type) SP type SP len(body) SP body`` — never a re-encoding of
the protobuf body, which is not canonical. Bodies are parsed only after their
signature has been verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from client_sdk import keys, vocab
from client_sdk.errors import VerificationError
from client_sdk.wire import admin_pb2, signals_pb2

# DSSE payload types: short, versioned names (stored with every envelope, so every byte counts).
PAYLOAD_SIGNAL = "sigx.signal/v1"
PAYLOAD_RETRACT = "sigx.retract/v1"
PAYLOAD_FEEDBACK = "sigx.feedback/v1"
PAYLOAD_ADMIN = "sigx.admin/v1"
PAYLOAD_SAFEGUARD = "sigx.safeguard/v1"

BODY_TYPES: dict[str, type[Message]] = {
    PAYLOAD_SIGNAL: signals_pb2.SignalBody,
    PAYLOAD_RETRACT: signals_pb2.RetractBody,
    PAYLOAD_FEEDBACK: signals_pb2.FeedbackBody,
    PAYLOAD_ADMIN: admin_pb2.AdminChange,
    PAYLOAD_SAFEGUARD: signals_pb2.SafeguardBody,
}


#: The event kind each payload type records in the signature log.
PAYLOAD_KINDS: dict[str, int] = dict(
    zip(
        BODY_TYPES,
        (vocab.KIND_SUBMIT, vocab.KIND_RETRACT, vocab.KIND_FEEDBACK, vocab.KIND_ADMIN, vocab.KIND_SAFEGUARD),
        strict=True,
    )
)


class EnvelopeError(VerificationError):
    """An envelope that cannot be opened: it does not parse or has no usable signature."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of (payload_type, payload)."""
    ptype = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)


def seal(payload_type: str, payload: bytes, key: keys.SigningKey) -> bytes:
    """Sign ``payload`` and return the serialized Envelope."""
    env = signals_pb2.Envelope(payload=payload, payload_type=payload_type)
    env.signatures.add(keyid=key.key_id, sig=key.sign(pae(payload_type, payload)))
    return env.SerializeToString()


def seal_body(body: Message, key: keys.SigningKey) -> bytes:
    """Serialize a SignalBody/RetractBody/FeedbackBody once, sign it, return the Envelope bytes."""
    for payload_type, cls in BODY_TYPES.items():
        if isinstance(body, cls):
            return seal(payload_type, body.SerializeToString(), key)
    raise TypeError(f"not an event body: {type(body).__name__}")


@dataclass(frozen=True, slots=True)
class OpenedEnvelope:
    """An envelope whose wrapper parsed; its body is still unverified bytes."""

    payload_type: str
    payload: bytes
    key_id: str
    signature: bytes

    def signed_message(self) -> bytes:
        """The bytes the signature covers."""
        return pae(self.payload_type, self.payload)

    def verify(self, public_key: bytes) -> None:
        """Raise VerificationError unless the signature verifies under ``public_key``."""
        if not keys.verify(public_key, self.signed_message(), self.signature):
            raise VerificationError(f"bad signature by key {self.key_id}")

    def body(self) -> Message:
        """Parse the body (call only after verify); raises EnvelopeError."""
        cls = BODY_TYPES.get(self.payload_type)
        if cls is None:
            raise EnvelopeError("unknown_payload_type", f"unknown payload type {self.payload_type!r}")
        msg = cls()
        try:
            msg.ParseFromString(self.payload)
        except DecodeError:
            raise EnvelopeError("body_unparseable", f"{cls.__name__} does not parse") from None
        return msg


def open_envelope(raw: bytes) -> OpenedEnvelope:
    """Parse an Envelope's wrapper; it must carry exactly one signature. Raises EnvelopeError."""
    env = signals_pb2.Envelope()
    try:
        env.ParseFromString(raw)
    except DecodeError:
        raise EnvelopeError("envelope_unparseable", "envelope does not parse") from None
    if len(env.signatures) != 1:
        raise EnvelopeError("signature_count", f"envelope must carry exactly one signature, has {len(env.signatures)}")
    sig = env.signatures[0]
    if len(sig.sig) != keys.SIGNATURE_BYTES:
        raise EnvelopeError("signature_malformed", f"signature must be {keys.SIGNATURE_BYTES} bytes")
    return OpenedEnvelope(env.payload_type, env.payload, sig.keyid, sig.sig)
