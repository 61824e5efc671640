"""A recorded certificate's state and days left, at the edges: the cut-off (``certs_from``) compares with
``not_before`` as the exchange's admission does, expiry is at ``not_after`` itself, and a refused certificate
reads as refused even after it expired."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from client_sdk.admin import days_left, state_label
from exchange.pki.ca import CertificateAuthority
from exchange.services.admin import certificate_record
from exchange.store.base import CertificateRecord

DAY = 86_400


def test_state_at_the_edges() -> None:
    c = CertificateRecord("1f", b"\0" * 32, not_before=1_000, not_after=1_000 + 825 * DAY)
    assert c.state(0, 2_000) == "valid"
    assert c.state(1_000, 2_000) == "valid"  # issued in the cut-off's second: still accepted
    assert c.state(1_001, 2_000) == "not_accepted"
    assert c.state(0, c.not_after - 1) == "valid" and c.state(0, c.not_after) == "expired"
    assert c.state(1_001, c.not_after + DAY) == "not_accepted"  # the revocation is the stronger fact


def test_days_left_and_labels() -> None:
    assert days_left(10 * DAY, 0) == 10 and days_left(10 * DAY - 1, 0) == 9
    assert days_left(0, 1) == -1  # expired
    assert state_label("not_accepted").startswith("no longer accepted") and state_label("new-state") == "new-state"


def test_what_is_recorded_of_an_issued_certificate() -> None:
    issued = CertificateAuthority.create().issue_client("demo-a")
    record = certificate_record(issued)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert record.serial == format(cert.serial_number, "x") and record.fingerprint == cert.fingerprint(hashes.SHA256())
    assert record.not_after - record.not_before == 825 * DAY + 300  # valid from five minutes before issuance
