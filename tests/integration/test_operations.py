"""Running it for real: metrics, health, reflection, structured logs, shutdown, full disks."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from client_sdk import ExchangeClient, Identifier, Signal, SignalExchangeError
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.errors import UnavailableError
from client_sdk.wire import admin_pb2, directory_pb2
from exchange.errors import UnavailableError as ServerUnavailable
from tests.harness import Exchange, start_exchange
from tests.harness_process import ServerProcess

pytestmark = pytest.mark.integration


def _channel(exchange_address: str, creds_dir: Path) -> grpc.Channel:
    c = Credentials.load(creds_dir)
    return grpc.secure_channel(exchange_address, grpc.ssl_channel_credentials(c.ca_pem, c.tls_key_pem, c.cert_pem))


def test_metrics_endpoint(tmp_path: Path) -> None:
    ex = start_exchange(tmp_path, metrics_listen="127.0.0.1:0")
    try:
        port = ex.running.metrics_server.server_port
        with ex.client("demo-a") as a, ex.client("demo-b") as b:
            [shared] = a.submit([Signal(Identifier("domain", "m.example"), category="grooming")])
            a.lookup([Identifier("domain", "m.example")])
            b.lookup([Identifier("domain", "m.example")])  # demo-b received it ...
        with ex.client("operator") as operator:  # ... so it owes an acknowledgement of its retraction for redress
            operator.retract(shared.signal_id, reason="appeal upheld", reason_code="appeal_upheld")
        ex.clock.advance(90)
        with AdminClient.connect(ex.address, ex.creds("operator")) as op:
            op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-b]\nlookups_per_day = 0\n"))
        with ex.client("demo-b") as b, pytest.raises(SignalExchangeError):
            b.lookup([Identifier("domain", "m.example")])
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        ex.running.stop(grace=1)
    assert 'sigx_requests_total{code="OK",method="/signal_exchange.v1.Exchange/Submit"} 1.0' in text
    assert 'sigx_requests_total{code="RESOURCE_EXHAUSTED",method="/signal_exchange.v1.Exchange/Lookup"} 1.0' in text
    assert 'sigx_request_seconds_bucket{le="0.5",method="/signal_exchange.v1.Exchange/Lookup"}' in text
    assert 'sigx_quota_denials_total{member="demo-b"} 1.0' in text
    assert "sigx_log_entries 8.0" in text  # 4 accounts, the exchange key, a policy, a signal, its retraction
    assert "sigx_oprf_evaluations_total 4.0" in text  # demo-b pseudonymised before its second look-up was refused
    [waited] = [line for line in text.splitlines() if line.startswith("sigx_redress_oldest_pending_seconds ")]
    assert 90 <= float(waited.split()[1]) < 150
    assert "m.example" not in text


def test_health_and_reflection(exchange: Exchange) -> None:
    with _channel(exchange.address, exchange.creds("auditor")) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "signal_exchange.v1.Exchange", "signal_exchange.v1.Log"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        db = ProtoReflectionDescriptorDatabase(channel)
        services = set(db.get_services())
        assert {
            "signal_exchange.v1.Exchange",
            "signal_exchange.v1.Admin",
            "signal_exchange.v1.Log",
            "grpc.health.v1.Health",
        } <= services
        exchange.running.health.enter_graceful_shutdown()
        resp = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_logs_carry_request_and_member_ids(exchange: Exchange, server_log: Path) -> None:
    with exchange.client("demo-a") as a:
        a._call(a._directory_stub.WhoAmI, directory_pb2.WhoAmIRequest(), metadata=(("x-request-id", "trace-abc-123"),))
    lines = [json.loads(x) for x in server_log.read_text().splitlines() if x.startswith("{")]
    mine = [x for x in lines if x.get("request_id") == "trace-abc-123"]
    assert mine and mine[-1]["member"] == "demo-a" and mine[-1]["event"] == "request_handled"
    assert mine[-1]["method"] == "/signal_exchange.v1.Directory/WhoAmI" and mine[-1]["code"] == "OK"


@pytest.mark.sqlite_only  # fills the disk and makes it read-only through SQLite pragmas
def test_disk_full_and_read_only_refuse_writes_reads_go_on(exchange: Exchange) -> None:
    store = exchange.running.store
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-a"), retry=None) as a:
        [kept] = a.submit([Signal(Identifier("domain", "kept.example"), category="grooming")])
        size = store.log_size()
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
        store._writer.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
        with pytest.raises(UnavailableError) as full:
            a.submit([Signal(Identifier("domain", f"x{i}.example"), category="grooming") for i in range(400)])
        assert full.value.reason == "store_full" and "reads go on" in full.value.message
        assert a.lookup([Identifier("domain", "kept.example")])[0].found
        assert [e.seq for e in a.pull()] == [kept.seq]
        store._writer.execute("PRAGMA max_page_count = 1073741823")
        store._writer.execute("PRAGMA query_only = ON")  # a read-only database
        with pytest.raises(UnavailableError) as ro:
            a.retract(kept.signal_id, reason="x")
        assert ro.value.reason == "store_read_only"
        store._writer.execute("PRAGMA query_only = OFF")
        assert store.log_size() == size
        [after] = a.submit([Signal(Identifier("domain", "after.example"), category="grooming")])
        assert after.status == "accepted" and after.seq == kept.seq + 1  # nothing lost, no gap
        assert a.verify_receipt(after).size == after.seq


@pytest.mark.sqlite_only  # fills the disk through SQLite pragmas
def test_retries_through_an_outage_are_not_charged_to_the_quota(exchange: Exchange) -> None:
    """Submits refused because the store is unavailable give their quota back: a client retrying through
    a full disk is not turned away with RESOURCE_EXHAUSTED once the disk has room again."""
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-a]\nsubmits_per_minute = 1000\n"))
    store = exchange.running.store
    batch = [Signal(Identifier("domain", f"q{i}.example"), category="grooming") for i in range(400)]
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-a"), retry=None) as a:
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
        store._writer.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full
        for _ in range(3):  # 1200 signals asked for, 1000 allowed per minute
            with pytest.raises(UnavailableError):
                a.submit(batch)
        store._writer.execute("PRAGMA max_page_count = 1073741823")
        assert [r.status for r in a.submit(batch)] == ["accepted"] * 400
        assert exchange.running.services.policy.ledger.used("demo-a", "submits_per_minute") == 400


def test_store_outage_mid_batch_fails_the_batch_not_its_items(
    exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store going away after the quota charge but during the per-envelope checks (it happened when
    PostgreSQL was killed mid-submit) is not a verdict on any envelope: the batch fails UNAVAILABLE and
    the SDK's retry stores it once, instead of a final "rejected" for a valid signal."""
    store = exchange.running.store
    real = store.get_signing_key
    outages = [1]

    def flaky(key_id: str) -> object:
        if outages[0]:
            outages[0] -= 1
            raise ServerUnavailable("the database connection was lost", reason="store_unreachable")
        return real(key_id)

    monkeypatch.setattr(store, "get_signing_key", flaky)
    signals = [Signal(Identifier("domain", f"outage{i}.example"), category="grooming") for i in range(3)]
    size = store.log_size()
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-a"), retry=None) as a:
        with pytest.raises(UnavailableError) as err:
            a.submit(signals)
        assert "connection was lost" in err.value.message
        assert store.log_size() == size  # nothing half-stored
        outages[0] = 1
        with pytest.raises(UnavailableError):
            list(a.submit_stream(signals))
    outages[0] = 1
    with exchange.client("demo-a") as a:  # default retry policy
        results = a.submit(signals)
    assert [r.status for r in results] == ["accepted"] * 3
    assert store.log_size() == size + 3


def test_sigterm_finishes_in_flight_writes(tmp_path: Path) -> None:
    config = tmp_path / "exchange.toml"
    config.write_text("[server]\ngrace = 2.0\n")
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log", "--config", str(config))
    acknowledged: list[int] = []
    started = threading.Event()
    errors: list[BaseException] = []

    def push() -> None:
        signals = (Signal(Identifier("domain", f"t{i}.example"), category="grooming") for i in range(100_000))
        try:
            with ExchangeClient.connect(server.address, credentials=server.creds("demo-a"), retry=None) as client:
                for result in client.submit_stream(signals, batch_size=250):
                    acknowledged.append(result.seq)
                    started.set()
        except SignalExchangeError as exc:
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    assert started.wait(60)
    assert server.stop() == 0  # SIGTERM: graceful, exit status 0
    thread.join(30)
    restarted = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    try:
        with ExchangeClient.connect(restarted.address, credentials=restarted.creds("demo-b")) as reader:
            seqs = {e.seq for e in reader.pull()}
        assert set(acknowledged) <= seqs
    finally:
        assert restarted.stop() == 0
    log = (tmp_path / "server.log").read_text()
    assert "shutdown_requested" in log and "exchange_stopped" in log
