"""The operator's surface through `sigx admin` against a real server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.credentials import Credentials
from client_sdk.errors import PermissionDeniedError, QuotaExceededError, SignalExchangeError, UnauthenticatedError
from exchange.cli import main
from tests.harness import Exchange

pytestmark = pytest.mark.integration
CAT = "sextortion.financial"


def admin(exchange: Exchange, capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> object:
    """Run `sigx admin … --json` as the operator; return the parsed JSON output."""
    capsys.readouterr()
    rc = main(["admin", *argv, "--as", str(exchange.creds("operator")), "--server", exchange.address, "--json"])
    out, err = capsys.readouterr()
    assert rc == code, err
    return json.loads(out) if out.strip() else None


def test_member_lifecycle(exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    creds = tmp_path / "newco"
    added = admin(exchange, capsys, "member", "add", "newco", "--out", str(creds))
    assert added["member_id"] == "newco" and added["seq"] > 0  # type: ignore[index]
    assert (creds / "signing.key").stat().st_mode & 0o077 == 0
    made = Credentials.load(creds)  # the TLS key was made by the CLI: the exchange certified its public half
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    tls_key = serialization.load_pem_private_key(made.tls_key_pem, password=None).public_key()
    cert_key = x509.load_pem_x509_certificate(made.cert_pem).public_key()
    assert tls_key.public_bytes(serialization.Encoding.DER, spki) == cert_key.public_bytes(
        serialization.Encoding.DER, spki
    )
    with ExchangeClient.connect(exchange.address, credentials=creds) as newco:
        [r] = newco.submit([Signal(Identifier("email", "x@example.com"), category=CAT)])
        assert r.status == "accepted"
    members = admin(exchange, capsys, "member", "list")
    assert {m["member_id"]: m["status"] for m in members}["newco"] == "active"  # type: ignore[union-attr]

    admin(exchange, capsys, "member", "suspend", "newco", "--reason", "investigation")
    with ExchangeClient.connect(exchange.address, credentials=creds) as newco:
        with pytest.raises(PermissionDeniedError) as denied:
            newco.lookup([Identifier("email", "x@example.com")])
        assert denied.value.reason == "member_suspended"
        assert newco.who_am_i().status == "suspended"
    shown = admin(exchange, capsys, "member", "show", "newco")
    assert shown["status"] == "suspended" and "[members.newco]" in shown["policy"]  # type: ignore[index]
    admin(exchange, capsys, "member", "reinstate", "newco")
    with ExchangeClient.connect(exchange.address, credentials=creds) as newco:
        assert newco.lookup([Identifier("email", "x@example.com")])[0].found

    # Removal is final: the old certificate and key can never be brought back.
    admin(exchange, capsys, "member", "remove", "newco", "--reason", "left the programme")
    capsys.readouterr()
    rc = main(
        ["admin", "member", "reinstate", "newco", "--as", str(exchange.creds("operator")), "--server", exchange.address]
    )
    assert rc == 2 and "FAILED_PRECONDITION [member_removed]" in capsys.readouterr().err
    with ExchangeClient.connect(exchange.address, credentials=creds) as newco, pytest.raises(UnauthenticatedError):
        newco.who_am_i()


def test_suspension_ends_open_streams(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    """A member suspended while it holds a subscription open stops receiving at once."""
    ended: list[BaseException] = []
    seen: list[int] = []
    opened = threading.Event()

    def listen() -> None:
        with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-b"), retry=None) as b:
            try:
                for event in b.subscribe(on_cursor=lambda _: opened.set()):
                    seen.append(event.seq)
            except SignalExchangeError as exc:
                ended.append(exc)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(10)
    admin(exchange, capsys, "member", "suspend", "demo-b", "--reason", "investigation")
    with exchange.client("demo-a") as a:
        [later] = a.submit([Signal(Identifier("domain", "after-suspension.example"), category=CAT)])
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(ended[0], PermissionDeniedError) and ended[0].reason == "member_suspended"
    assert later.seq not in seen


def test_members_cannot_use_admin(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["admin", "policy", "show", "--as", str(exchange.creds("demo-a")), "--server", exchange.address])
    assert rc == 2
    assert "PERMISSION_DENIED [role]" in capsys.readouterr().err


def test_groups_are_audiences(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    admin(exchange, capsys, "group", "create", "trusted")
    admin(exchange, capsys, "group", "add", "trusted", "demo-a")
    assert admin(exchange, capsys, "group", "list") == {"trusted": ["demo-a"]}
    ident = Identifier("domain", "closed.example")
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [r] = a.submit([Signal(ident, category=CAT, audience="trusted")])
        assert r.status == "accepted"
        assert not b.lookup([ident])[0].found and list(b.pull()) == []
        [refused] = b.submit([Signal(ident, category=CAT, audience="trusted")])
        assert (refused.code, refused.tag) == ("PERMISSION_DENIED", "audience")
        admin(exchange, capsys, "group", "add", "trusted", "demo-b")
        assert b.lookup([ident])[0].found and [e.seq for e in b.pull()] == [r.seq]
        admin(exchange, capsys, "group", "remove", "trusted", "demo-b")
        assert not b.lookup([ident])[0].found


def test_policy_apply_shows_diff_and_takes_effect(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[members.demo-b]\nread_categories = ["grooming"]\nlookups_per_day = 3\n')
    preview = admin(exchange, capsys, "policy", "apply", str(policy), "--dry-run")
    assert preview["applied"] is False and '+read_categories = ["grooming"]' in preview["diff"]  # type: ignore[index]
    applied = admin(exchange, capsys, "policy", "apply", str(policy), "--yes")
    assert applied["applied"] is True  # type: ignore[index]
    shown = admin(exchange, capsys, "policy", "show")
    assert shown["version"] == 1 and "lookups_per_day = 3" in shown["document"]  # type: ignore[index]
    assert admin(exchange, capsys, "policy", "apply", str(policy), "--yes")["changed"] is False  # type: ignore[index]
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        a.submit(
            [
                Signal(Identifier("domain", "fin.example"), category=CAT),
                Signal(Identifier("domain", "groom.example"), category="grooming"),
            ]
        )
        assert [e.signal.category for e in b.pull() if e.signal] == ["grooming"]
        with pytest.raises(PermissionDeniedError) as denied:
            list(b.pull(categories=[CAT]))
        assert denied.value.reason == "read_categories"
        assert not b.lookup([Identifier("domain", "fin.example")])[0].found
        assert b.lookup([Identifier("domain", "groom.example")])[0].found
        assert b.lookup([Identifier("domain", "groom.example")])[0].found  # the third of 3
        with pytest.raises(QuotaExceededError) as quota:
            b.lookup([Identifier("domain", "groom.example")])
        assert quota.value.reason == "lookups_per_day" and quota.value.retry_after and quota.value.retry_after > 0


def test_bad_policy_names_the_key(exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[members.demo-b]\nread_categores = []\n")
    rc = main(
        [
            "admin",
            "policy",
            "apply",
            str(policy),
            "--yes",
            "--as",
            str(exchange.creds("operator")),
            "--server",
            exchange.address,
        ]
    )
    assert rc == 2
    assert "members.demo-b.read_categores: unknown key" in capsys.readouterr().err


def test_key_rotation_and_revocation(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    creds_a = exchange.creds("demo-a")
    with exchange.client("demo-a") as a:
        [before] = a.submit([Signal(Identifier("domain", "old-key.example"), category=CAT)])
    old_key = Credentials.load(creds_a).signing_key
    rotated = admin(exchange, capsys, "key", "rotate", "demo-a", "--credentials", str(creds_a))
    assert rotated["old_key_id"] == old_key.key_id  # type: ignore[index]
    exchange.clock.advance(1)
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [after] = a.submit([Signal(Identifier("domain", "new-key.example"), category=CAT)])
        assert after.status == "accepted"
        events = list(b.pull())  # both verify: the old key inside its window, the new one after
        assert [(e.seq, e.key_id) for e in events] == [(before.seq, old_key.key_id), (after.seq, rotated["new_key_id"])]  # type: ignore[index]
        from client_sdk.envelope import seal_body
        from client_sdk.wire import signals_pb2

        stale = seal_body(
            signals_pb2.SignalBody(
                submitter="demo-a",
                type=6,
                value=b"\x01" * 32,
                category=CAT,
                created_at=int(exchange.clock()),
                oprf_epoch=1,
            ),
            old_key,
        )
        [refused] = a.submit_envelopes([stale])
        assert (refused.code, refused.tag) == ("UNAUTHENTICATED", "key_not_valid")
        admin(exchange, capsys, "key", "revoke", str(rotated["new_key_id"]), "--reason", "laptop lost")  # type: ignore[index]
        exchange.clock.advance(1)
        [revoked] = a.submit([Signal(Identifier("domain", "after-revoke.example"), category=CAT)])
        assert (revoked.code, revoked.tag) == ("UNAUTHENTICATED", "key_revoked")
        assert [e.seq for e in b.pull()] == [before.seq, after.seq]  # still verify after revocation
    keys = admin(exchange, capsys, "key", "list", "demo-a")
    assert len(keys) == 2 and keys[1]["revoked_at"]  # type: ignore[index,arg-type]


def test_retention_and_stats(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    admin(exchange, capsys, "retention", "set", "sextortion.test", "1")
    assert admin(exchange, capsys, "retention", "show")["sextortion.test"] == 1  # type: ignore[index]
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [r] = a.submit([Signal(Identifier("domain", "short.example"), category="sextortion.test")])
        assert r.status == "accepted"
        b.feedback(r.signal_id, verdict="false_positive")
        b.lookup([Identifier("domain", "short.example")])
    stats = admin(exchange, capsys, "stats")
    assert stats["counts_scope"] in (  # type: ignore[index]
        "this exchange process, since it started",
        "every replica, since the database was created",
    )
    assert stats["active_signals"] == "1" or stats["active_signals"] == 1  # type: ignore[index]
    counts = {c["key"]: int(c["value"]) for c in stats["feedback_by_verdict"]}  # type: ignore[index]
    assert counts == {"false_positive": 1}
    today = time.strftime("%Y-%m-%d", time.gmtime(exchange.clock()))
    pairs = {(c["key"], c["sub"]): int(c["value"]) for c in stats["submits_by_day_category"]}  # type: ignore[index]
    assert pairs == {(today, "sextortion.test"): 1}
    pairs = {(c["key"], c["sub"]): int(c["value"]) for c in stats["feedback_by_category"]}  # type: ignore[index]
    assert pairs == {("sextortion.test", "false_positive"): 1}
    active = {c["key"]: int(c["value"]) for c in stats["last_activity_by_member"]}  # type: ignore[index]
    assert {"operator", "demo-a", "demo-b"} <= set(active) and abs(active["demo-b"] - exchange.clock()) < 60
    used = {(c["key"], c["sub"]): int(c["value"]) for c in stats["quota_used_today"]}  # type: ignore[index]
    assert used[("demo-b", "lookups_per_day")] == 1 and used[("demo-a", "evaluations_per_day")] == 1
    capsys.readouterr()
    assert main(["admin", "stats", "--as", str(exchange.creds("operator")), "--server", exchange.address]) == 0
    text = capsys.readouterr().out
    lines = {" ".join(line.split()) for line in text.splitlines()}
    assert {f"{today} sextortion.test 1", "sextortion.test false_positive 1", "demo-b lookups_per_day 1"} <= lines
    assert "last activity by member:" in lines
    exchange.clock.advance(86_401)
    assert admin(exchange, capsys, "retention", "run") == {"purged": 1}
