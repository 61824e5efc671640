"""Crashes on PostgreSQL: SIGKILL a replica, and separately the PostgreSQL server, during a bulk submit.

Clients use the SDK's idempotent retry over a replica list; afterwards nothing acknowledged is lost,
nothing is duplicated and the audit passes. The test runs its own throwaway PostgreSQL cluster (it kills
it), so it needs Debian's PostgreSQL binaries and, as root, the ``postgres`` user; otherwise it skips.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from exchange.cli import main
from tests.harness_process import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Cluster:
    """A PostgreSQL cluster of the test's own on a free loopback port. The postmaster is this process's
    child, so a SIGKILLed one is reaped here and a restart finds no live-looking lock files."""

    def __init__(self, root: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            pytest.skip("PostgreSQL binaries not installed")
        self.bin = bins[-1]
        self.root = root
        self.user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root without a postgres user")
            self.user = "postgres"
            shutil.chown(root, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [f"{self.bin}/initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True,
            capture_output=True,
            user=self.user,
        )
        self._log = open(root / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start the postmaster (crash recovery runs first after a kill) and wait until it takes connections."""
        options = ["-c", "listen_addresses=127.0.0.1", "-p", str(self.port), "-k", str(self.root), "-c", "fsync=on"]
        options += ["-c", "lc_messages=C"]
        self.proc = subprocess.Popen(
            [f"{self.bin}/postgres", "-D", str(self.root / "data"), *options],
            stdout=self._log,
            stderr=self._log,
            user=self.user,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.root / "server.log").read_text()[-800:]
                    raise RuntimeError(
                        f"PostgreSQL did not start (exit code {self.proc.returncode}, last error {exc}): {log}"
                    ) from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once: a crash, not a shutdown."""
        assert self.proc is not None
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # immediate shutdown: a throwaway cluster
            self.proc.wait(30)
        self._log.close()


def _children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(stat.parent.name))
    return pids


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


TOTAL = 5000


class _BulkPush:
    """5,000 signals over ``submit_stream`` in a thread, with the SDK's idempotent retry."""

    def __init__(self, address: str, creds: Path) -> None:
        self.results: list[tuple[str, int]] = []
        self.failures: list[BaseException] = []
        self._progressed = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(address, creds), daemon=True)
        self._thread.start()

    def _run(self, address: str, creds: Path) -> None:
        signals = (Signal(Identifier("domain", f"pgcrash{i}.example"), category="grooming") for i in range(TOTAL))
        try:
            with ExchangeClient.connect(address, credentials=creds) as client:
                for result in client.submit_stream(signals, batch_size=200):
                    self.results.append((result.status, result.signal_id))
                    if len(self.results) >= 1000:
                        self._progressed.set()
        except BaseException as exc:  # reported by the test
            self.failures.append(exc)
            self._progressed.set()

    def crash_mid_stream(self, crash: Callable[[], None]) -> bool:
        """Wait for 1,000 answers, ``crash()``, and say whether batches were still unanswered then."""
        assert self._progressed.wait(60)
        crash()
        return len(self.results) < TOTAL

    def finish(self) -> None:
        self._thread.join(120)


def _check(address: str, server: ServerProcess, push: _BulkPush, capsys: pytest.CaptureFixture[str]) -> None:
    assert len(push.results) == TOTAL
    assert {status for status, _ in push.results} <= {"accepted", "duplicate"}
    with ExchangeClient.connect(address, credentials=server.creds("demo-b")) as reader:
        stored = [e.signal_id for e in reader.pull() if e.kind == "submit"]
    assert len(stored) == TOTAL == len(set(stored))  # nothing lost, nothing twice
    assert {sid for _, sid in push.results} == set(stored)
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
    # Only replica 1 at first, so the kill cuts the stream for sure; then the list fails over.
    push = _BulkPush(f"ipv4:{first.address},{second.address}", first.creds("demo-a"))
    in_flight = push.crash_mid_stream(first.kill)
    push.finish()
    try:
        assert in_flight, "the kill came after the last answer"
        assert not push.failures, push.failures
        assert _handled(tmp_path / "r2.log", "SubmitStream"), "the client never failed over to replica 2"
        _check(second.address, second, push, capsys)
    finally:
        assert second.stop() == 0


def test_sigkill_postgres_during_bulk_submit(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log", "--database", cluster.url)
    push = _BulkPush(server.address, server.creds("demo-a"))
    in_flight = push.crash_mid_stream(cluster.kill)
    time.sleep(1.0)
    cluster.start()
    push.finish()
    try:
        assert in_flight, "the kill came after the last answer"
        assert "automatic recovery in progress" in (cluster.root / "server.log").read_text()  # a real crash
        assert not push.failures, push.failures
        # The exchange felt the outage (its pool lost its connections) and answered, if at all, with
        # UNAVAILABLE (retryable), never UNKNOWN or INTERNAL; a request that only waited on the pool
        # through the restart simply succeeded.
        log = (tmp_path / "server.log").read_text()
        assert "error connecting" in log or "discarding closed connection" in log
        codes = _handled(tmp_path / "server.log", "SubmitStream")
        assert codes <= {"OK", "UNAVAILABLE"}, codes
        _check(server.address, server, push, capsys)
    finally:
        assert server.stop() == 0
