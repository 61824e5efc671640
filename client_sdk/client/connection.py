"""The connection every client of the exchange shares: one way to open a channel, retries, errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
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
    exchange answers an already-stored signal with ``duplicate`` and its original seq."""

    attempts: int = 8
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    codes: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.UNAVAILABLE})

    def delay(self, attempt: int) -> float:
        return random.uniform(0.5, 1.0) * min(self.max_backoff, self.initial_backoff * 2**attempt)


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
    ) -> None:
        self._channel = channel
        self.credentials = credentials
        self.member_id = credentials.member_id
        self.timeout = timeout
        self.retry = retry
        self._exchange = exchange_pb2_grpc.ExchangeStub(channel)
        self._oprf = pseudonymizer_pb2_grpc.PseudonymizerStub(channel)
        self._directory_stub = directory_pb2_grpc.DirectoryStub(channel)
        self._log = log_pb2_grpc.LogStub(channel)
        self._oprf_client = oprf.OprfClient(oprf.MODE_VOPRF, credentials.oprf_public_key)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="sigx-sdk-verify")

    def close(self) -> None:
        """Close the channel (ends any open subscription)."""
        self._channel.close()
        self._pool.shutdown(wait=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, *, idempotent: bool = True, **kwargs: Any) -> T:
        timeout = kwargs.pop("timeout", self.timeout)
        attempt = 0
        while True:
            try:
                return method(request, timeout=timeout, **kwargs)
            except grpc.RpcError as exc:
                if not (idempotent and self._retryable(exc, attempt)):
                    raise from_rpc_error(exc) from None
            time.sleep(self.retry.delay(attempt))  # type: ignore[union-attr]
            attempt += 1

    def _retryable(self, exc: grpc.RpcError, attempt: int) -> bool:
        policy = self.retry
        return policy is not None and attempt + 1 < policy.attempts and exc.code() in policy.codes  # type: ignore[attr-defined]

    def _stream(self, stream: Iterator[T]) -> Iterator[T]:
        try:
            yield from stream
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                return
            raise from_rpc_error(exc) from None
