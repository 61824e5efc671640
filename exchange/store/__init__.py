"""Storage: the ``Store`` interface and its implementations."""

from exchange.store.base import Store
from exchange.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store"]
