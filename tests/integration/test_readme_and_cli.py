"""The README's SDK example and the sigx CLI, run against a real server."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from client_sdk import Identifier
from exchange.cli import build_parser, main
from tests.harness import Exchange

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    block = re.search(r"<!-- sdk-example -->\s*```python\n(.*?)```", text, re.S)
    assert block, "README lost its SDK example"
    return block.group(1)


def test_readme_sdk_example_runs(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    code = readme_example().replace("127.0.0.1:7443", exchange.address)
    code = code.replace('"data/members/', f'"{exchange.data_dir}/members/')
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    results = namespace["results"]
    assert [r.status for r in results] == ["accepted", "accepted"]  # type: ignore[attr-defined]
    assert len(namespace["pseudonyms"][0]) == 32  # type: ignore[index]
    out = capsys.readouterr().out
    assert re.search(r"^\d+ submit sextortion.financial$", out, re.M)
    with exchange.client("demo-a") as client:
        [hit] = client.lookup([Identifier("payment_handle", "$janedoe")])
        assert hit.matches[0].feedback["confirmed"] == 1
        assert not client.lookup([Identifier("email", "janedoe@gmail.com")])[0].found  # retracted


def test_readme_first_lines_are_the_two_commands() -> None:
    lines = [line for line in README.read_text().splitlines()[:6] if line.startswith("pip install")]
    assert lines[0].startswith("pip install -e '.[server]' && sigx serve --data-dir data")
    assert lines[1].startswith("pip install -e '.[test]' && pytest")


def _commands(parser: argparse.ArgumentParser, prefix: str = "sigx") -> dict[str, argparse.ArgumentParser]:
    """Every leaf command (``sigx admin member add``, …) with its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix: parser}
    found: dict[str, argparse.ArgumentParser] = {}
    for name, sub in subs[0].choices.items():
        found.update(_commands(sub, f"{prefix} {name}"))
    return found


def test_cli_reference_is_complete() -> None:
    text = README.read_text()
    commands = _commands(build_parser())
    assert "sigx admin policy apply" in commands
    for name, sub in commands.items():
        assert f"`{name}" in text, f"README does not document '{name}'"
        section = text[text.index(f"`{name}") :].split("\n", 1)[0]
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag not in ("--help", "--as", "--server", "--json", "--timeout"):
                    assert flag in section, f"README does not document {name} {flag}"


def _creds(exchange: Exchange, name: str) -> list[str]:
    return ["--as", str(exchange.creds(name)), "--server", exchange.address]


def test_push_pull_lookup_cli(exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "signals.csv"
    csv_file.write_text(
        "type,value,category,provider\n"
        "email,Jane.Doe@gmail.com,sextortion.financial,\n"
        "payment_handle,$JaneDoe,sextortion.financial,cashapp\n"
        "email,not-an-email,sextortion.financial,\n"
        "username,@someone,grooming,instagram\n"
    )
    assert main(["push", *_creds(exchange, "demo-a"), str(csv_file)]) == 1
    captured = capsys.readouterr()
    rejected = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert [(r["item"], r["tag"]) for r in rejected] == [(3, "invalid_identifier")]
    assert "invalid email" in rejected[0]["reason"]
    assert "4/4" in captured.err and "accepted=3" in captured.err

    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(json.dumps({"type": "domain", "value": "Evil.Example.", "category": "spam.abuse"}) + "\n")
    assert main(["push", *_creds(exchange, "demo-a"), "--json", str(jsonl)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["status"] == "accepted"

    cursor = tmp_path / "b.cursor"
    assert main(["pull", *_creds(exchange, "demo-b"), "--cursor-file", str(cursor)]) == 0
    events = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [e["kind"] for e in events] == ["submit"] * 4
    assert events[1]["signal"]["qualifier"] == "cashapp" and len(events[1]["signal"]["value"]) == 64
    assert cursor.read_text().strip() == events[-1]["cursor"]
    assert main(["pull", *_creds(exchange, "demo-b"), "--cursor-file", str(cursor)]) == 0
    assert capsys.readouterr().out == ""

    assert (
        main(
            [
                "lookup",
                *_creds(exchange, "demo-b"),
                "--json",
                "payment_handle:cash.app/$janedoe",
                "email:nobody@example.com",
            ]
        )
        == 0
    )
    hit, miss = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert hit["found"] and hit["matches"][0]["submitter"] == "demo-a" and not miss["found"]
    signal_id = hit["matches"][0]["signal_id"]

    assert main(["feedback", *_creds(exchange, "demo-b"), str(signal_id), "confirmed"]) == 0
    assert main(["retract", *_creds(exchange, "demo-a"), str(signal_id), "--reason", "appeal upheld"]) == 0
    capsys.readouterr()
    assert main(["pull", *_creds(exchange, "demo-b"), "--cursor-file", str(cursor), "--envelopes"]) == 0
    tail = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(e["kind"], e.get("verdict"), e.get("reason")) for e in tail] == [
        ("feedback", "confirmed", None),
        ("retract", None, "appeal upheld"),
    ]
    assert all("envelope" in e for e in tail)


def test_cli_errors_are_one_line(exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retract", *_creds(exchange, "demo-a"), "12345"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sigx: NOT_FOUND [signal_not_found]")
    assert main(["pull", "--as", "/nonexistent/creds"]) == 2
    assert "does not exist" in capsys.readouterr().err
