"""``sigx serve``: run the exchange. The server's modules and packages are loaded only here, so the rest of
``sigx`` runs on the member's install (``pip install signal-exchange``) without them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from exchange.cli.common import UsageError

#: Packages only the server needs: ``pip install 'signal-exchange[server]'`` (``[postgres]`` for PostgreSQL).
SERVER_PACKAGES = frozenset({"sqlite_utils", "grpc_health", "grpc_reflection", "prometheus_client", "structlog"})
POSTGRES_PACKAGES = frozenset({"psycopg", "psycopg_pool"})


def needs(extra: str, exc: ModuleNotFoundError) -> UsageError:
    """The error for a command run without the extra that provides the package ``exc`` names."""
    return UsageError(
        f"this command needs the {extra!r} extra (missing {exc.name}): pip install 'signal-exchange[{extra}]'"
    )


def server_modules(database: str = "") -> Any:
    """``exchange.server`` and ``exchange.config``, or UsageError naming the extra to install."""
    try:
        from exchange import config, server
        from exchange.observability import logs

        if database:
            import psycopg_pool  # noqa: F401 - the PostgreSQL store's driver
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root in POSTGRES_PACKAGES:
            raise needs("postgres", exc) from None
        if root in SERVER_PACKAGES:
            raise needs("server", exc) from None
        raise
    return config, server, logs


def cmd_serve(args: argparse.Namespace) -> int:
    config, server, logs = server_modules(args.database or "")
    settings = config.Settings.build(
        config_file=args.config,
        data_dir=args.data_dir,
        listen=args.listen,
        database=args.database,
        metrics_listen=args.metrics_listen,
        log_format=args.log_format,
        taxii_listen=args.taxii_listen,
    )
    if args.check_config:
        print(json.dumps(settings.describe(), indent=2) if args.json else "configuration OK")
        return 0
    server.preflight(settings)  # refused in one line before the log takes over stderr
    logs.configure(settings.log_format, capture_native=True)

    def ready(running: Any) -> None:
        address = f"{settings.listen_host}:{running.port}"
        demo = settings.data_dir / "members" / "demo-a"
        print(
            f"Signal Exchange listening on {address} (mutual TLS), data in {settings.data_dir}\n"
            f"  SDK: ExchangeClient.connect({address!r}, credentials={str(demo)!r})\n"
            f"  CLI: sigx lookup --as {demo} --server {address} email:someone@example.com",
            flush=True,
        )

    server.serve(settings, on_ready=ready)
    return 0


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the exchange server",
        description="Run the exchange; the first start initialises DIR (a CA, keys, demo credentials).",
    )
    p.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="data directory, created on the first start (default: data)"
    )
    p.add_argument("--listen", default=None, metavar="HOST:PORT", help="where to listen (default 127.0.0.1:7443)")
    p.add_argument("--config", default=None, metavar="FILE", help="TOML configuration (see deploy/examples)")
    p.add_argument("--database", default=None, metavar="URL", help="postgresql://… (default: SQLite in DIR)")
    p.add_argument("--metrics-listen", default=None, metavar="HOST:PORT", help="serve Prometheus metrics here")
    p.add_argument("--taxii-listen", default=None, metavar="HOST:PORT", help="serve the read-only TAXII 2.1 view here")
    p.add_argument("--log-format", default=None, choices=["json", "console", "auto"], help="log output format")
    p.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    p.add_argument("--json", action="store_true", help="with --check-config: print the settings as JSON")
    p.set_defaults(handler=cmd_serve)
