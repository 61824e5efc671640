"""Settings: built once at start, frozen, passed explicitly.

The only module that reads the environment and configuration files. Sources,
later ones winning: defaults, a TOML file (``sigx serve --config FILE``),
``SIGX_<FIELD>`` environment variables, command-line flags. Every value is
validated at start; errors name the key.

TOML layout (every key optional)::

    [server]    data_dir, listen, database, workers, grace, log_format, metrics_listen, tls_names, taxii_listen
    [limits]    max_batch, max_message_bytes, pull_page, max_clock_skew, default_pdq_distance,
                max_open_streams, stream_backlog
    [log]       origin, checkpoint_interval
    [retention] interval
    [crypto]    verify_threads
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from exchange.errors import ConfigError

DEFAULT_LISTEN = "127.0.0.1:7443"

# TOML (section, key) -> Settings field
TOML_KEYS: dict[tuple[str, str], str] = {
    ("server", "data_dir"): "data_dir",
    ("server", "listen"): "listen",
    ("server", "database"): "database",
    ("server", "workers"): "workers",
    ("server", "grace"): "grace",
    ("server", "log_format"): "log_format",
    ("server", "metrics_listen"): "metrics_listen",
    ("server", "tls_names"): "tls_names",
    ("server", "taxii_listen"): "taxii_listen",
    ("limits", "max_batch"): "max_batch",
    ("limits", "max_message_bytes"): "max_message_bytes",
    ("limits", "pull_page"): "pull_page",
    ("limits", "max_clock_skew"): "max_clock_skew",
    ("limits", "default_pdq_distance"): "default_pdq_distance",
    ("limits", "max_open_streams"): "max_open_streams",
    ("limits", "stream_backlog"): "stream_backlog",
    ("log", "origin"): "log_origin",
    ("log", "checkpoint_interval"): "checkpoint_interval",
    ("retention", "interval"): "retention_interval",
    ("crypto", "verify_threads"): "verify_threads",
}


def loopback_host(host: str) -> bool:
    """True for a loopback address (127.0.0.0/8, ::1) or ``localhost``: reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to start."""

    data_dir: Path = Path("data")
    listen: str = DEFAULT_LISTEN
    database: str = ""  # empty: SQLite in data_dir; or postgresql://…
    metrics_listen: str = ""  # HOST:PORT for Prometheus metrics; empty: off
    max_batch: int = 2000  # envelopes / queries / blinded elements per message
    max_message_bytes: int = 16 * 1024 * 1024
    pull_page: int = 1000  # events per PullResponse message
    max_clock_skew: int = 300  # seconds an envelope's created_at may lie in the future
    retention_interval: float = 3600.0  # seconds between retention runs
    workers: int = 16  # threads for blocking work (SQL, OPRF) behind the event loop; open streams hold none
    verify_threads: int = 2  # Ed25519 verification pool
    grace: float = 10.0  # seconds in-flight calls get on shutdown
    log_format: str = "auto"  # json, console, auto (console on a terminal)
    default_pdq_distance: int = 31
    # Streaming calls open at once on this process, all members together. An open live stream costs about
    # 35 KiB of server memory (bench/streams.py measures it: 2,000 streams on 40 connections), so 10,000
    # is some 350 MiB; each member's own cap is the policy's max_streams.
    max_open_streams: int = 10_000
    stream_backlog: int = 5_000  # events queued for one live stream whose client stopped reading, then it ends
    log_origin: str = ""  # checkpoint origin line; default derived from the log key
    checkpoint_interval: float = 10.0  # seconds between checkpoints (when the log grew)
    tls_names: tuple[str, ...] = ()  # extra names in the server certificate (what members dial)
    taxii_listen: str = ""  # HOST:PORT for the read-only TAXII 2.1 view (mutual TLS); empty: off

    @classmethod
    def build(
        cls, environ: Mapping[str, str] | None = None, config_file: Path | str | None = None, **overrides: Any
    ) -> Settings:
        """Defaults, then the TOML file, then ``SIGX_<FIELD>`` variables, then explicit overrides; validated."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if config_file is not None:
            values.update(_from_toml(Path(config_file)))
        types = {f.name: f.type for f in fields(cls)}
        for name, kind in types.items():
            key = f"SIGX_{name.upper()}"
            if key in env:
                values[name] = _coerce(key, str(kind), env[key])
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name, value in values.items():
            values[name] = _coerce(name, str(types[name]), value) if isinstance(value, str) else value
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        if isinstance(values.get("tls_names"), str):
            values["tls_names"] = tuple(n.strip() for n in values["tls_names"].split(",") if n.strip())
        elif "tls_names" in values:
            values["tls_names"] = tuple(values["tls_names"])
        settings = replace(cls(), **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError naming the first key whose value is unusable."""
        _check_address("listen", self.listen)
        if self.metrics_listen:
            _check_address("metrics_listen", self.metrics_listen)
        if self.taxii_listen:
            _check_address("taxii_listen", self.taxii_listen)
        for name in (
            "max_batch",
            "max_message_bytes",
            "pull_page",
            "workers",
            "verify_threads",
            "max_open_streams",
            "stream_backlog",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: must be a whole number of at least 1, got {value!r}")
        for name in ("retention_interval", "checkpoint_interval", "grace"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be a positive number of seconds")
        if self.log_format not in ("json", "console", "auto"):
            raise ConfigError(f"log_format: expected json, console or auto, got {self.log_format!r}")
        if not 0 <= self.default_pdq_distance <= 256:
            raise ConfigError("default_pdq_distance: must be between 0 and 256")
        if any(not n or any(c.isspace() for c in n) for n in self.tls_names):
            raise ConfigError("tls_names: expected host names or IP addresses without spaces")
        if self.database and not self.database.startswith(("postgresql://", "postgres://")):
            raise ConfigError("database: expected empty (SQLite in data_dir) or a postgresql:// URL")

    @property
    def public_address(self) -> str:
        """The address written into credentials: the first TLS name when listening on all interfaces."""
        host, _, port = self.listen.rpartition(":")
        if host.strip("[]") in ("0.0.0.0", "::") and self.tls_names:
            return f"{self.tls_names[0]}:{port}"
        return self.listen

    @property
    def database_path(self) -> Path:
        return self.data_dir / "exchange.db"

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    def is_loopback(self) -> bool:
        """True when the listen address is a loopback address (or ``localhost``)."""
        return loopback_host(self.listen_host)

    def describe(self) -> dict[str, Any]:
        """The settings as plain values, a database URL's password replaced by ``***``."""
        values = {
            f.name: str(getattr(self, f.name)) if isinstance(getattr(self, f.name), Path) else getattr(self, f.name)
            for f in fields(self)
        }
        values["database"] = redact_url(self.database)
        return values


def redact_url(url: str) -> str:
    """``url`` with any password in it (``postgresql://user:secret@host/db``) replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _check_address(name: str, value: str) -> None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section}: expected a [section] table")
        for key, value in table.items():
            name = TOML_KEYS.get((section, key))
            if name is None:
                raise ConfigError(f"{path}: unknown key {section}.{key}")
            values[name] = value
    return values


def _coerce(key: str, annotation: str, raw: Any) -> Any:
    try:
        if annotation == "int":
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if annotation == "float":
            return float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a number, got {raw!r}") from None
    return raw
