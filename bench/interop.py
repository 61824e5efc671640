"""Interop speed: TAXII paging (taxii2-client) and the pytx plug-in's fetch_iter, as ratios to the SDK's
unverified gRPC pull measured in the same run.  python bench/interop.py --signals 100000"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client_sdk import Identifier, Signal
from client_sdk.contrib.threatexchange import (
    PSEUDONYM_SIGNALS,
    SignalExchangeCollabConfig,
    SignalExchangeSignalExchangeAPI,
    SigxPhotoMD5Signal,
)
from tests.harness import start_exchange


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--signals", type=int, default=10_000)
    n = ap.parse_args().signals
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    os.environ.pop("CURL_CA_BUNDLE", None)
    from taxii2client.v21 import Server, as_pages
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    ex = start_exchange(Path(tempfile.mkdtemp()), taxii_listen="127.0.0.1:0", max_batch=5000)
    try:
        with ex.client("demo-a") as a:
            for _ in a.submit_stream(
                (Signal(Identifier("media_md5", f"{i:032x}"), category="sextortion.financial") for i in range(n)),
                batch_size=2000,
            ):
                pass
        with ex.client("demo-b") as b:
            t = time.perf_counter()
            got = sum(1 for _ in b.pull(verify=False))
            grpc_rate = got / (time.perf_counter() - t)
        creds = ex.creds("demo-b")
        server = Server(
            f"https://127.0.0.1:{ex.running.taxii.port}/taxii2/",
            verify=str(creds / "ca.crt"),
            cert=(str(creds / "tls.crt"), str(creds / "tls.key")),
        )
        [collection] = server.api_roots[0].collections
        t = time.perf_counter()
        got = sum(len(e.get("objects", [])) for e in as_pages(collection.get_objects, per_request=10_000))
        taxii_rate = got / (time.perf_counter() - t)
        api = SignalExchangeSignalExchangeAPI(
            SignalExchangeCollabConfig(name="bench", verify_signatures=False, state_dir=tempfile.mkdtemp()), creds
        )
        types = [PdqSignal, VideoMD5Signal, SigxPhotoMD5Signal, *PSEUDONYM_SIGNALS]
        t = time.perf_counter()
        got = sum(len(d.updates) for d in api.fetch_iter(types, None)) // 2  # two pytx keys per MD5
        pytx_rate = got / (time.perf_counter() - t)
        api.close()
    finally:
        ex.running.stop(grace=1)
    print(f"signals                      {n:>10,}")
    print(f"gRPC pull, SDK, verify=False {grpc_rate:>10,.0f} /s")
    print(f"TAXII, taxii2-client as_pages {taxii_rate:>9,.0f} /s  ratio {taxii_rate / grpc_rate:.2f} (target >= 0.25)")
    print(f"pytx fetch_iter, no verify    {pytx_rate:>9,.0f} /s  ratio {pytx_rate / grpc_rate:.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
