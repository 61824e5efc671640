"""A stored event's leaf and envelope are rebuilt from its row byte for byte, and a row changed in any field
rebuilds no leaf."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client_sdk import envelope, keys, merkle
from client_sdk.log_entry import LogEntry
from exchange.store.leaves import event_envelope, event_leaf, leaf_tag, purge_rows
from exchange.store.packing import pack

KEY = keys.SigningKey.generate()
VALUE = bytes(range(32))
CATEGORY = "sextortion.financial"
# SUBMIT-like envelopes that carry the row's pseudonym and category, and others that do not
ENVELOPES = [envelope.seal("sigx.signal/v1", VALUE + bytes([i]) * i + CATEGORY.encode(), KEY) for i in range(1, 5)]
ENVELOPES += [envelope.seal("sigx.feedback/v1", bytes([i]) * i, KEY) for i in range(1, 5)]

rows = st.tuples(
    st.integers(1, 2**63 - 1),  # seq
    st.integers(1, 5),  # kind
    st.integers(0, 2**40),  # received_at
    st.integers(0, 2**40),  # expires
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),  # member id
    st.sampled_from(ENVELOPES),
)
Row = tuple[int, int, int, int, str, bytes]


def _written(seq: int, kind: int, at: int, expires: int, member: str, env: bytes) -> bytes:
    return LogEntry.for_envelope(seq - 1, kind, at, expires, member, KEY.key_id, env).encode()


def _stored(row: Row, tag: bytes | None, leaf: bytes | None = None) -> tuple[object, ...]:
    """The ``LEAF_SELECT`` row the stores keep for ``row``: its envelope packed against its signal's row."""
    packed = pack(row[5], (VALUE, CATEGORY.encode()))
    return (*row[:5], packed, leaf, tag, VALUE, CATEGORY)


@given(rows)
def test_a_row_rebuilds_the_leaf_it_was_written_with(row: Row) -> None:
    leaf = _written(*row)
    stored = _stored(row, leaf_tag(merkle.leaf_hash(leaf)))
    assert event_envelope(stored) == row[5]
    assert event_leaf(stored) == leaf
    assert purge_rows([stored]) == [(leaf, row[0])]  # what retention keeps when it drops the envelope
    assert event_leaf((*row[:5], None, leaf, None, None, None)) == leaf  # a stored leaf is served as it is


@given(rows, st.integers(0, 5), st.data())
def test_a_changed_row_rebuilds_no_leaf(row: Row, field: int, data: st.DataObject) -> None:
    tag = leaf_tag(merkle.leaf_hash(_written(*row)))
    changed = list(row)
    if field == 4:
        changed[4] = data.draw(st.text(min_size=1, max_size=40).filter(lambda m: m != row[4]))
    elif field == 5:
        changed[5] = data.draw(st.sampled_from([e for e in ENVELOPES if e != row[5]]))
    else:
        changed[field] = data.draw(st.integers(1, 5 if field == 1 else 2**40).filter(lambda v: v != row[field]))
    assert event_leaf(_stored(tuple(changed), tag)) == b""  # type: ignore[arg-type]
    assert event_leaf((*row[:5], None, None, tag, VALUE, CATEGORY)) == b""  # neither envelope nor leaf: lost
