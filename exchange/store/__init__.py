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
    return SqliteStore(settings.database_path)
