"""What PostgreSQL's failures mean to the exchange (shared by the store, its quota ledger and the migration)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from exchange.errors import ConfigError, UnavailableError

Conn = psycopg.Connection[Any]
Clock = Callable[[], float]


def unavailable(exc: Exception) -> UnavailableError:
    """The database refused or could not be reached (disk full, read-only, down): nothing was written."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.DiskFull):
        reason = "store_full"
    elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        reason = "store_read_only"
    else:
        reason = "store_unavailable"
    return UnavailableError(f"the database cannot take this request now ({text})", reason=reason)


UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction, PoolTimeout)


def connect_error(exc: Exception) -> ConfigError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigError(f"database: cannot connect to PostgreSQL: {detail}")
