"""Envelopes stored without the bytes their rows already hold.

A SUBMIT envelope carries its signal's 32-byte pseudonym and its category's name, which the signal's row
holds too (and every read of an envelope joins that row), and every envelope carries its payload type, one
of a few constants: ~65 of a SUBMIT envelope's ~180 bytes. The stores keep an envelope either verbatim or
*packed*: ``0x00`` (no serialized ``Envelope`` starts with it: protobuf has no field 0), a count, that many
(dictionary index, offset) pairs as varints, then the envelope with those substrings cut out. The dictionary
is the row's (pseudonym, category name) followed by ``CONSTANTS``; ``unpack`` puts the substrings back, so
what is served is byte for byte what the member signed (tested for any bytes in
``tests/property/test_packing_props.py``). Stored bytes that do not start with ``0x00`` are served as they
are, so rows written verbatim (before schema v7, or by hand) read unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from client_sdk.envelope import PAYLOAD_ADMIN, PAYLOAD_FEEDBACK, PAYLOAD_RETRACT, PAYLOAD_SAFEGUARD, PAYLOAD_SIGNAL

#: Substrings every envelope may hold. Stored envelopes name them by position: append, never reorder.
CONSTANTS: tuple[bytes, ...] = tuple(
    p.encode() for p in (PAYLOAD_SIGNAL, PAYLOAD_RETRACT, PAYLOAD_FEEDBACK, PAYLOAD_ADMIN, PAYLOAD_SAFEGUARD)
)
PACKED = 0x00
_MIN_GAIN = 4  # a substring shorter than this is left in place (its pair would cost about as much)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


ROW_ITEMS = 2  # the row's pseudonym and category name: dictionary indices 0 and 1


def _dictionary(row_items: Sequence[bytes | None]) -> list[bytes]:
    row = [item or b"" for item in row_items[:ROW_ITEMS]]
    return row + [b""] * (ROW_ITEMS - len(row)) + list(CONSTANTS)


def pack(envelope: bytes, row_items: Sequence[bytes | None]) -> bytes:
    """The stored form of ``envelope`` whose row holds ``row_items`` (pseudonym, category name; none for an
    event whose envelope does not carry them, whatever its row joins)."""
    cuts: list[tuple[int, int, int]] = []  # (offset, end, dictionary index), not overlapping
    for index, item in enumerate(_dictionary(row_items)):
        if len(item) < _MIN_GAIN:
            continue
        at = envelope.find(item)
        if at >= 0 and all(at >= end or at + len(item) <= start for start, end, _ in cuts):
            cuts.append((at, at + len(item), index))
    if not cuts or not envelope:
        return envelope
    cuts.sort()
    head = bytearray([PACKED, len(cuts)])
    body = bytearray()
    pos = 0
    for start, end, index in cuts:
        head += _varint(index) + _varint(start)
        body += envelope[pos:start]
        pos = end
    body += envelope[pos:]
    packed = bytes(head + body)
    return packed if len(packed) < len(envelope) else envelope


def unpack(stored: bytes, row_items: Sequence[bytes | None]) -> bytes:
    """The envelope ``pack`` stored as ``stored`` for a row holding ``row_items``; bytes that are not a
    well-formed packed envelope (a row edited by hand) are returned as they are, for verification to refuse."""
    if not stored or stored[0] != PACKED:
        return stored
    try:
        count = stored[1]
        head = stored[2 : 2 + 2 * count]
        pairs: Iterable[tuple[int, int]]
        if len(head) == 2 * count and (not head or max(head) < 0x80):  # every index and offset one byte: the
            pos = 2 + 2 * count  # usual case, read without varint decoding (served on every pull)
            pairs = zip(head[0::2], head[1::2], strict=True)
        else:
            pairs, pos = _pairs(stored, count)
        out: list[bytes] = []
        done = 0  # bytes of the envelope rebuilt so far
        for index, offset in pairs:
            item = (row_items[index] or b"") if index < ROW_ITEMS else CONSTANTS[index - ROW_ITEMS]
            take = offset - done
            if take < 0:
                return stored
            out.append(stored[pos : pos + take])
            out.append(item)
            pos += take
            done = offset + len(item)
        out.append(stored[pos:])
        return b"".join(out)
    except IndexError:
        return stored


def _pairs(stored: bytes, count: int) -> tuple[list[tuple[int, int]], int]:
    pos = 2
    pairs = []
    for _ in range(count):
        index, pos = _read_varint(stored, pos)
        offset, pos = _read_varint(stored, pos)
        pairs.append((index, offset))
    return pairs, pos


def row_items(value: Any, category_name: str | None) -> tuple[bytes, bytes] | tuple[()]:
    """What a SUBMIT envelope shares with its signal's row, as ``pack`` and ``unpack`` take it: the pseudonym
    and the category name (nothing when the row has neither)."""
    if value is None or not category_name:
        return ()
    return bytes(value), category_name.encode()


def stored_envelope(stored: Any, value: Any, category_name: str | None) -> bytes:
    """An envelope as its member signed it, from its stored form and its signal row's pseudonym and category
    name (what every read of ``events.envelope`` joins)."""
    if not stored or stored[0] != PACKED:
        return bytes(stored)
    return unpack(bytes(stored), row_items(value, category_name))
