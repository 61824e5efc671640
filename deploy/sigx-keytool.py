#!/usr/bin/env python3
"""sigx-keytool: key chores on an exchange's data directory that ``sigx`` has no command for yet.

    sigx-keytool server-cert --data-dir DIR NAME...     reissue the server's TLS certificate for NAME...
    sigx-keytool oprf-epochs --data-dir DIR             list the OPRF key's epochs and public keys
    sigx-keytool oprf-add-epoch --data-dir DIR          add a new OPRF epoch (it becomes the current one)
    sigx-keytool oprf-drop-epoch --data-dir DIR EPOCH   remove an old epoch
    sigx-keytool log-key --data-dir DIR                 replace the log's checkpoint-signing key
    sigx-keytool member-json CREDS [--exchange HOST:PORT] [--oprf-epoch N --oprf-public-key HEX]
                               [--log-public-key HEX]   update a credentials directory's member.json

Files are replaced through a temporary file and a rename, private ones at mode 0600; run as root, new
files get the owner of the directory they land in (so the service can still read them). Nothing here
touches the database. A new server certificate is picked up by running exchanges at their next TLS
handshake; the other keys are read only when an exchange starts: restart every replica afterwards (they
share the data directory, or identical copies of it). Output is JSON on stdout. deploy/RUNBOOK.md
("Rotate keys") says when to use which.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from client_sdk import oprf
from client_sdk.credentials import MEMBER_FILE, Credentials
from client_sdk.errors import SignalExchangeError
from client_sdk.keys import SigningKey
from client_sdk.secure_files import write_file
from exchange.datadir.paths import DataDir
from exchange.errors import ExchangeError
from exchange.pki.ca import CertificateAuthority
from exchange.pki.oprf_keyring import OprfKeyring

#: Names the first start puts in the server certificate; always kept, so local tools keep working.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: The checkpoint origin an exchange uses when ``[log] origin`` is left empty (exchange/app.py).
DEFAULT_ORIGIN = "signal-exchange/{key_id}"


def _data_dir(text: str) -> DataDir:
    paths = DataDir(Path(text))
    if not paths.marker.exists():
        raise SystemExit(f"sigx-keytool: {paths.root} is not an initialised data directory (no .initialised)")
    return paths


def _write(path: Path, data: bytes, private: bool) -> None:
    """Replace ``path`` atomically; as root, hand the new file to the owner of its directory."""
    write_file(path, data, 0o600 if private else 0o644)
    if os.geteuid() == 0:
        owner = path.parent.stat()
        os.chown(path, owner.st_uid, owner.st_gid)


def _emit(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2))


# -- commands ---------------------------------------------------------------------------------


def server_cert(args: argparse.Namespace) -> None:
    """Issue a new server certificate from the data directory's CA for the names clients dial."""
    paths = _data_dir(args.data_dir)
    ca = CertificateAuthority.load(paths.ca_cert, paths.ca_key)
    names = list(dict.fromkeys([*LOOPBACK_NAMES, *args.names]))
    issued = ca.issue_server(names)
    _write(paths.server_key, issued.key_pem, private=True)
    _write(paths.server_cert, issued.cert_pem, private=False)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    _emit(
        {
            "certificate": str(paths.server_cert),
            "names": names,
            "serial": f"{cert.serial_number:x}",
            "not_after": cert.not_valid_after_utc.isoformat(),
            "restart": "not needed: running exchanges use it from their next TLS handshake",
        }
    )


def _oprf_lines(paths: DataDir) -> dict[int, str]:
    OprfKeyring.load(paths.oprf_key)  # validates format and permissions first
    lines: dict[int, str] = {}
    for line in paths.oprf_key.read_text().splitlines():
        if line.strip():
            epoch, secret = line.split()
            lines[int(epoch)] = secret
    return lines


def _oprf_write(paths: DataDir, lines: dict[int, str]) -> OprfKeyring:
    text = "".join(f"{epoch} {secret}\n" for epoch, secret in sorted(lines.items()))
    _write(paths.oprf_key, text.encode(), private=True)
    return OprfKeyring.load(paths.oprf_key)


def _epochs(ring: OprfKeyring, epochs: Sequence[int]) -> list[dict[str, Any]]:
    return [
        {"epoch": e, "public_key": ring.public_key(e).hex(), "current": e == ring.current_epoch} for e in sorted(epochs)
    ]


def oprf_epochs(args: argparse.Namespace) -> None:
    """List the epochs and their public keys (what goes into member.json)."""
    paths = _data_dir(args.data_dir)
    ring = OprfKeyring.load(paths.oprf_key)
    _emit({"epochs": _epochs(ring, list(_oprf_lines(paths)))})


