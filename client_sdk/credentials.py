"""A member's credentials directory, as ``sigx`` writes it.

``member.json`` (member id, exchange address, the exchange's OPRF public key and epoch, and the
signature log's public key, origin and verifier key name, which pin every checkpoint the member
trusts), ``ca.crt``, ``tls.crt``, ``tls.key`` and ``signing.key`` (Ed25519 PEM, mode 0600).
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
    log_origin: str = ""  # the checkpoints' origin line ("": not pinned, in files written before it was)
    log_key_name: str = ""  # the signed-note key name ("": the origin, as C2SP recommends)

    @classmethod
    def load(cls, directory: str | Path) -> Credentials:
        """Read a credentials directory; raises CredentialsError naming what is missing or unsafe."""
        root = Path(directory)
        if root.exists() and not root.is_dir():
            raise CredentialsError(f"{root} is not a directory: a credentials directory holds member.json, tls.crt, …")
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
                log_origin=str(info.get("log_origin", "")),
                log_key_name=str(info.get("log_key_name", "")),
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
    log_origin: str,
    log_key_name: str = "",
) -> Path:
    """Write a credentials directory (mode 0700; private keys 0600)."""
    root = make_private_dir(Path(directory))
    (root / CA_FILE).write_bytes(ca_pem)
    (root / CERT_FILE).write_bytes(cert_pem)
    write_private_file(root / TLS_KEY_FILE, tls_key_pem)
    write_private_file(root / SIGNING_KEY_FILE, signing_key.to_pem())
    info = {
        "member_id": member_id,
        "role": role,
        "exchange": address,
        "oprf_public_key": oprf_public_key.hex(),
        "oprf_epoch": oprf_epoch,
        "log_public_key": log_public_key.hex(),
        "log_origin": log_origin,
        "log_key_name": log_key_name or log_origin,
        "signing_key_id": signing_key.key_id,
    }
    (root / MEMBER_FILE).write_text(json.dumps(info, indent=2))
    return root
