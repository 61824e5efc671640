"""Helpers for ``bench/run.py``: the server subprocess, envelope generation, machine ceilings, profiling.

Nothing here is timed by itself except the ceilings; ``run.py`` owns the phases and the report.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from client_sdk import ExchangeClient, envelope, keys, oprf
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.wire import admin_pb2, signals_pb2
from exchange.serve_process import ServeProcess

CATEGORY = "sextortion.financial"
SIGNAL_TYPE_EMAIL = 1
SIGNAL_TYPE_MEDIA_PDQ = 9
_MAX_MESSAGE = 16 * 1024 * 1024
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the server subprocess ---------------------------------------------------------


class ServerProcess(ServeProcess):
    """``sigx serve`` for a benchmark: memory tracked, an optional PostgreSQL database."""

    def __init__(self, data_dir: Path, log_path: Path, startup_timeout: float = 90.0, database: str = "") -> None:
        extra = ["--database", database] if database else []
        super().__init__(data_dir, log_path, *extra, startup_timeout=startup_timeout, track_rss=True)


class ServerGroup:
    """Replicas measured as one: CPU and RSS are summed, clients take replicas in turn."""

    def __init__(self, servers: list[ServerProcess]) -> None:
        self.servers = servers
        self.pid = servers[0].pid
        self.address = servers[0].address
        self._next = 0

    def next_address(self) -> str:
        address = self.servers[self._next % len(self.servers)].address
        self._next += 1
        return address

    def rss_mib(self) -> float:
        return sum(s.rss_mib() for s in self.servers)

    def peak_rss_mib(self) -> float:
        """The largest replica's peak (each replica is its own process and memory budget)."""
        return max(s.peak_rss_mib() for s in self.servers)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)

    def stop(self, timeout: float = 30.0) -> int | None:
        codes = [s.stop(timeout) for s in self.servers]
        return next((c for c in codes if c), codes[0])


# -- clients -----------------------------------------------------------------------


def open_channel(address: str, creds: Credentials) -> grpc.Channel:
    """A mutual-TLS channel with its own connection (no subchannel sharing between bench clients)."""
    tls = grpc.ssl_channel_credentials(
        root_certificates=creds.ca_pem, private_key=creds.tls_key_pem, certificate_chain=creds.cert_pem
    )
    options = [
        ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ("grpc.max_send_message_length", _MAX_MESSAGE),
        ("grpc.use_local_subchannel_pool", 1),
    ]
    channel = grpc.secure_channel(address, tls, options=options)
    grpc.channel_ready_future(channel).result(timeout=30)
    return channel


def open_client(address: str, creds: Credentials) -> ExchangeClient:
    """An SDK client on a fresh, already-connected channel."""
    return ExchangeClient(open_channel(address, creds), creds, timeout=120.0)


#: Benchmarks measure the exchange, not its default quotas (a small member's 100,000 look-ups and
#: 10,000 evaluations a day, which one benchmark phase exceeds in seconds).
BENCH_QUOTAS = {
    "submits_per_minute": 1_000_000_000,
    "lookups_per_day": 1_000_000_000,
    "evaluations_per_day": 1_000_000_000,
    "oprf_bulk_per_day": 1_000_000_000_000,
}


def lift_quotas(address: str, operator_dir: Path) -> None:
    """Apply a policy whose default quotas no benchmark reaches (one logged policy change)."""
    document = "[defaults]\n" + "".join(f"{name} = {limit}\n" for name, limit in BENCH_QUOTAS.items())
    with AdminClient.connect(address, operator_dir) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document=document))


