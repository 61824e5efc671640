"""The files in deploy/ parse, agree with each other, and match the real settings and command line.

Nothing here needs Docker, Envoy or systemd: every file is read as data (TOML, YAML, INI-style unit,
Dockerfile instructions, Markdown code blocks) and checked against ``Settings``, the policy parser and
``sigx``'s argument parser, so a renamed flag or setting breaks a test instead of a deployment.
"""

from __future__ import annotations

import argparse
import configparser
import importlib.util
import itertools
import json
import re
import shlex
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography import x509

from client_sdk.credentials import Credentials
from client_sdk.keys import SigningKey
from exchange import app
from exchange.cli import build_parser
from exchange.config import TOML_KEYS, Settings
from exchange.datadir.bootstrap import ensure_initialised
from exchange.datadir.paths import DataDir
from exchange.pki.oprf_keyring import OprfKeyring
from exchange.policy import document
from exchange.store import open_store
from exchange.store.sqlite_schema import DEFAULT_TAXONOMY

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLES = DEPLOY / "examples"
EXCHANGE_TOMLS = sorted(EXAMPLES.glob("exchange*.toml"))
RUNBOOK = DEPLOY / "RUNBOOK.md"
DATA_DIR = "/var/lib/sigx"
CONFIG_PATH = "/etc/sigx/exchange.toml"
GRPC_PORT = 7443
METRICS_PORT = 9464
EXCHANGES = ("exchange-1", "exchange-2")


def _keytool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sigx_keytool", DEPLOY / "sigx-keytool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


keytool = _keytool()


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, with argparse's exit turned into a test failure that shows the command."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{parser.prog} {shlex.join(argv)}: does not parse (exit {exc.code})")


# -- TOML: example configuration and policy --------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.toml")), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_toml_loads(path: Path) -> None:
    assert tomllib.loads(path.read_text())


def test_there_are_exchange_examples() -> None:
    assert [p.name for p in EXCHANGE_TOMLS] == ["exchange-postgres.toml", "exchange.toml"]


@pytest.mark.parametrize("path", EXCHANGE_TOMLS, ids=lambda p: p.name)
def test_exchange_example_builds_settings(path: Path) -> None:
    settings = Settings.build(environ={}, config_file=path)
    assert str(settings.data_dir) == DATA_DIR
    assert settings.listen == f"0.0.0.0:{GRPC_PORT}"
    assert settings.metrics_listen.endswith(f":{METRICS_PORT}")
    assert settings.log_format == "json"
    assert bool(settings.database) == ("postgres" in path.name)


