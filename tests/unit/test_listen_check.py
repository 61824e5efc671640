"""`sigx serve`'s check that its listen port is free, on real sockets: a port another process listens on is
refused in one line; a port held only by a stopped exchange's connections in TIME_WAIT is not."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from exchange.config import Settings
from exchange.errors import ConfigError
from exchange.server import _check_bindable


def _settings(tmp_path: Path, port: int) -> Settings:
    return Settings.build(environ={}, data_dir=tmp_path, listen=f"127.0.0.1:{port}")


def test_a_port_someone_listens_on_is_refused(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0), reuse_port=True) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot bind 127.0.0.1:{port}.*another exchange running"):
            _check_bindable(_settings(tmp_path, port))


def test_a_port_left_in_time_wait_is_free(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    listener.close()
    accepted.close()  # the server side closes first: its end of the connection stays in TIME_WAIT on the port
    client.close()
    _check_bindable(_settings(tmp_path, port))
