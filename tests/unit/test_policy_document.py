"""The policy document: parsing, validation errors that name the key, rendering, diffs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import InvalidArgumentError
from exchange.policy.document import TYPES, PolicyDocument, Rules, diff, parse
from exchange.store.sqlite_schema import DEFAULT_TAXONOMY

MEMBERS = ["demo-a", "demo-b"]
CATS = list(DEFAULT_TAXONOMY)
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "policy.toml"


def test_example_policy_parses() -> None:
    doc = parse(EXAMPLE.read_text(), MEMBERS, CATS)
    assert doc.rules_for("demo-b").submit_types == ()
    assert doc.rules_for("demo-a").read_categories == ("sextortion.*", "grooming")
    assert doc.rules_for("someone-else") == doc.defaults


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[defaults]\nsubmit_types = ["fax"]\n', "defaults.submit_types: unknown type 'fax'"),
        ('[defaults]\nread_categories = ["nope"]\n', "defaults.read_categories: unknown category 'nope'"),
        ('[defaults]\nread_categories = ["nope.*"]\n', "unknown category 'nope.*'"),
        ("[defaults]\nlookups_per_day = -1\n", "defaults.lookups_per_day: expected a whole number"),
        ("[defaults]\nlookups_per_day = true\n", "defaults.lookups_per_day: expected a whole number"),
        ('[defaults]\nsubmit_types = "email"\n', "defaults.submit_types: expected a list of strings"),
        ("[members.mallory]\nlookups_per_day = 1\n", "members.mallory: no such member"),
        ("[members.demo-a]\nspeed = 1\n", "members.demo-a.speed: unknown key"),
        ("[policy]\n", "unknown table 'policy'"),
        ("[defaults\n", "not valid TOML"),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message.replace("[", r"\[").replace("*", r"\*")):
        parse(text, MEMBERS, CATS)


patterns = st.lists(st.sampled_from(["*", "sextortion.*", "csam.*", *CATS]), unique=True, max_size=4)
type_patterns = st.lists(st.sampled_from(["*", *TYPES]), unique=True, max_size=4)
overrides = st.fixed_dictionaries(
    {},
    optional={
        "submit_types": type_patterns.map(tuple),
        "read_categories": patterns.map(tuple),
        "lookups_per_day": st.integers(0, 10**9),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(MEMBERS), overrides, max_size=2), st.integers(0, 10**6))
def test_render_parse_round_trip(members: dict, submits: int) -> None:
    doc = PolicyDocument(Rules(submits_per_minute=submits), {m: o for m, o in members.items() if o})
    again = parse(doc.render(), MEMBERS, CATS)
    assert again.render() == doc.render()
    assert diff(doc, again) == ""
    for m in MEMBERS:
        assert again.rules_for(m) == doc.rules_for(m)


def test_diff_shows_changed_keys() -> None:
    old = parse("", MEMBERS, CATS)
    new = parse("[members.demo-b]\nlookups_per_day = 5\n", MEMBERS, CATS)
    d = diff(old, new)
    assert "+[members.demo-b]" in d and "+lookups_per_day = 5" in d


def test_prefix_patterns() -> None:
    rules = Rules(read_categories=("sextortion.*",))
    assert rules.allows("read_categories", "sextortion.financial")
    assert not rules.allows("read_categories", "sextortionx")
    assert not rules.allows("read_categories", "grooming")
