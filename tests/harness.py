"""Starting a real exchange for tests: a server on 127.0.0.1:0, real files, an adjustable clock."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from client_sdk import ExchangeClient
from exchange import cli
from exchange.config import Settings
from exchange.server import RunningExchange, create_server
from exchange.store.leaves import LEAF_SELECT, event_envelope


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
    database: str = ""  # postgresql://… when the exchange runs on PostgreSQL

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

    def add_member(self, name: str, role: str = "member", kind: str = "") -> Path:
        """Onboard a member the way an operator does (``sigx admin member add``); its credentials directory."""
        out = self.data_dir.parent / "onboarded" / name
        argv = ["admin", "member", "add", name, "--role", role, "--out", str(out)]
        argv += ["--kind", kind] if kind else []
        argv += ["--as", str(self.creds("operator")), "--server", self.address, "--json"]
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            code = cli.main(argv)
        assert code == 0, printed.getvalue()
        return out


def start_exchange(root: Path, clock: Clock | None = None, **overrides: object) -> Exchange:
    """A server on 127.0.0.1:0 over ``root/data`` (``database=…`` for PostgreSQL); replicas may share a clock."""
    clock = clock or Clock()
    settings = Settings.build(environ={}, data_dir=root / "data", listen="127.0.0.1:0", log_format="json", **overrides)
    running = create_server(settings, clock=clock)
    return Exchange(running, settings.data_dir, clock, settings.database)


# -- PostgreSQL: a throwaway database per exchange on the server $SIGX_TEST_POSTGRES names ------------

POSTGRES_ENV = "SIGX_TEST_POSTGRES"
STORES = ("sqlite", "postgres")
_databases = itertools.count()


def postgres_server() -> str:
    """The PostgreSQL server for tests (``postgresql://user@host:port/db``); skips the test when unset."""
    server = os.environ.get(POSTGRES_ENV, "")
    if not server:
        pytest.skip(f"PostgreSQL store not tested: set {POSTGRES_ENV}=postgresql://user@127.0.0.1:PORT/postgres")
    return server


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database (its URL) on the test server, dropped afterwards."""
    server = postgres_server()
    name = f"sigx_test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urllib.parse.urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def store_database(store: str) -> Iterator[str | None]:
    """What ``start_exchange(database=…)`` needs for a store kind: None for SQLite, a fresh database for PostgreSQL."""
    if store == "postgres":
        with postgres_database() as dsn:
            yield dsn
    else:
        yield None


def stored_envelope(db_path: Path, seq: int) -> bytes:
    """Event ``seq``'s envelope as its member signed it, read from a SQLite exchange's file (the store keeps
    envelopes packed: exchange/store/packing.py). Writing an envelope back verbatim is what an edit looks like."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        row = conn.execute(f"{LEAF_SELECT} WHERE e.seq = ?", (seq,)).fetchone()
    finally:
        conn.close()
    envelope = event_envelope(row)
    assert envelope is not None, f"event {seq} has no envelope"
    return envelope
