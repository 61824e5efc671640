"""Packed envelopes unpack to exactly the bytes stored, for any envelope and any row."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client_sdk import envelope, keys
from exchange.store.packing import CONSTANTS, PACKED, pack, unpack

KEY = keys.SigningKey.generate()
items = st.one_of(st.none(), st.binary(max_size=40))


@st.composite
def envelopes_with_items(draw: st.DrawFn) -> tuple[bytes, list[bytes | None]]:
    """Bytes built from random runs, the row's items and the constants (so they occur, overlap, repeat)."""
    row = [draw(items), draw(items)]
    parts = st.one_of(st.binary(max_size=20), st.sampled_from([i or b"" for i in row] + list(CONSTANTS)))
    return b"".join(draw(st.lists(parts, max_size=8))), row


@given(envelopes_with_items())
def test_unpack_inverts_pack(case: tuple[bytes, list[bytes | None]]) -> None:
    raw, row = case
    stored = pack(raw, row)
    assert unpack(stored, row) == raw
    assert len(stored) <= len(raw)


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["grooming", "sextortion.financial"]), st.binary())
def test_a_submit_envelope_loses_its_pseudonym_category_and_payload_type(
    value: bytes, category: str, body: bytes
) -> None:
    raw = envelope.seal(
        "sigx.signal/v1", b"\x1a\x20" + value + b"\x22" + bytes([len(category)]) + category.encode() + body, KEY
    )
    row = [value, category.encode()]
    stored = pack(raw, row)
    assert stored[0] == PACKED and len(stored) <= len(raw) - 32 - len(category) - 14 + 8
    assert unpack(stored, row) == raw


@given(st.binary())
def test_bytes_that_are_not_packed_read_as_they_are(data: bytes) -> None:
    if data[:1] != bytes([PACKED]):
        assert unpack(data, [b"x" * 32, b"grooming"]) == data
    else:
        unpack(data, [b"x" * 32, b"grooming"])  # an edited row never raises
