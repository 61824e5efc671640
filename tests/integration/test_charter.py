"""Member kinds and the charter through a real server, on both stores: rules no member policy overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError
from client_sdk.wire import admin_pb2
from tests.harness import Exchange
from tests.integration.safeguard_tools import admin_changes, audit_ok, sigx

pytestmark = pytest.mark.integration

CHARTER = """
kinds: [platform, payment_provider, ngo, hotline, government, research]
forbid:
  government: ["*"]
categories:
  "csam.*": [platform, hotline]
min_submitters:
  - categories: [grooming]
    kinds: [research]
    submitters: 2
"""


def _op(exchange: Exchange) -> AdminClient:
    return AdminClient.connect(exchange.address, exchange.creds("operator"))


def test_kinds_charter_and_policy(exchange: Exchange, tmp_path: Path) -> None:
    ngo = exchange.add_member("helpline", kind="ngo")
    research = exchange.add_member("uni", kind="research")
    op_args = ["--as", str(exchange.creds("operator")), "--server", exchange.address]
    code, out, _ = sigx("admin", "member", "list", *op_args)
    assert code == 0 and any(line.split()[:3] == ["helpline", "member", "ngo"] for line in out.splitlines()), out

    with _op(exchange) as op:
        assert op.charter().version == 0 and json.loads(op.charter().document)["forbid"] == {"government": ["*"]}
        # a self-contradictory charter: INVALID_ARGUMENT naming the rules, nothing applied
        bad = CHARTER.replace("[platform, hotline]", "[government]")
        with pytest.raises(InvalidArgumentError) as err:
            op.apply_charter(bad)
        assert err.value.reason == "charter_invalid" and "categories.csam.*" in err.value.message
        assert "forbid.government" in err.value.message
        with pytest.raises(InvalidArgumentError) as err:  # a digest that is not the document's
            op.change(apply_charter=admin_pb2.ApplyCharter(document=CHARTER, sha256=b"\0" * 32))
        assert err.value.reason == "charter_digest"
        assert op.charter().version == 0

        path = tmp_path / "charter.yaml"
        path.write_text(CHARTER)
        code, out, _ = sigx("admin", "charter", "apply", str(path), *op_args)
        assert code == 0 and "charter version 1" in out, out
        applied = op.charter()
        assert applied.version == 1 and applied.document == CHARTER
        # the charter's hash is in the logged change
        logged = [c.apply_charter for c in admin_changes(exchange) if c.WhichOneof("change") == "apply_charter"]
        assert [c.sha256 for c in logged] == [applied.sha256]

        # a policy granting a member what the charter denies its kind is refused, naming the rule
        policy = '[members.helpline]\nread_categories = ["csam.*", "grooming"]\n'
        with pytest.raises(FailedPreconditionError) as refused:
            op.change(apply_policy=admin_pb2.ApplyPolicy(document=policy))
        assert refused.value.reason == "charter" and "categories.csam.*" in refused.value.message
        assert "members.helpline.read_categories" in refused.value.message
        assert op.policy().version == 0
        # a kind the charter does not know is refused; a change of kind is a logged event
        with pytest.raises(InvalidArgumentError) as unknown:
            op.change(set_member_kind=admin_pb2.SetMemberKind(member_id="helpline", kind="spy"))
        assert unknown.value.reason == "bad_kind"
        before = op.member("demo-b")
        assert before.kind == "platform"
        changed = op.change(set_member_kind=admin_pb2.SetMemberKind(member_id="demo-b", kind="hotline"))
        assert changed.seq > 0 and op.member("demo-b").kind == "hotline"

    with exchange.client("demo-a") as a, ExchangeClient.connect(exchange.address, credentials=ngo) as h:
        csam = Identifier("media_md5", "0" * 31 + "1")
        groom = Identifier("email", "groomer@example.com")
        # the ngo may not submit a csam category, whatever its policy says
        [refused_submit] = h.submit([Signal(csam, category="csam.distribution")])
        assert refused_submit.status == "rejected" and refused_submit.tag == "charter"
        a.submit([Signal(csam, category="csam.distribution"), Signal(groom, category="grooming")])
        # ... nor read it: not in its pull, not in its look-ups, and asking for it is denied
        assert [e.signal.category for e in h.pull() if e.signal] == ["grooming"]
        [hit] = h.lookup([csam])
        assert hit.matches == []
        with pytest.raises(PermissionDeniedError) as denied:
            list(h.pull(categories=["csam.distribution"]))
        assert denied.value.reason == "charter"
    with exchange.client("demo-b") as b, ExchangeClient.connect(exchange.address, credentials=research) as r:
        # research sees grooming only once two members submitted the value, and never in its pull
        [alone] = r.lookup([groom])
        assert alone.matches == []
        b.submit([Signal(groom, category="grooming")])
        [both] = r.lookup([groom])
        assert sorted(m.submitter for m in both.matches) == ["demo-a", "demo-b"]
        assert [e for e in r.pull() if e.signal and e.signal.category == "grooming"] == []
    audit_ok(exchange, tmp_path / "audit")
