"""SIGKILL in the middle of a bulk submit loses nothing acknowledged and leaves an auditable log."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal, SignalExchangeError
from exchange.cli import main
from tests.harness_process import ServerProcess

pytestmark = pytest.mark.integration


def test_sigkill_during_bulk_submit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    acknowledged: list[int] = []
    failure: list[BaseException] = []
    enough = threading.Event()

    def push() -> None:
        signals = (Signal(Identifier("domain", f"bulk{i}.example"), category="grooming") for i in range(200_000))
        try:
            with ExchangeClient.connect(server.address, credentials=server.creds("demo-a"), retry=None) as client:
                for result in client.submit_stream(signals, batch_size=250):
                    assert result.status == "accepted"
                    acknowledged.append(result.seq)
                    if len(acknowledged) >= 3000:
                        enough.set()
        except SignalExchangeError as exc:
            failure.append(exc)
        finally:
            enough.set()

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    assert enough.wait(120)
    server.kill()  # mid-stream: batches are in flight
    thread.join(30)
    assert failure, "the stream should have been cut by the kill"
    assert len(acknowledged) >= 3000

    restarted = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    try:
        with ExchangeClient.connect(restarted.address, credentials=restarted.creds("demo-b")) as reader:
            seqs = [e.seq for e in reader.pull()]
        assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)  # nothing duplicated
        assert set(acknowledged) <= set(seqs)  # nothing acknowledged lost
        capsys.readouterr()
        rc = main(
            [
                "audit",
                "verify",
                "--as",
                str(restarted.creds("auditor")),
                "--server",
                restarted.address,
                "--state",
                str(tmp_path / "audit"),
                "--json",
            ]
        )
        report = json.loads(capsys.readouterr().out)
        assert rc == 0, report["problems"]
        assert report["counts"]["submit"] == len(seqs)
    finally:
        assert restarted.stop() == 0


def test_sdk_retry_rides_out_a_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The client's idempotent retry resends unanswered batches after a crash: every signal ends up
    stored exactly once, whether its answer said accepted (first try) or duplicate (resent)."""
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    address = server.address
    total = 6000
    results: list[tuple[str, int]] = []
    progressed = threading.Event()

    def push() -> None:
        signals = (Signal(Identifier("domain", f"retry{i}.example"), category="grooming") for i in range(total))
        with ExchangeClient.connect(address, credentials=server.creds("demo-a")) as client:
            for result in client.submit_stream(signals, batch_size=200):
                results.append((result.status, result.signal_id))
                if len(results) >= 1000:
                    progressed.set()

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    assert progressed.wait(60)
    server.kill()
    restarted = ServerProcess(tmp_path / "data", tmp_path / "server.log", listen=address)
    try:
        thread.join(120)
        assert not thread.is_alive()
        assert len(results) == total
        assert {status for status, _ in results} <= {"accepted", "duplicate"}
        with ExchangeClient.connect(address, credentials=restarted.creds("demo-b")) as reader:
            stored = [e.signal_id for e in reader.pull()]
        assert len(stored) == total == len(set(stored))  # exactly once
        assert {sid for _, sid in results} == set(stored)
        capsys.readouterr()
        rc = main(["audit", "verify", "--as", str(restarted.creds("auditor")), "--server", address, "--json"])
        assert rc == 0, capsys.readouterr().out
    finally:
        assert restarted.stop() == 0
