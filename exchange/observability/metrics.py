"""Prometheus metrics, served on their own HTTP port (``--metrics-listen``).

Per request: count by method and status code, latency histogram by method.
Streams: open streaming calls by method and by member, the fan-out's lag from a
commit's wake-up to its events being queued on every live stream, and live
streams cut off because their client stopped reading. Scraped from state: log
size (= events stored), quota denials, OPRF evaluations and the server
certificate's expiry. No label ever carries an identifier, pseudonym or token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from exchange.policy.engine import PolicyEngine
    from exchange.store.base import Store

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per server (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sigx_requests", "gRPC requests by method and status code", ["method", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "sigx_request_seconds", "gRPC request latency", ["method"], buckets=_BUCKETS, registry=self.registry
        )

        self.open_streams = Gauge(
            "sigx_open_streams", "streaming calls open now, by method", ["method"], registry=self.registry
        )
        self.member_streams = Gauge(
            "sigx_member_streams", "streaming calls open now, by member", ["member"], registry=self.registry
        )
        self.fanout_lag = Histogram(
            "sigx_fanout_lag_seconds",
            "from a commit's wake-up to its events being queued on every live stream",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.streams_cut = Counter(
            "sigx_streams_cut", "live streams ended because their client stopped reading", registry=self.registry
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def stream_opened(self, member: str, method: str) -> None:
        self.open_streams.labels(method).inc()
        self.member_streams.labels(member).inc()

    def stream_closed(self, member: str, method: str) -> None:
        self.open_streams.labels(method).dec()
        self.member_streams.labels(member).dec()

    def watch(
        self,
        store: Store,
        policy: PolicyEngine,
        cert_expiry: Callable[[], float],
        redress_wait: Callable[[], float] | None = None,
    ) -> None:
        """Export gauges and counters read at scrape time from the store, the quota ledger, the server
        certificate in use (its expiry, for an alert well before the day) and ``redress_wait``: how long the
        oldest unacknowledged retraction for redress has waited."""
        self.registry.register(_StateCollector(store, policy, cert_expiry, redress_wait))

    def serve(self, address: str) -> Any:
        """Start the HTTP endpoint; returns the server (``shutdown()`` stops it)."""
        host, _, port = address.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=self.registry)
        return server


class _StateCollector(Collector):
    def __init__(
        self,
        store: Store,
        policy: PolicyEngine,
        cert_expiry: Callable[[], float],
        redress_wait: Callable[[], float] | None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._cert_expiry = cert_expiry
        self._redress_wait = redress_wait

    def collect(self) -> Iterator[Any]:
        expiry = GaugeMetricFamily(
            "sigx_server_certificate_expiry_timestamp_seconds", "when the server certificate in use expires (Unix time)"
        )
        expiry.add_metric([], self._cert_expiry())
        yield expiry
        size = GaugeMetricFamily("sigx_log_entries", "entries in the signature log (events stored)")
        try:
            size.add_metric([], self._store.log_size())
        except Exception:  # the store is unreachable: report nothing rather than fail the scrape
            return
        yield size
        if self._redress_wait is not None:
            oldest = GaugeMetricFamily(
                "sigx_redress_oldest_pending_seconds",
                "how long the oldest unacknowledged retraction for redress has waited (0: none waits)",
            )
            oldest.add_metric([], self._redress_wait())
            yield oldest
        ledger = self._policy.ledger
        denials = CounterMetricFamily("sigx_quota_denials", "requests refused for quota, by member", labels=["member"])
        for member, n in sorted(ledger.denials.items()):
            denials.add_metric([member], n)
        yield denials
        evals = CounterMetricFamily("sigx_oprf_evaluations", "OPRF elements evaluated since start")
        evals.add_metric([], sum(n for (_, q), n in ledger.totals.items() if q == "evaluations_per_day"))
        yield evals
