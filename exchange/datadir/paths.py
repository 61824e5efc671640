"""Where things live inside a data directory.

::

    exchange.db              the SQLite store
    ca.crt  server.crt       public certificates
    secrets/                 mode 0700: ca.key, server.key, oprf.key, log.key, system.key (each 0600)
    members/demo-a/ members/demo-b/ operator/ auditor/    credentials directories
    .initialised             written last; its absence means a first start did not finish
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    """Paths inside a data directory."""

    root: Path

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def marker(self) -> Path:
        return self.root / ".initialised"

    @property
    def database(self) -> Path:
        return self.root / "exchange.db"

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.secrets / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.secrets / "server.key"

    @property
    def oprf_key(self) -> Path:
        return self.secrets / "oprf.key"

    @property
    def log_key(self) -> Path:
        return self.secrets / "log.key"

    @property
    def system_key(self) -> Path:
        """The exchange's own signing key (member ``exchange``, role ``system``): it signs the safeguard
        transitions no member makes, such as a quarantine for a flood of matches."""
        return self.secrets / "system.key"
