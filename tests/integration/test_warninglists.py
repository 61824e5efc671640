"""Warninglists through a real server, on both stores: block refuses, inform flags, bad entries change nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from client_sdk import Event, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.errors import InvalidArgumentError, NotFoundError
from client_sdk.vocab import TYPE_CODES
from client_sdk.wire import admin_pb2
from tests.harness import Exchange
from tests.integration.safeguard_tools import admin_changes, audit_ok, sigx

pytestmark = pytest.mark.integration

CAT = "sextortion.financial"
SUPPORT = Identifier("email", "help@platform.example")
STOCK = Identifier("media_md5", "5" * 32)


def test_block_and_inform(exchange: Exchange, tmp_path: Path) -> None:
    op = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    for name, mode in (("support-addresses", "block"), ("stock-images", "inform")):
        code, out, err = sigx("admin", "warninglist", "create", name, "--mode", mode, *op)
        assert code == 0, err
    # a value already shared when it is added to a block list is quarantined by the same logged change
    shared = Identifier("email", "careers@platform.example")
    with exchange.client("demo-a") as a, exchange.client("demo-b") as b:
        [earlier] = a.submit([Signal(shared, category=CAT)])
        code, out, err = sigx(
            "admin",
            "warninglist",
            "add",
            "support-addresses",
            "email:help@platform.example",
            "email:careers@platform.example",
            *op,
            "--json",
        )
        assert code == 0, err
        [added] = json.loads(out)
        assert added["seq"] > 0 and f"quarantined 1 signal(s) already shared: {earlier.signal_id}" in added["summary"]
        code, out, err = sigx("admin", "warninglist", "add", "stock-images", f"media_md5:{'5' * 32}", *op)
        assert code == 0, err

        [blocked, fine] = a.submit([Signal(SUPPORT, category=CAT), Signal(STOCK, category="csam.distribution")])
        assert (blocked.status, blocked.code, blocked.tag) == ("rejected", "FAILED_PRECONDITION", "warninglist")
        assert "'support-addresses'" in blocked.reason
        assert fine.status == "accepted"

        late_hash = "5" * 31 + "6"
        code, out, err = sigx("admin", "warninglist", "add", "stock-images", "--hex", f"media_md5:{late_hash}", *op)
        assert code == 0, err
        received: list[Event] = []
        ready = threading.Event()

        def listen() -> None:
            for event in b.subscribe(on_cursor=lambda _c: ready.set()):
                received.append(event)
                if event.signal is not None and event.signal.value == bytes.fromhex(late_hash):
                    return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert ready.wait(10)
        [late] = a.submit([Signal(Identifier("media_md5", late_hash), category="csam.distribution")])
        thread.join(10)
        pulled = {e.signal_id: e for e in b.pull() if e.kind == "submit"}
        assert pulled[fine.signal_id].warninglists == ("stock-images",)
        assert pulled[late.signal_id].warninglists == ("stock-images",)
        assert pulled[earlier.signal_id].quarantine == "warninglist:support-addresses"
        assert pulled[earlier.signal_id].warninglists == ("support-addresses",)
        live = {e.signal_id: e for e in received}
        assert live[fine.signal_id].warninglists == ("stock-images",)  # flagged in the catch-up
        assert live[late.signal_id].warninglists == ("stock-images",)  # and live
        [hit] = b.lookup([STOCK])
        assert [m.warninglists for m in hit.matches] == [("stock-images",)]

    # removing a value: the next submission is accepted
    code, out, err = sigx("admin", "warninglist", "remove", "support-addresses", "email:help@platform.example", *op)
    assert code == 0 and "1 email value(s) removed from" in out, out + err
    with exchange.client("demo-a") as a:
        [again] = a.submit([Signal(SUPPORT, category=CAT)])
        assert again.status == "accepted"
    code, out, err = sigx("admin", "warninglist", "list", *op, "--json")
    counts = {w["name"]: w.get("entries_by_type", []) for w in json.loads(out)}
    assert counts == {
        "stock-images": [{"key": "media_md5", "value": "2"}],
        "support-addresses": [{"key": "email", "value": "1"}],
    }
    kinds = [c.WhichOneof("change") for c in admin_changes(exchange)]
    assert kinds.count("create_warninglist") == 2 and kinds.count("set_warninglist_entries") == 4
    audit_ok(exchange, tmp_path / "audit")


def test_bad_entries_change_nothing(exchange: Exchange) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(create_warninglist=admin_pb2.CreateWarninglist(name="tests", mode="block"))
        email = TYPE_CODES["email"]
        cases = [
            (dict(list="tests", type=email, values=[b"\1" * 31]), "bad_value", "value 0: a email value is 32 bytes"),
            (dict(list="tests", type=email, values=[b"\1" * 32, b"\2" * 33]), "bad_value", "value 1"),
            (dict(list="tests", type=TYPE_CODES["media_md5"], values=[b"\1" * 32]), "bad_value", "16 bytes"),
            (dict(list="tests", type=42, values=[b"\1" * 32]), "unknown_type", "unknown signal type 42"),
            (dict(list="tests", type=email, values=[]), "no_values", "no values"),
        ]
        for change, reason, text in cases:
            with pytest.raises(InvalidArgumentError) as err:
                op.change(set_warninglist_entries=admin_pb2.SetWarninglistEntries(**change))
            assert err.value.reason == reason and text in err.value.message, (change, err.value.message)
        with pytest.raises(NotFoundError) as missing:
            op.change(
                set_warninglist_entries=admin_pb2.SetWarninglistEntries(list="nope", type=email, values=[b"1" * 32])
            )
        assert missing.value.reason == "warninglist_not_found"
        with pytest.raises(InvalidArgumentError) as mode:
            op.change(create_warninglist=admin_pb2.CreateWarninglist(name="other", mode="drop"))
        assert mode.value.reason == "bad_mode"
        [only] = op.warninglists()
        assert (only.name, only.mode, list(only.entries_by_type)) == ("tests", "block", [])
