"""The single table from domain errors to gRPC status codes."""

from __future__ import annotations

import grpc

from exchange import errors

# Most specific first: the first class the error is an instance of wins.
STATUS_TABLE: tuple[tuple[type[errors.ExchangeError], grpc.StatusCode], ...] = (
    (errors.QuotaExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.BatchTooLargeError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.UnavailableError, grpc.StatusCode.UNAVAILABLE),
    (errors.ConfigError, grpc.StatusCode.FAILED_PRECONDITION),
)


def status_for(error: errors.ExchangeError) -> grpc.StatusCode:
    """The gRPC code for a domain error (INTERNAL for a class missing from the table)."""
    for cls, code in STATUS_TABLE:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL
