"""Running `sigx serve` as a separate process (for crash, privacy and shutdown tests): the package's helper."""

from __future__ import annotations

from exchange.serve_process import ServeProcess as ServerProcess

__all__ = ["ServerProcess"]
