"""The connection every client of the exchange shares: one way to open a channel, retries, errors."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import grpc

from client_sdk import oprf
from client_sdk.credentials import Credentials
from client_sdk.errors import (
    from_rpc_error,
)
from client_sdk.wire import (
    directory_pb2_grpc,
    exchange_pb2_grpc,
    log_pb2_grpc,
    pseudonymizer_pb2_grpc,
)

T = TypeVar("T")
BATCH = 1000  # items per request message the SDK sends


_MAX_MESSAGE = 16 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries idempotent calls (Submit, SubmitStream, Lookup, Evaluate, Pull, reads)
    when the exchange is UNAVAILABLE: exponential backoff with jitter. Re-submitting is safe: the
    exchange answers an already-stored signal with ``duplicate`` and its original seq.

    This is done here rather than with gRPC's service-config retry policy because that policy
    cannot do what a member needs from it: it retries silently (a member must be told at once that
    the exchange is unreachable and for how long the call will keep trying), it cannot resume a
    stream part-way (SubmitStream resends only the unacknowledged envelopes, Pull resumes from its
    cursor), and it knows nothing of the exchange's RetryInfo on RESOURCE_EXHAUSTED."""

    attempts: int = 8
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    codes: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.UNAVAILABLE})
    deadline: float | None = None  # seconds one call may spend retrying in all (None: only ``attempts``)

    def delay(self, attempt: int) -> float:
        return random.uniform(0.5, 1.0) * min(self.max_backoff, self.initial_backoff * 2**attempt)


#: Told, once per call, that the exchange could not be reached and for how long the call will retry.
RetryNotice = Callable[[str], None]


class Retrying:
    """The retry state of one logical call: attempts made, time spent, and the notice given once."""

    def __init__(self, policy: RetryPolicy | None, address: str, notice: RetryNotice | None) -> None:
        self._policy = policy
        self._address = address
        self._notice = notice
        self._started = time.monotonic()
        self.attempt = 0

    def reset(self) -> None:
        """The call made progress (a bulk stream answered a batch): the budget starts again."""
        self.attempt = 0
        self._started = time.monotonic()

    def again(self, code: grpc.StatusCode | None) -> bool:
        """After a failure with ``code`` (None: an UNAVAILABLE the SDK itself saw): wait and return True if
        the call should be tried again, else False."""
        p = self._policy
        if p is None or self.attempt + 1 >= p.attempts or (code is not None and code not in p.codes):
            return False
        delay = p.delay(self.attempt)
        if p.deadline is not None and time.monotonic() - self._started + delay > p.deadline:
            return False
        if self.attempt == 0 and self._notice is not None:
            budget = f"up to {p.deadline:.0f} s" if p.deadline is not None else f"{p.attempts - 1} more times"
            self._notice(f"cannot reach {self._address}, retrying for {budget}; is the exchange running?")
        time.sleep(delay)
        self.attempt += 1
        return True


def open_channel(address: str, creds: Credentials, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A mutual-TLS channel to ``address`` with the member's certificate: the one way every client of the
    exchange (the SDK, the operator's and the auditor's tools) opens one. ``address`` may list replicas
    (``ipv4:10.0.0.1:7443,10.0.0.2:7443``): calls are spread round-robin and fail over."""
    tls = grpc.ssl_channel_credentials(
        root_certificates=creds.ca_pem, private_key=creds.tls_key_pem, certificate_chain=creds.cert_pem
    )
    opts: dict[str, Any] = {
        "grpc.max_receive_message_length": _MAX_MESSAGE,
        "grpc.max_send_message_length": _MAX_MESSAGE,
    }
    if "," in address:
        opts |= {"grpc.lb_policy_name": "round_robin", "grpc.ssl_target_name_override": "localhost"}
    opts |= dict(options)  # the caller's settings win
    return grpc.secure_channel(address, tls, options=list(opts.items()))


DEFAULT_RETRY = RetryPolicy()


class Connection:
    """The channel, the stubs and the one ``_call`` that turns ``grpc.RpcError`` into the SDK's errors."""

    def __init__(
        self,
        channel: grpc.Channel,
        credentials: Credentials,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        on_retry: RetryNotice | None = None,
        address: str = "",
    ) -> None:
        self._channel = channel
        self.credentials = credentials
        self.member_id = credentials.member_id
        self.timeout = timeout
        self.retry = retry
        self.on_retry = on_retry
        self.address = address or credentials.address
        self._exchange = exchange_pb2_grpc.ExchangeStub(channel)
        self._oprf = pseudonymizer_pb2_grpc.PseudonymizerStub(channel)
        self._directory_stub = directory_pb2_grpc.DirectoryStub(channel)
        self._log = log_pb2_grpc.LogStub(channel)
        self._oprf_client = oprf.OprfClient(oprf.MODE_VOPRF, credentials.oprf_public_key)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="sigx-sdk-verify")
        # submit's Submit calls, run while the caller prepares the next batch (a thread once first used)
        self._send_pool = ThreadPoolExecutor(1, thread_name_prefix="sigx-sdk-submit")

    def close(self) -> None:
        """Close the channel (ends any open subscription)."""
        self._channel.close()
        self._pool.shutdown(wait=False)
        self._send_pool.shutdown(wait=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        method: Callable[..., T],
        request: Any,
        *,
        idempotent: bool = True,
        retrying: Retrying | None = None,
        **kwargs: Any,
    ) -> T:
        timeout = kwargs.pop("timeout", self.timeout)
        retrying = retrying or self._retrying()
        while True:
            try:
                return method(request, timeout=timeout, **kwargs)
            except grpc.RpcError as exc:
                if not (idempotent and retrying.again(exc.code())):  # type: ignore[attr-defined]
                    raise from_rpc_error(exc) from None

    def _pipelined(self, method: Any, requests: Iterable[Any], depth: int = 2) -> Iterator[Any]:
        """The answers to ``requests`` of an idempotent unary ``method``, in order, with up to ``depth`` calls
        in flight: the exchange works on the next request while this process reads the answer to the last.
        A call that fails is retried like any ``_call`` (on its own, in order); a failure that is not retried
        is raised once the calls before it are answered, and the calls after it are cancelled."""
        flight: deque[tuple[Any, grpc.Future]] = deque()
        try:
            for request in requests:
                flight.append((request, method.future(request, timeout=self.timeout)))
                if len(flight) >= depth:
                    yield self._answer(method, *flight.popleft())
            while flight:
                yield self._answer(method, *flight.popleft())
        finally:
            for _, future in flight:
                future.cancel()

    def _answer(self, method: Any, request: Any, future: grpc.Future) -> Any:
        """The answer of a call made with ``method.future``, retried through ``_call`` if it failed so."""
        try:
            return future.result()
        except grpc.RpcError as exc:
            retrying = self._retrying()
            if not retrying.again(exc.code()):  # type: ignore[attr-defined]
                raise from_rpc_error(exc) from None
            return self._call(method, request, retrying=retrying)

    def _retrying(self) -> Retrying:
        return Retrying(self.retry, self.address, self.on_retry)

    def _stream(self, stream: Iterator[T]) -> Iterator[T]:
        try:
            yield from stream
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                return
            raise from_rpc_error(exc) from None