@pytest.mark.parametrize("path", EXCHANGE_TOMLS, ids=lambda p: p.name)
def test_exchange_example_sets_and_comments_every_key(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    keys = {(section, key) for section, table in data.items() for key in table}
    assert keys == set(TOML_KEYS), "every configuration key appears in every example"
    previous = ""
    for line in path.read_text().splitlines():
        if re.match(r"^\w+\s*=", line):
            assert previous.startswith("#") or "#" in line, f"{path.name}: no comment for {line!r}"
        previous = line.strip()


def test_policy_example_parses() -> None:
    text = (EXAMPLES / "policy.toml").read_text()
    policy = document.parse(text, ["demo-a", "demo-b"], list(DEFAULT_TAXONOMY))
    assert policy.members, "the example shows per-member overrides"
    assert document.parse(policy.render(), ["demo-a", "demo-b"], list(DEFAULT_TAXONOMY)) == policy


# -- compose.yaml and envoy.yaml ------------------------------------------------------------------


def _interpolate(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, with a stand-in value for every variable."""
    return re.sub(r"\$\{(\w+)(?::?[-?][^}]*)?\}", lambda m: f"test-{m.group(1).lower()}", value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def envoy() -> dict:
    return yaml.safe_load((DEPLOY / "envoy.yaml").read_text())


def _mounts(service: dict) -> dict[str, str]:
    """target -> source of a service's short-syntax volumes."""
    result = {}
    for spec in service.get("volumes", []):
        source, target, *_ = spec.split(":")
        result[target] = source
    return result


def _host_port(spec: str) -> tuple[str, int, int]:
    parts = str(spec).split(":")
    host = parts[0] if len(parts) == 3 else "0.0.0.0"
    return host, int(parts[-2]), int(parts[-1])


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", str(text))
    assert match, text
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[match.group(2)]


def test_compose_services(compose: dict) -> None:
    assert set(compose["services"]) == {"postgres", *EXCHANGES, "envoy"}
    for name, service in compose["services"].items():
        for target, source in _mounts(service).items():
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"
            assert target.startswith("/")


def test_compose_postgres(compose: dict) -> None:
    pg = compose["services"]["postgres"]
    assert pg["image"] == "postgres:15"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert _mounts(pg)["/var/lib/postgresql/data"] in compose["volumes"]


def test_compose_exchanges_share_image_data_and_database(compose: dict) -> None:
    services = compose["services"]
    pg_env = services["postgres"]["environment"]
    data_volumes = set()
    for name in EXCHANGES:
        ex = services[name]
        assert ex["image"] == services[EXCHANGES[0]]["image"]
        build = ex["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        url = urlsplit(_interpolate(ex["environment"]["SIGX_DATABASE"]))
        assert url.scheme == "postgresql"
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert url.username == pg_env["POSTGRES_USER"]
        assert url.password == _interpolate(pg_env["POSTGRES_PASSWORD"])
        assert url.path == f"/{pg_env['POSTGRES_DB']}"
        mounts = _mounts(ex)
        data_volumes.add(mounts[DATA_DIR])
        assert mounts[DATA_DIR] in compose["volumes"]
        assert ex["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert {str(p) for p in ex["expose"]} == {str(GRPC_PORT), str(METRICS_PORT)}
        assert "ports" not in ex, "replicas are reached through Envoy only"
    assert len(data_volumes) == 1, "one data directory shared by every replica"
    # The second replica must not race the first start.
    assert services["exchange-2"]["depends_on"]["exchange-1"]["condition"] == "service_healthy"


def test_compose_exchange_config_is_the_postgres_example(compose: dict) -> None:
    for name in EXCHANGES:
        ex = compose["services"][name]
        source = DEPLOY / _mounts(ex)[CONFIG_PATH]
        assert source == EXAMPLES / "exchange-postgres.toml"
        env = {k: _interpolate(str(v)) for k, v in ex["environment"].items()}
        settings = Settings.build(environ=env, config_file=source)
        assert str(settings.data_dir) == DATA_DIR
        assert settings.database == env["SIGX_DATABASE"]
        assert settings.listen.endswith(f":{GRPC_PORT}")
        assert settings.metrics_listen.endswith(f":{METRICS_PORT}")
        assert _seconds(ex["stop_grace_period"]) > settings.grace, "Docker must not SIGKILL within the grace"
        assert ex.get("stop_signal", "SIGTERM") == "SIGTERM"


def test_compose_envoy_uses_envoy_yaml(compose: dict, envoy: dict) -> None:
    proxy = compose["services"]["envoy"]
    assert proxy["image"].startswith("envoyproxy/envoy:")
    command = proxy["command"]
    config_path = command[command.index("--config-path") + 1]
    assert _mounts(proxy)[config_path] == "./envoy.yaml"
    listener_port = envoy["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
    published = {_host_port(p) for p in proxy["ports"]}
    assert ("0.0.0.0", GRPC_PORT, listener_port) in published
    admin_port = envoy["admin"]["address"]["socket_address"]["port_value"]
    assert [h for h, _, c in published if c == admin_port] == ["127.0.0.1"], "Envoy admin stays on loopback"
    for name in EXCHANGES:
        assert name in proxy["depends_on"]


def _walk(node: object) -> list[tuple[str, object]]:
    """Every (key, value) pair in a nested YAML document."""
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in [(k, v), *_walk(v)]]
    if isinstance(node, list):
        return [pair for item in node for pair in _walk(item)]
    return []


def test_envoy_is_a_tls_passthrough_tcp_proxy(envoy: dict) -> None:
    resources = envoy["static_resources"]
    [listener] = resources["listeners"]
    assert listener["address"]["socket_address"]["port_value"] == GRPC_PORT
    [chain] = listener["filter_chains"]
    [proxy] = chain["filters"]
    assert proxy["name"] == "envoy.filters.network.tcp_proxy"
    assert proxy["typed_config"]["@type"].endswith("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy")
    assert proxy["typed_config"]["cluster"] in {c["name"] for c in resources["clusters"]}
    keys = {k for k, _ in _walk(envoy)}
    assert "transport_socket" not in keys, "TLS must pass through Envoy untouched"
    assert "http_connection_manager" not in json.dumps(envoy)


def test_envoy_balances_over_the_compose_replicas(envoy: dict, compose: dict) -> None:
    [cluster] = envoy["static_resources"]["clusters"]
    assert cluster["lb_policy"] == "ROUND_ROBIN"
    assert cluster["type"] == "STRICT_DNS"
    assert cluster["load_assignment"]["cluster_name"] == cluster["name"]
    addresses = [
        ep["endpoint"]["address"]["socket_address"]
        for group in cluster["load_assignment"]["endpoints"]
        for ep in group["lb_endpoints"]
    ]
    endpoints = {(a["address"], a["port_value"]) for a in addresses}
    assert len(endpoints) == len(addresses)
    assert endpoints == {(name, GRPC_PORT) for name in EXCHANGES}
    assert {name for name, _ in endpoints} <= set(compose["services"])
    [check] = cluster["health_checks"]
    assert "tcp_health_check" in check
    assert _seconds(check["interval"]) <= 10


# -- systemd unit -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unit() -> tuple[configparser.ConfigParser, dict[str, list[str]]]:
    text = (DEPLOY / "sigx-exchange.service").read_text()
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    # systemd allows a key more than once (SystemCallFilter=); configparser keeps only the last.
    service: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            service.setdefault(key.strip(), []).append(value.strip())
    return parser, service


def test_unit_sections_and_hardening(unit: tuple[configparser.ConfigParser, dict[str, list[str]]]) -> None:
    parser, service = unit
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    s = parser["Service"]
    assert s.get("DynamicUser") == "yes" or s.get("User") not in (None, "", "root", "0")
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "StateDirectory": "sigx",
        "CapabilityBoundingSet": "",
        "KillSignal": "SIGTERM",
        "Restart": "on-failure",
        "MemoryDenyWriteExecute": "yes",
    }
    for key, value in expected.items():
        assert s.get(key) == value, f"{key}={s.get(key)!r}, expected {value!r}"
    assert DATA_DIR in s["ReadWritePaths"].split()
    assert set(s["RestrictAddressFamilies"].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in service["SystemCallFilter"]
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_unit_runs_sigx_serve_with_the_example_config(
    unit: tuple[configparser.ConfigParser, dict[str, list[str]]],
) -> None:
    parser, service = unit
    for key in ("ExecStartPre", "ExecStart"):
        [line] = service[key]
        program, *argv = shlex.split(line)
        assert Path(program).name == "sigx"
        args = _parse(build_parser(), argv)
        assert args.command == "serve"
        assert args.config == CONFIG_PATH
        assert args.check_config == (key == "ExecStartPre")
    settings = Settings.build(environ={}, config_file=EXAMPLES / "exchange.toml")
    assert _seconds(parser["Service"]["TimeoutStopSec"]) > settings.grace
    assert Path(parser["Service"]["ReadWritePaths"].split()[0]) == settings.data_dir


# -- Dockerfile ---------------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            instructions.append((word.upper(), rest.strip()))
            pending = ""
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _one(stage: list[tuple[str, str]], word: str) -> str:
    values = [args for w, args in stage if w == word]
    assert len(values) == 1, f"expected one {word}, got {values}"
    return values[0]


def test_dockerfile_base_user_and_entrypoint() -> None:
    instructions = _dockerfile()
    for word, args in instructions:
        if word == "FROM":
            assert args.split()[0] == "python:3.11-slim"
    final = _final_stage()
    user = _one(final, "USER").split(":")[0]
    assert user not in ("root", "0")
    assert json.loads(_one(final, "ENTRYPOINT")) == ["sigx", "serve"]
    cmd = json.loads(_one(final, "CMD"))
    assert cmd == ["--config", CONFIG_PATH]
    assert _parse(build_parser(), ["serve", *cmd]).config == CONFIG_PATH
    assert {int(p) for p in _one(final, "EXPOSE").split()} == {GRPC_PORT, METRICS_PORT}
    assert _one(final, "STOPSIGNAL") == "SIGTERM"
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert "libsodium23" in runs
    assert "pip install --no-cache-dir '.[postgres,taxii]'" in runs


def test_dockerfile_copies_what_exists() -> None:
    copied = {}
    for word, args in _dockerfile():
        if word != "COPY" or "--from=" in args:
            continue
        *sources, target = [a for a in args.split() if not a.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            copied[target] = source
    assert copied[CONFIG_PATH] == "deploy/examples/exchange.toml"
    assert copied["/usr/local/bin/sigx-keytool"] == "deploy/sigx-keytool.py"


def _healthcheck_code() -> str:
    healthcheck = _one(_final_stage(), "HEALTHCHECK")
    argv = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert argv[:2] == ["python", "-c"]
    return argv[2]


def test_dockerfile_healthcheck_probes_the_configured_ports(tmp_path: Path) -> None:
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    grpc_port, metrics_port = (s.getsockname()[1] for s in listeners)
    config = tmp_path / "exchange.toml"
    config.write_text(f'[server]\nlisten = "0.0.0.0:{grpc_port}"\nmetrics_listen = "0.0.0.0:{metrics_port}"\n')
    code = _healthcheck_code()
    assert CONFIG_PATH in code
    code = code.replace(CONFIG_PATH, str(config))

    def probe() -> int:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60).returncode

    try:
        assert probe() == 0
        listeners.pop().close()  # the metrics port goes away
        assert probe() != 0
    finally:
        for s in listeners:
            s.close()


# -- RUNBOOK.md: every command line parses ------------------------------------------------------------

_FENCE = re.compile(r"^([ \t]*)```(\w*)[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_SHELLS = {"", "bash", "sh", "shell", "console"}
_SEPARATORS = {"|", "||", "&&", ";", "&"}
_REDIRECTS = {">", ">>", "<", ">&", "<&"}


def _code_blocks(lang: set[str]) -> list[str]:
    blocks = []
    for match in _FENCE.finditer(RUNBOOK.read_text()):
        indent, language, body = match.groups()
        if language in lang:
            blocks.append("\n".join(line.removeprefix(indent) for line in body.splitlines()))
    return blocks


def _segments(line: str) -> list[list[str]]:
    """The simple commands of a shell line: split at | && ; &, redirections dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in _SEPARATORS:
            segments.append([])
        elif token in _REDIRECTS:
            skip_next = True
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


def _unwrap(argv: list[str]) -> list[str]:
    """Drop what runs a command on someone's behalf: VAR=value, sudo -u USER, docker (compose) exec."""
    while argv:
        if re.match(r"^\w+=", argv[0]):
            argv = argv[1:]
        elif argv[0] == "sudo":
            argv = argv[1:]
            while argv and argv[0].startswith("-"):
                argv = argv[2:] if argv[0] in ("-u", "-g") else argv[1:]
        elif argv[:3] == ["docker", "compose", "exec"] or argv[:2] == ["docker", "exec"]:
            argv = argv[3:] if argv[1] == "compose" else argv[2:]
            while argv and argv[0].startswith("-"):
                argv = argv[2:] if argv[0] in ("-u", "--user", "-w", "--workdir", "-e", "--env") else argv[1:]
            argv = argv[1:]  # the service or container
        else:
            return argv
    return argv


def _subcommands(program: str) -> set[str]:
    parser = build_parser() if program == "sigx" else keytool.build_parser()
    [subparsers] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(subparsers.choices)


def _prose_segments(line: str) -> list[list[str]]:
    """_segments of a line that may be prose (a comment): nothing if it does not lex as shell."""
    try:
        return _segments(line)
    except ValueError:
        return []


def _commands(lines: list[str], program: str, prose: bool = False) -> list[list[str]]:
    """Every invocation of ``program`` in shell ``lines`` (continuations already joined)."""
    commands = []
    for line in lines:
        if line.strip().startswith("#"):
            continue
        for segment in _prose_segments(line) if prose else _segments(line):
            argv = _unwrap(segment)
            if argv and argv[0] == program and (not prose or (argv[1:2] and argv[1] in _subcommands(program))):
                commands.append(argv)
    return commands


def _runbook_lines() -> list[str]:
    """Shell lines of the runbook's code blocks, plus inline `…` spans that are whole commands."""
    lines = [line for block in _code_blocks(_SHELLS) for line in re.sub(r"\\\n\s*", " ", block).splitlines()]
    prose = _FENCE.sub("", RUNBOOK.read_text())
    for span in re.findall(r"`([^`\n]+)`", re.sub(r"\n(?!\n)", " ", prose)):
        tokens = span.split()
        if any(t.startswith("--") and t != "--help" for t in tokens):  # a full command, not a mention
            lines.append(span)
    return lines


def _comment_lines() -> list[str]:
    """Commands quoted in the comments of the other deploy files."""
    lines = []
    for name in ("compose.yaml", "envoy.yaml", "sigx-exchange.service", "Dockerfile"):
        for line in (DEPLOY / name).read_text().splitlines():
            if line.lstrip().startswith("#"):
                lines.append(line.lstrip().lstrip("#").strip())
    return lines


SIGX_COMMANDS = _commands(_runbook_lines(), "sigx")
KEYTOOL_COMMANDS = _commands(_runbook_lines(), "sigx-keytool")
COMMENT_COMMANDS = _commands(_comment_lines(), "sigx", prose=True) + _commands(_comment_lines(), "sigx-keytool", True)


def test_runbook_quotes_many_commands() -> None:
    assert len(SIGX_COMMANDS) >= 35
    assert len(KEYTOOL_COMMANDS) >= 10
    assert COMMENT_COMMANDS
    topics = {tuple(argv[1:3]) for argv in SIGX_COMMANDS}
    for topic in [("serve",), ("admin", "member"), ("admin", "key"), ("admin", "policy"), ("audit", "verify")]:
        assert any(t[: len(topic)] == topic for t in topics), f"the runbook has no `sigx {' '.join(topic)}`"


def test_no_sigx_invocation_escapes_the_extractor() -> None:
    """A `sigx` command behind a wrapper that _unwrap does not know would go unchecked: refuse it."""
    top_level = _subcommands("sigx")
    for line in _runbook_lines() + _comment_lines():
        for segment in _prose_segments(line):
            argv = _unwrap(segment)
            for before, after in itertools.pairwise(argv[1:]):
                assert not (before == "sigx" and after in top_level), f"unrecognised wrapper around sigx: {line}"


def _missing_command(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str, ...] | None:
    """The (sub)command path in ``argv`` that ``parser`` does not know, if any."""
    path: list[str] = []
    current = parser
    for token in argv:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            return None
        path.append(token)
        choices = actions[0].choices
        if token not in choices:
            return tuple(path)
        current = choices[token]
    return None


@pytest.mark.parametrize("argv", SIGX_COMMANDS + COMMENT_COMMANDS, ids=lambda argv: shlex.join(argv)[:80])
def test_runbook_sigx_command_parses(argv: list[str]) -> None:
    if argv[0] == "sigx-keytool":
        _parse(keytool.build_parser(), argv[1:])
        return
    parser = build_parser()
    missing = _missing_command(parser, argv[1:])
    if missing is not None:
        pytest.fail(f"`sigx {' '.join(missing)}` is not a sigx command")
    _parse(parser, argv[1:])


@pytest.mark.parametrize("argv", KEYTOOL_COMMANDS, ids=lambda argv: shlex.join(argv)[:80])
def test_runbook_keytool_command_parses(argv: list[str]) -> None:
    _parse(keytool.build_parser(), argv[1:])


@pytest.mark.parametrize("block", _code_blocks({"toml"}), ids=lambda b: b.split("\n", 1)[0])
def test_runbook_toml_blocks_are_valid(block: str, tmp_path: Path) -> None:
    data = tomllib.loads(block)
    if set(data) <= {section for section, _ in TOML_KEYS}:
        path = tmp_path / "exchange.toml"
        path.write_text(block)
        Settings.build(environ={}, config_file=path)
    else:
        members = list(data.get("members", {}))
        parsed = document.parse(block, members, list(DEFAULT_TAXONOMY))  # raises on any mistake in the block
        assert set(parsed.members) == set(members)


def test_runbook_yaml_blocks_load() -> None:
    blocks = _code_blocks({"yaml"})
    assert blocks
    for block in blocks:
        assert yaml.safe_load(block)


# -- sigx-keytool on a real data directory ------------------------------------------------------------


@pytest.fixture
def initialised(tmp_path: Path) -> Settings:
    settings = Settings.build(environ={}, data_dir=tmp_path / "data", listen="127.0.0.1:7443")
    ensure_initialised(settings, time.time)
    return settings


def _run_keytool(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert keytool.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_keytool_server_cert_names_the_public_host(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    paths = DataDir(initialised.data_dir)
    out = _run_keytool(capsys, "server-cert", "--data-dir", str(paths.root), "exchange.example.org", "203.0.113.7")
    assert out["names"][:3] == ["127.0.0.1", "localhost", "::1"]
    cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "exchange.example.org"} <= set(sans.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "203.0.113.7"} <= {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(paths.server_cert, paths.server_key)
    assert _mode(paths.server_key) == 0o600


def test_keytool_oprf_epochs(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    paths = DataDir(initialised.data_dir)
    data_dir = str(paths.root)
    first = OprfKeyring.load(paths.oprf_key).public_key(1)
    added = _run_keytool(capsys, "oprf-add-epoch", "--data-dir", data_dir)
    ring = OprfKeyring.load(paths.oprf_key)
    assert added["epoch"] == ring.current_epoch == 2
    assert bytes.fromhex(added["public_key"]) == ring.public_key(2)
    assert ring.public_key(1) == first, "older epochs stay evaluable, unchanged"
    assert _mode(paths.oprf_key) == 0o600
    with pytest.raises(SystemExit):
        keytool.main(["oprf-drop-epoch", "--data-dir", data_dir, "2"])  # the current epoch
    _run_keytool(capsys, "oprf-drop-epoch", "--data-dir", data_dir, "1")
    listed = _run_keytool(capsys, "oprf-epochs", "--data-dir", data_dir)
    assert [e["epoch"] for e in listed["epochs"]] == [2]
    assert not OprfKeyring.load(paths.oprf_key).has_epoch(1)


def test_keytool_log_key_keeps_the_origin_to_pin(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    paths = DataDir(initialised.data_dir)
    services = app.build(initialised, open_store(initialised), time.time)
    try:
        origin = services.checkpointer.origin
    finally:
        services.close()
        services.store.close()
    old = SigningKey.load(paths.log_key)
    out = _run_keytool(capsys, "log-key", "--data-dir", str(paths.root))
    assert out["origin_to_pin"] == origin
    assert out["old_key_id"] == old.key_id
    new = SigningKey.load(paths.log_key)
    assert new.public_key.hex() == out["new_public_key"] != old.public_key.hex()
    kept = paths.log_key.with_name(f"log.key.{old.key_id}.old")
    assert SigningKey.load(kept).public_key == old.public_key


def test_keytool_member_json(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    creds = initialised.data_dir / "operator"
    key = "ab" * 32
    _run_keytool(capsys, "member-json", str(creds), "--exchange", "exchange.example.org:7443")
    _run_keytool(capsys, "member-json", str(creds), "--oprf-epoch", "2", "--oprf-public-key", key)
    _run_keytool(capsys, "member-json", str(creds), "--log-public-key", key)
    loaded = Credentials.load(creds)
    assert loaded.address == "exchange.example.org:7443"
    assert (loaded.oprf_epoch, loaded.oprf_public_key) == (2, bytes.fromhex(key))
    assert loaded.log_public_key == bytes(32 * [0xAB])
    with pytest.raises(SystemExit):
        keytool.main(["member-json", str(creds), "--oprf-epoch", "3"])  # without its public key
    with pytest.raises(SystemExit):
        keytool.main(["member-json", str(creds), "--log-public-key", "abcd"])
