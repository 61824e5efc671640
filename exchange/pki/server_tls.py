"""The server's side of mutual TLS: the names its certificate covers, and credentials that follow
the certificate files.

When ``server.crt`` and ``secrets/server.key`` are replaced (``sigx-keytool server-cert``), running
exchanges (every replica sharing the data directory) pick the new pair up at their next TLS handshake:
no restart, no dropped connections. A pair that does not load or does not match (a half-finished copy)
is refused and the one in use kept.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import grpc
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from client_sdk.errors import CredentialsError
from client_sdk.secure_files import check_private_file
from exchange.config import Settings
from exchange.datadir.paths import DataDir
from exchange.errors import ConfigError

log = structlog.get_logger("exchange.pki.server_tls")
_BAD_FILES = (OSError, ValueError, TypeError, UnsupportedAlgorithm, CredentialsError)


def server_hosts(settings: Settings) -> list[str]:
    """The names and addresses the server certificate covers: loopback, the listen host, ``tls_names``."""
    hosts = ["127.0.0.1", "localhost", "::1", settings.listen_host, *settings.tls_names]
    return [h for h in dict.fromkeys(hosts) if h not in ("", "0.0.0.0", "::")]


def _check_server_certificate(cert: x509.Certificate, ca: x509.Certificate, path: Path) -> None:
    """Refuse what would break every new connection: not from this CA, not valid now, not for servers."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ValueError(f"{path} is not issued by this exchange's CA") from None
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise ValueError(
            f"{path} is not valid now (valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            f" until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)"
        )
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return  # no restriction: any usage
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        raise ValueError(f"{path} is not a server certificate (no serverAuth usage)")


class ServerTls:
    """Server credentials that reload the certificate files when they change (checked per handshake)."""

    def __init__(self, paths: DataDir) -> None:
        self._paths = paths
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        try:
            config, self.not_after = self._load()
        except _BAD_FILES as exc:
            raise ConfigError(f"TLS files in {paths.root}: {exc}") from None
        self._initial = config
        self._refused: tuple[object, ...] | None = None
        self._peeked: tuple[tuple[object, ...], dt.datetime | None] | None = None

    def expiry(self) -> float:
        """When the server certificate expires (Unix time): the one waiting on disk if a valid new one is
        there (the next handshake takes it up), else the one in use. For the expiry metric."""
        stamp = self._file_stamp()
        with self._lock:
            if stamp in (self._stamp, self._refused):
                return self.not_after.timestamp()
            if self._peeked is None or self._peeked[0] != stamp:
                try:
                    self._peeked = (stamp, self._load()[1])
                except _BAD_FILES:
                    self._peeked = (stamp, None)
            waiting = self._peeked[1]
            return (waiting or self.not_after).timestamp()

    def credentials(self) -> grpc.ServerCredentials:
        # gRPC takes None from the fetcher as "keep the current certificate"; its stubs do not say so.
        fetch: Any = self._fetch
        return grpc.dynamic_ssl_server_credentials(self._initial, fetch, require_client_authentication=True)

    def _files(self) -> tuple[Path, Path, Path]:
        return self._paths.server_key, self._paths.server_cert, self._paths.ca_cert

    def _file_stamp(self) -> tuple[object, ...]:
        stamp: list[object] = []
        for path in self._files():
            try:
                st = path.stat()
                stamp.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def _load(self) -> tuple[grpc.ServerCertificateConfiguration, dt.datetime]:
        check_private_file(self._paths.server_key)  # refused like the other secrets when others may read it
        key_pem, cert_pem, ca_pem = (p.read_bytes() for p in self._files())
        key = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
        ca = x509.load_pem_x509_certificate(ca_pem)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
            raise ValueError(f"{self._paths.server_cert} does not match {self._paths.server_key}")
        _check_server_certificate(cert, ca, self._paths.server_cert)
        config = grpc.ssl_server_certificate_configuration([(key_pem, cert_pem)], root_certificates=ca_pem)
        return config, cert.not_valid_after_utc

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """gRPC's per-handshake hook: a new configuration when the files changed, else None (keep)."""
        stamp = self._file_stamp()
        with self._lock:
            if stamp == self._stamp or stamp == self._refused:
                return None
            try:
                config, not_after = self._load()
            except _BAD_FILES as exc:
                self._refused = stamp
                log.warning("tls_reload_refused", error=str(exc), keeping_until=self.not_after.isoformat())
                return None
            self._stamp, self._refused, self.not_after = stamp, None, not_after
        log.info("tls_reloaded", not_after=not_after.isoformat())
        return config
