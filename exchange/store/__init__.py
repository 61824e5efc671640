"""Storage: the ``Store`` interface and its implementations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.store.base import Store
from exchange.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from exchange.config import Settings

__all__ = ["SqliteStore", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """The store the settings name: SQLite in the data directory unless ``database`` is set."""
    if settings.database:
        from exchange.datadir.paths import DataDir
        from exchange.errors import ConfigError
        from exchange.store.postgres import PostgresStore

        store = PostgresStore(settings.database)
        if DataDir(settings.data_dir).marker.exists() and store.log_size() == 0:
            store.close()
            raise ConfigError(
                f"database: the PostgreSQL database is empty but {settings.data_dir} holds an initialised exchange;"
                f" copy it first with `sigx admin migrate --data-dir {settings.data_dir} --to URL`"
            )
        return store
    return SqliteStore(settings.database_path)
