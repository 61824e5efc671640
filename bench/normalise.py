"""Normalisation cost per identifier, against the pseudonymisation it precedes (same run).

    python bench/normalise.py [--n 20000]

Prints microseconds per e-mail address (plain ASCII, mixed case, Gmail, and a mix with 2%
internationalised domains), per domain, and the same e-mails with ``idna`` doing every domain (the
rule before the ASCII fast path), each also as a share of one VOPRF client element (blind + finalize
with proof check, measured here in a batch of 1,000): "negligible" means a few percent of it.
Run it on another checkout with ``PYTHONPATH=/that/checkout python bench/normalise.py``.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable

import idna

from client_sdk import oprf
from client_sdk.normalise import normalise


def _emails(n: int, idn_share: float, rng: random.Random) -> list[str]:
    hosts = ["example.com", "Mail.Example.ORG", "gmail.com", "yahoo.co.uk", "corp-1.example.net", "x.io"]
    idn = ["bücher.de", "пример.рф", "xn--bcher-kva.de", "例え.jp"]
    out = []
    for i in range(n):
        local = "".join(rng.choices(string.ascii_letters + string.digits + "._", k=rng.randint(4, 16))).strip(".")
        local = "u" + local + str(i) + rng.choice(["", "", "+tag"])
        host = rng.choice(idn) if rng.random() < idn_share else rng.choice(hosts)
        out.append(f"{local}@{host}")
    return out


def _per_item_us(fn: Callable[[str], object], items: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, time.perf_counter() - t0)
    return best / len(items) * 1e6


def _idna_email(value: str) -> str:
    """The e-mail rule's domain step as ``idna`` alone does it (the cost before the fast path)."""
    local, domain = value.strip().split("@")
    return local.lower() + "@" + idna.encode(domain, uts46=True, std3_rules=False).decode("ascii").lower()


def _voprf_element_us(batch: int = 1000) -> float:
    sk, pk = oprf.generate_key_pair()
    server = oprf.OprfServer(oprf.MODE_VOPRF, sk)
    client = oprf.OprfClient(oprf.MODE_VOPRF, pk)
    inputs = [b"email\x00bench%d@example.com" % i for i in range(batch)]
    blinds, blinded = client.blind(inputs)
    evaluated, proof = server.blind_evaluate(blinded)
    t0 = time.perf_counter()
    blinds, blinded = client.blind(inputs)
    t1 = time.perf_counter()
    evaluated, proof = server.blind_evaluate(blinded)
    t2 = time.perf_counter()
    client.finalize(inputs, blinds, blinded, evaluated, proof)
    t3 = time.perf_counter()
    return ((t1 - t0) + (t3 - t2)) / batch * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    rng = random.Random(7)
    ascii_mails = _emails(args.n, 0.0, rng)
    mixed = _emails(args.n, 0.02, rng)
    domains = [m.split("@")[1] for m in ascii_mails]
    voprf = _voprf_element_us()
    rows = [
        ("e-mail, ASCII domains", _per_item_us(lambda v: normalise("email", v), ascii_mails)),
        ("e-mail, 2% internationalised domains", _per_item_us(lambda v: normalise("email", v), mixed)),
        ("domain, ASCII", _per_item_us(lambda v: normalise("domain", v), domains)),
        ("e-mail, idna for every domain (before)", _per_item_us(_idna_email, ascii_mails)),
    ]
    print(f"VOPRF client work per element (blind + finalize, batch 1000, 2 threads): {voprf:8.1f} us")
    print(f"{'normalisation':42} | {'us each':>8} | share of a VOPRF element")
    for name, us in rows:
        print(f"{name:42} | {us:8.2f} | {us / voprf:6.1%}")


if __name__ == "__main__":
    main()
