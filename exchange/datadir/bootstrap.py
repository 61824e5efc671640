"""First start: create the data directory, its keys, and demo credentials.

The first operator registers itself (a self-signed genesis change); every
other account is added by that operator through the same signed admin changes
an operator would make later, so the event history is complete from seq 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from client_sdk import credentials as creds
from client_sdk.envelope import seal_body
from client_sdk.keys import SigningKey
from client_sdk.secure_files import make_private_dir, write_private_file
from client_sdk.wire import admin_pb2
from exchange import app
from exchange.config import Settings
from exchange.datadir.paths import DataDir
from exchange.errors import ConfigError
from exchange.identity import Caller
from exchange.pki.ca import CertificateAuthority
from exchange.pki.oprf_keyring import OprfKeyring
from exchange.pki.server_tls import server_hosts
from exchange.safeguards.service import SYSTEM_MEMBER, SYSTEM_ROLE
from exchange.services.admin import certificate_record
from exchange.signature_log.checkpoints import log_origin
from exchange.store import open_store
from exchange.store.base import AdminEvent

OPERATOR = ("operator", "operator", "operator")
DEMO_ACCOUNTS = (
    ("demo-a", "member", "members/demo-a"),
    ("demo-b", "member", "members/demo-b"),
    ("auditor", "auditor", "auditor"),
)


def record_address(data_dir: Path, address: str) -> None:
    """Point the demo credentials at ``address`` (after binding an ephemeral port)."""
    for _, _, sub in (OPERATOR, *DEMO_ACCOUNTS):
        info_path = data_dir / sub / creds.MEMBER_FILE
        if info_path.exists():
            info = json.loads(info_path.read_text())
            info["exchange"] = address
            info_path.write_text(json.dumps(info, indent=2))


def admin_change(operator: SigningKey, operator_id: str, **change: object) -> bytes:
    """A signed AdminChange envelope (``change`` names one field of the oneof)."""
    body = admin_pb2.AdminChange(submitter=operator_id, created_at=int(time.time()), **change)  # type: ignore[arg-type]
    return seal_body(body, operator)


def check_data_dir(root: Path) -> None:
    """ConfigError, in one line, when ``root`` cannot be a data directory (it, or a parent, is a file)."""
    for part in (root, *root.parents):
        if part.exists() and not part.is_dir():
            where = "is a file" if part == root else f"lies under {part}, which is a file"
            raise ConfigError(f"--data-dir {root} {where}: give a directory (it is created on the first start)")


def ensure_initialised(settings: Settings, clock: Callable[[], float]) -> bool:
    """Initialise ``settings.data_dir`` on first start; return True if it was created now."""
    paths = DataDir(settings.data_dir)
    check_data_dir(paths.root)
    if paths.marker.exists():
        return False
    leftovers = [
        p.name for p in (paths.database, paths.ca_key, paths.server_key, paths.oprf_key, paths.log_key) if p.exists()
    ]
    if leftovers:
        raise ConfigError(
            f"{paths.root} holds {', '.join(leftovers)} but no .initialised marker: a first start did not finish,"
            " or the directory was copied incompletely. Nothing was overwritten; restore it or move it aside"
        )
    make_private_dir(paths.root)  # the database holds every audience's pseudonyms: only the exchange reads it
    make_private_dir(paths.secrets)
    ca = CertificateAuthority.create()
    ca.save(paths.ca_cert, paths.ca_key)
    server = ca.issue_server(server_hosts(settings))
    paths.server_cert.write_bytes(server.cert_pem)
    write_private_file(paths.server_key, server.key_pem)
    keyring = OprfKeyring.create(paths.oprf_key)
    log_key = SigningKey.generate()
    write_private_file(paths.log_key, log_key.to_pem())

    def write(member_id: str, role: str, sub: str, key: SigningKey, cert_pem: bytes, key_pem: bytes) -> None:
        creds.write_credentials(
            paths.root / sub,
            member_id=member_id,
            role=role,
            address=settings.public_address,
            ca_pem=ca.cert_pem,
            cert_pem=cert_pem,
            tls_key_pem=key_pem,
            signing_key=key,
            oprf_public_key=keyring.public_key(),
            oprf_epoch=keyring.current_epoch,
            log_public_key=log_key.public_key,
            log_origin=log_origin(settings, log_key),
        )

    store = open_store(settings)
    try:
        now = int(clock())
        op_id, op_role, op_sub = OPERATOR
        op_key = SigningKey.generate()
        genesis = admin_change(
            op_key,
            op_id,
            add_member=admin_pb2.AddMember(member_id=op_id, role=op_role, signing_public_key=op_key.public_key),
        )
        op_cert = ca.issue_client(op_id)
        operator = store.add_member(
            op_id,
            op_role,
            op_id,
            now,
            AdminEvent(0, genesis, now),
            (op_key.key_id, op_key.public_key),
            certificate=certificate_record(op_cert),
        )
        write(op_id, op_role, op_sub, op_key, op_cert.cert_pem, op_cert.key_pem)
        services = app.build(settings, store, clock, keyring)
        try:
            for member_id, role, sub in DEMO_ACCOUNTS:
                key = SigningKey.generate()
                change = admin_pb2.AddMember(member_id=member_id, role=role, signing_public_key=key.public_key)
                result = services.admin.apply(Caller(operator), admin_change(op_key, op_id, add_member=change))
                assert result.certificate is not None
                write(member_id, role, sub, key, result.certificate.cert_pem, result.certificate.key_pem)
            # the exchange's own key, for the safeguard transitions no member makes (its certificate is not kept)
            system_key = SigningKey.generate()
            write_private_file(paths.system_key, system_key.to_pem())
            change = admin_pb2.AddMember(
                member_id=SYSTEM_MEMBER, role=SYSTEM_ROLE, signing_public_key=system_key.public_key
            )
            services.admin.apply(Caller(operator), admin_change(op_key, op_id, add_member=change))
        finally:
            services.close()
    finally:
        store.close()
    paths.marker.write_text("1\n")
    return True
