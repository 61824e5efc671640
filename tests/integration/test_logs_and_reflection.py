"""Operating surfaces checked with tools the exchange did not write: server reflection v1 through grpclib (a
second gRPC stack with its own v1 descriptors), and the JSON log of a real ``sigx serve`` process."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import ssl
import time
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpclib.client import Channel
from grpclib.reflection.v1 import reflection_grpc, reflection_pb2

from client_sdk.credentials import Credentials
from client_sdk.wire import admin_pb2, admin_pb2_grpc
from exchange.rpc.reflection import V1_FILE, v1_file
from tests.harness import Exchange
from tests.harness_process import ServerProcess

pytestmark = pytest.mark.integration


def _tls(creds: Path) -> ssl.SSLContext:
    c = Credentials.load(creds)
    ctx = ssl.create_default_context(cadata=c.ca_pem.decode())
    ctx.load_cert_chain(creds / "tls.crt", creds / "tls.key")
    ctx.set_alpn_protocols(["h2"])
    return ctx


async def _reflect(port: int, creds: Path, *requests: reflection_pb2.ServerReflectionRequest) -> list:
    channel = Channel("127.0.0.1", port, ssl=_tls(creds))
    try:
        stub = reflection_grpc.ServerReflectionStub(channel)
        return list(await stub.ServerReflectionInfo(list(requests)))
    finally:
        channel.close()


def _files(response: reflection_pb2.ServerReflectionResponse) -> list[descriptor_pb2.FileDescriptorProto]:
    return [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in response.file_descriptor_response.file_descriptor_proto
    ]


def test_reflection_v1_answers_a_v1_client_from_another_stack(exchange: Exchange) -> None:
    listed, described, itself = asyncio.run(
        _reflect(
            exchange.running.port,
            exchange.creds("auditor"),
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="signal_exchange.v1.Exchange"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
        )
    )
    services = {s.name for s in listed.list_services_response.service}
    assert {
        "signal_exchange.v1.Exchange",
        "signal_exchange.v1.Log",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= services
    files = _files(described)
    exchange_file = next(f for f in files if f.package == "signal_exchange.v1" and f.service)
    assert "Subscribe" in {m.name for s in exchange_file.service for m in s.method}
    [v1] = _files(itself)
    # (in this process grpclib's own v1 file is in the default pool and answers; a server alone serves V1_FILE)
    assert v1.package == "grpc.reflection.v1" and v1.service[0].name == "ServerReflection"


def test_the_v1_descriptor_served_matches_an_independent_v1_definition() -> None:
    """Field for field (names, numbers, types, message references) what grpclib generated from the v1 proto."""

    def shape(fdp: descriptor_pb2.FileDescriptorProto) -> dict:
        return {
            m.name: [(f.name, f.number, f.type, f.label, f.type_name, f.oneof_index) for f in m.field]
            for m in fdp.message_type
        } | {
            s.name: [(x.name, x.input_type, x.output_type, x.client_streaming, x.server_streaming) for x in s.method]
            for s in fdp.service
        }

    theirs = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(theirs)
    assert theirs.package == "grpc.reflection.v1"
    assert shape(v1_file()) == shape(theirs)


def test_refused_calls_are_logged_with_the_member(exchange: Exchange, server_log: Path) -> None:
    """A call the role check refuses still names who made it (the certificate is known by then)."""
    request_id = f"role-check-{uuid.uuid4().hex[:8]}"
    c = Credentials.load(exchange.creds("demo-a"))
    tls = grpc.ssl_channel_credentials(c.ca_pem, c.tls_key_pem, c.cert_pem)
    with grpc.secure_channel(exchange.address, tls) as channel, pytest.raises(grpc.RpcError) as refused:
        admin_pb2_grpc.AdminStub(channel).GetStats(
            admin_pb2.GetStatsRequest(), timeout=10, metadata=(("x-request-id", request_id),)
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    [line] = _lines_of(server_log, request_id)
    assert line["code"] == "PERMISSION_DENIED" and line.get("member") == "demo-a"


def _lines_of(log: Path, request_id: str, timeout: float = 5.0) -> list[dict]:
    """The log lines of one request (the server writes its line just after the status goes out)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        mine = [x for x in lines if x.get("request_id") == request_id]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.05)


def test_serve_logs_only_json_lines_grpc_core_included(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gRPC's core writes its own lines to stderr (a failed TLS handshake here); they arrive as JSON too."""
    monkeypatch.setenv("GRPC_VERBOSITY", "info")  # the core logs handshake failures at INFO
    log = tmp_path / "server.log"
    server = ServerProcess(tmp_path / "data", log)
    try:
        host, port = server.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as plain:  # not TLS: the handshake fails
            plain.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            plain.recv(1024)
        # and reflection v1 from a process where only the exchange defines grpc.reflection.v1: its own file
        [itself] = asyncio.run(
            _reflect(
                int(port),
                server.creds("auditor"),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
            )
        )
        gc.collect()  # grpclib's closed channel keeps its socket until collected; the graceful stop would wait
    finally:
        assert server.stop() == 0
    [v1] = _files(itself)
    assert v1.name == V1_FILE and [m.name for m in v1.service[0].method] == ["ServerReflectionInfo"]
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # raises on any line that is not JSON
    native = [x for x in lines if x.get("event") == "native_log"]
    assert any("Handshake failed" in x["message"] and x["logger"] == "grpc" for x in native), text[-2000:]
    assert {"exchange_started", "exchange_stopped"} <= {x["event"] for x in lines}
