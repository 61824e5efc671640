"""The OASIS TAXII 2.1 reference server (medallion) and this exchange, the same work side by side.

    python3.11 -m venv /tmp/medallion-venv && /tmp/medallion-venv/bin/pip install medallion
    python bench/peers.py --medallion /tmp/medallion-venv/bin/medallion [--n 10000] [--page 100]

medallion is not a dependency of this project: install it in a virtualenv of its own, as above, and
name its ``medallion`` command. Both servers run here, one at a time, on this machine:

* medallion 3 with its memory backend (``session_timeout`` raised to an hour so that its ``next``
  paging tokens outlive slow pages), HTTP on 127.0.0.1, basic auth: N STIX 2.1 indicators (an e-mail
  address pattern each) POSTed in envelopes of 100, then every object fetched back with
  ``limit=PAGE`` and ``next``.
* ``sigx serve`` (SQLite), mutual TLS: N signals added in calls of 100, twice over: from raw e-mail
  addresses through ``client.submit`` (normalised, pseudonymised through the VOPRF, signed, and every
  signature checked by the exchange) and as envelopes signed beforehand (``submit_envelopes``); then
  every event fetched back through ``pull`` (pages of PAGE events), with and without verifying each
  signature.

Printed: both sides' rates and the ratio exchange / medallion. The exchange does more per object
(signatures, the VOPRF, the signature log): the ratio is what a member gets for that. The machine is
shared: read the ratios.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _workloads as wl

from client_sdk import ExchangeClient, Identifier, Signal

TAXII = "application/taxii+json;version=2.1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
CATEGORY = "sextortion.financial"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Medallion:
    """medallion with a memory backend holding one empty, writable collection."""

    def __init__(self, command: str, tmp: Path, page: int) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data = {
            "/discovery": {"title": "bench", "default": f"{self.base}/api1/", "api_roots": [f"{self.base}/api1/"]},
            "api1": {
                "information": {"title": "bench", "versions": [TAXII], "max_content_length": 100_000_000},
                "status": [],
                "collections": [
                    {
                        "id": COLLECTION,
                        "title": "signals",
                        "can_read": True,
                        "can_write": True,
                        "media_types": ["application/stix+json;version=2.1"],
                        "objects": [],
                        "manifest": [],
                    }
                ],
            },
        }
        (tmp / "medallion-data.json").write_text(json.dumps(data))
        config = {
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": str(tmp / "medallion-data.json"),
                "session_timeout": 3600,
            },
            "users": {"bench": "bench-password"},
            "taxii": {"max_page_size": page},
        }
        (tmp / "medallion.json").write_text(json.dumps(config))
        self.auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        self.log = (tmp / "medallion.log").open("w")
        self.proc = subprocess.Popen(
            [command, "--host", "127.0.0.1", "--port", str(self.port), str(tmp / "medallion.json")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/taxii2/")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise SystemExit(f"medallion did not start; see {tmp / 'medallion.log'}")

    def request(self, method: str, path: str, body: object = None, timeout: float = 600) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": TAXII, "Authorization": self.auth}
        if data is not None:
            headers["Content-Type"] = TAXII
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def _indicator(i: int, now: str) -> dict:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": now,
        "modified": now,
        "valid_from": now,
        "pattern_type": "stix",
        "pattern": f"[email-addr:value = 'peer{i}@example.com']",
        "labels": [CATEGORY],
    }


def run_medallion(command: str, tmp: Path, n: int, page: int, timeout: float) -> dict[str, float | str]:
    server = Medallion(command, tmp, page)
    objects = f"/api1/collections/{COLLECTION}/objects/"
    try:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        t0 = time.perf_counter()
        for start in range(0, n, 100):
            status = server.request(
                "POST", objects, {"objects": [_indicator(i, now) for i in range(start, start + 100)]}
            )
            if status.get("failure_count"):
                raise SystemExit(f"medallion refused objects: {status}")
        add = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        got, token, problem = 0, None, ""
        while True:
            try:
                query = f"?limit={page}" + (f"&next={token}" if token else "")
                envelope = server.request("GET", objects + query, timeout=timeout)
            except urllib.error.HTTPError as exc:
                problem = f"paging failed after {got:,} objects: HTTP {exc.code}"
                break
            except (urllib.error.URLError, TimeoutError) as exc:
                problem = f"no page within {timeout:.0f} s after {got:,} objects ({exc})"
                break
            got += len(envelope.get("objects", []))
            token = envelope.get("next")
            if not envelope.get("more") or not token:
                break
        fetch = got / (time.perf_counter() - t0)
        if got != n and not problem:
            problem = f"fetched {got:,} of {n:,}"
        return {"add": add, "fetch": fetch, "problem": problem}
    finally:
        server.stop()


def run_exchange(tmp: Path, n: int, page: int) -> dict[str, float]:
    server = wl.ServerProcess(tmp / "data", tmp / "server.log")
    try:
        creds_dir = server.data_dir / "members" / "demo-a"
        wl.lift_quotas(server.address, server.data_dir / "operator")
        _, envelopes = wl.generate_envelopes(creds_dir, n, 2)
        out: dict[str, float] = {}
        with ExchangeClient.connect(server.address, credentials=creds_dir) as client:
            signals = [Signal(Identifier("email", f"peer{i}@example.com"), category=CATEGORY) for i in range(n)]
            t0 = time.perf_counter()
            for start in range(0, n, 100):
                results = client.submit(signals[start : start + 100])
                assert all(r.status == "accepted" for r in results)
            out["add_raw"] = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for start in range(0, n, 100):
                results = client.submit_envelopes(envelopes[start : start + 100])
                assert all(r.status == "accepted" for r in results)
            out["add_signed"] = n / (time.perf_counter() - t0)
            for verify in (False, True):
                t0 = time.perf_counter()
                got = sum(1 for _ in client.pull(verify=verify))
                assert got == 2 * n, got
                out[f"fetch_verify_{verify}"] = got / (time.perf_counter() - t0)
        return out
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medallion", required=True, help="the medallion command (from its own virtualenv)")
    ap.add_argument("--n", type=int, default=10_000, help="objects / signals added (default 10,000)")
    ap.add_argument("--page", type=int, default=100, help="medallion's page size (max_page_size; default 100)")
    ap.add_argument("--page-timeout", type=float, default=300.0, help="seconds to wait for one medallion page")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sigx-peers-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "m").mkdir()
        med = run_medallion(args.medallion, tmp / "m", args.n, args.page, args.page_timeout)
        ex = run_exchange(tmp, args.n, args.page)
    print(f"\nPeers side by side: {args.n:,} added in calls of 100, then all fetched back (shared 2-core machine)")
    print(f"{'':54} | {'per second':>10} | vs medallion")
    print(f"{'medallion 3 (memory backend): add':54} | {med['add']:10,.0f} |")
    print(
        f"{'exchange: add raw e-mails (client.submit x100)':54} | {ex['add_raw']:10,.0f} |"
        f" {ex['add_raw'] / med['add']:6.1f}x"
    )
    print(
        f"{'exchange: add signed envelopes (submit_envelopes x100)':54} | {ex['add_signed']:10,.0f} |"
        f" {ex['add_signed'] / med['add']:6.1f}x"
    )
    print(f"{f'medallion: fetch, pages of {args.page}':54} | {med['fetch']:10,.0f} |")
    for verify in (False, True):
        rate = ex[f"fetch_verify_{verify}"]
        versus = f"{rate / float(med['fetch']):6.1f}x" if med["fetch"] else "   n/a"
        print(f"{f'exchange: pull, verify={verify}':54} | {rate:10,.0f} | {versus}")
    if med["problem"]:
        print(f"medallion: {med['problem']}")
    print(
        f"(the exchange's pull fetched {2 * args.n:,} events, both add phases' signals, in pages of the server's"
        " pull_page)"
    )


if __name__ == "__main__":
    main()
