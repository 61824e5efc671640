"""STIX 2.1 in and out through sigx push/pull --format stix, against a real exchange."""

from __future__ import annotations

import json

import pytest
from stix2validator import ValidationOptions, validate_instance

from client_sdk import Identifier
from client_sdk.stix import EXTENSION_DEFINITIONS, PAYMENT_TYPE, PHONE_TYPE, read_bundle
from exchange.cli import main
from tests.harness import start_exchange

pytestmark = pytest.mark.integration
CAT = "sextortion.financial"


def _ext(kind):
    return {EXTENSION_DEFINITIONS[kind]["id"]: {"extension_type": "new-sco"}}


TIP_EXPORT = {
    "type": "bundle",
    "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
    "objects": [
        {"type": "email-addr", "id": "email-addr--1", "value": "Jane.Doe@gmail.com"},
        {"type": "user-account", "id": "user-account--1", "account_login": "@Alice", "account_type": "instagram"},
        {"type": "url", "id": "url--1", "value": "http://Example.com/a/../b"},
        {"type": "domain-name", "id": "domain-name--1", "value": "Example.COM."},
        {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "192.0.2.7"},
        {"type": "ipv6-addr", "id": "ipv6-addr--1", "value": "2001:DB8::1"},
        {"type": "file", "id": "file--1", "hashes": {"MD5": "D41D8CD98F00B204E9800998ECF8427E", "x_pdq": "ab" * 32}},
        {"type": PHONE_TYPE, "id": f"{PHONE_TYPE}--1", "value": "+1 415 555 0100", "extensions": _ext(PHONE_TYPE)},
        {"type": PAYMENT_TYPE, "id": f"{PAYMENT_TYPE}--1", "value": "$JaneDoe", "extensions": _ext(PAYMENT_TYPE)},
        {"type": "identity", "id": "identity--1", "name": "our TIP"},
    ],
}


@pytest.fixture
def ex(tmp_path):
    exchange = start_exchange(tmp_path)
    yield exchange
    exchange.running.stop(grace=1)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_push_then_pull_round_trip(ex, tmp_path, capsys):
    path = tmp_path / "tip.json"
    path.write_text(json.dumps(TIP_EXPORT))
    push = ["push", "--as", str(ex.creds("demo-a")), "--server", ex.address, "--format", "stix", "--category", CAT]
    code, _, err = _run(capsys, *push, str(path))
    assert code == 0, err
    code, out, err = _run(capsys, "pull", "--as", str(ex.creds("demo-b")), "--server", ex.address, "--format", "stix")
    assert code == 0, err
    bundle = json.loads(out)
    for obj in bundle["objects"]:
        result = validate_instance(obj, ValidationOptions(strict=True))
        assert result.is_valid, (obj["type"], [str(e) for e in result.errors])
    text = json.dumps(bundle).lower()
    for raw in ("jane", "alice", "example.com", "192.0.2.7", "4155550100", "415 555 0100"):
        assert raw not in text, f"raw value {raw!r} in the pulled bundle"
    pseudonyms = {(o["identifier_type"], o["pseudonym"]) for o in bundle["objects"] if o["type"] == "x-sigx-pseudonym"}
    with ex.client("demo-b") as b:
        idents = [m.identifier for m in read_bundle(json.dumps(TIP_EXPORT)).mapped if not m.identifier.is_media]
        expected = {(i.type, p.hex()) for i, p in zip(idents, b.pseudonymise(idents), strict=True)}
    assert pseudonyms == expected and len(expected) == 8
    hashes = [o["hashes"] for o in bundle["objects"] if o["type"] == "file"]
    assert {"MD5": "d41d8cd98f00b204e9800998ecf8427e"} in hashes and {"x_pdq": "ab" * 32} in hashes
    again = read_bundle(out)  # pseudonyms are never re-submitted as if raw
    assert all(m.identifier.is_media for m in again.mapped)
    assert any("already a pseudonym" in p.reason for p in again.failures)


def test_unmappable_bundle_submits_nothing_unless_partial(ex, tmp_path, capsys):
    bad = {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {"type": "email-addr", "id": "email-addr--2", "value": "kept@example.com"},
            {"type": "email-addr", "id": "email-addr--3", "value": "not an address"},
            {"type": "mac-addr", "id": "mac-addr--1", "value": "00:00:5e:00:53:af"},
        ],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    args = ["push", "--as", str(ex.creds("demo-a")), "--server", ex.address, "--format", "stix", "--category", CAT]
    code, _, err = _run(capsys, *args, str(path))
    assert code == 1 and "email-addr--3" in err and "mac-addr--1" in err and "nothing submitted" in err
    with ex.client("demo-a") as a:
        assert not a.lookup([Identifier("email", "kept@example.com")])[0].found
        code, _, err = _run(capsys, *args, "--partial", str(path))
        assert code == 1 and "1 submitted" in err
        assert a.lookup([Identifier("email", "kept@example.com")])[0].found
    path.write_text("{not json")
    code, _, err = _run(capsys, *args, str(path))
    assert code == 1 and "not JSON" in err
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--2", "objects": [{"type": "identity", "id": "x"}]}))
    code, _, err = _run(capsys, *args, str(path))
    assert code == 1 and "nothing in the bundle maps" in err
