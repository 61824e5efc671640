"""The exchange's read-only TAXII 2.1 view, on its own HTTPS port (``taxii_listen``).

``start_taxii(settings, services)`` serves it from a thread of its own and returns a handle whose
``stop()`` ends it; ``exchange.server`` calls both. Identity is the gRPC surface's: mutual TLS with a
client certificate issued by the exchange's CA (a client without one is refused in the handshake), the
member named by its common name, admitted by the same policy engine.

Why Starlette on uvicorn
  * One framework for every HTTP surface: the TAXII view here and the server-rendered web console
    (``sigx console``, Jinja2 templates) that follows. Starlette is small, well kept, ASGI, has
    first-class Jinja2 templates and a test client, and adds nothing we do not use; Flask would
    mean WSGI and a second stack for anything asynchronous, FastAPI is Starlette plus pydantic
    models we do not need.
  * The server must hand the application the verified client certificate. No common ASGI server puts
    it in the scope today: uvicorn 0.3x/0.5x and hypercorn 0.17/0.18 read the transport's SSL object
    only for ALPN, and the ASGI TLS extension (``scope["extensions"]["tls"]``, with
    ``client_cert_chain``) is implemented by neither; daphne and granian do not expose it either.
    cheroot (WSGI) does set ``SSL_CLIENT_CERT``, but is WSGI only. uvicorn accepts its HTTP protocol
    class as a setting, and an asyncio protocol is handed its transport in ``connection_made``: a
    ten-line subclass (``_PeerCertificateProtocol``) reads ``transport.get_extra_info("ssl_object")
    .getpeercert(binary_form=True)`` once per connection and adds the ASGI TLS extension to every
    request on it. That touches only the public asyncio ``Protocol`` interface and uvicorn's
    documented ``http=`` setting, and the application reads the certificate where the ASGI
    specification says it lives, so a server that implements the extension later needs no change
    in the application.
  * uvicorn's ``ssl_context_factory`` lets us build the TLS context ourselves: TLS 1.2 or later,
    ``CERT_REQUIRED`` against the exchange's CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from client_sdk.stix import StixMapper
from exchange.app import Services
from exchange.config import Settings
from exchange.datadir.paths import DataDir
from exchange.errors import ConfigError
from exchange.taxii.app import TaxiiContext, build_app

log = structlog.get_logger("exchange.taxii")

__all__ = ["TaxiiHandle", "start_taxii"]


class _WithPeerCertificate:
    """ASGI middleware for one connection: adds the ASGI TLS extension with the peer's certificate."""

    def __init__(self, app: Callable[..., Any], cert_pem: str | None) -> None:
        self._app = app
        self._tls = {"client_cert_chain": [cert_pem] if cert_pem else [], "tls_version": None}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "extensions": {**scope.get("extensions", {}), "tls": self._tls}}
        await self._app(scope, receive, send)


class _PeerCertificateProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, handing the application the connection's client certificate."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self.app = _WithPeerCertificate(self.app, ssl.DER_cert_to_PEM_cert(der) if der else None)


def _ssl_context(paths: DataDir) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(paths.ca_cert))
    ctx.load_cert_chain(str(paths.server_cert), str(paths.server_key))
    return ctx


@dataclass
class TaxiiHandle:
    """A running TAXII view: its bound port; ``stop()`` ends it."""

    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting connections, let requests in flight finish, and end the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)


def start_taxii(settings: Settings, services: Services) -> TaxiiHandle:
    """Serve the TAXII view on ``settings.taxii_listen`` (port 0: any free port); raises ConfigError."""
    paths = DataDir(settings.data_dir)
    host, _, port = settings.taxii_listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"taxii_listen: cannot bind {settings.taxii_listen}: {exc}") from None
    context = TaxiiContext(services.store, services.policy, StixMapper.for_ca(paths.ca_cert.read_bytes()))
    config = uvicorn.Config(
        build_app(context),
        http=_PeerCertificateProtocol,  # type: ignore[arg-type]
        ssl_context_factory=lambda _config, _default: _ssl_context(paths),
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.grace),
    )
    server = uvicorn.Server(config)
    started = threading.Event()

    def run() -> None:
        async def serve() -> None:
            serving = asyncio.ensure_future(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            started.set()
            await serving

        try:
            asyncio.run(serve())
        except Exception:
            log.exception("taxii_failed")
        finally:
            started.set()
            with contextlib.suppress(OSError):
                sock.close()

    thread = threading.Thread(target=run, name="sigx-taxii", daemon=True)
    thread.start()
    started.wait(10)
    if not server.started:
        raise ConfigError(f"taxii_listen: the TAXII view did not start on {settings.taxii_listen}")
    bound = sock.getsockname()[1]
    log.info("taxii_started", listen=f"{host}:{bound}")
    return TaxiiHandle(bound, server, thread)
