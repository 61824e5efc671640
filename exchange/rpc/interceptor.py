"""The one interceptor: authenticate, bind the caller, map errors, log one line per call.

The member id comes from the client certificate's common name (verified by
mutual TLS against the exchange's CA), never from the request. Domain errors
become their gRPC status with a safe message and a ``sigx-reason`` trailer;
anything else becomes INTERNAL with a generic message and the traceback only
in the log.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from exchange.ca import issued_at
from exchange.errors import ExchangeError, InvalidArgumentError, UnauthenticatedError
from exchange.identity import Caller, reset_caller, set_caller
from exchange.metrics import Metrics
from exchange.policy.engine import PolicyEngine
from exchange.rpc.status import status_for

REASON_KEY = "sigx-reason"
ERROR_DOMAIN = "signal-exchange.v1"
# Methods any TLS-authenticated peer may call without a directory entry.
_OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")

log = structlog.get_logger("exchange.rpc")


class ExchangeInterceptor(grpc.ServerInterceptor):
    """Wraps every handler of the exchange's services."""

    def __init__(self, policy: PolicyEngine, metrics: Metrics | None = None) -> None:
        self._policy = policy
        self._metrics = metrics

    def authenticate(self, context: grpc.ServicerContext, method: str) -> Caller:
        """The directory's member for the peer's certificate, authorised for ``method``."""
        auth = context.auth_context()
        names = auth.get("x509_common_name") or []
        if len(names) != 1:
            raise UnauthenticatedError("a client certificate from this exchange's CA is required")
        pems = auth.get("x509_pem_cert") or []
        cert_issued = issued_at(pems[0]) if len(pems) == 1 else 0
        return self._policy.admit(names[0].decode("utf-8", "replace"), cert_issued, method)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        method = details.method  # type: ignore[attr-defined]
        if handler is None or method.startswith(_OPEN_METHODS):
            return handler
        kwargs = {
            "request_deserializer": _tolerant(handler.request_deserializer),
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._unary(method, handler.unary_unary), **kwargs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(self._unary(method, handler.stream_unary), **kwargs)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(self._streaming(method, handler.unary_stream), **kwargs)
        return grpc.stream_stream_rpc_method_handler(self._streaming(method, handler.stream_stream), **kwargs)

    @contextlib.contextmanager
    def _call(self, context: grpc.ServicerContext, method: str) -> Iterator[_Call]:
        """Authenticate and bind the caller, map any failure, log one line and count the call."""
        call = _Call(time.perf_counter())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=_request_id(context), method=method)
        token = None
        try:
            caller = self.authenticate(context, method)
            call.member = caller.member_id
            structlog.contextvars.bind_contextvars(member=caller.member_id)
            token = set_caller(caller)
            yield call
        except GeneratorExit:
            call.code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:  # every failure is mapped here, and only here
            call.code = status_for(exc) if isinstance(exc, ExchangeError) else grpc.StatusCode.INTERNAL
            self._fail(context, method, call.member, exc)
        finally:
            if token is not None:
                with contextlib.suppress(ValueError):  # a stream closed from another thread
                    reset_caller(token)
            elapsed = time.perf_counter() - call.started
            log.info("request_handled", code=call.code.name, ms=round(elapsed * 1000, 2))
            if self._metrics is not None:
                self._metrics.observe(method, call.code.name, elapsed)

    def _unary(self, method: str, fn: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
        def wrapper(request: Any, context: grpc.ServicerContext) -> Any:
            with self._call(context, method):
                return fn(_checked(request), context)
            return None  # not reached: a failure aborts the call

        return wrapper

    def _streaming(self, method: str, fn: Callable[[Any, grpc.ServicerContext], Iterator[Any]]) -> Callable[..., Any]:
        def wrapper(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with self._call(context, method):
                yield from fn(_checked(request), context)

        return wrapper

    def _fail(self, context: grpc.ServicerContext, method: str, caller: str | None, exc: Exception) -> None:
        """Turn any failure into a status (abort raises); unmapped ones log their traceback."""
        if isinstance(exc, ExchangeError):
            code, reason, message = status_for(exc), exc.reason, exc.message
        else:
            code, reason, message = grpc.StatusCode.INTERNAL, "internal", "internal error; the exchange logged it"
            log.error("request_failed", method=method, member=caller, exc_info=exc)
        context.abort_with_status(rich_status(code, message, reason, getattr(exc, "retry_after", None)))


class _Status(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def rich_status(code: grpc.StatusCode, message: str, reason: str, retry_after: float | None) -> grpc.Status:
    """A status with google.rpc details (ErrorInfo, and RetryInfo for quotas) and a ``sigx-reason`` trailer."""
    detail = status_pb2.Status(code=code.value[0], message=message)
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    detail.details.add().Pack(info)
    if retry_after is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(int(retry_after * 1e9))
        detail.details.add().Pack(retry)
    packed = rpc_status.to_status(detail)
    return _Status(code, message, (*packed.trailing_metadata, (REASON_KEY, reason)))


@dataclass(frozen=True)
class _Malformed:
    """Stands for a request message that did not parse."""

    size: int


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that never raises: garbage becomes ``_Malformed`` (INVALID_ARGUMENT, not INTERNAL)."""
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _Malformed(len(data))

    return parse


def _checked(request: Any) -> Any:
    """The request, or for client streams an iterator that checks each message as it arrives."""
    if isinstance(request, _Malformed):
        raise InvalidArgumentError(f"request of {request.size} bytes does not parse", reason="malformed_request")
    if hasattr(request, "__next__"):
        return (_checked(item) for item in request)
    return request


@dataclass
class _Call:
    started: float
    member: str | None = None
    code: grpc.StatusCode = grpc.StatusCode.OK


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _request_id(context: grpc.ServicerContext) -> str:
    """The client's ``x-request-id`` if it is well-formed, else a fresh one."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]