def client_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat (every process, every core)."""
    try:
        with open("/proc/stat") as fh:
            parts = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (parts + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK, steal / _CLK_TCK


# -- envelope generation (multiprocessing workers) ---------------------------------

_GEN: dict[str, object] = {}


def _gen_init(creds_dir: str) -> None:
    creds = Credentials.load(creds_dir)
    _GEN["key"] = creds.signing_key
    _GEN["member"] = creds.member_id
    _GEN["epoch"] = creds.oprf_epoch


def _gen_chunk(task: tuple[int, int, int]) -> tuple[bytes, list[bytes]]:
    """``count`` signed SUBMIT envelopes with random 32-byte values; returns (values blob, envelopes)."""
    count, created_at, signal_type = task
    key = _GEN["key"]
    member, epoch = _GEN["member"], _GEN["epoch"]
    values = os.urandom(32 * count)
    out = []
    for i in range(count):
        body = signals_pb2.SignalBody(
            submitter=member,
            type=signal_type,
            value=values[32 * i : 32 * i + 32],
            category=CATEGORY,
            confidence=80,
            created_at=created_at,
            oprf_epoch=0 if signal_type == SIGNAL_TYPE_MEDIA_PDQ else epoch,  # a media hash is no pseudonym
        )
        out.append(envelope.seal_body(body, key))  # type: ignore[arg-type]
    return values, out


def generate_envelopes(
    creds_dir: Path, n: int, processes: int, chunk: int = 5000, signal_type: int = SIGNAL_TYPE_EMAIL
) -> tuple[list[bytes], list[bytes]]:
    """``n`` envelopes signed as the member in ``creds_dir``, and their values (random pseudonyms, or random
    PDQ hashes), in submission order."""
    import multiprocessing as mp

    created_at = int(time.time())
    tasks = [(min(chunk, n - lo), created_at, signal_type) for lo in range(0, n, chunk)]
    values: list[bytes] = []
    envelopes: list[bytes] = []
    ctx = mp.get_context("spawn")  # no inherited gRPC state in the workers
    with ctx.Pool(processes, initializer=_gen_init, initargs=(str(creds_dir),)) as pool:
        for blob, envs in pool.imap(_gen_chunk, tasks):
            values.extend(blob[i : i + 32] for i in range(0, len(blob), 32))
            envelopes.extend(envs)
    return values, envelopes


# -- machine ceilings --------------------------------------------------------------


def rate_for(fn: Callable[[], object], threads: int, seconds: float, unit: int = 1, inner: int = 64) -> float:
    """Calls of ``fn`` per second (times ``unit``) on ``threads`` threads for about ``seconds``."""
    stop = time.perf_counter() + seconds

    def work() -> int:
        n = 0
        while time.perf_counter() < stop:
            for _ in range(inner):
                fn()
            n += inner
        return n

    started = time.perf_counter()
    with ThreadPoolExecutor(threads, thread_name_prefix="bench-ceiling") as pool:
        futures = [pool.submit(work) for _ in range(threads)]
        total = sum(f.result() for f in futures)
    return total * unit / (time.perf_counter() - started)


def verify_ceilings(sample_envelope: bytes, public_key: bytes, seconds: float) -> dict[str, float]:
    """Ed25519 verifications/s of a real envelope's PAE via cryptography and via libsodium, 1 and 2 threads."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    opened = envelope.open_envelope(sample_envelope)
    msg, sig = opened.signed_message(), opened.signature
    pub = Ed25519PublicKey.from_public_bytes(public_key)
    pub.verify(sig, msg)  # raises if the sample is bad
    assert keys.verify(public_key, msg, sig)

    def crypto() -> None:
        pub.verify(sig, msg)

    def sodium() -> bool:
        return keys.verify(public_key, msg, sig)

    return {
        "verify_cryptography_1t": rate_for(crypto, 1, seconds),
        "verify_cryptography_2t": rate_for(crypto, 2, seconds),
        "verify_libsodium_1t": rate_for(sodium, 1, seconds),
        "verify_libsodium_2t": rate_for(sodium, 2, seconds),
    }


def oprf_ceiling(batch: int, seconds: float) -> float:
    """In-process OprfServer.blind_evaluate (VOPRF, batches of ``batch``) elements/s, as the server runs it."""
    sk, pk = oprf.generate_key_pair()
    server = oprf.OprfServer(oprf.MODE_VOPRF, sk)
    client = oprf.OprfClient(oprf.MODE_VOPRF, pk)
    _, blinded = client.blind([b"email\x00ceiling%d@example.com" % i for i in range(batch)])
    return rate_for(lambda: server.blind_evaluate(blinded), 1, seconds, unit=batch, inner=1)


# -- optional py-spy profiling of the server, one file per phase -------------------


class PhaseProfiler:
    """``py-spy record`` on each named process (server, bench client) for each phase, as raw collapsed stacks."""

    def __init__(self, pids: dict[str, int], out_dir: Path | None, rate: int = 67) -> None:
        self.pids = pids
        self.out_dir = out_dir
        self.rate = rate
        self._procs: list[subprocess.Popen[bytes]] = []
        self.files: dict[str, Path] = {}
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            if shutil.which("py-spy") is None:
                raise RuntimeError("--profile needs py-spy on PATH (pip install py-spy)")

    def start(self, name: str) -> None:
        if self.out_dir is None:
            return
        for who, pid in self.pids.items():
            path = self.out_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.{who}.txt"
            self.files[f"{name} / {who}"] = path
            cmd = ["py-spy", "record", "--pid", str(pid), "--rate", str(self.rate), "--format", "raw",
                   "--output", str(path), "--nonblocking", "--threads"]  # fmt: skip
            self._procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.3)

    def stop(self) -> None:
        for proc in self._procs:
            proc.send_signal(signal.SIGINT)
        for proc in self._procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = []


def summarise_collapsed(path: Path, top: int = 12) -> Iterator[str]:
    """Lines describing a py-spy raw file: samples per thread pool, hottest leaf frames, hottest project frames."""
    if not path.exists():
        yield f"  (no profile at {path})"
        return
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        thread = frames[0]
        threads[re.sub(r"\d+", "N", thread.split(" ", 1)[-1])[:40]] += count
        leaf[frames[-1]] += count
        for frame in set(frames[1:]):
            if "exchange/" in frame or "client_sdk/" in frame:
                inclusive[frame] += count
    if not total:
        yield "  (empty profile)"
        return
    yield f"  samples: {total}  by thread: " + ", ".join(f"{k} {v / total:.0%}" for k, v in threads.most_common(5))
    yield "  hottest leaf frames (self time):"
    for frame, count in leaf.most_common(top):
        yield f"    {count / total:6.1%}  {frame}"
    yield "  hottest project frames (inclusive):"
    for frame, count in inclusive.most_common(top):
        yield f"    {count / total:6.1%}  {frame}"
