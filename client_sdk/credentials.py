"""A member's credentials directory, as ``sigx`` writes it.

``member.json`` (member id, exchange address, the exchange's OPRF and log
public keys), ``ca.crt``, ``tls.crt``, ``tls.key`` and ``signing.key``
(Ed25519 PEM, mode 0600).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from client_sdk.errors import CredentialsError
from client_sdk.keys import SigningKey
from client_sdk.secure_files import check_private_file, make_private_dir, write_private_file

MEMBER_FILE = "member.json"
CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
TLS_KEY_FILE = "tls.key"
SIGNING_KEY_FILE = "signing.key"


@dataclass(frozen=True)
class Credentials:
    """Everything a member needs to talk to the exchange."""

    member_id: str
    address: str
    ca_pem: bytes
    cert_pem: bytes
    tls_key_pem: bytes
    signing_key: SigningKey
    oprf_public_key: bytes
    oprf_epoch: int
    log_public_key: bytes

    @classmethod
    def load(cls, directory: str | Path) -> Credentials:
        """Read a credentials directory; raises CredentialsError naming what is missing or unsafe."""
        root = Path(directory)
        if not root.is_dir():
            raise CredentialsError(f"credentials directory {root} does not exist")
        try:
            info = json.loads((root / MEMBER_FILE).read_text())
            check_private_file(root / TLS_KEY_FILE)
            return cls(
                member_id=info["member_id"],
                address=info.get("exchange", ""),
                ca_pem=(root / CA_FILE).read_bytes(),
                cert_pem=(root / CERT_FILE).read_bytes(),
                tls_key_pem=(root / TLS_KEY_FILE).read_bytes(),
                signing_key=SigningKey.load(root / SIGNING_KEY_FILE),
                oprf_public_key=bytes.fromhex(info["oprf_public_key"]),
                oprf_epoch=int(info.get("oprf_epoch", 1)),
                log_public_key=bytes.fromhex(info.get("log_public_key", "")),
            )
        except FileNotFoundError as exc:
            raise CredentialsError(f"{root}: missing {Path(exc.filename).name}") from None
        except (KeyError, ValueError) as exc:
            raise CredentialsError(f"{root / MEMBER_FILE}: malformed ({exc})") from None


def write_credentials(
    directory: str | Path,
    *,
    member_id: str,
    role: str,
    address: str,
    ca_pem: bytes,
    cert_pem: bytes,
    tls_key_pem: bytes,
    signing_key: SigningKey,
    oprf_public_key: bytes,
    oprf_epoch: int,
    log_public_key: bytes,
) -> Path:
    """Write a credentials directory (mode 0700; private keys 0600)."""
    root = make_private_dir(Path(directory))
    (root / CA_FILE).write_bytes(ca_pem)
    (root / CERT_FILE).write_bytes(cert_pem)
    write_private_file(root / TLS_KEY_FILE, tls_key_pem)
    write_private_file(root / SIGNING_KEY_FILE, signing_key.to_pem())
    (root / MEMBER_FILE).write_text(
        member_info(member_id, role, address, oprf_public_key, oprf_epoch, log_public_key, signing_key.key_id)
    )
    return root


def member_info(
    member_id: str, role: str, address: str, oprf_public_key: bytes, oprf_epoch: int, log_public_key: bytes, key_id: str
) -> str:
    """The text of a ``member.json``."""
    return json.dumps(
        {
            "member_id": member_id,
            "role": role,
            "exchange": address,
            "oprf_public_key": oprf_public_key.hex(),
            "oprf_epoch": oprf_epoch,
            "log_public_key": log_public_key.hex(),
            "signing_key_id": key_id,
        },
        indent=2,
    )
