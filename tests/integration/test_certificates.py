"""TLS certificates over their lifetime: a member's client certificate renewed by the operator (the new
key made on the operator's machine, the issuance in the signed log), and the server certificate renewed
on disk and picked up by the running exchange at its next handshake."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.audit.sources import RemoteSource
from client_sdk.credentials import Credentials
from client_sdk.envelope import open_envelope
from client_sdk.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    SignalExchangeError,
    UnauthenticatedError,
)
from client_sdk.log_entry import LogEntry
from client_sdk.secure_files import write_private_file
from client_sdk.wire import admin_pb2
from exchange.cli import main
from exchange.datadir.bootstrap import admin_change
from exchange.datadir.paths import DataDir
from exchange.pki.ca import CertificateAuthority, private_key_pem
from exchange.services.admin import certificate_record
from exchange.store.base import AdminEvent
from tests.harness import Exchange, start_exchange

pytestmark = pytest.mark.integration
KEYTOOL = Path(__file__).parents[2] / "deploy" / "sigx-keytool.py"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    rc = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def _spki(pem_or_key: bytes | ec.EllipticCurvePrivateKey) -> bytes:
    if isinstance(pem_or_key, bytes):
        public = x509.load_pem_x509_certificate(pem_or_key).public_key()
    else:
        public = pem_or_key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_operator_renews_a_member_certificate(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    creds = exchange.creds("demo-a")
    before = Credentials.load(creds)
    operator = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    size = exchange.running.store.log_size()

    dry = _run(capsys, "admin", "member", "renew-cert", "demo-a", "--credentials", str(creds), "--dry-run", *operator)
    assert dry["seq"] == 0 and dry["summary"].startswith("would issue")
    assert Credentials.load(creds).cert_pem == before.cert_pem and exchange.running.store.log_size() == size

    renewed = _run(capsys, "admin", "member", "renew-cert", "demo-a", "--credentials", str(creds), *operator)
    after = Credentials.load(creds)  # also checks tls.key is still 0600
    assert after.cert_pem != before.cert_pem and after.tls_key_pem != before.tls_key_pem
    assert (creds / "tls.crt.old").read_bytes() == before.cert_pem
    assert (creds / "tls.key.old").stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate(after.cert_pem)
    key = serialization.load_pem_private_key(after.tls_key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert _spki(after.cert_pem) == _spki(key)  # the key made by the CLI, certified
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "demo-a"
    assert cert.not_valid_after_utc.isoformat() == renewed["not_after"]

    with ExchangeClient.connect(exchange.address, credentials=creds) as a:  # the new pair works
        assert a.who_am_i().member_id == "demo-a"
        [r] = a.submit([Signal(Identifier("domain", "renewed.example"), category="grooming")])
        assert r.status == "accepted"

    # The issuance is an operator-signed event in the log, naming the certified public key.
    source = RemoteSource(exchange.address, exchange.creds("auditor"))
    try:
        [[(_, leaf, envelope)]] = list(source.entries(renewed["seq"] - 1, renewed["seq"]))
    finally:
        source.close()
    assert LogEntry.decode(leaf).kind == 4  # admin
    opened = open_envelope(envelope)
    body = admin_pb2.AdminChange.FromString(opened.payload)
    assert opened.key_id == Credentials.load(exchange.creds("operator")).signing_key.key_id
    assert body.issue_certificate.member_id == "demo-a"
    assert body.issue_certificate.tls_public_key == _spki(key)
    capsys.readouterr()
    rc = main(["audit", "verify", "--as", str(exchange.creds("auditor")), "--server", exchange.address, "--json"])
    assert rc == 0, capsys.readouterr().out


def _next_second() -> None:
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.02)


class _Subscription:
    """A subscription held open in a thread: the seqs it saw and how it ended."""

    def __init__(self, creds: Path) -> None:
        self.seqs: list[int] = []
        self.error: SignalExchangeError | None = None
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(creds,), daemon=True)
        self._thread.start()
        assert self._open.wait(10)

    def _run(self, creds: Path) -> None:
        with ExchangeClient.connect(_address(creds), credentials=creds, retry=None) as client:
            try:
                for event in client.subscribe(on_cursor=lambda _: self._open.set()):
                    self.seqs.append(event.seq)
            except SignalExchangeError as exc:
                self.error = exc
            finally:
                self._open.set()

    def ended(self, timeout: float) -> str:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream is still open"
        return getattr(self.error, "reason", repr(self.error))


class _SlowSubmitter(_Subscription):
    """A SubmitStream held open in a thread, one small batch every 0.2 s."""

    def _run(self, creds: Path) -> None:
        def signals() -> Iterator[Signal]:
            for i in range(10_000):
                self._open.set()
                time.sleep(0.2)
                yield Signal(Identifier("domain", f"slow{i}.example"), category="grooming")

        with ExchangeClient.connect(_address(creds), credentials=creds, retry=None) as client:
            try:
                for result in client.submit_stream(signals(), batch_size=1):
                    self.seqs.append(result.seq)
            except SignalExchangeError as exc:
                self.error = exc
            finally:
                self._open.set()


def _address(creds: Path) -> str:
    return Credentials.load(creds).address


def test_renewal_with_revoke_old_refuses_the_lost_certificate(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = exchange.creds("demo-a")
    lost = tmp_path / "lost"  # what the attacker copied
    shutil.copytree(creds, lost)
    operator = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    with ExchangeClient.connect(exchange.address, credentials=lost) as thief:
        assert thief.who_am_i().member_id == "demo-a"
        _run(capsys, "admin", "member", "renew-cert", "demo-a", "--credentials", str(creds), *operator)
        assert thief.who_am_i().member_id == "demo-a"  # a plain renewal leaves earlier certificates valid
        between = tmp_path / "between"  # the pair that plain renewal made
        shutil.copytree(creds, between)
        live = _Subscription(lost)  # streams the thief holds open across the revocation
        submitting = _SlowSubmitter(lost)
        _next_second()  # certificate times have one-second resolution: "earlier" means an earlier second
        _run(capsys, "admin", "member", "renew-cert", "demo-a", "--credentials", str(creds), "--revoke-old", *operator)
        shown = _run(capsys, "admin", "member", "show", "demo-a", *operator)
        assert int(shown["certificates_from"]) > 0
        capsys.readouterr()
        assert main(["admin", "member", "show", "demo-a", *operator]) == 0
        assert "earlier ones revoked" in capsys.readouterr().out
        with pytest.raises(UnauthenticatedError) as refused:  # even on a connection opened before
            thief.who_am_i()
        assert refused.value.reason == "certificate_revoked"
        with (
            ExchangeClient.connect(exchange.address, credentials=between) as older,
            pytest.raises(UnauthenticatedError),
        ):
            older.who_am_i()
        with exchange.client("demo-b") as b:  # an event the thief's subscription must not see
            [after] = b.submit([Signal(Identifier("domain", "secret-after-revoke.example"), category="grooming")])
        assert live.ended(10) == "certificate_revoked"
        assert after.seq not in live.seqs
        assert submitting.ended(10) == "certificate_revoked"
    with ExchangeClient.connect(exchange.address, credentials=creds) as a:
        assert a.who_am_i().member_id == "demo-a"
        [r] = a.submit([Signal(Identifier("domain", "after-revoke.example"), category="grooming")])
        assert r.status == "accepted"
    with ExchangeClient.connect(exchange.address, credentials=exchange.creds("demo-b")) as b:
        assert b.who_am_i().member_id == "demo-b"  # nobody else is affected


def test_revocation_cut_off_only_moves_forward(exchange: Exchange) -> None:
    """Two overlapping revocations (or a replica with a slow clock) can never make revoked certificates
    valid again: the store keeps the later cut-off."""
    store = exchange.running.store
    op = Credentials.load(exchange.creds("operator"))
    operator_row = store.get_member("operator").row  # type: ignore[union-attr]

    def record(cut_off: int) -> None:
        change = admin_pb2.IssueCertificate(member_id="demo-a", revoke_earlier=True)
        envelope = admin_change(op.signing_key, "operator", issue_certificate=change)
        issued = certificate_record(CertificateAuthority.create().issue_client("demo-a"))
        store.record_certificate("demo-a", issued, cut_off, AdminEvent(operator_row, envelope, int(time.time())))

    record(2_000_000_000)
    record(1_900_000_000)  # the older revocation lands second
    assert store.get_member("demo-a").certs_from == 2_000_000_000  # type: ignore[union-attr]


def _serial_and_sha256(pem: bytes) -> tuple[str, bytes]:
    cert = x509.load_pem_x509_certificate(pem)
    return format(cert.serial_number, "x"), cert.fingerprint(hashes.SHA256())


def test_issued_certificates_are_listed_with_their_state(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Credentials.load(exchange.creds("demo-a")).cert_pem
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        for name in ("operator", "demo-a"):  # the first operator's (genesis) and a member added by a change
            m = op.member(name)
            [c] = m.certificates
            pem = Credentials.load(exchange.creds(name)).cert_pem
            assert (c.serial, c.sha256) == _serial_and_sha256(pem)
            assert c.not_after == int(x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp())
            assert c.state == "valid" and m.certificates_known_from == 0  # a new exchange knows every one
        plain = op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-a"))
        _next_second()  # "earlier" means an earlier second
        revoking = op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-a", revoke_earlier=True))
        certs = op.member("demo-a").certificates
        issued = (first, plain.certificate.cert_pem, revoking.certificate.cert_pem)
        assert [(c.serial, c.sha256) for c in certs] == [_serial_and_sha256(p) for p in issued]
        assert [c.state for c in certs] == ["not_accepted", "not_accepted", "valid"]
        assert [c.issued_index for c in certs[1:]] == [plain.seq - 1, revoking.seq - 1]  # the admin entries
        capsys.readouterr()
        assert main(["admin", "member", "show", "demo-a", "--as", str(exchange.creds("operator")),
                     "--server", exchange.address]) == 0  # fmt: skip
        text = capsys.readouterr().out
        assert "DAYS_LEFT" in text and text.count("no longer accepted") == 2
        [newest] = [line for line in text.splitlines() if line.startswith(certs[-1].serial[:16])]
        assert newest.split()[3:] == ["824", "valid"] or newest.split()[3:] == ["825", "valid"]
        exchange.clock.advance(826 * 86_400)  # past the 825 days a certificate lasts
        assert [c.state for c in op.member("demo-a").certificates] == ["not_accepted", "not_accepted", "expired"]
        assert op.member("demo-b").certificates[0].state == "expired"


def test_certificate_refusals(exchange: Exchange) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    edkey = ed25519.Ed25519PrivateKey.generate().public_key()
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        for bad in (b"\x30\x03\x02\x01\x00", p384.public_bytes(der, spki), edkey.public_bytes(der, spki)):
            with pytest.raises(InvalidArgumentError) as err:
                op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-a", tls_public_key=bad))
            assert err.value.reason == "bad_tls_key"
        with pytest.raises(NotFoundError):
            op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="nobody"))
        op.change(set_member_status=admin_pb2.SetMemberStatus(member_id="demo-b", status="suspended"))
        with pytest.raises(FailedPreconditionError) as err:
            op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-b"))
        assert err.value.reason == "member_not_active"
        with pytest.raises(FailedPreconditionError) as err:
            op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="operator", revoke_earlier=True))
        assert err.value.reason == "own_certificate"
        made = op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-a"))  # no key sent
        assert made.seq > 0 and b"PRIVATE KEY" in made.certificate.key_pem
    with (
        AdminClient.connect(exchange.address, exchange.creds("demo-a")) as member,
        pytest.raises(PermissionDeniedError),
    ):
        member.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-a"))


def _server_certificate(address: str, creds_dir: Path) -> x509.Certificate:
    """The certificate the exchange presents to a new connection (a plain TLS handshake, ALPN h2)."""
    host, port = address.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(creds_dir / "ca.crt"))
    ctx.load_cert_chain(creds_dir / "tls.crt", creds_dir / "tls.key")
    ctx.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in san.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def _expiry_metric(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    [line] = [x for x in text.splitlines() if x.startswith("sigx_server_certificate_expiry_timestamp_seconds ")]
    return float(line.split()[1])


def _bad_server_pairs(paths: DataDir, old: x509.Certificate) -> Iterator[tuple[bytes, bytes]]:
    """(key, certificate) pairs the exchange must refuse to switch to."""
    key_now = paths.server_key.read_bytes()
    yield key_now, old.public_bytes(serialization.Encoding.PEM)  # a half-copied pair: they do not match
    foreign = CertificateAuthority.create("Someone Else's CA").issue_server(["127.0.0.1"])
    yield foreign.key_pem, foreign.cert_pem  # not from this exchange's CA
    ca = CertificateAuthority.load(paths.ca_cert, paths.ca_key)
    client = ca.issue_client("demo-a")
    yield client.key_pem, client.cert_pem  # not a server certificate
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "signal-exchange")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=10))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    yield private_key_pem(key), expired.public_bytes(serialization.Encoding.PEM)  # expired


def test_server_certificate_renewed_without_restart(tmp_path: Path) -> None:
    ex = start_exchange(tmp_path, metrics_listen="127.0.0.1:0")
    try:
        creds = ex.creds("demo-a")
        old = _server_certificate(ex.address, creds)
        assert "sigx.example.org" not in _names(old)
        metrics_port = ex.running.metrics_server.server_port
        assert _expiry_metric(metrics_port) == old.not_valid_after_utc.timestamp()
        with ex.client("demo-a") as kept:  # a connection made before the renewal
            kept.who_am_i()
            _next_second()  # so the new certificate's expiry differs from the old one's
            keytool = subprocess.run(
                [sys.executable, str(KEYTOOL), "server-cert", "--data-dir", str(ex.data_dir), "sigx.example.org"],
                capture_output=True,
                text=True,
                check=True,
            )
            renewed = json.loads(keytool.stdout)
            assert "sigx.example.org" in renewed["names"]
            waiting = datetime.fromisoformat(renewed["not_after"]).timestamp()
            assert waiting > old.not_valid_after_utc.timestamp()
            assert _expiry_metric(metrics_port) == waiting  # the metric follows the disk before any handshake

            new = _server_certificate(ex.address, creds)  # the next handshake presents the new one
            assert f"{new.serial_number:x}" == renewed["serial"]
            assert "sigx.example.org" in _names(new) and "127.0.0.1" in _names(new)
            assert _expiry_metric(metrics_port) == new.not_valid_after_utc.timestamp()
            kept.who_am_i()  # the old connection goes on
            with ex.client("demo-b") as fresh:
                assert fresh.who_am_i().member_id == "demo-b"

            # What would break every new connection is refused: the exchange keeps presenting the good one.
            paths = DataDir(ex.data_dir)
            for key_pem, cert_pem in _bad_server_pairs(paths, old):
                write_private_file(paths.server_key, key_pem)
                paths.server_cert.write_bytes(cert_pem)
                assert _server_certificate(ex.address, creds).serial_number == new.serial_number
                assert _expiry_metric(metrics_port) == new.not_valid_after_utc.timestamp()
                with ex.client("demo-b") as fresh:
                    assert fresh.who_am_i().member_id == "demo-b"
    finally:
        ex.running.stop(grace=1)
