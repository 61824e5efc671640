"""First start: create the data directory, its keys, and demo credentials.

Layout of a data directory::

    exchange.db              the SQLite store
    ca.crt  server.crt       public certificates
    secrets/                 mode 0700: ca.key, server.key, oprf.key, log.key (each 0600)
    members/demo-a/ members/demo-b/ operator/ auditor/    credentials directories
    .initialised             written last; its absence means a first start did not finish
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client_sdk import credentials as creds
from client_sdk.keys import SigningKey, write_private_file
from exchange.ca import CertificateAuthority
from exchange.config import Settings
from exchange.errors import ConfigError
from exchange.oprf_key import OprfKeyring
from exchange.store.base import Store
from exchange.store.sqlite import SqliteStore

DEMO_ACCOUNTS = (
    ("demo-a", "member", "members/demo-a"),
    ("demo-b", "member", "members/demo-b"),
    ("operator", "operator", "operator"),
    ("auditor", "auditor", "auditor"),
)


@dataclass(frozen=True)
class DataDir:
    """Paths inside a data directory."""

    root: Path

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def marker(self) -> Path:
        return self.root / ".initialised"

    ca_cert = property(lambda self: self.root / "ca.crt")
    ca_key = property(lambda self: self.secrets / "ca.key")
    server_cert = property(lambda self: self.root / "server.crt")
    server_key = property(lambda self: self.secrets / "server.key")
    oprf_key = property(lambda self: self.secrets / "oprf.key")
    log_key = property(lambda self: self.secrets / "log.key")


def onboard(
    store: Store,
    ca: CertificateAuthority,
    keyring: OprfKeyring,
    log_public_key: bytes,
    member_id: str,
    role: str,
    directory: Path,
    address: str,
    now: int,
) -> Path:
    """Add a member with a fresh signing key and write its credentials directory."""
    member = store.add_member(member_id, role, member_id, now)
    signing = SigningKey.generate()
    store.add_signing_key(member.member_id, signing.key_id, signing.public_key, now)
    issued = ca.issue_client(member_id)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    (directory / creds.CA_FILE).write_bytes(ca.cert_pem)
    (directory / creds.CERT_FILE).write_bytes(issued.cert_pem)
    write_private_file(directory / creds.TLS_KEY_FILE, issued.key_pem)
    write_private_file(directory / creds.SIGNING_KEY_FILE, signing.to_pem())
    (directory / creds.MEMBER_FILE).write_text(
        creds.member_info(
            member_id,
            role,
            address,
            keyring.public_key(),
            keyring.current_epoch,
            log_public_key,
            signing.key_id,
        )
    )
    return directory


def record_address(data_dir: Path, address: str) -> None:
    """Point the demo credentials at ``address`` (after binding an ephemeral port)."""
    for _, _, sub in DEMO_ACCOUNTS:
        info_path = data_dir / sub / creds.MEMBER_FILE
        if info_path.exists():
            info = json.loads(info_path.read_text())
            info["exchange"] = address
            info_path.write_text(json.dumps(info, indent=2))


def ensure_initialised(settings: Settings, clock: Callable[[], float]) -> bool:
    """Initialise ``settings.data_dir`` on first start; return True if it was created now."""
    paths = DataDir(settings.data_dir)
    if paths.marker.exists():
        return False
    if (paths.root / "exchange.db").exists():
        raise ConfigError(
            f"{paths.root} holds a database but its first start did not finish; move it aside and start again"
        )
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.secrets.mkdir(mode=0o700, exist_ok=True)
    os.chmod(paths.secrets, 0o700)
    ca = CertificateAuthority.create()
    ca.save(paths.ca_cert, paths.ca_key)
    hosts = ["127.0.0.1", "localhost", "::1", settings.listen_host]
    server = ca.issue_server([h for h in hosts if h not in ("", "0.0.0.0", "::")])
    paths.server_cert.write_bytes(server.cert_pem)
    write_private_file(paths.server_key, server.key_pem)
    keyring = OprfKeyring.create(paths.oprf_key)
    log_key = SigningKey.generate()
    write_private_file(paths.log_key, log_key.to_pem())
    store = SqliteStore(settings.database_path)
    try:
        now = int(clock())
        for member_id, role, sub in DEMO_ACCOUNTS:
            onboard(store, ca, keyring, log_key.public_key, member_id, role, paths.root / sub, settings.listen, now)
    finally:
        store.close()
    paths.marker.write_text("1\n")
    return True
