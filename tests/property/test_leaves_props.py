"""A stored event's leaf is rebuilt from its row byte for byte, and a row changed in any field rebuilds none."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client_sdk import envelope, keys, merkle
from client_sdk.log_entry import LogEntry
from exchange.store.leaves import event_leaf, leaf_tag, purge_rows

KEY = keys.SigningKey.generate()
ENVELOPES = [envelope.seal("sigx.signal/v1", bytes([i]) * i, KEY) for i in range(1, 9)]

rows = st.tuples(
    st.integers(1, 2**63 - 1),  # seq
    st.integers(1, 5),  # kind
    st.integers(0, 2**40),  # received_at
    st.integers(0, 2**40),  # expires
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),  # member id
    st.sampled_from(ENVELOPES),
)


def _written(seq: int, kind: int, at: int, expires: int, member: str, env: bytes) -> bytes:
    return LogEntry.for_envelope(seq - 1, kind, at, expires, member, KEY.key_id, env).encode()


@given(rows)
def test_a_row_rebuilds_the_leaf_it_was_written_with(row: tuple[int, int, int, int, str, bytes]) -> None:
    leaf = _written(*row)
    stored = (*row, None, leaf_tag(merkle.leaf_hash(leaf)))
    assert event_leaf(stored) == leaf
    assert purge_rows([stored]) == [(leaf, row[0])]  # what retention keeps when it drops the envelope
    assert event_leaf((*row[:5], None, leaf, None)) == leaf  # a stored leaf is served as it is


@given(rows, st.integers(0, 5), st.data())
def test_a_changed_row_rebuilds_no_leaf(
    row: tuple[int, int, int, int, str, bytes], field: int, data: st.DataObject
) -> None:
    tag = leaf_tag(merkle.leaf_hash(_written(*row)))
    changed = list(row)
    if field == 4:
        changed[4] = data.draw(st.text(min_size=1, max_size=40).filter(lambda m: m != row[4]))
    elif field == 5:
        changed[5] = data.draw(st.sampled_from([e for e in ENVELOPES if e != row[5]]))
    else:
        changed[field] = data.draw(st.integers(1, 5 if field == 1 else 2**40).filter(lambda v: v != row[field]))
    assert event_leaf((*changed, None, tag)) == b""
    assert event_leaf((*row[:5], None, None, tag)) == b""  # neither envelope nor leaf: lost, named by the auditor
