"""Every status the exchange answers, with its reason, arrives through the real server (interceptor, rich
status details, trailers) as the SDK error of the same name: each case is a real request that goes wrong,
so nothing here copies the table in exchange/rpc/status.py."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import client_sdk.errors as sdk
from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.envelope import seal_body
from client_sdk.keys import SigningKey
from client_sdk.wire import admin_pb2, exchange_pb2, signals_pb2
from exchange.rpc.status import STATUS_TABLE
from tests.harness import Exchange

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]  # one case fills the disk through SQLite pragmas

CAT = "grooming"


def _cases(exchange: Exchange, a: ExchangeClient) -> dict[str, tuple[Callable[[], object], type, str]]:
    """name -> (a call that fails, the SDK error it must raise, its reason tag)."""
    [mine] = a.submit([Signal(Identifier("domain", "round-trip.example"), category=CAT)])
    a.retract(mine.signal_id, reason="to retract it twice")
    stranger = seal_body(
        signals_pb2.FeedbackBody(submitter="demo-a", signal_id=1, verdict=1, created_at=int(time.time())),
        SigningKey.generate(),
    )
    store = exchange.running.store

    def full_disk() -> object:
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[attr-defined]
        store._writer.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]
        try:
            return a.submit([Signal(Identifier("domain", f"f{i}.example"), category=CAT) for i in range(400)])
        finally:
            store._writer.execute("PRAGMA max_page_count = 1073741823")  # type: ignore[attr-defined]

    return {
        "bad cursor": (lambda: list(a.pull(after="c2.1")), sdk.InvalidArgumentError, "bad_cursor"),
        "batch too large": (
            lambda: a._call(
                a._exchange.Lookup, exchange_pb2.LookupRequest(queries=[exchange_pb2.LookupQuery()] * 3000)
            ),
            sdk.InvalidArgumentError,
            "batch_too_large",
        ),
        "unknown key": (
            lambda: a._call(a._exchange.Feedback, exchange_pb2.FeedbackRequest(envelope=stranger)),
            sdk.UnauthenticatedError,
            "unknown_key",
        ),
        "role": (lambda: AdminClient(a._channel, a.credentials).policy(), sdk.PermissionDeniedError, "role"),
        "missing signal": (lambda: a.retract(10**12, reason="x"), sdk.NotFoundError, "signal_not_found"),
        "retracted twice": (
            lambda: a.retract(mine.signal_id, reason="again"),
            sdk.FailedPreconditionError,
            "already_retracted",
        ),
        "quota": (
            lambda: [a.lookup([Identifier("domain", "q.example")] * 400) for _ in range(6)],
            sdk.QuotaExceededError,
            "lookups_per_day",
        ),
        "store full": (full_disk, sdk.UnavailableError, "store_full"),
    }


def test_every_status_and_reason_round_trips(exchange: Exchange) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-a]\nlookups_per_day = 2000\n"))
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-a"), retry=None) as a:
        seen: set[str] = set()
        for name, (call, cls, reason) in _cases(exchange, a).items():
            with pytest.raises(sdk.ExchangeRpcError) as info:
                call()
            err = info.value
            assert type(err) is cls, f"{name}: {type(err).__name__} {err.diagnostics()}"
            assert err.reason == reason and err.message, name
            assert sdk.RPC_ERRORS[err.code] is cls
            if isinstance(err, sdk.QuotaExceededError):
                assert err.retry_after and err.retry_after > 0
            seen.add(err.code)
    # every status a domain error can be mapped to was produced by a real request
    statuses = {code.name for _, code in STATUS_TABLE}
    assert statuses <= seen, f"no request produced {statuses - seen}"
