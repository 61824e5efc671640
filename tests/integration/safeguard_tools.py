"""What the safeguard tests share: running ``sigx`` in-process, reading admin changes from the log, auditing."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from client_sdk.audit.sources import RemoteSource
from client_sdk.envelope import open_envelope
from client_sdk.wire import admin_pb2
from exchange import cli
from tests.harness import Exchange


def sigx(*argv: str) -> tuple[int, str, str]:
    """Run a ``sigx`` command in this process: its exit code, standard output and standard error."""
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def log_bodies(exchange: Exchange, payload_type: str) -> list[Any]:
    """The bodies of every entry of one payload type in the signature log, read by the auditor, in log order."""
    source = RemoteSource(exchange.address, exchange.creds("auditor"))
    try:
        entries = [e for page in source.entries(0, exchange.running.store.log_size()) for e in page]
    finally:
        source.close()
    opened = [open_envelope(env) for _, _, env in entries if env]
    return [o.body() for o in opened if o.payload_type == payload_type]


def admin_changes(exchange: Exchange) -> list[admin_pb2.AdminChange]:
    """Every admin change in the signature log."""
    return log_bodies(exchange, "sigx.admin/v1")


def audit_ok(exchange: Exchange, state: Path) -> dict:
    """``sigx audit verify --json`` against the exchange; its report."""
    code, out, _ = sigx(
        "audit",
        "verify",
        "--as",
        str(exchange.creds("auditor")),
        "--server",
        exchange.address,
        "--state",
        str(state),
        "--json",
    )
    report = json.loads(out)
    assert code == 0 and report["ok"], report["problems"]
    return report  # type: ignore[no-any-return]
