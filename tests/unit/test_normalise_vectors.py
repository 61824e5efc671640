"""Conformance of client_sdk.normalise with published vectors (read from the shared vectors dir)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from client_sdk.errors import InvalidIdentifierError
from client_sdk.normalise import normalise


def _safebrowsing(vectors: Path) -> list[tuple[str, str, bool]]:
    rows: list[list[Any]] = json.loads((vectors / "safebrowsing/canonicalization.json").read_text("utf-8"))
    assert rows, "no Safe Browsing cases"
    return [(row[0], row[1], bool(row[2]) if len(row) > 2 else False) for row in rows]


def _uid2(vectors: Path) -> list[dict[str, Any]]:
    data = json.loads((vectors / "email/uid2_email_normalization.json").read_text("utf-8"))
    assert data["cases"], "no UID2 cases"
    return data["cases"]


def test_safebrowsing_canonical_forms(vectors: Path) -> None:
    """Every case not marked skip canonicalises to exactly the published form."""
    cases = [(i, o) for i, o, skip in _safebrowsing(vectors) if not skip]
    assert len(cases) >= 30
    wrong = []
    for given, expected in cases:
        try:
            got = normalise("url", given)
        except InvalidIdentifierError as err:
            got = f"<{err}>"
        if got != expected:
            wrong.append((given, got, expected))
    assert not wrong, "\n".join(f"{g!r}: got {o!r}, want {e!r}" for g, o, e in wrong)


def test_safebrowsing_marked_cases_are_rejected(vectors: Path) -> None:
    """Cases marked skip have no valid host (the reference implementation fails them): we reject them."""
    cases = [i for i, _, skip in _safebrowsing(vectors) if skip]
    assert cases
    accepted = []
    for given in cases:
        try:
            accepted.append((given, normalise("url", given)))
        except InvalidIdentifierError as err:
            assert err.kind == "url"
    assert not accepted, f"accepted URLs without a valid host: {accepted}"


def test_safebrowsing_outputs_are_fixed_points(vectors: Path) -> None:
    for given, expected, skip in _safebrowsing(vectors):
        if not skip:
            assert normalise("url", expected) == expected, given


def test_uid2_email_table(vectors: Path) -> None:
    """Every input normalises to the published form, whose SHA-256 matches the published hash."""
    checked = 0
    for case in _uid2(vectors):
        assert hashlib.sha256(case["normalized"].encode("utf-8")).hexdigest() == case["sha256"]
        for given in case["inputs"]:
            got = normalise("email", given)
            assert got == case["normalized"], given
            assert hashlib.sha256(got.encode("utf-8")).hexdigest() == case["sha256"], given
            checked += 1
    assert checked >= 10


def test_uid2_outputs_are_fixed_points(vectors: Path) -> None:
    for case in _uid2(vectors):
        assert normalise("email", case["normalized"]) == case["normalized"]


@pytest.mark.parametrize("spacing", [" {} ", "\u00a0{}\u2003"])
def test_uid2_inputs_trimmed(vectors: Path, spacing: str) -> None:
    for case in _uid2(vectors):
        for given in case["inputs"]:
            assert normalise("email", spacing.format(given)) == case["normalized"]
