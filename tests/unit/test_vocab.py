"""The vocabulary comes from the wire enums, and a type has one spelling from the moment it is built."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client_sdk import Identifier, InvalidIdentifierError, vocab
from client_sdk.client import oprf_input
from client_sdk.log_entry import KINDS
from client_sdk.wire import exchange_pb2, signals_pb2


def test_tables_follow_the_proto_enums() -> None:
    assert {
        n.removeprefix("SIGNAL_TYPE_").lower(): v for n, v in signals_pb2.SignalType.items() if v
    } == vocab.TYPE_CODES
    assert set(vocab.VERDICT_NAMES) == {v for v in signals_pb2.Verdict.values() if v}
    assert set(vocab.EVENT_KINDS) == {v for v in signals_pb2.EventKind.values() if v} == set(KINDS)
    assert set(vocab.SUBMIT_STATUS_NAMES) == {v for v in exchange_pb2.SubmitStatus.values() if v}
    assert {"media_md5", "media_pdq"} == vocab.MEDIA_TYPES
    assert vocab.VALUE_BYTES[vocab.TYPE_MEDIA_MD5] == 16
    assert all(n == 32 for c, n in vocab.VALUE_BYTES.items() if c != vocab.TYPE_MEDIA_MD5)
    # the FeedbackCounts message has one field per verdict, by the same names
    assert [f.name for f in exchange_pb2.FeedbackCounts.DESCRIPTOR.fields] == list(vocab.VERDICTS)


@pytest.mark.parametrize("name", vocab.TYPES)
def test_every_spelling_of_a_type_is_the_same_identifier(name: str) -> None:
    spellings = [name, name.upper(), "SIGNAL_TYPE_" + name.upper()]
    built = {Identifier(s, "x").type for s in spellings}
    assert built == {name}
    assert Identifier(name.upper(), "x").code == vocab.TYPE_CODES[name]
    assert Identifier("SIGNAL_TYPE_" + name.upper(), "x").is_media == name.startswith("media_")


def test_aliases_give_the_same_oprf_input() -> None:
    plain = Identifier("email", "Jane.Doe@gmail.com")
    wire = Identifier("SIGNAL_TYPE_EMAIL", "Jane.Doe@gmail.com")
    assert oprf_input(wire.type, wire.normalised()) == oprf_input(plain.type, plain.normalised())


@given(st.text(max_size=30).filter(lambda s: s not in vocab._TYPE_ALIASES))
def test_unknown_types_are_refused_when_built(kind: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        Identifier(kind, "x")
    assert "unknown identifier type" in str(info.value)


@pytest.mark.parametrize("spelling", ["confirmed", "CONFIRMED", "VERDICT_CONFIRMED", " Confirmed "])
def test_verdict_spellings(spelling: str) -> None:
    assert vocab.canonical_verdict(spelling) == "confirmed"
    assert vocab.canonical_verdict("false-positive") == "false_positive"
    with pytest.raises(ValueError, match="expected one of confirmed"):
        vocab.canonical_verdict("maybe")
