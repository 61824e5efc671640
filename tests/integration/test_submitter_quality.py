"""Submitter quality through a real server, on both stores: per submitter and category, on look-up results
and on the member side's review items."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.member import MatchIndex
from client_sdk.wire import admin_pb2
from tests.harness import Exchange

pytestmark = pytest.mark.integration

CAT, OTHER = "sextortion.financial", "grooming"


def test_quality_per_submitter_and_category(exchange: Exchange, tmp_path: Path) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as admin:
        admin.change(apply_policy=admin_pb2.ApplyPolicy(document="[defaults]\noprf_bulk_per_day = 1000\n"))
    third = ExchangeClient.connect(exchange.address, credentials=exchange.add_member("m3"))
    ids = [Identifier("email", f"q{i}@example.com") for i in range(4)]
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b, third:
        s = a.submit([Signal(ids[0], category=CAT), Signal(ids[1], category=CAT), Signal(ids[2], category=CAT)])
        [o] = a.submit([Signal(ids[3], category=OTHER)])
        b.feedback(s[0].signal_id, "confirmed")
        third.feedback(s[0].signal_id, "actioned")
        b.feedback(s[1].signal_id, "false_positive")
        third.feedback(s[2].signal_id, "not_found")
        b.feedback(o.signal_id, "false_positive")
        [in_cat, other] = b.lookup([ids[1], ids[3]])
        want = {"confirmed": 1, "actioned": 1, "false_positive": 1, "not_found": 1}
        assert in_cat.matches[0].submitter_quality == want
        assert other.matches[0].submitter_quality == {
            "confirmed": 0,
            "actioned": 0,
            "false_positive": 1,
            "not_found": 0,
        }
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("account_id,type,value,provider\nacct-9,email,q0@example.com,\n")
        with MatchIndex.open(tmp_path / "b.idx", create=True) as index:
            index.add_accounts(b, accounts)
            index.match(b)
            [item] = index.review.items()
            assert item.signal_id == s[0].signal_id and item.submitter_quality == want


def test_index_of_schema_1_opens(tmp_path: Path) -> None:
    """A match index made before items had a quality column gets it when opened, and keeps its items."""
    path = tmp_path / "old.idx"
    MatchIndex.open(path, create=True).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("ALTER TABLE items DROP COLUMN quality; UPDATE meta SET value = '1' WHERE key = 'schema';")
    conn.close()
    with MatchIndex.open(path) as index:
        assert index.review.items() == []
    assert sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
