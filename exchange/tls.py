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

import grpc
import structlog
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from exchange.config import Settings
from exchange.errors import ConfigError
from exchange.paths import DataDir

log = structlog.get_logger("exchange.tls")
_BAD_FILES = (OSError, ValueError, TypeError, UnsupportedAlgorithm)


def server_hosts(settings: Settings) -> list[str]:
    """The names and addresses the server certificate covers: loopback, the listen host, ``tls_names``."""
    hosts = ["127.0.0.1", "localhost", "::1", settings.listen_host, *settings.tls_names]
    return [h for h in dict.fromkeys(hosts) if h not in ("", "0.0.0.0", "::")]


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

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(self._initial, self._fetch, require_client_authentication=True)

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
        key_pem, cert_pem, ca_pem = (p.read_bytes() for p in self._files())
        key = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
        x509.load_pem_x509_certificate(ca_pem)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
            raise ValueError(f"{self._paths.server_cert} does not match {self._paths.server_key}")
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
