"""What grpcurl does: list services and call Directory/WhoAmI through server reflection alone (v1alpha)."""

from __future__ import annotations

import pytest
from grpc_requests import Client

from tests.harness import start_exchange

pytestmark = pytest.mark.integration


def test_reflection_only_client_lists_services_and_calls_whoami(tmp_path):
    ex = start_exchange(tmp_path)
    try:
        creds = ex.creds("demo-a")
        client = Client(
            ex.address,
            ssl=True,
            credentials={
                "root_certificates": (creds / "ca.crt").read_bytes(),
                "private_key": (creds / "tls.key").read_bytes(),
                "certificate_chain": (creds / "tls.crt").read_bytes(),
            },
        )
        assert "signal_exchange.v1.Directory" in client.service_names
        reply = client.request("signal_exchange.v1.Directory", "WhoAmI", {})
        member = reply["member"]
        assert member.get("memberId", member.get("member_id")) == "demo-a"
    finally:
        ex.running.stop(grace=1)
