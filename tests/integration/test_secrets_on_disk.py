"""What the exchange writes to disk is private: the data directory, the database, every key; and what it
prints of its configuration holds no password."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from client_sdk.errors import CredentialsError
from client_sdk.secure_files import check_private_file, write_private_file
from exchange.cli import main
from exchange.config import Settings, redact_url
from exchange.errors import ConfigError
from exchange.server import create_server
from tests.harness import start_exchange

pytestmark = pytest.mark.integration


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.sqlite_only
def test_first_start_writes_nothing_others_can_read(tmp_path: Path, store: str) -> None:
    old = os.umask(0o022)  # a normal umask: without care, files come out 0644 and directories 0755
    try:
        ex = start_exchange(tmp_path)
        ex.running.stop(grace=1)
    finally:
        os.umask(old)
    data = ex.data_dir
    assert _mode(data) == 0o700 and _mode(data / "secrets") == 0o700
    assert _mode(data / "exchange.db") == 0o600
    for secret in (data / "secrets").iterdir():
        assert _mode(secret) == 0o600, secret
    for creds in ("members/demo-a", "members/demo-b", "operator", "auditor"):
        assert _mode(data / creds) == 0o700
        assert _mode(data / creds / "tls.key") == _mode(data / creds / "signing.key") == 0o600


def test_a_private_file_replaces_its_target_atomically(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    planted = tmp_path / "elsewhere"
    planted.write_bytes(b"not yours")
    write_private_file(target, b"new secret")
    assert target.read_bytes() == b"new secret" and _mode(target) == 0o600
    link = tmp_path / "link.pem"
    link.symlink_to(planted)
    write_private_file(link, b"secret")  # the link is replaced, never followed
    assert planted.read_bytes() == b"not yours" and not link.is_symlink() and _mode(link) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(CredentialsError, match="not a regular file"):
        check_private_file(tmp_path)


@pytest.mark.sqlite_only
def test_a_readable_server_key_is_refused_at_start(tmp_path: Path, store: str) -> None:
    ex = start_exchange(tmp_path)
    ex.running.stop(grace=1)
    os.chmod(ex.data_dir / "secrets" / "server.key", 0o644)
    settings = Settings.build(environ={}, data_dir=ex.data_dir, listen="127.0.0.1:0")
    with pytest.raises(ConfigError, match=r"server\.key is readable by others"):
        create_server(settings)


def test_check_config_redacts_the_database_password(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = "postgresql://sigx:hunter2@db.internal:5432/exchange"
    rc = main(["serve", "--data-dir", str(tmp_path / "d"), "--database", url, "--check-config", "--json"])
    out = capsys.readouterr().out
    assert rc == 0 and "hunter2" not in out
    assert json.loads(out)["database"] == "postgresql://sigx:***@db.internal:5432/exchange"
    assert redact_url("postgresql://postgres@127.0.0.1:5432/x") == "postgresql://postgres@127.0.0.1:5432/x"
