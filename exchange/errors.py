"""Domain errors. Services raise only these; ``rpc/status.py`` maps them to gRPC.

Each class carries a stable machine-readable ``reason`` tag (sent to clients in
trailing metadata and per-item results) and a message that says what was wrong
without echoing identifiers.
"""

from __future__ import annotations

#: The longest message a status carries; what a caller sent is quoted shorter still (``quoted``).
MAX_MESSAGE = 1024


def quoted(value: object, limit: int = 64) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters: a message never echoes a
    whole caller-supplied value (it would overflow gRPC's metadata limits and fill the logs)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"


class ExchangeError(Exception):
    """Base of every domain error."""

    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgumentError(ExchangeError):
    """The request or an item in it is malformed or breaks a rule of the exchange."""

    reason = "invalid_argument"


class BatchTooLargeError(InvalidArgumentError):
    """A batch holds more items than the exchange accepts in one message."""

    reason = "batch_too_large"


class UnauthenticatedError(ExchangeError):
    """The caller, or an envelope's signature, could not be authenticated."""

    reason = "unauthenticated"


class PermissionDeniedError(ExchangeError):
    """The caller is authenticated but not allowed to do this."""

    reason = "permission_denied"


class NotFoundError(ExchangeError):
    """The named signal, member or key does not exist (or is not visible)."""

    reason = "not_found"


class FailedPreconditionError(ExchangeError):
    """The request is well-formed but the state of the exchange does not allow it."""

    reason = "failed_precondition"


class QuotaExceededError(ExchangeError):
    """A per-member quota is exhausted; ``retry_after`` says when to try again (seconds)."""

    reason = "quota_exceeded"

    def __init__(self, message: str, *, retry_after: float, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class UnavailableError(ExchangeError):
    """The store cannot take writes now (disk full, read-only); reads may go on."""

    reason = "unavailable"


class ConfigError(ExchangeError):
    """The configuration or data directory is invalid; names the key or file."""

    reason = "config"
