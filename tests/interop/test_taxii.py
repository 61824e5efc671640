"""The TAXII 2.1 view through taxii2-client, every object checked by stix2-validator in strict mode."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

from client_sdk import Identifier, Signal
from client_sdk import envelope as env
from client_sdk.wire import signals_pb2
from tests.harness import start_exchange

pytestmark = pytest.mark.integration
CAT = "sextortion.financial"
STRICT = ValidationOptions(strict=True)


@pytest.fixture(scope="module")
def taxii(tmp_path_factory):
    ex = start_exchange(tmp_path_factory.mktemp("taxii"), taxii_listen="127.0.0.1:0", max_batch=5000)
    yield ex
    ex.running.stop(grace=1)


@pytest.fixture(autouse=True)
def _no_ca_bundle(monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE override a session's own verify= setting
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def _server(ex, member="demo-b"):
    creds = ex.creds(member)
    return Server(
        f"https://127.0.0.1:{ex.running.taxii.port}/taxii2/",
        verify=str(creds / "ca.crt"),
        cert=(str(creds / "tls.crt"), str(creds / "tls.key")),
    )


def _get(ex, path, member="demo-b", accept="application/taxii+json;version=2.1", **kwargs):
    creds = ex.creds(member)
    return requests.get(
        f"https://127.0.0.1:{ex.running.taxii.port}{path}",
        verify=str(creds / "ca.crt"),
        cert=(str(creds / "tls.crt"), str(creds / "tls.key")),
        headers={"Accept": accept},
        timeout=30,
        **kwargs,
    )


def test_paging_10000_objects_none_missed_none_repeated(taxii):
    with taxii.client("demo-a") as a:
        # one transaction of 2,500 (a single SubmitRequest), so page boundaries fall inside it
        signals = [Signal(Identifier("media_md5", f"{i:032x}"), category=CAT) for i in range(10_000)]
        prepared, now = [], int(time.time())
        for s in signals:
            body = signals_pb2.SignalBody(
                submitter="demo-a",
                type=8,
                value=bytes.fromhex(s.identifier.value),
                category=CAT,
                created_at=now,
            )
            prepared.append(env.seal_body(body, a.credentials.signing_key))
        for start in range(0, 10_000, 2500):
            results = a.submit_envelopes(prepared[start : start + 2500])
            assert all(r.status == "accepted" for r in results), results[0]
        a.retract(results[-1].signal_id, reason="test")
    [root] = _server(taxii).api_roots
    [everyone] = root.collections
    assert everyone.can_read and not everyone.can_write
    seen, pages = [], 0
    for envelope in as_pages(everyone.get_objects, per_request=997):
        seen.extend(envelope.get("objects", []))
        pages += 1
    ids = [o["id"] for o in seen]
    assert pages == 11 and len(ids) == len(set(ids)) == 10_000
    revoked = [o for o in seen if o.get("revoked")]
    assert len(revoked) == 1 and revoked[0]["modified"] > revoked[0]["created"]
    for obj in seen[:300] + revoked:
        result = validate_instance(obj, STRICT)
        assert result.is_valid, [str(e) for e in result.errors]
    # manifest pages the same way, with the date headers
    first = _get(taxii, f"/api/collections/{everyone.id}/manifest/", params={"limit": 10})
    assert first.status_code == 200 and first.headers["content-type"] == "application/taxii+json;version=2.1"
    assert first.json()["more"] and len(first.json()["objects"]) == 10
    assert first.headers["X-TAXII-Date-Added-First"].endswith("Z") and "." in first.headers["X-TAXII-Date-Added-Last"]
    # object by id, its versions, match[version]=all
    target = revoked[0]["id"]
    assert [o.get("revoked", False) for o in everyone.get_object(target)["objects"]] == [True]
    assert len(everyone.object_versions(target)["versions"]) == 2
    assert len(everyone.get_object(target, version="all")["objects"]) == 2
    assert len(everyone.get_objects(type="opinion").get("objects", [])) == 0
    assert len(everyone.get_objects(id=target, version="all")["objects"]) == 2


def test_feedback_is_an_opinion_and_policy_applies(taxii):
    with taxii.client("demo-a") as a, taxii.client("demo-b") as b:
        [r] = a.submit([Signal(Identifier("email", "fb@example.com"), category=CAT)])
        b.feedback(r.signal_id, "confirmed")
    [root] = _server(taxii, "demo-a").api_roots
    opinions = root.collections[0].get_objects(type="opinion")["objects"]
    assert opinions[-1]["opinion"] == "agree"
    assert validate_instance(opinions[-1], STRICT).is_valid
    # operators and auditors may not pull: the policy engine says 403
    assert _get(taxii, "/api/collections/", member="auditor").status_code == 403


def test_bad_requests(taxii):
    [root] = _server(taxii).api_roots
    cid = root.collections[0].id
    for params in ({"limit": "x"}, {"limit": "0"}, {"added_after": "yesterday"}, {"next": "garbage"},
                   {"match[colour]": "red"}, {"match[version]": "newest"}):  # fmt: skip
        resp = _get(taxii, f"/api/collections/{cid}/objects/", params=params)
        assert resp.status_code == 400, params
        assert resp.headers["content-type"] == "application/taxii+json;version=2.1"
        assert resp.json()["http_status"] == "400" and resp.json()["title"]
    assert _get(taxii, "/api/collections/no-such-collection/objects/").status_code == 404
    assert (
        _get(taxii, f"/api/collections/{cid}/objects/indicator--00000000-0000-4000-8000-000000000000/").status_code
        == 404
    )
    creds = taxii.creds("demo-b")
    post = requests.post(
        f"https://127.0.0.1:{taxii.running.taxii.port}/api/collections/{cid}/objects/",
        verify=str(creds / "ca.crt"), cert=(str(creds / "tls.crt"), str(creds / "tls.key")), json={}, timeout=30,
    )  # fmt: skip
    assert post.status_code == 403
    wrong_accept = _get(taxii, "/api/", accept="text/html")
    assert wrong_accept.status_code == 406


def test_no_client_certificate_is_refused_at_the_handshake(taxii):
    ctx = ssl.create_default_context(cafile=str(taxii.creds("demo-b") / "ca.crt"))
    raw = socket.create_connection(("127.0.0.1", taxii.running.taxii.port), timeout=10)
    with raw, pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        if not tls.recv(1):  # TLS 1.3: the refusal arrives after the client's first flight
            raise ConnectionResetError("closed")
