"""The SDK's error tree.

Every error the SDK raises is a :class:`SignalExchangeError`. Errors that come
from the exchange carry the gRPC status code name and the server's ``reason``
(a short machine-readable tag) so scripts can branch without parsing messages.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class SignalExchangeError(Exception):
    """Base class of every error raised by ``client_sdk``."""

    def diagnostics(self) -> str:
        """A human-readable explanation, suitable for a CLI's error output."""
        return str(self)


class InvalidIdentifierError(SignalExchangeError, ValueError):
    """An identifier failed normalisation; names the type and the reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind}: {reason}")
        self.kind = kind
        self.reason = reason


class VerificationError(SignalExchangeError):
    """A signature, proof or envelope failed verification."""


class ProofError(VerificationError):
    """The exchange's OPRF proof did not verify against its published key."""


class OprfError(SignalExchangeError, ValueError):
    """Invalid OPRF input: a bad element, scalar or key (RFC 9497 errors)."""


class CredentialsError(SignalExchangeError):
    """The credentials directory is missing, incomplete or unsafe."""


class ExchangeRpcError(SignalExchangeError):
    """The exchange refused a call. ``code`` is the gRPC status name, ``reason`` its machine tag."""

    code = "UNKNOWN"

    def __init__(self, message: str, *, reason: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.retry_after = retry_after

    def diagnostics(self) -> str:
        tag = f" [{self.reason}]" if self.reason else ""
        return f"{self.code}{tag}: {self.message}"


class InvalidArgumentError(ExchangeRpcError):
    code = "INVALID_ARGUMENT"


class UnauthenticatedError(ExchangeRpcError):
    code = "UNAUTHENTICATED"


class PermissionDeniedError(ExchangeRpcError):
    code = "PERMISSION_DENIED"


class NotFoundError(ExchangeRpcError):
    code = "NOT_FOUND"


class FailedPreconditionError(ExchangeRpcError):
    code = "FAILED_PRECONDITION"


class QuotaExceededError(ExchangeRpcError):
    code = "RESOURCE_EXHAUSTED"


class UnavailableError(ExchangeRpcError):
    code = "UNAVAILABLE"


class DeadlineExceededError(ExchangeRpcError):
    code = "DEADLINE_EXCEEDED"


class InternalError(ExchangeRpcError):
    code = "INTERNAL"


RPC_ERRORS: dict[str, type[ExchangeRpcError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        UnauthenticatedError,
        PermissionDeniedError,
        NotFoundError,
        FailedPreconditionError,
        QuotaExceededError,
        UnavailableError,
        DeadlineExceededError,
        InternalError,
    )
}


def from_rpc_error(exc: grpc.RpcError) -> ExchangeRpcError:
    """The SDK error for a failed call: its class from the status code, ``reason`` from the
    exchange's ErrorInfo (or ``sigx-reason`` trailer), ``retry_after`` from RetryInfo."""
    call: Any = exc  # a grpc.Call as well when it came from a call; the stubs type RpcError bare
    code = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    details = (call.details() if hasattr(call, "details") else "") or ""
    trailers: dict[str, Any] = dict(call.trailing_metadata() or ()) if hasattr(call, "trailing_metadata") else {}
    reason = str(trailers.get("sigx-reason", ""))
    retry_after = None
    try:
        status = rpc_status.from_call(call) if hasattr(call, "trailing_metadata") else None
    except ValueError:  # details that disagree with the status (a proxy or a truncated trailer): ignore them
        status = None
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        retry = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            reason = reason or info.reason
        elif detail.Unpack(retry):
            retry_after = retry.retry_delay.ToNanoseconds() / 1e9
    cls = RPC_ERRORS.get(code.name, ExchangeRpcError)
    err = cls(details or code.name, reason=reason, retry_after=retry_after)
    if cls is ExchangeRpcError:
        err.code = code.name
    return err
