"""The one interceptor: authenticate, bind the caller, count streams, map errors, log one line per call.

The member id comes from the client certificate's common name (verified by
mutual TLS against the exchange's CA), never from the request; it is in the
call's log context from then on, refused calls included. Admission (a store
read) runs on the worker pool; a streaming call also takes a place under the
process-wide ``max_open_streams`` and the member's ``max_streams``. Domain
errors become their gRPC status with a safe message and a ``sigx-reason``
trailer (and google.rpc details); anything else becomes INTERNAL with a generic
message and the traceback only in the log. A streaming call can be ended from
outside with a domain error (``CallEnder``), even while blocked on a client
that stopped reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import structlog
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from exchange.errors import ExchangeError, InvalidArgumentError, UnauthenticatedError
from exchange.identity import Caller, reset_caller, set_caller
from exchange.observability.metrics import Metrics
from exchange.pki.ca import issued_at
from exchange.policy.engine import PolicyEngine
from exchange.rpc.offload import Offload
from exchange.rpc.status import status_for
from exchange.rpc.streams import CURRENT_CALL, CallEnder, StreamRegistry

REASON_KEY = "sigx-reason"
ERROR_DOMAIN = "signal-exchange.v1"
# Methods any TLS-authenticated peer may call without a directory entry.
_OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")

log = structlog.get_logger("exchange.rpc")

Behaviour = Callable[[Any, grpc.aio.ServicerContext], Any]
T = TypeVar("T")

#: A unary call's admission, left by the interceptor for the handler's trip to the worker pool
#: (``run_admitted``). A handler that never runs it finds no caller: ``current_caller()`` refuses.
PENDING_ADMISSION: ContextVar[Callable[[], Caller] | None] = ContextVar("sigx_admission", default=None)


def run_admitted(fn: Callable[..., T], *args: Any) -> T:
    """On the worker pool: admit the call (binding its caller; raises the denial), then ``fn(*args)``."""
    admit = PENDING_ADMISSION.get()
    if admit is not None:
        PENDING_ADMISSION.set(None)
        set_caller(admit())
    return fn(*args)


class ExchangeInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler of the exchange's services (on the event loop; blocking checks on the pool)."""

    def __init__(
        self, policy: PolicyEngine, offload: Offload, streams: StreamRegistry, metrics: Metrics | None = None
    ) -> None:
        self._policy = policy
        self._offload = offload
        self._streams = streams
        self._metrics = metrics

    def admit(self, member_id: str, certificate: bytes | None, method: str, streams_held: int | None) -> Caller:
        """The directory's member for the certificate, authorised for ``method`` (and, for a streaming call,
        for one more stream beside the ``streams_held`` it has open). Blocking: runs on the pool."""
        cert_issued = issued_at(certificate) if certificate is not None else 0
        caller = self._policy.admit(member_id, cert_issued, method)
        if streams_held is not None:
            self._policy.admit_stream(caller, streams_held)
        return caller

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        method = details.method  # type: ignore[attr-defined]
        if handler is None or method.startswith(_OPEN_METHODS):
            return handler
        kwargs = {
            "request_deserializer": _tolerant(handler.request_deserializer),
            "response_serializer": handler.response_serializer,
        }
        # The stubs type handlers as synchronous; on this aio server every behaviour is a coroutine
        # function or an async generator (Behaviour).
        behaviours: Any = handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._unary(method, behaviours.unary_unary), **kwargs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(self._unary(method, behaviours.stream_unary), **kwargs)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(self._streaming(method, behaviours.unary_stream), **kwargs)
        return grpc.stream_stream_rpc_method_handler(self._streaming(method, behaviours.stream_stream), **kwargs)

    @contextlib.asynccontextmanager
    async def _call(self, context: grpc.aio.ServicerContext, method: str, stream: bool) -> AsyncIterator[_Call]:
        """Authenticate and bind the caller, count a stream, map any failure, log one line, count the call."""
        call = _Call(time.perf_counter())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=_request_id(context), method=method)
        token = None
        counted = False
        ender = CallEnder(asyncio.current_task()) if stream else None
        CURRENT_CALL.set(ender)

        def finish() -> None:
            """The call's bookkeeping, once: before a status that a stalled client may never take is sent."""
            nonlocal counted, token
            if call.finished:
                return
            call.finished = True
            if counted:
                self._streams.release(call.member or "", method)
            if token is not None:
                with contextlib.suppress(ValueError):  # finished in another context
                    reset_caller(token)
            elapsed = time.perf_counter() - call.started
            log.info("request_handled", code=call.code.name, ms=round(elapsed * 1000, 2))
            if self._metrics is not None:
                self._metrics.observe(method, call.code.name, elapsed)

        try:
            member_id, certificate = _certificate(context)
            call.member = member_id  # known from here on: every line of this call names it
            structlog.contextvars.bind_contextvars(member=member_id)
            if stream:
                held = self._streams.reserve(member_id, method)
                counted = True
                token = set_caller(await self._offload(self.admit, member_id, certificate, method, held))
            else:  # admitted on the pool with the handler's own work: one trip there, not two
                PENDING_ADMISSION.set(functools.partial(self.admit, member_id, certificate, method, None))
            yield call
        except (asyncio.CancelledError, GeneratorExit) as exc:
            if ender is None or ender.error is None or not isinstance(exc, asyncio.CancelledError):
                call.code = grpc.StatusCode.CANCELLED
                raise
            # ended from outside (``CallEnder``), perhaps blocked on a client that stopped reading
            call.code = status_for(ender.error)
            finish()
            await self._fail(context, method, call.member, ender.error)
        except Exception as exc:  # every failure is mapped here, and only here
            call.code = status_for(exc) if isinstance(exc, ExchangeError) else grpc.StatusCode.INTERNAL
            finish()
            await self._fail(context, method, call.member, exc)
        finally:
            finish()

    def _unary(self, method: str, fn: Behaviour) -> Behaviour:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._call(context, method, stream=False):
                return await fn(_checked(request), context)
            return None  # not reached: a failure aborts the call

        return wrapper

    def _streaming(self, method: str, fn: Behaviour) -> Behaviour:
        """A streaming handler (an async generator) driven here with ``context.write``, so that a
        cancelled call closes it at once (its ``finally`` runs now, in this call's context)."""

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> None:
            async with (
                self._call(context, method, stream=True),
                contextlib.aclosing(fn(_checked(request), context)) as responses,
            ):
                async for response in responses:
                    await context.write(response)

        return wrapper

    async def _fail(self, context: grpc.aio.ServicerContext, method: str, caller: str | None, exc: Exception) -> None:
        """Turn any failure into a status (abort raises); unmapped ones log their traceback."""
        if isinstance(exc, ExchangeError):
            code, reason, message = status_for(exc), exc.reason, exc.message
        else:
            code, reason, message = grpc.StatusCode.INTERNAL, "internal", "internal error; the exchange logged it"
            log.error("request_failed", method=method, member=caller, exc_info=exc)
        await context.abort_with_status(rich_status(code, message, reason, getattr(exc, "retry_after", None)))


def _certificate(context: grpc.aio.ServicerContext) -> tuple[str, bytes | None]:
    """The member id the peer's client certificate names (mutual TLS verified it against the CA), and the
    certificate's PEM; raises UnauthenticatedError without one."""
    auth = context.auth_context()
    names = list(auth.get("x509_common_name") or ())
    if len(names) != 1:
        raise UnauthenticatedError("a client certificate from this exchange's CA is required")
    pems = list(auth.get("x509_pem_cert") or ())
    return names[0].decode("utf-8", "replace"), pems[0] if len(pems) == 1 else None


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
    if hasattr(request, "__aiter__"):
        return _checked_stream(request)
    return request


async def _checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        yield _checked(request)


@dataclass
class _Call:
    started: float
    member: str | None = None
    code: grpc.StatusCode = grpc.StatusCode.OK
    finished: bool = False


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _request_id(context: grpc.aio.ServicerContext) -> str:
    """The client's ``x-request-id`` if it is well-formed, else a fresh one."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]
