"""Quarantine through a real server, on both stores: by false-positive feedback, by a flood of matches, by hand;
released by the submitter or an operator; a quarantined signal never matches in between."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.errors import FailedPreconditionError, NotFoundError, PermissionDeniedError
from client_sdk.wire import admin_pb2
from tests.harness import Exchange
from tests.integration.safeguard_tools import audit_ok, log_bodies, sigx

pytestmark = pytest.mark.integration

CAT = "sextortion.financial"


def _matches(client: ExchangeClient, ident: Identifier) -> list[int]:
    return [m.signal_id for m in client.lookup([ident])[0].matches]


def test_false_positives_quarantine_and_the_submitter_releases(exchange: Exchange, tmp_path: Path) -> None:
    others = [ExchangeClient.connect(exchange.address, credentials=exchange.add_member(n)) for n in ("m1", "m2")]
    target = Identifier("email", "mistaken@example.com")
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [s] = a.submit([Signal(target, category=CAT)])
        reviewers = [b, *others]
        for r in reviewers[:2]:
            r.feedback(s.signal_id, "false_positive")
        assert _matches(b, target) == [s.signal_id]  # two of the default three: still matching
        reviewers[2].feedback(s.signal_id, "false_positive")
        assert [(q.signal_id, q.reason) for q in a.quarantined()] == [(s.signal_id, "false_positive")]
        assert b.quarantined() == []  # a member sees only its own
        for r in reviewers:
            assert _matches(r, target) == []
        pulled = [e for e in b.pull() if e.kind == "submit" and e.signal_id == s.signal_id]
        assert [e.quarantine for e in pulled] == ["false_positive"]

        # only the submitter may release it; nothing changes on a refused release
        with pytest.raises(PermissionDeniedError) as denied:
            b.release(s.signal_id)
        assert denied.value.reason == "not_your_signal"
        with pytest.raises(NotFoundError):
            a.release(987654)
        done = a.release(s.signal_id, reason="checked: the account is the abuser's")
        assert done.seq > 0 and _matches(b, target) == [s.signal_id]
        with pytest.raises(FailedPreconditionError) as twice:
            a.release(s.signal_id)
        assert twice.value.reason == "not_quarantined"
    for c in others:
        c.close()
    releases = [body for body in log_bodies(exchange, "sigx.safeguard/v1") if body.WhichOneof("action") == "release"]
    assert [(r.submitter, r.release.signal_id) for r in releases] == [("demo-a", s.signal_id)]
    audit_ok(exchange, tmp_path / "audit")


def test_a_match_flood_straddling_the_top_of_the_hour_is_caught(exchange: Exchange, tmp_path: Path) -> None:
    op = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    policy = tmp_path / "policy.toml"
    policy.write_text("[members.demo-b]\nquarantine_lookup_matches = 3\n")  # the default window: 3600 s
    code, _, err = sigx("admin", "policy", "apply", str(policy), "--yes", *op)
    assert code == 0, err
    value = Identifier("phone", "+14155550123")
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [s] = a.submit([Signal(value, category=CAT)])
        exchange.clock.advance((3600 - exchange.clock() % 3600 - 20) % 3600)  # 20 s before the top of an hour
        assert [_matches(b, value) for _ in range(3)] == [[s.signal_id]] * 3  # three: at the limit, not over
        exchange.clock.advance(40)  # 20 s past it: a fixed window would start again from nothing
        assert _matches(b, value) == [s.signal_id]  # 1 + 3 x 3580/3600 (floor: 2) = 3
        assert _matches(b, value) == []  # 2 + 2 = 4 in the last hour: quarantined
        [held] = a.quarantined()
        assert (held.signal_id, held.reason) == (s.signal_id, "match_flood")
        a.release(s.signal_id, reason="reviewed")
        assert _matches(b, value) == [s.signal_id]  # released: counted afresh, not quarantined again at once
    [flood] = [x for x in log_bodies(exchange, "sigx.safeguard/v1") if x.WhichOneof("action") == "quarantine"]
    assert (flood.quarantine.member, flood.quarantine.matches, flood.quarantine.window) == ("demo-b", 4, 3600)


def test_match_flood_and_by_hand(exchange: Exchange, tmp_path: Path) -> None:
    op = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    policy = tmp_path / "policy.toml"
    policy.write_text("[members.demo-b]\nquarantine_lookup_matches = 3\n")
    code, out, err = sigx("admin", "policy", "apply", str(policy), "--yes", *op)
    assert code == 0, err
    stock = Identifier("media_md5", "ab" * 16)
    exchange.clock.advance((1800 - exchange.clock() % 3600) % 3600)  # mid-hour: the four matches in one hour
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [s] = a.submit([Signal(stock, category="csam.distribution")])
        assert [_matches(b, stock) for _ in range(3)] == [[s.signal_id]] * 3
        assert _matches(b, stock) == []  # the fourth match in the window quarantined it
        [held] = a.quarantined()
        assert (held.signal_id, held.reason) == (s.signal_id, "match_flood")
        [flood] = [x for x in log_bodies(exchange, "sigx.safeguard/v1") if x.WhichOneof("action") == "quarantine"]
        assert (flood.submitter, flood.quarantine.member, flood.quarantine.matches) == ("exchange", "demo-b", 4)
        code, out, err = sigx("admin", "quarantine", "release", str(s.signal_id), "--reason", "reviewed", *op)
        assert code == 0 and "released" in out, out + err

        # by hand: an operator quarantines a signal, and lookups racing it never see it in between
        [t] = a.submit([Signal(Identifier("domain", "shared.example"), category=CAT)])
        domain = Identifier("domain", "shared.example")
        quarantined, released = threading.Event(), threading.Event()
        seen_in_between: list[list[int]] = []

        def hammer() -> None:
            with exchange.client("demo-b") as c:
                while not released.is_set():
                    started_inside = quarantined.is_set()
                    hits = _matches(c, domain)
                    if started_inside and not released.is_set():
                        seen_in_between.append(hits)

        thread = threading.Thread(target=hammer, daemon=True)
        thread.start()
        hold = admin_pb2.SetQuarantine(signal_id=t.signal_id, quarantined=True, reason="spreads too widely")
        with AdminClient.connect(exchange.address, exchange.creds("operator")) as admin:
            admin.change(set_quarantine=hold)
            quarantined.set()
            while len(seen_in_between) < 20:
                threading.Event().wait(0.01)
            with pytest.raises(FailedPreconditionError) as again:
                admin.change(
                    set_quarantine=admin_pb2.SetQuarantine(signal_id=t.signal_id, quarantined=True, reason="x")
                )
            assert again.value.reason == "already_quarantined"
            released.set()
            thread.join(10)
            admin.change(set_quarantine=admin_pb2.SetQuarantine(signal_id=t.signal_id, quarantined=False, reason="y"))
        assert seen_in_between and all(hits == [] for hits in seen_in_between)
        assert _matches(b, domain) == [t.signal_id]
        # a quarantined signal may still be retracted by its submitter
        code, out, err = sigx("admin", "quarantine", "add", str(t.signal_id), "--reason", "again", *op)
        assert code == 0, err
        a.retract(t.signal_id, reason="withdrawn")
        assert a.quarantined() == []
    actions = [x.WhichOneof("action") for x in log_bodies(exchange, "sigx.safeguard/v1")]
    assert actions == ["quarantine"]  # the operator's transitions are admin entries, the flood the exchange's own
    audit_ok(exchange, tmp_path / "audit")
