"""The charter parser: canonical rendering round-trips, and any document is either a charter or a precise refusal."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import InvalidArgumentError
from exchange.safeguards.charter import ACTIONS, DEFAULT_KINDS, Charter, Corroboration, parse
from exchange.store.sqlite_schema import DEFAULT_TAXONOMY

CATEGORIES = sorted(DEFAULT_TAXONOMY)
PATTERNS = [*CATEGORIES, "csam.*", "sextortion.*"]
kinds = st.lists(st.sampled_from(DEFAULT_KINDS), unique=True, min_size=1, max_size=3).map(tuple)


@st.composite
def charters(draw: st.DrawFn) -> Charter:
    forbid = draw(
        st.dictionaries(
            st.sampled_from(DEFAULT_KINDS),
            st.lists(st.sampled_from([*ACTIONS, "*"]), unique=True, min_size=1, max_size=3).map(tuple),
            max_size=2,
        )
    )
    categories = draw(st.dictionaries(st.sampled_from(PATTERNS), kinds, max_size=3))
    rules = draw(
        st.lists(
            st.builds(
                Corroboration,
                st.lists(st.sampled_from(PATTERNS), unique=True, min_size=1, max_size=2).map(tuple),
                kinds,
                st.integers(2, 5),
            ),
            max_size=2,
        )
    )
    return Charter(DEFAULT_KINDS, forbid, categories, tuple(rules))


@settings(max_examples=200, deadline=None)
@given(charters())
def test_valid_charters_round_trip(charter: Charter) -> None:
    try:
        parsed = parse(charter.render(), CATEGORIES)
    except InvalidArgumentError as exc:  # a drawn charter may contradict itself: refused, naming a rule
        assert exc.reason == "charter_invalid" and exc.message.startswith("charter ")
        return
    assert parsed == charter
    assert parse(parsed.render(), CATEGORIES) == parsed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), json_values.map(json.dumps)))
def test_any_document_is_a_charter_or_invalid_argument(text: str) -> None:
    try:
        parse(text, CATEGORIES)
    except InvalidArgumentError as exc:
        assert exc.reason == "charter_invalid"
