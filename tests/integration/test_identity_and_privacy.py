"""Mutual TLS decides who calls; raw identifiers never reach the wire, the database or the logs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.credentials import Credentials
from client_sdk.wire import directory_pb2, directory_pb2_grpc
from exchange.datadir.bootstrap import DataDir
from exchange.pki.ca import CertificateAuthority
from tests.harness import Exchange
from tests.harness_process import ServerProcess

pytestmark = pytest.mark.integration


def _list_members(address: str, tls: grpc.ChannelCredentials) -> Any:
    with grpc.secure_channel(address, tls) as channel:
        return directory_pb2_grpc.DirectoryStub(channel).ListMembers(directory_pb2.ListMembersRequest(), timeout=10)


def test_no_client_certificate_gets_nothing(exchange: Exchange) -> None:
    ca = (exchange.data_dir / "ca.crt").read_bytes()
    with pytest.raises(grpc.RpcError) as exc:
        _list_members(exchange.address, grpc.ssl_channel_credentials(root_certificates=ca))
    assert exc.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def test_certificate_from_another_ca_is_refused(exchange: Exchange) -> None:
    rogue = CertificateAuthority.create("rogue").issue_client("demo-a")
    tls = grpc.ssl_channel_credentials(
        root_certificates=(exchange.data_dir / "ca.crt").read_bytes(),
        private_key=rogue.key_pem,
        certificate_chain=rogue.cert_pem,
    )
    with pytest.raises(grpc.RpcError) as exc:
        _list_members(exchange.address, tls)
    assert exc.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def test_certificate_for_unknown_member_is_unauthenticated(exchange: Exchange) -> None:
    paths = DataDir(exchange.data_dir)
    issued = CertificateAuthority.load(paths.ca_cert, paths.ca_key).issue_client("mallory")
    tls = grpc.ssl_channel_credentials(
        root_certificates=paths.ca_cert.read_bytes(), private_key=issued.key_pem, certificate_chain=issued.cert_pem
    )
    with pytest.raises(grpc.RpcError) as exc:
        _list_members(exchange.address, tls)
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "mallory" in (exc.value.details() or "")


def test_member_id_comes_from_the_certificate(exchange: Exchange) -> None:
    """demo-b's TLS identity with demo-a's signing key: every event is refused as someone else's."""
    a = Credentials.load(exchange.creds("demo-a"))
    b = Credentials.load(exchange.creds("demo-b"))
    mixed = Credentials(**{**a.__dict__, "cert_pem": b.cert_pem, "tls_key_pem": b.tls_key_pem})
    with ExchangeClient.connect(exchange.address, credentials=mixed) as client:
        [result] = client.submit([Signal(Identifier("email", "a@example.com"), category="grooming")])
    assert (result.status, result.code, result.tag) == ("rejected", "PERMISSION_DENIED", "not_your_key")


# -- privacy ------------------------------------------------------------------------------

IDENTIFIERS = [
    Identifier("email", "Jane.Doe+kids@gmail.com"),
    Identifier("phone", "+1 (415) 555-0100"),
    Identifier("username", "@Predator_Handle", platform="instagram"),
    Identifier("payment_handle", "$CashTagPerson", provider="cashapp"),
    Identifier("payment_handle", "https://paypal.me/PayPalPerson"),
    Identifier("url", "https://evil.example.org/Groom/Path?x=1"),
    Identifier("domain", "Sextortion-Domain.example"),
    Identifier("ip", "203.0.113.77"),
]


def _needles(ident: Identifier) -> set[bytes]:
    forms = {ident.value, ident.value.lower(), ident.normalised(), ident.normalised().split(":", 1)[-1]}
    forms |= {re.sub(r"[^0-9a-z]", "", f.lower()) for f in forms}
    return {f.encode() for f in forms if len(f) >= 6} | {f.encode("utf-16-le") for f in forms if len(f) >= 6}


class _Capture(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self.sent.append(request.SerializeToString())
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        self.sent.append(request.SerializeToString())
        return continuation(details, request)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Iterator[Any]) -> Any:
        def tap() -> Iterator[Any]:
            for r in requests:
                self.sent.append(r.SerializeToString())
                yield r

        return continuation(details, tap())


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """``sigx serve`` as its own process, logs (JSON) captured to a file."""
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    yield server.address, server.data_dir, tmp_path / "server.log"
    assert server.stop() == 0


@pytest.mark.sqlite_only  # scans the SQLite files of a `sigx serve` process
def test_no_raw_identifier_on_wire_in_database_or_logs(server_process: tuple[str, Path, Path]) -> None:
    address, data_dir, log_path = server_process
    creds = Credentials.load(data_dir / "members" / "demo-a")
    capture = _Capture()
    tls = grpc.ssl_channel_credentials(creds.ca_pem, creds.tls_key_pem, creds.cert_pem)
    channel = grpc.intercept_channel(grpc.secure_channel(address, tls), capture)
    with ExchangeClient(channel, creds) as client:
        results = client.submit([Signal(i, category="sextortion.financial") for i in IDENTIFIERS])
        assert all(r.status == "accepted" for r in results)
        assert all(r.found for r in client.lookup(IDENTIFIERS))
        assert len(list(client.pull())) == len(IDENTIFIERS)
        pseudonyms = client.pseudonymise(IDENTIFIERS)
        client.retract(results[0].signal_id, reason="appeal upheld")
    wire = b"\n".join(capture.sent)
    assert len(capture.sent) >= 5
    stored = b"".join(p.read_bytes() for p in data_dir.glob("exchange.db*"))
    logs = log_path.read_bytes()
    assert b"request_handled" in logs
    for ident in IDENTIFIERS:
        for needle in _needles(ident):
            assert needle not in wire, (ident.type, needle)
            assert needle not in stored, (ident.type, needle)
            assert needle not in logs, (ident.type, needle)
    for p in pseudonyms:
        assert p in stored  # the pseudonyms are what the exchange keeps …
        assert p.hex().encode() not in logs and p not in logs  # … and never logs
    assert os.stat(data_dir / "secrets" / "oprf.key").st_mode & 0o077 == 0
