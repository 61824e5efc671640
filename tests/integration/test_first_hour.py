"""A new user's first hour: every mistake gets one clear line, nothing half done, and exact reports."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client_sdk.admin import AdminClient
from client_sdk.wire import admin_pb2
from exchange.cli import build_parser, main
from tests.harness import Exchange

pytestmark = pytest.mark.integration
CAT = "grooming"


def _creds(exchange: Exchange, name: str = "demo-a") -> list[str]:
    return ["--as", str(exchange.creds(name)), "--server", exchange.address]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("type,value,category\nemail,a@example.com\n", "line 2: expected 3 or 4 columns"),
        ('type,value,category\nemail,"a@example.com,grooming\n', "line 2: not CSV"),
        ('{"type": "email", "value": "a@example.com"}\n', "line 1: missing or non-string fields: category"),
        ("type,value,category,provider\nemail,a@example.com,grooming,cashapp\n", "line 2: type email takes no"),
        ("just some notes\nabout nothing\n", "line 1: expected 3 or 4 columns"),
        ('[{"type": "email", "value": "a@example.com", "category": "grooming"}]\n', "a JSON array"),
    ],
    ids=["columns", "quote", "json-field", "qualifier", "plain-text", "json-array"],
)
def test_a_malformed_file_is_refused_before_anything_is_sent(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    good = "".join(f"email,ok{i}@example.com,{CAT}\n" for i in range(3000))  # batches that would go first
    path = tmp_path / "input.txt"
    path.write_text(content if content.startswith(("[", "{", "just")) else content + good)
    size = exchange.running.store.log_size()
    assert main(["push", *_creds(exchange), "--json", str(path)]) == 2
    out, err = capsys.readouterr()
    assert expected in err and "Traceback" not in err and out == ""
    assert exchange.running.store.log_size() == size  # nothing was stored


@pytest.mark.sqlite_only  # the client's behaviour: one store is enough
def test_the_report_of_what_was_stored_is_exact(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _grant_evaluations(exchange)
    path = tmp_path / "mixed.csv"
    rows = [f"email,{f'bad{i}-at-example.com' if i % 7 == 0 else f'ok{i}@example.com'},{CAT}\n" for i in range(3000)]
    path.write_text("".join(rows))
    size = exchange.running.store.log_size()
    assert main(["push", *_creds(exchange), "--json", "--batch-size", "500", str(path)]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stored = [r for r in records if r["status"] == "accepted"]
    assert len(records) == 3000 and exchange.running.store.log_size() - size == len(stored)
    assert all(r["line"] == r["item"] for r in records)
    assert {r["line"] for r in records if r["status"] == "rejected"} == {i + 1 for i in range(0, 3000, 7)}


def test_files_that_cannot_be_read_are_one_line(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"type,value,category\n\xff\xfe\x00\n")
    for path, says in ((tmp_path / "absent.csv", "no such file"), (tmp_path, "is a directory"), (binary, "not UTF-8")):
        assert main(["push", *_creds(exchange), str(path)]) == 2
        err = capsys.readouterr().err
        assert says in err and str(path) in err and len(err.strip().splitlines()) == 1
    assert main(["lookup", "--as", str(binary), "email:a@example.com"]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_serve_refuses_a_bad_data_dir_or_a_busy_port_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for data_dir, says in ((blocker, "is a file"), (blocker / "data", "lies under")):
        assert main(["serve", "--data-dir", str(data_dir)]) == 2
        assert says in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--data-dir", str(tmp_path / "new"), "--listen", f"127.0.0.1:{port}"]) == 2
        err = capsys.readouterr().err
    assert "cannot bind" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()  # nothing was initialised


def test_an_unreachable_exchange_is_said_at_once_and_bounded(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.csv"
    path.write_text(f"email,a@example.com,{CAT}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed
    for argv in (["push", str(path)], ["lookup", "email:a@example.com"]):
        started = time.monotonic()
        code = main([argv[0], "--as", str(exchange.creds("demo-a")), "--server", dead, "--timeout", "2", *argv[1:]])
        elapsed = time.monotonic() - started
        err = capsys.readouterr().err
        assert code == 2 and elapsed < 10
        assert f"cannot reach {dead}, retrying for up to 2 s; is the exchange running?" in err
        assert "UNAVAILABLE" in err


@pytest.mark.sqlite_only  # the client's behaviour: one store is enough
def test_ctrl_c_during_a_push_says_what_is_stored_and_a_rerun_resumes(exchange: Exchange, tmp_path: Path) -> None:
    _grant_evaluations(exchange)
    path = tmp_path / "big.csv"
    path.write_text("".join(f"domain,d{i}.example,{CAT}\n" for i in range(6000)))
    argv = [sys.executable, "-m", "exchange.cli", "push", *_creds(exchange), "--batch-size", "100", str(path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while exchange.running.store.log_size() < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    # A second connection holds the database's write lock while the push is interrupted, so on a busy
    # machine the push cannot finish in between: its pending batch waits (the exchange's busy timeout is 10 s).
    blocker = sqlite3.connect(exchange.db_path, isolation_level=None, timeout=30)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        blocker.close()
    assert proc.returncode == 130, err
    assert "interrupted:" in err and "of the 6000 signals are stored" in err and "run the same command again" in err
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "6000 stored, 0 rejected" in done.stderr


def _grant_evaluations(exchange: Exchange) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-a]\nevaluations_per_day = 100000\n"))


def test_pull_shows_progress_unless_quiet(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "few.csv"
    path.write_text("".join(f"domain,p{i}.example,{CAT}\n" for i in range(5)))
    assert main(["push", *_creds(exchange), "--quiet", str(path)]) == 0
    capsys.readouterr()
    assert main(["pull", *_creds(exchange, "demo-b")]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5 and "5 events" in err
    assert main(["pull", *_creds(exchange, "demo-b"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5 and err == ""
    event = json.loads(out.splitlines()[0])
    assert event["signal"]["expires_at"] > event["received_at"]  # the effective expiry, never 0


def test_every_option_and_argument_is_explained() -> None:
    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}")
            elif not isinstance(action, argparse._HelpAction):
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"

    walk(build_parser(), "sigx")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("sigx ")


def test_admin_wording(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    operator = _creds(exchange, "operator")
    assert main(["admin", "group", "create", "trusted", *operator]) == 0
    assert "created group trusted" in capsys.readouterr().out
    assert main(["admin", "group", "create", "trusted", *operator]) == 0
    assert "no change: group trusted exists" in capsys.readouterr().out
