"""Starting a real exchange for tests: a server on 127.0.0.1:0, real files, an adjustable clock."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from client_sdk import ExchangeClient
from exchange.config import Settings
from exchange.server import RunningExchange, create_server


class Clock:
    """Real time plus an offset that tests can advance (expiry, last_seen)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Exchange:
    running: RunningExchange
    data_dir: Path
    clock: Clock

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def creds(self, name: str) -> Path:
        return self.data_dir / ("members/" + name if name.startswith("demo-") else name)

    def client(self, name: str = "demo-a") -> ExchangeClient:
        return ExchangeClient.connect(self.address, credentials=self.creds(name), timeout=30)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "exchange.db"


def start_exchange(root: Path, **overrides: object) -> Exchange:
    clock = Clock()
    settings = Settings.build(environ={}, data_dir=root / "data", listen="127.0.0.1:0", log_format="json", **overrides)
    running = create_server(settings, clock=clock)
    return Exchange(running, settings.data_dir, clock)
