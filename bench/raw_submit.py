"""Raw identifiers in, signals stored: the SDK's ``client.submit`` and ``sigx push`` against the machine's ceiling.

    python bench/raw_submit.py [--signals 20000] [--small 5000] [--push 20000]

A real ``sigx serve`` (SQLite) on this machine; the client in this process (and ``sigx push`` in its
own). The ceiling is computed from per-operation costs measured here, in this run, with the
libraries the code uses: per signal one ristretto255 hash-to-group and six scalar multiplications
(client and exchange together: blind, evaluate, unblind and the batch proof's share) through
libsodium, one Ed25519 signature and one verification (libsodium), spread over every core
(``os.cpu_count()``) with the exchange on the same cores:

    ceiling = cores / (hash_to_group + 6 x scalar_mult + sign + verify)

Printed: signals/s of ``client.submit`` in calls of 5,000 and in calls of 100, of ``sigx push`` of a
CSV, each as a share of the ceiling; and the per-stage split of one call (normalise, pseudonymise =
the VOPRF round trip, sign, the Submit RPC), measured one stage at a time on fresh identifiers.
The machine is shared: read the ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _workloads as wl

from client_sdk import ExchangeClient, Identifier, Signal, envelope, keys, oprf
from client_sdk.credentials import Credentials
from client_sdk.wire import signals_pb2

CATEGORY = "sextortion.financial"
_serial = [0]


def _idents(n: int, tag: str) -> list[Identifier]:
    hosts = ["example.com", "Mail.Example.ORG", "gmail.com", "yahoo.co.uk", "corp-1.example.net"]
    out = []
    for _ in range(n):
        _serial[0] += 1
        out.append(Identifier("email", f"User.{tag}{_serial[0]}@{hosts[_serial[0] % len(hosts)]}"))
    return out


def _per_op_us(fn: Callable[[], object], n: int = 3000, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def ceiling(creds: Credentials) -> dict[str, float]:
    suite = oprf._suite(oprf.MODE_VOPRF)
    scalar = oprf._random_scalar()
    element = suite.hash_to_group(b"email\x00someone@example.com")
    key = creds.signing_key
    body = signals_pb2.SignalBody(
        submitter=creds.member_id, type=1, value=os.urandom(32), category=CATEGORY, confidence=80, created_at=1
    )
    sealed = envelope.open_envelope(envelope.seal_body(body, key))
    msg, sig = sealed.signed_message(), sealed.signature
    costs = {
        "hash_to_group": _per_op_us(lambda: suite.hash_to_group(b"email\x00someone@example.com")),
        "scalar_mult": _per_op_us(lambda: oprf._mul(scalar, element)),
        "sign": _per_op_us(lambda: key.sign(msg)),
        "verify": _per_op_us(lambda: keys.verify(key.public_key, msg, sig)),
    }
    per_signal = costs["hash_to_group"] + 6 * costs["scalar_mult"] + costs["sign"] + costs["verify"]
    cores = os.cpu_count() or 1
    return {**costs, "per_signal_us": per_signal, "cores": cores, "rate": cores / per_signal * 1e6}


def sdk_rate(client: ExchangeClient, n: int, call: int) -> float:
    signals = [Signal(i, category=CATEGORY) for i in _idents(n, f"c{call}x")]
    t0 = time.perf_counter()
    for start in range(0, n, call):
        results = client.submit(signals[start : start + call])
        assert all(r.status == "accepted" for r in results), results[0]
    return n / (time.perf_counter() - t0)


def push_rate(server: wl.ServerProcess, creds_dir: Path, tmp: Path, n: int) -> float:
    csv = tmp / "push.csv"
    with csv.open("w") as fh:
        fh.write("type,value,category\n")
        for ident in _idents(n, "push"):
            fh.write(f"email,{ident.value},{CATEGORY}\n")
    sigx = Path(sys.executable).with_name("sigx")
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(sigx), "push", "--as", str(creds_dir), "--server", server.address, "--quiet", str(csv)],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"sigx push failed ({done.returncode}): {done.stderr[-2000:]}")
    return n / elapsed


def stages(client: ExchangeClient, n: int) -> dict[str, float]:
    """Microseconds per signal of each stage of ``submit``, one stage at a time (nothing overlaps)."""
    idents = _idents(n, "stage")
    t0 = time.perf_counter()
    normalised = [i.normalised() for i in idents]
    t1 = time.perf_counter()
    values = client.pseudonymise(idents)
    t2 = time.perf_counter()
    now = int(time.time())
    key = client.credentials.signing_key
    envs = [
        envelope.seal_body(
            signals_pb2.SignalBody(
                submitter=client.member_id,
                type=1,
                value=v,
                category=CATEGORY,
                confidence=50,
                created_at=now,
                oprf_epoch=client.credentials.oprf_epoch,
            ),
            key,
        )
        for v in values
    ]
    t3 = time.perf_counter()
    for start in range(0, n, 1000):
        client.submit_envelopes(envs[start : start + 1000])
    t4 = time.perf_counter()
    assert len(normalised) == n
    per = 1e6 / n
    return {
        "normalise": (t1 - t0) * per,
        "pseudonymise (VOPRF round trip)": (t2 - t1) * per,
        "sign (seal envelopes)": (t3 - t2) * per,
        "Submit RPC": (t4 - t3) * per,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signals", type=int, default=20_000, help="signals through client.submit in calls of 5,000")
    ap.add_argument("--small", type=int, default=5_000, help="signals through client.submit in calls of 100")
    ap.add_argument("--push", type=int, default=20_000, help="rows of the CSV given to sigx push")
    ap.add_argument("--stage-sample", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sigx-raw-") as tmp_name:
        tmp = Path(tmp_name)
        server = wl.ServerProcess(tmp / "data", tmp / "server.log")
        try:
            run(server, tmp, args)
        finally:
            server.stop()


def run(server: wl.ServerProcess, tmp: Path, args: argparse.Namespace) -> None:
    creds_dir = server.data_dir / "members" / "demo-a"
    creds = Credentials.load(creds_dir)
    wl.lift_quotas(server.address, server.data_dir / "operator")
    ceil = ceiling(creds)
    with ExchangeClient.connect(server.address, credentials=creds_dir) as client:
        client.submit([Signal(i, category=CATEGORY) for i in _idents(2000, "warm")])
        split = stages(client, args.stage_sample)
        big = sdk_rate(client, args.signals, 5000)
        small = sdk_rate(client, args.small, 100)
    push = push_rate(server, creds_dir, tmp, args.push)
    ceil2 = ceiling(creds)  # again at the end; the best of the two is the ceiling
    rate = max(ceil["rate"], ceil2["rate"])
    best = ceil if ceil["rate"] >= ceil2["rate"] else ceil2

    print("\nRaw identifiers to stored signals (SQLite, exchange on the same machine; shared 2-core machine)")
    print(
        f"ceiling: {best['cores']} cores / (hash-to-group {best['hash_to_group']:.1f} + 6 x scalar mult"
        f" {best['scalar_mult']:.1f} + sign {best['sign']:.1f} + verify {best['verify']:.1f} us"
        f" = {best['per_signal_us']:.0f} us) = {rate:,.0f} signals/s"
    )
    print(f"{'path':40} | {'signals/s':>10} | of ceiling | target")
    for name, value in (
        ("client.submit, calls of 5,000", big),
        ("client.submit, calls of 100", small),
        ("sigx push, CSV", push),
    ):
        print(f"{name:40} | {value:10,.0f} | {value / rate:9.0%} | >= 75%")
    total = sum(split.values())
    print(f"\nper-stage split, one stage at a time ({args.stage_sample:,} signals, calls of 1,000):")
    for name, us in split.items():
        print(f"  {name:34} {us:7.1f} us/signal  {us / total:5.1%}")
    print(f"  {'sum (nothing overlapping)':34} {total:7.1f} us/signal = {1e6 / total:,.0f}/s")


if __name__ == "__main__":
    main()
