"""The exchange's small certificate authority for mutual TLS.

Issues the server certificate and one client certificate per member; the
member id is the certificate's common name. Keys are ECDSA P-256, which every
TLS stack accepts.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client_sdk.secure_files import check_private_file, write_private_file
from exchange.errors import ConfigError

_VALID_DAYS_CA = 3650
_VALID_DAYS_LEAF = 825


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class IssuedCert:
    cert_pem: bytes
    key_pem: bytes


class CertificateAuthority:
    """A CA key and self-signed certificate that issue server and member certificates."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self._key = key
        self.cert = cert

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def create(cls, name: str = "Signal Exchange CA") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_VALID_DAYS_CA))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def save(self, cert_path: Path, key_path: Path) -> None:
        write_private_file(key_path, private_key_pem(self._key))
        cert_path.write_bytes(self.cert_pem)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        check_private_file(key_path)
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (ValueError, OSError) as exc:
            raise ConfigError(f"CA files {cert_path}, {key_path}: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{key_path}: expected an EC private key")
        return cls(key, cert)

    def _issue(
        self,
        common_name: str,
        sans: list[x509.GeneralName],
        usage: x509.ObjectIdentifier,
        public_key: ec.EllipticCurvePublicKey | None = None,
    ) -> IssuedCert:
        private = None
        if public_key is None:
            private = ec.generate_private_key(ec.SECP256R1())
            public_key = private.public_key()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Signal Exchange"),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_VALID_DAYS_LEAF))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        key_pem = b"" if private is None else private_key_pem(private)
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), key_pem)

    def issue_server(self, hosts: list[str]) -> IssuedCert:
        """A server certificate valid for each host name or IP address in ``hosts``."""
        sans: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        return self._issue("signal-exchange", sans, ExtendedKeyUsageOID.SERVER_AUTH)

    def issue_client(self, member_id: str, public_key: ec.EllipticCurvePublicKey | None = None) -> IssuedCert:
        """A client certificate whose common name is ``member_id``: for ``public_key`` (then the issued
        key PEM is empty), or for a new key made here."""
        return self._issue(member_id, [], ExtendedKeyUsageOID.CLIENT_AUTH, public_key)


def parse_tls_public_key(der: bytes) -> ec.EllipticCurvePublicKey:
    """A member's TLS public key (DER SubjectPublicKeyInfo, EC P-256); ValueError says what is wrong."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a DER SubjectPublicKeyInfo: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the TLS key must be EC P-256 (secp256r1)")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_bytes(serialization.Encoding.DER, spki) != der:
        raise ValueError("not the canonical DER encoding of the key (uncompressed point, nothing appended)")
    return key


def describe(cert_pem: bytes) -> tuple[str, bytes, int, int]:
    """A PEM certificate's serial (hex), SHA-256 fingerprint of its DER, notBefore and notAfter (Unix seconds):
    what the exchange records of each certificate it issues."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    valid = (int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp()))
    return format(cert.serial_number, "x"), cert.fingerprint(hashes.SHA256()), *valid


def not_after(cert_pem: bytes) -> dt.datetime:
    """When a PEM certificate expires (UTC)."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


@functools.lru_cache(maxsize=4096)
def issued_at(cert_pem: bytes) -> int:
    """A PEM certificate's notBefore as Unix seconds (cached: the interceptor asks per call)."""
    return int(x509.load_pem_x509_certificate(cert_pem).not_valid_before_utc.timestamp())
