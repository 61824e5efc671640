"""The transparency report through a real server: its numbers match what happened (a reference model over
random events, a property test), an auditor rebuilds it from the log alone, and a tampered entry is named."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.audit.report import shown
from client_sdk.errors import InvalidArgumentError
from tests.harness import Exchange, stored_envelope
from tests.integration.safeguard_tools import sigx

pytestmark = pytest.mark.integration

CATEGORIES = ("sextortion.financial", "grooming", "spam.abuse")
VERDICTS = ("confirmed", "actioned", "false_positive", "not_found")
PERIOD = "2026-Q4"


class World:
    """demo-a submits; demo-b, r1 and r2 give feedback; what the report must say, counted independently."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.a = exchange.client("demo-a")
        self.reviewers = [exchange.client("demo-b")] + [
            ExchangeClient.connect(exchange.address, credentials=exchange.add_member(n)) for n in ("r1", "r2")
        ]
        self.operator = ExchangeClient.connect(exchange.address, credentials=exchange.creds("operator"))
        self.live: dict[int, str] = {}  # signal id -> category
        self.fp: dict[int, set[int]] = {}
        self.quarantined: set[int] = set()
        self.n = 0
        self.want: Counter[str] = Counter()

    def close(self) -> None:
        for c in (self.a, *self.reviewers, self.operator):
            c.close()

    def submit(self, category: str) -> None:
        self.n += 1
        [r] = self.a.submit([Signal(Identifier("domain", f"d{self.n}.example"), category=category)])
        self.live[r.signal_id] = category
        self.want.update(["shared.total", f"shared.by_category.{category}", "shared.by_type.domain"])
        self.want["shared.by_member_kind.platform"] += 1

    def feedback(self, pick: int, who: int, verdict: str) -> None:
        if not self.live:
            return
        sid = sorted(self.live)[pick % len(self.live)]
        done = self.reviewers[who].feedback(sid, verdict)
        if done.unchanged:
            return
        self.want[f"feedback.{verdict}"] += 1
        voters = self.fp.setdefault(sid, set())
        (voters.add if verdict == "false_positive" else voters.discard)(who)
        if len(voters) >= 3 and sid not in self.quarantined:
            self.quarantined.add(sid)
            self.want.update(["quarantined.total", "quarantined.by_reason.false_positive"])

    def retract(self, pick: int, how: str) -> None:
        if not self.live:
            return
        sid = sorted(self.live)[pick % len(self.live)]
        category = self.live.pop(sid)
        if how == "operator":
            self.operator.retract(sid, reason="appeal upheld", reason_code="appeal_upheld")
        else:
            self.a.retract(sid, reason="withdrawn", reason_code=how)
        self.want.update(["retracted.total", f"retracted.by_category.{category}"])
        if how in ("operator", "wrong_person"):
            self.want["retracted.for_redress"] += 1

    def expected(self) -> dict[str, object]:
        return {k: shown(n) for k, n in self.want.items()}


@pytest.fixture
def world(exchange: Exchange) -> Iterator[World]:
    w = World(exchange)
    yield w
    w.close()


def _report(exchange: Exchange, path: Path, *fmt: str) -> dict:
    op = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    code, out, err = sigx("admin", "report", "--period", PERIOD, "--out", str(path), *fmt, *op)
    assert code == 0, err
    code, out, err = sigx("audit", "report", str(path), "--as", str(exchange.creds("auditor")), "--json")
    return {"code": code, **json.loads(out)}


def _numbers(path: Path) -> dict[str, object]:
    from client_sdk.audit.report import flatten

    return dict(flatten(json.loads(path.read_text())["numbers"]))


events = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from(CATEGORIES)),
        st.tuples(st.just("feedback"), st.integers(0, 50), st.integers(0, 2), st.sampled_from(VERDICTS)),
        st.tuples(st.just("retract"), st.integers(0, 50), st.sampled_from(["operator", "wrong_person", "superseded"])),
    ),
    min_size=20,
    max_size=60,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=events)
def test_report_matches_what_happened(world: World, tmp_path: Path, batch: list[tuple]) -> None:
    for name, *args in batch:
        getattr(world, name)(*args)
    path = tmp_path / f"report-{world.n}.json"
    result = _report(world.exchange, path, "--json")
    assert result["code"] == 0 and result["ok"] and not result["disagree"], result
    numbers, want = _numbers(path), world.expected()
    for key, value in want.items():
        assert numbers.get(key) == value, (key, numbers.get(key), value)
    for key, value in numbers.items():  # nothing counted that did not happen
        if key.split(".")[0] in ("shared", "retracted", "feedback", "quarantined"):
            assert value == want.get(key, 0), (key, value)
    assert numbers["members_by_kind.platform"] == shown(4)  # demo-a, demo-b, r1 and r2


@pytest.mark.sqlite_only
def test_a_tampered_entry_names_the_number(exchange: Exchange, tmp_path: Path) -> None:
    with exchange.client("demo-a") as a:
        for category in ("grooming", "spam.abuse"):
            a.submit([Signal(Identifier("domain", f"{category}{i}.example"), category=category) for i in range(12)])
    html = tmp_path / "report.html"
    result = _report(exchange, html, "--html")
    assert result["ok"] and "shared.by_category.grooming" in result["agree"]
    assert "<td>shared.by_category.grooming</td><td>12</td>" in html.read_text()
    db = sqlite3.connect(exchange.db_path)
    [(spam_seq,)] = db.execute(
        "SELECT e.seq FROM events e JOIN signals s ON s.id = e.signal JOIN categories c ON c.id = s.category"
        " WHERE c.name = 'spam.abuse' ORDER BY e.seq LIMIT 1"
    ).fetchall()
    spam_envelope = stored_envelope(exchange.db_path, spam_seq)
    [(grooming_seq,)] = db.execute(
        "SELECT e.seq FROM events e JOIN signals s ON s.id = e.signal JOIN categories c ON c.id = s.category"
        " WHERE c.name = 'grooming' ORDER BY e.seq LIMIT 1"
    ).fetchall()
    with db:
        db.execute("UPDATE events SET envelope = ? WHERE seq = ?", (spam_envelope, grooming_seq))
    db.close()
    code, out, _ = sigx("audit", "report", str(html), "--as", str(exchange.creds("auditor")))
    assert code == 1
    assert "DISAGREES  shared.by_category.grooming: the report says 12, the log gives 11" in out
    # the edited row no longer rebuilds its leaf, so it is served with none and counted nowhere
    assert "agrees     shared.by_category.spam.abuse" in out
    assert f"entry {grooming_seq - 1}: no leaf record" in out


def test_bad_periods(exchange: Exchange) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        for period, text in (("2999-Q1", "in the future"), ("2026-Q5", "expected YEAR-QN"), ("", "expected")):
            with pytest.raises(InvalidArgumentError) as err:
                op.report(period)
            assert err.value.reason == "bad_period" and text in err.value.message