def oprf_add_epoch(args: argparse.Namespace) -> None:
    """Append a fresh OPRF key as epoch max+1; older epochs stay evaluable."""
    paths = _data_dir(args.data_dir)
    lines = _oprf_lines(paths)
    epoch = max(lines) + 1
    secret, _public = oprf.generate_key_pair()
    lines[epoch] = secret.hex()
    ring = _oprf_write(paths, lines)
    _emit({"epoch": epoch, "public_key": ring.public_key(epoch).hex(), "epochs": _epochs(ring, list(lines))})


def oprf_drop_epoch(args: argparse.Namespace) -> None:
    """Remove an old epoch: submissions and evaluations under it are refused from the next start."""
    paths = _data_dir(args.data_dir)
    lines = _oprf_lines(paths)
    if args.epoch not in lines:
        raise SystemExit(f"sigx-keytool: {paths.oprf_key} has no epoch {args.epoch}")
    if args.epoch == max(lines):
        raise SystemExit(f"sigx-keytool: epoch {args.epoch} is the current epoch; add a new one first")
    del lines[args.epoch]
    ring = _oprf_write(paths, lines)
    _emit({"dropped": args.epoch, "epochs": _epochs(ring, list(lines))})


def log_key(args: argparse.Namespace) -> None:
    """A new Ed25519 log key; the old one is kept beside it as log.key.<key id>.old."""
    paths = _data_dir(args.data_dir)
    old = SigningKey.load(paths.log_key)
    new = SigningKey.generate()
    _write(paths.log_key.with_name(f"{paths.log_key.name}.{old.key_id}.old"), old.to_pem(), private=True)
    _write(paths.log_key, new.to_pem(), private=True)
    _emit(
        {
            "old_key_id": old.key_id,
            "new_key_id": new.key_id,
            "new_public_key": new.public_key.hex(),
            # Unless [log] origin is set, the origin follows the key id, and auditors refuse a changed origin.
            "origin_to_pin": DEFAULT_ORIGIN.format(key_id=old.key_id),
        }
    )


def member_json(args: argparse.Namespace) -> None:
    """Point a credentials directory at another address, OPRF epoch or log key (the rest is kept)."""
    path = Path(args.credentials) / MEMBER_FILE
    info = json.loads(path.read_text())
    if (args.oprf_epoch is None) != (args.oprf_public_key is None):
        raise SystemExit("sigx-keytool: --oprf-epoch and --oprf-public-key go together")
    changes: dict[str, Any] = {}
    if args.exchange:
        changes["exchange"] = args.exchange
    if args.oprf_epoch is not None:
        changes["oprf_epoch"] = args.oprf_epoch
        changes["oprf_public_key"] = _hex32(args.oprf_public_key, "--oprf-public-key")
    if args.log_public_key:
        changes["log_public_key"] = _hex32(args.log_public_key, "--log-public-key")
    if not changes:
        raise SystemExit("sigx-keytool: nothing to change")
    info.update(changes)
    _write(path, json.dumps(info, indent=2).encode(), private=False)
    Credentials.load(path.parent)  # still loads
    _emit({"member_json": str(path), "changed": changes})


def _hex32(text: str, flag: str) -> str:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise SystemExit(f"sigx-keytool: {flag} expects 64 hex digits")
    return raw.hex()


# -- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigx-keytool", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--data-dir", required=True, metavar="DIR", help="the exchange's data directory")
        p.set_defaults(handler=handler)
        return p

    p = command("server-cert", server_cert, "reissue the server certificate for the names clients connect to")
    p.add_argument("names", nargs="+", metavar="NAME", help="DNS name or IP address (loopback names are kept)")
    command("oprf-epochs", oprf_epochs, "list the OPRF epochs and their public keys")
    command("oprf-add-epoch", oprf_add_epoch, "add a new OPRF epoch (the new current one)")
    p = command("oprf-drop-epoch", oprf_drop_epoch, "remove an old OPRF epoch")
    p.add_argument("epoch", type=int, metavar="EPOCH")
    command("log-key", log_key, "replace the log's checkpoint-signing key (the old one is kept as .old)")
    p = sub.add_parser("member-json", help="update a credentials directory's member.json")
    p.add_argument("credentials", metavar="CREDS", help="a credentials directory")
    p.add_argument("--exchange", default=None, metavar="HOST:PORT", help="the address clients connect to")
    p.add_argument("--oprf-epoch", type=int, default=None, metavar="N", help="OPRF epoch to evaluate under")
    p.add_argument("--oprf-public-key", default=None, metavar="HEX", help="that epoch's public key")
    p.add_argument("--log-public-key", default=None, metavar="HEX", help="the log's (new) public key")
    p.set_defaults(handler=member_json)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (ExchangeError, SignalExchangeError, OSError) as exc:
        print(f"sigx-keytool: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
