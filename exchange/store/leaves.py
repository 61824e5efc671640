"""The signature-log leaf of a stored event, rebuilt from the event's row while its envelope is kept.

A leaf record (``client_sdk.log_entry``) commits to the event's index, kind, time and expiry, its
submitter, its key id and the SHA-256 of its envelope: everything an event row already holds. So both
stores keep ``events.leaf`` NULL while the envelope is there and rebuild the record when it is read
(~70 bytes less per event, a sixth of a signal's storage); the row keeps ``leaf_tag``, the first 8 bytes
of the leaf's hash as written, and a row that no longer rebuilds it (edited, moved to another seq) is served
with no leaf record at all, which the auditor names. Retention stores the full record in the statement
that purges the envelope (``purge_rows``), so a leaf is never lost. Both stores read leaves only through
``LEAF_SELECT`` and ``event_leaf``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from client_sdk import merkle
from client_sdk.envelope import EnvelopeError, open_envelope
from client_sdk.log_entry import LogEntry, leaf_expires
from client_sdk.vocab import KIND_SUBMIT
from exchange.store.packing import pack, row_items, stored_envelope

#: The columns ``event_leaf`` reads, from ``events e`` joined to ``members m``, as one SELECT's head.
LEAF_SELECT = (
    "SELECT e.seq, e.kind, e.received_at, e.expires, m.member_id, e.envelope, e.leaf, e.leaf_tag, s.value, c.name"
    " FROM events e LEFT JOIN members m ON m.id = e.member"
    " LEFT JOIN signals s ON s.id = e.signal LEFT JOIN categories c ON c.id = s.category"
)
TAG_BYTES = 8


def leaf_tag(leaf_hash: bytes) -> bytes:
    """What an event row keeps of its leaf: the first bytes of the leaf's hash."""
    return leaf_hash[:TAG_BYTES]


def _rebuild(seq: Any, kind: Any, at: Any, expires: Any, member_id: Any, envelope: Any) -> bytes:
    raw = bytes(envelope)
    key_id = open_envelope(raw).key_id
    return LogEntry.for_envelope(int(seq) - 1, int(kind), int(at), int(expires), member_id or "", key_id, raw).encode()


def event_envelope(row: Sequence[Any]) -> bytes | None:
    """The envelope of a ``LEAF_SELECT`` row as its member signed it (None once purged)."""
    return None if row[5] is None else stored_envelope(row[5], row[8], row[9])


def event_leaf_and_hash(row: Sequence[Any], envelope: bytes | None = None) -> tuple[bytes, bytes]:
    """The leaf record of a ``LEAF_SELECT`` row and its Merkle leaf hash: the stored record, else rebuilt as
    ``_record_event`` built it (``envelope``: the row's ``event_envelope``, if the caller has it already).

    The record is ``b""`` (one that never decodes, which the auditor names) when the row has neither envelope
    nor leaf, or rebuilds a leaf other than the one its tag says was written.
    """
    seq, kind, at, expires, member_id, _, leaf, tag = row[:8]
    if leaf is not None:
        return bytes(leaf), merkle.leaf_hash(bytes(leaf))
    envelope = envelope if envelope is not None else event_envelope(row)
    lost = b"", merkle.leaf_hash(b"")
    if envelope is None:
        return lost
    try:
        rebuilt = _rebuild(seq, kind, at, expires, member_id, envelope)
    except (struct.error, EnvelopeError, ValueError):
        return lost
    digest = merkle.leaf_hash(rebuilt)
    if tag is None or leaf_tag(digest) != bytes(tag):
        return lost
    return rebuilt, digest


def event_leaf(row: Sequence[Any], envelope: bytes | None = None) -> bytes:
    """The leaf record of a ``LEAF_SELECT`` row (``event_leaf_and_hash`` without the hash)."""
    return event_leaf_and_hash(row, envelope)[0]


def purge_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[bytes, int]]:
    """(leaf, seq) for ``UPDATE events SET leaf = ?, envelope = NULL WHERE seq = ?`` from ``LEAF_SELECT`` rows."""
    return [(event_leaf(row), int(row[0])) for row in rows]


#: Schema v7 on both stores: ``compact_stored_leaves`` pages through the events written before it this many
#: at a time.
COMPACT_PAGE = 50_000


#: What ``compact_stored_leaves`` writes per event: expires, leaf kept (or None), leaf tag, stored envelope, seq.
Compacted = tuple[int, bytes | None, bytes | None, bytes | None, int]


def compact_stored_leaves(
    fetch: Callable[[int, int], Sequence[Sequence[Any]]], update: Callable[[list[Compacted]], object]
) -> int:
    """The compact-storage migration: give each event written with a stored leaf its ``expires`` and
    ``leaf_tag`` columns, drop the stored leaf wherever the row rebuilds it byte for byte (any other leaf,
    e.g. one an edit made inconsistent, is kept for the auditor to see), and store the envelope packed
    (``packing``). ``fetch(after, limit)`` gives ``LEAF_SELECT`` rows with seq > after in seq order.
    Returns the number of leaves dropped."""
    dropped, after = 0, 0
    while rows := fetch(after, COMPACT_PAGE):
        out: list[Compacted] = []
        for seq, kind, at, _, member_id, envelope, leaf, _, value, category in rows:
            stored = bytes(leaf)
            raw = None if envelope is None else bytes(envelope)
            try:
                expires = leaf_expires(stored)
                rebuilt = _rebuild(seq, kind, at, expires, member_id, raw) if raw is not None else b""
            except (struct.error, ValueError, EnvelopeError):
                expires, rebuilt = 0, b""
            items = row_items(value, category) if kind == KIND_SUBMIT else ()
            packed = None if raw is None else pack(raw, items)
            if rebuilt == stored:
                dropped += 1
                out.append((expires, None, leaf_tag(merkle.leaf_hash(stored)), packed, int(seq)))
            else:
                out.append((expires, stored, None, packed, int(seq)))
        update(out)
        after = int(rows[-1][0])
    return dropped
