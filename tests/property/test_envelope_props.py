"""Property tests for DSSE envelopes: round trips, tamper evidence, PAE injectivity, verify_many.

Tamper evidence is stated as the property that matters, not as "every flip is rejected": a flipped
bit may leave a wire-valid envelope (protobuf skips unknown fields, and the key id is an
unauthenticated hint), so some flips are harmlessly accepted. What must never happen is that a
flipped envelope opens *and* verifies while carrying a different (payload_type, payload).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from client_sdk import envelope, keys
from client_sdk.errors import VerificationError
from client_sdk.wire import signals_pb2

PROPS = settings(max_examples=100, deadline=None)
KEYS = [keys.SigningKey.generate() for _ in range(3)]
KEY = KEYS[0]

PAYLOAD_TYPES = st.one_of(st.sampled_from(sorted(envelope.BODY_TYPES)), st.text(max_size=40))
PAYLOADS = st.binary(max_size=200)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _open_and_verify(raw: bytes, public_key: bytes) -> envelope.OpenedEnvelope | None:
    """The opened envelope if it parses and its signature verifies, else None."""
    try:
        opened = envelope.open_envelope(raw)
        opened.verify(public_key)
    except VerificationError:  # EnvelopeError is a VerificationError
        return None
    return opened


def _unpae(data: bytes) -> tuple[str, bytes]:
    """A strict inverse of PAE: its existence shows PAE is injective."""
    prefix = b"DSSEv1 "
    assert data.startswith(prefix)
    pos = len(prefix)
    fields = []
    for _ in range(2):
        space = data.index(b" ", pos)
        digits = data[pos:space]
        assert digits.isdigit()
        assert digits == b"0" or not digits.startswith(b"0")
        start = space + 1
        end = start + int(digits)
        fields.append(data[start:end])
        assert len(fields[-1]) == int(digits)
        pos = end
        if len(fields) == 1:
            assert data[pos : pos + 1] == b" "
            pos += 1
    assert pos == len(data)
    return fields[0].decode("utf-8"), fields[1]


# --- round trip ---


@PROPS
@given(payload_type=PAYLOAD_TYPES, payload=PAYLOADS)
def test_seal_open_verify_round_trip(payload_type: str, payload: bytes) -> None:
    opened = _open_and_verify(envelope.seal(payload_type, payload, KEY), KEY.public_key)
    assert opened is not None
    assert (opened.payload_type, opened.payload, opened.key_id) == (payload_type, payload, KEY.key_id)
    # Another member's key never verifies it.
    assert _open_and_verify(envelope.seal(payload_type, payload, KEY), KEYS[1].public_key) is None


# --- tamper evidence ---


@PROPS
@given(payload_type=PAYLOAD_TYPES, payload=PAYLOADS, data=st.data())
def test_single_bit_flip_never_authenticates_a_different_message(
    payload_type: str, payload: bytes, data: st.DataObject
) -> None:
    raw = envelope.seal(payload_type, payload, KEY)
    bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
    opened = _open_and_verify(_flip(raw, bit), KEY.public_key)
    if opened is not None:
        assert (opened.payload_type, opened.payload) == (payload_type, payload)


def test_every_single_bit_flip_exhaustively() -> None:
    """All flips of a few envelopes: an accepted flip only ever touched the unauthenticated key id.

    Also checks that each kind of outcome actually happens, so the property is not vacuous.
    """
    bodies = [
        signals_pb2.SignalBody(submitter="m1", type=signals_pb2.SIGNAL_TYPE_URL, value=b"v" * 32, labels=["x"]),
        signals_pb2.RetractBody(submitter="m1", signal_id=7, reason="r"),
        signals_pb2.FeedbackBody(submitter="m2", signal_id=7, verdict=signals_pb2.VERDICT_ACTIONED),
    ]
    envelopes = [envelope.seal_body(body, KEY) for body in bodies] + [envelope.seal("", b"", KEY)]
    outcomes: dict[str, int] = {}
    for raw in envelopes:
        original = envelope.open_envelope(raw)
        for bit in range(len(raw) * 8):
            flipped = _flip(raw, bit)
            try:
                opened = envelope.open_envelope(flipped)
            except envelope.EnvelopeError as exc:
                outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
                continue
            try:
                opened.verify(KEY.public_key)
            except VerificationError:
                outcomes["bad_signature"] = outcomes.get("bad_signature", 0) + 1
                continue
            outcomes["accepted"] = outcomes.get("accepted", 0) + 1
            assert (opened.payload_type, opened.payload) == (original.payload_type, original.payload), bit
            # Strict Ed25519 is non-malleable, so the signature bytes are unchanged as well.
            assert opened.signature == original.signature, bit
            # What did change is the key id: its text, or its tag (it became an unknown field, so "").
            assert opened.key_id != original.key_id, bit
    assert set(outcomes) >= {"envelope_unparseable", "signature_count", "signature_malformed", "bad_signature"}
    assert outcomes.get("accepted", 0) > 0  # key id flips: harmless, and expected


@PROPS
@given(payload_type=PAYLOAD_TYPES, payload=PAYLOADS, bit=st.integers(0, 8 * keys.SIGNATURE_BYTES - 1))
def test_any_signature_bit_flip_fails(payload_type: str, payload: bytes, bit: int) -> None:
    sig = KEY.sign(envelope.pae(payload_type, payload))
    assert not keys.verify(KEY.public_key, envelope.pae(payload_type, payload), _flip(sig, bit))


# --- PAE injectivity ---


@PROPS
@given(payload_type=st.text(max_size=40), payload=PAYLOADS)
def test_pae_has_an_inverse(payload_type: str, payload: bytes) -> None:
    assert _unpae(envelope.pae(payload_type, payload)) == (payload_type, payload)


@PROPS
@given(a=st.tuples(st.text(max_size=20), PAYLOADS), b=st.tuples(st.text(max_size=20), PAYLOADS))
def test_pae_distinct_pairs_give_distinct_encodings(a: tuple[str, bytes], b: tuple[str, bytes]) -> None:
    assume(a != b)
    assert envelope.pae(*a) != envelope.pae(*b)


# Near-collisions: the same bytes split differently between type and payload, with spaces and
# digits that look like PAE's own separators and lengths.
SEPARATOR_TEXT = st.text(alphabet="0123456789 aD", max_size=30)


@PROPS
@given(text=SEPARATOR_TEXT, tail=st.binary(max_size=20), data=st.data())
def test_pae_separates_shifted_boundaries(text: str, tail: bytes, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text)), label="i")
    j = data.draw(st.integers(0, len(text)), label="j")
    assume(i != j)
    first = (text[:i], text[i:].encode() + tail)
    second = (text[:j], text[j:].encode() + tail)
    assert first[0].encode() + first[1] == second[0].encode() + second[1]
    assert envelope.pae(*first) != envelope.pae(*second)


# --- verify_many ---

KINDS = ["good", "flipped_sig", "wrong_key", "other_message", "short_sig", "bad_key"]
ITEM_SPECS = st.lists(
    st.tuples(st.integers(0, len(KEYS) - 1), st.binary(max_size=48), st.sampled_from(KINDS)), max_size=60
)


def _item(key_index: int, message: bytes, kind: str) -> tuple[bytes, bytes, bytes]:
    key = KEYS[key_index]
    sig = key.sign(message)
    if kind == "flipped_sig":
        return key.public_key, message, _flip(sig, len(message) % 512)
    if kind == "wrong_key":
        return KEYS[(key_index + 1) % len(KEYS)].public_key, message, sig
    if kind == "other_message":
        return key.public_key, message + b"!", sig
    if kind == "short_sig":
        return key.public_key, message, sig[:-1]
    if kind == "bad_key":
        return bytes([1]) + bytes(31), message, sig  # the identity point: small order
    return key.public_key, message, sig


@PROPS
@given(specs=ITEM_SPECS, chunk=st.integers(1, 16), workers=st.integers(1, 4))
def test_verify_many_agrees_with_sequential_verify(
    specs: list[tuple[int, bytes, str]], chunk: int, workers: int
) -> None:
    items = [_item(*spec) for spec in specs]
    sequential = [keys.verify(*item) for item in items]
    assert sequential == [kind == "good" for _, _, kind in specs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        assert keys.verify_many(items, pool, chunk=chunk) == sequential
    assert keys.verify_many(items) == sequential
