"""The member's install (``pip install signal-exchange``, no server extras) does everything a member
platform, an operator at its desk and an auditor need, against a real exchange.

CI runs this module twice: in the full environment, and in a second virtualenv with only the base
install, where the exchange itself is started with the full environment's Python
(``$SIGX_SERVER_PYTHON``). Nothing here imports a server module; one test proves it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from exchange.cli import main
from exchange.serve_process import ServeProcess

#: Modules and packages that only the server needs: none may be loaded by a client command.
SERVER_ONLY = (
    "exchange.app",
    "exchange.server",
    "exchange.store",
    "exchange.services",
    "exchange.rpc",
    "exchange.live",
    "exchange.datadir",
    "exchange.signature_log",
    "exchange.observability",
    "exchange.taxii",
    "sqlite_utils",
    "psycopg",
    "prometheus_client",
    "structlog",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("member-install")
    process = ServeProcess(root / "data", root / "server.log", python=os.environ.get("SIGX_SERVER_PYTHON"))
    yield process
    process.stop()


def sigx(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def creds(server: ServeProcess, name: str) -> list[str]:
    return ["--as", str(server.creds(name)), "--server", server.address]


def test_a_member_pushes_pulls_looks_up_and_gives_feedback(server: ServeProcess, tmp_path: Path) -> None:
    csv_file = tmp_path / "signals.csv"
    csv_file.write_text("type,value,category,provider\nemail,Jane.Doe@gmail.com,sextortion.financial,\n"
                        "payment_handle,$JaneDoe,sextortion.financial,cashapp\n")  # fmt: skip
    code, out, _ = sigx("push", *creds(server, "demo-a"), "--json", str(csv_file))
    assert code == 0 and [json.loads(line)["status"] for line in out.splitlines()] == ["accepted", "accepted"]
    code, out, _ = sigx("lookup", *creds(server, "demo-b"), "--json", "payment_handle:cash.app/$janedoe")
    [hit] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and hit["found"]
    signal_id = hit["matches"][0]["signal_id"]
    assert sigx("feedback", *creds(server, "demo-b"), str(signal_id), "confirmed")[0] == 0
    code, out, _ = sigx("pull", *creds(server, "demo-a"), "--prove")
    assert code == 0 and [json.loads(line)["kind"] for line in out.splitlines()][-1] == "feedback"


def test_a_member_indexes_its_accounts_and_matches(server: ServeProcess, tmp_path: Path) -> None:
    assert sigx("admin", "policy", "apply", "--yes", str(_policy(tmp_path)), *creds(server, "operator"))[0] == 0
    with ExchangeClient.connect(server.address, credentials=server.creds("demo-a")) as a:
        a.submit([Signal(Identifier("email", "offender@example.com"), category="grooming")])
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,type,value\nacct-1,email,Offender@Example.com\nacct-2,email,nobody@example.com\n")
    index = str(tmp_path / "b.idx")
    assert sigx("index", "add", *creds(server, "demo-b"), "--index", index, str(accounts))[0] == 0
    assert sigx("match", *creds(server, "demo-b"), "--index", index)[0] == 0
    code, out, _ = sigx("review", "list", "--index", index, "--json")
    assert code == 0 and [json.loads(line)["own_id"] for line in out.splitlines()] == ["acct-1"]


def test_the_operator_and_the_auditor_work_from_the_member_install(server: ServeProcess, tmp_path: Path) -> None:
    code, out, _ = sigx("admin", "member", "add", "newco", "--out", str(tmp_path / "newco"), *creds(server, "operator"))
    assert code == 0
    assert sigx("admin", "stats", *creds(server, "operator"))[0] == 0
    code, out, err = sigx("audit", "verify", *creds(server, "auditor"), "--state", str(tmp_path / "audit"))
    assert code == 0, out + err


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text("[defaults]\noprf_bulk_per_day = 10000\n")
    return path


def test_client_commands_load_no_server_module(server: ServeProcess) -> None:
    """A fresh interpreter runs client commands; afterwards not one server-only module is loaded."""
    member = ["--as", str(server.creds("demo-b")), "--server", server.address]
    operator = ["--as", str(server.creds("operator")), "--server", server.address]
    script = (
        "import json, sys\n"
        "from exchange.cli import main\n"
        f"main({['lookup', *member, 'email:x@y.com']!r})\n"
        f"main({['admin', 'member', 'list', *operator]!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "client_sdk.client" in loaded
    offending = [m for m in loaded if m.startswith(SERVER_ONLY)]
    assert not offending, offending


def test_serve_without_its_extra_says_which_to_install(tmp_path: Path) -> None:
    """Where the server's packages are missing (the member's install), ``sigx serve`` says what to install."""
    try:
        import sqlite_utils  # noqa: F401
    except ModuleNotFoundError:
        code, _, err = sigx("serve", "--data-dir", str(tmp_path / "data"), "--check-config")
        assert code == 2 and "pip install 'signal-exchange[server]'" in err
    else:  # the full install: the same message for a package hidden from a fresh interpreter
        script = (
            "import sys; sys.modules['sqlite_utils'] = None\n"
            "from exchange.cli import main\n"
            f"sys.exit(main(['serve', '--data-dir', {str(tmp_path / 'data')!r}]))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "pip install 'signal-exchange[server]'" in done.stderr, done.stderr
    assert not (tmp_path / "data").exists()
