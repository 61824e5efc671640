"""Crashes on PostgreSQL: SIGKILL a replica, and separately the PostgreSQL server, during a bulk submit.

Clients use the SDK's idempotent retry over a replica list; afterwards nothing acknowledged is lost,
nothing is duplicated and the audit passes. The test runs its own throwaway PostgreSQL cluster (it kills
it), so it needs Debian's PostgreSQL binaries and, as root, the ``postgres`` user; otherwise it skips.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from exchange.cli import main
from tests.harness_process import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Cluster:
    """A PostgreSQL cluster of the test's own, on a free loopback port."""

    def __init__(self, root: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            pytest.skip("PostgreSQL binaries not installed")
        self.bin = bins[-1]
        self.root = root
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root without a postgres user")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, f"{self.bin}/{tool}", *args], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=on"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w", "start", "-o", options)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend (a crash, not a shutdown)."""
        pid = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)
        os.kill(pid, 9)
        for _ in range(100):
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, f"{self.bin}/pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: that is private to the test's user, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="sigx-pgcrash-"))
    try:
        c = Cluster(root)
        yield c
        c.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _push(
    address: str,
    creds: Path,
    total: int,
    results: list[tuple[str, int]],
    progressed: threading.Event,
    failures: list[BaseException],
) -> None:
    signals = (Signal(Identifier("domain", f"pgcrash{i}.example"), category="grooming") for i in range(total))
    try:
        with ExchangeClient.connect(address, credentials=creds) as client:
            for result in client.submit_stream(signals, batch_size=200):
                results.append((result.status, result.signal_id))
                if len(results) >= 1000:
                    progressed.set()
    except BaseException as exc:  # reported by the test
        failures.append(exc)
        progressed.set()


def _check(
    address: str,
    server: ServerProcess,
    total: int,
    results: list[tuple[str, int]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(results) == total
    assert {status for status, _ in results} <= {"accepted", "duplicate"}
    with ExchangeClient.connect(address, credentials=server.creds("demo-b")) as reader:
        stored = [e.signal_id for e in reader.pull() if e.kind == "submit"]
    assert len(stored) == total == len(set(stored))  # nothing lost, nothing twice
    assert {sid for _, sid in results} == set(stored)
    capsys.readouterr()
    rc = main(["audit", "verify", "--as", str(server.creds("auditor")), "--server", address, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, report["problems"]


def _handled(log: Path, method: str) -> set[str]:
    """The status codes a server logged for ``method``."""
    codes = set()
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "request_handled" and str(entry.get("method", "")).endswith("/" + method):
            codes.add(entry["code"])
    return codes


def test_sigkill_a_replica_during_bulk_submit(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = ServerProcess(tmp_path / "data", tmp_path / "r1.log", "--database", cluster.url)
    second = ServerProcess(tmp_path / "data", tmp_path / "r2.log", "--database", cluster.url)
    results: list[tuple[str, int]] = []
    failures: list[BaseException] = []
    progressed = threading.Event()
    total = 5000
    # Only replica 1 at first, so the kill cuts the stream for sure; then the list fails over.
    thread = threading.Thread(
        target=_push,
        args=(f"ipv4:{first.address},{second.address}", first.creds("demo-a"), total, results, progressed, failures),
        daemon=True,
    )
    thread.start()
    assert progressed.wait(60)
    first.kill()
    in_flight = len(results) < total
    thread.join(120)
    try:
        assert in_flight, "the kill came after the last answer"
        assert not failures, failures
        assert _handled(tmp_path / "r2.log", "SubmitStream"), "the client never failed over to replica 2"
        _check(second.address, second, total, results, tmp_path, capsys)
    finally:
        assert second.stop() == 0


def test_sigkill_postgres_during_bulk_submit(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log", "--database", cluster.url)
    results: list[tuple[str, int]] = []
    failures: list[BaseException] = []
    progressed = threading.Event()
    total = 5000
    thread = threading.Thread(
        target=_push, args=(server.address, server.creds("demo-a"), total, results, progressed, failures), daemon=True
    )
    thread.start()
    assert progressed.wait(60)
    cluster.kill()
    in_flight = len(results) < total
    time.sleep(1.0)
    cluster.start()
    thread.join(120)
    try:
        assert in_flight, "the kill came after the last answer"
        assert not failures, failures
        # The exchange felt the outage (its pool lost its connections) and answered, if at all, with
        # UNAVAILABLE (retryable), never UNKNOWN or INTERNAL; a request that only waited on the pool
        # through the restart simply succeeded.
        log = (tmp_path / "server.log").read_text()
        assert "error connecting" in log or "discarding closed connection" in log
        codes = _handled(tmp_path / "server.log", "SubmitStream")
        assert codes <= {"OK", "UNAVAILABLE"}, codes
        _check(server.address, server, total, results, tmp_path, capsys)
    finally:
        assert server.stop() == 0
