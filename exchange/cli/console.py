"""``sigx console``: serve the web console for the credentials' role (member, operator or auditor).

sigx console --as CREDS [--index PATH] [--listen 127.0.0.1:8080] [--tls-cert F --tls-key F]

Binds to loopback unless told otherwise; any other address needs TLS. Prints one URL holding a one-time
login token; the access log is off, so the token and what analysts type are never logged.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from pathlib import Path
from typing import Any

from client_sdk import ExchangeClient
from client_sdk.credentials import Credentials
from exchange.cli.common import UsageError
from exchange.cli.serve import needs
from exchange.config import loopback_host

DEFAULT_LISTEN = "127.0.0.1:8080"


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too); UsageError for anything else."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {listen[:80]!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: a response's head and body go out at once, not 40 ms apart (Nagle's
    # algorithm waiting on the browser's delayed ACK)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def cmd_console(args: argparse.Namespace) -> int:
    host, port = split_listen(args.listen)
    if not loopback_host(host) and not (args.tls_cert and args.tls_key):
        raise UsageError(
            f"--listen {args.listen}: a console reachable from other machines needs --tls-cert and --tls-key"
        )
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("give both --tls-cert and --tls-key, or neither")
    for path in (args.tls_cert, args.tls_key):
        if path and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    try:
        import uvicorn

        from exchange.console.app import Console, ConsoleSettings, build_app
        from exchange.console.auth import COOKIE
    except ModuleNotFoundError as exc:
        raise needs("console", exc) from None
    creds = Credentials.load(args.as_)
    with ExchangeClient.connect(args.server, credentials=creds, timeout=args.timeout) as client:
        me = client.who_am_i()  # the exchange says which role these credentials have
    if me.role == "member" and args.index and not Path(args.index).exists():
        raise UsageError(f"--index {args.index}: no such file (sigx index add creates it)")
    settings = ConsoleSettings(
        credentials_dir=Path(args.as_),
        credentials=creds,
        role=me.role,
        server=args.server,
        index=Path(args.index) if args.index else None,
        audit_state=Path(args.audit_state) if args.audit_state else None,
        secure=bool(args.tls_cert),
    )
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    console = Console(settings, cookie=f"{COOKIE}_{bound}")
    app = build_app(console)
    scheme = "https" if args.tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    token = console.sessions.login_token(args.reviewer or getpass.getuser())
    print(
        f"sigx console for {me.member_id} ({me.role}): open {scheme}://{shown}:{bound}/login?token={token}", flush=True
    )
    print("the link works once; press Ctrl-C to stop", file=sys.stderr, flush=True)
    # no access log (a login URL holds a token); Ctrl-C waits at most 2 s for a browser's idle connections
    config: dict[str, Any] = {"access_log": False, "log_level": "warning", "lifespan": "on", "server_header": False}
    config["timeout_graceful_shutdown"] = 2
    if args.tls_cert:
        config |= {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
    server = uvicorn.Server(uvicorn.Config(app, **config))
    try:
        server.run(sockets=[sock])
    finally:
        console.close()
    return 0


def add_console_parser(sub: Any) -> None:
    help_text = "serve the web console (review queue, operator or auditor pages) for these credentials"
    p = sub.add_parser("console", help=help_text, description=help_text)
    p.add_argument("--as", dest="as_", required=True, metavar="CREDS", help="member, operator or auditor credentials")
    p.add_argument("--server", default=None, metavar="HOST:PORT", help="exchange address (default: member.json's)")
    p.add_argument("--index", default=None, metavar="PATH", help="a member's match index (the review queue)")
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where to serve (default {DEFAULT_LISTEN}; port 0: any free port)",
    )
    p.add_argument("--tls-cert", default=None, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", default=None, metavar="FILE", help="the certificate's private key (PEM)")
    p.add_argument(
        "--reviewer",
        default=None,
        help="the name decisions made with the printed link are recorded under (default: your login name)",
    )
    p.add_argument(
        "--audit-state",
        default=None,
        metavar="DIR",
        help="an auditor's state directory, kept between runs (default: a temporary one for this run)",
    )
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="how long to wait for the exchange")
    p.set_defaults(handler=cmd_console)
