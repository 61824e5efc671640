"""Property tests for the push input parsers (CSV and JSON lines)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk.files import InputFileError, parse_csv_lines, parse_json_lines, parse_lines

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
rows = st.lists(
    st.tuples(st.sampled_from(["email", "phone", "domain", "ip", "url"]), text, st.sampled_from(["grooming", "x.y"])),
    max_size=20,
)


def _csv(records: list[tuple[str, str, str]]) -> io.StringIO:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(records)
    return io.StringIO(buf.getvalue(), newline="")


@settings(max_examples=150, deadline=None)
@given(rows)
def test_csv_round_trip(records: list[tuple[str, str, str]]) -> None:
    parsed = list(parse_csv_lines(_csv(records)))
    assert [(s.identifier.type, s.identifier.value, s.category) for s in parsed] == records


@settings(max_examples=150, deadline=None)
@given(rows)
def test_json_lines_round_trip(records: list[tuple[str, str, str]]) -> None:
    lines = [json.dumps({"type": t, "value": v, "category": c}) + "\n" for t, v, c in records]
    parsed = list(parse_lines(lines, "auto", lines[0] if lines else ""))
    assert [(s.identifier.type, s.identifier.value, s.category) for s in parsed] == records


@settings(max_examples=150, deadline=None)
@given(st.lists(text, min_size=1, max_size=5))
def test_malformed_json_names_the_line(garbage: list[str]) -> None:
    lines = [json.dumps({"type": "email", "value": "a@b.c", "category": "grooming"}), *garbage]
    try:
        list(parse_json_lines(lines))
    except InputFileError as exc:
        assert exc.line >= 2 and str(exc).startswith(f"line {exc.line}:")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("email,a@b.c", "expected 3 or 4 columns"),
        ("email,a@b.c,grooming,x,y", "expected 3 or 4 columns"),
        ("domain,x.example,grooming,cashapp", "takes no provider"),
    ],
)
def test_bad_csv_rows(line: str, reason: str) -> None:
    with pytest.raises(InputFileError, match=reason) as exc:
        list(parse_csv_lines(["type,value,category\n", line + "\n"]))
    assert exc.value.line == 2


def test_qualifier_columns() -> None:
    [cash, user, phone] = parse_csv_lines(
        ["payment_handle,$x,grooming,cashapp\n", "username,bob,grooming,instagram\n", "phone,4155550100,grooming,US\n"]
    )
    assert cash.identifier.provider == "cashapp"
    assert user.identifier.platform == "instagram"
    assert phone.identifier.region == "US"
