"""Settings: built once at start, frozen, passed explicitly.

The only module that reads the environment. Each ``SIGX_*`` variable overrides
the matching default; command-line flags override both (``Settings.build``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from exchange.errors import ConfigError

DEFAULT_LISTEN = "127.0.0.1:7443"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to start."""

    data_dir: Path = Path("data")
    listen: str = DEFAULT_LISTEN
    max_batch: int = 2000  # envelopes / queries / blinded elements per message
    max_message_bytes: int = 16 * 1024 * 1024
    pull_page: int = 1000  # events per PullResponse message
    max_clock_skew: int = 300  # seconds an envelope's created_at may lie in the future
    retention_interval: float = 3600.0  # seconds between retention runs
    workers: int = 64  # gRPC handler threads (each Subscribe holds one)
    verify_threads: int = 2  # Ed25519 verification pool
    grace: float = 10.0  # seconds in-flight calls get on shutdown
    log_format: str = "auto"  # json, console, auto (console on a terminal)
    default_pdq_distance: int = 31
    log_origin: str = ""  # checkpoint origin line; default derived from the log key
    checkpoint_interval: float = 10.0  # seconds between checkpoints (when the log grew)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "exchange.db"

    @classmethod
    def build(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``SIGX_<FIELD>`` environment variables, then explicit overrides; validated."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f"SIGX_{f.name.upper()}"
            if f.name != "extra" and key in env:
                values[f.name] = _coerce(key, f.type, env[key])
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        settings = replace(cls(), **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError naming the first key whose value is unusable."""
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(f"listen: expected HOST:PORT, got {self.listen!r}")
        for name in ("max_batch", "max_message_bytes", "pull_page", "workers", "verify_threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1")
        if self.log_format not in ("json", "console", "auto"):
            raise ConfigError(f"log_format: expected json, console or auto, got {self.log_format!r}")
        if not 0 <= self.default_pdq_distance <= 256:
            raise ConfigError("default_pdq_distance: must be between 0 and 256")

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    def is_loopback(self) -> bool:
        """True when the listen address is a loopback address (or ``localhost``)."""
        host = self.listen_host
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def _coerce(key: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    try:
        if "int" in kind:
            return int(raw)
        if "float" in kind:
            return float(raw)
    except ValueError:
        raise ConfigError(f"{key}: expected a number, got {raw!r}") from None
    return raw
