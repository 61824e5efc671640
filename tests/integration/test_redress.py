"""Redress that reaches every member, through a real server on both stores: the exchange knows who received a
retracted signal (Pull, Subscribe, Lookup) and who acknowledged; only recipients can; the log verifies."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.errors import FailedPreconditionError, InvalidArgumentError
from client_sdk.member import MatchIndex
from client_sdk.wire import admin_pb2
from tests.harness import Exchange
from tests.integration.safeguard_tools import audit_ok, log_bodies, sigx

pytestmark = pytest.mark.integration

CAT = "sextortion.financial"


def _pending(exchange: Exchange) -> dict[str, tuple[int, str]]:
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("operator")) as op:
        return {r.member: (r.signal_id, r.received_via) for r in op.redress(pending_only=True)}


def test_every_recipient_acknowledges(exchange: Exchange, tmp_path: Path) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as admin:
        admin.change(apply_policy=admin_pb2.ApplyPolicy(document="[defaults]\noprf_bulk_per_day = 1000\n"))
    names = ("puller", "subscriber", "looker")
    creds = {n: exchange.add_member(n) for n in names}
    clients = {n: ExchangeClient.connect(exchange.address, credentials=creds[n]) for n in names}
    person = Identifier("email", "wrongly.accused@example.com")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,type,value,provider\nacct-1,email,wrongly.accused@example.com,\n")
    index = MatchIndex.open(tmp_path / "puller.idx", create=True)
    try:
        index.add_accounts(clients["puller"], accounts)
        got_live = threading.Event()

        def subscribe() -> None:
            for event in clients["subscriber"].subscribe():
                if event.kind == "submit":
                    got_live.set()
                    return

        thread = threading.Thread(target=subscribe, daemon=True)
        thread.start()
        with exchange.client("demo-a") as a:
            [s] = a.submit([Signal(person, category=CAT)])
        assert got_live.wait(10)
        thread.join(10)
        first = index.match(clients["puller"])  # the member side pulls, matches, and an analyst acts on it
        [item] = index.review.items()
        index.review.decide(item.id, "actioned", reviewer="ana")
        assert first.hits == 1
        [hit] = clients["looker"].lookup([person])
        assert [m.signal_id for m in hit.matches] == [s.signal_id]

        with ExchangeClient.connect(exchange.address, credentials=exchange.creds("operator")) as op:
            op.retract(s.signal_id, reason="appeal upheld", reason_code="appeal_upheld")
        assert _pending(exchange) == {
            "puller": (s.signal_id, "pull"),
            "subscriber": (s.signal_id, "subscribe"),
            "looker": (s.signal_id, "lookup"),
        }
        exchange.clock.advance(120)
        assert exchange.running.services.safeguards.oldest_pending() >= 120

        # a member that never received it cannot acknowledge it, and nothing changes
        with exchange.client("demo-b") as b:
            with pytest.raises(FailedPreconditionError) as never:
                b.acknowledge(s.signal_id, "no_action")
            assert (
                never.value.reason == "not_received" and f"never received signal {s.signal_id}" in never.value.message
            )
            assert b.redress() == []
        with pytest.raises(InvalidArgumentError) as bad:
            clients["looker"].acknowledge(s.signal_id, "ignored")
        assert bad.value.reason == "bad_outcome"
        assert set(_pending(exchange)) == set(names)

        # the member side acknowledges when its item is withdrawn, saying an action had been taken
        second = index.match(clients["puller"])
        assert second.acknowledged == [(s.signal_id, "action_taken")]
        assert index.review.item(item.id).status == "decided"
        assert set(_pending(exchange)) == {"subscriber", "looker"}
        clients["subscriber"].acknowledge(s.signal_id, "no_action")
        with pytest.raises(FailedPreconditionError) as twice:
            clients["subscriber"].acknowledge(s.signal_id, "no_action")
        assert twice.value.reason == "already_acknowledged"
        op_args = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
        code, out, _ = sigx("admin", "redress", "pending", *op_args, "--json")
        assert code == 0 and [(r["member"], r["via"]) for r in json.loads(out)] == [("looker", "lookup")]
        assert json.loads(out)[0]["age_seconds"] >= 0
        code, out, err = sigx("redress", "ack", str(s.signal_id), "no_action", "--as", str(creds["looker"]))
        assert code == 0, err
        assert _pending(exchange) == {}
        assert exchange.running.services.safeguards.oldest_pending() == 0

        # a submitter's retraction with a redress reason code asks its recipients too
        with exchange.client("demo-a") as a:
            [t] = a.submit([Signal(Identifier("domain", "not-them.example"), category=CAT)])
        clients["looker"].lookup([Identifier("domain", "not-them.example")])
        code, out, err = sigx(
            "retract", str(t.signal_id), "--reason-code", "wrong_person", "--as", str(exchange.creds("demo-a"))
        )
        assert code == 0, err
        assert _pending(exchange) == {"looker": (t.signal_id, "lookup")}
        [mine] = clients["looker"].redress(pending_only=True)
        assert (mine.signal_id, mine.outcome) == (t.signal_id, "")
    finally:
        index.close()
        for c in clients.values():
            c.close()
    acks = [(x.submitter, x.acknowledge.outcome) for x in log_bodies(exchange, "sigx.safeguard/v1")]
    assert sorted(acks) == [("looker", "no_action"), ("puller", "action_taken"), ("subscriber", "no_action")]
    audit_ok(exchange, tmp_path / "audit")
