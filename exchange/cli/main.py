"""``sigx``: run the exchange, push, pull and look up signals, administer and audit it, from the shell.

sigx serve --data-dir DIR [--listen 127.0.0.1:7443]
sigx push --as CREDS FILE            CSV type,value,category[,provider|platform] or JSON lines
sigx pull --as CREDS [--after CURSOR | --cursor-file F] [--follow]   JSON lines out
sigx lookup --as CREDS TYPE:VALUE...
sigx retract --as CREDS SIGNAL_ID [--reason TEXT]
sigx feedback --as CREDS SIGNAL_ID VERDICT
sigx admin … | sigx audit … | sigx index … | sigx match … | sigx review …
sigx console --as CREDS [--index PATH] [--listen 127.0.0.1:8080]

Exit codes: 0 done; 1 done, but some items were rejected (or an audit found problems); 2 bad input or
the exchange refused the request; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from client_sdk import SignalExchangeError
from client_sdk.admin import AdminClient
from exchange.cli.admin import add_admin_parser
from exchange.cli.audit import add_audit_parser
from exchange.cli.common import admin_client
from exchange.cli.console import add_console_parser
from exchange.cli.member_side import add_member_side_parsers
from exchange.cli.safeguards import add_safeguard_parsers
from exchange.cli.serve import add_serve_parser
from exchange.cli.signals import add_signal_parsers
from exchange.errors import ExchangeError


def _version() -> str:
    try:
        return metadata.version("signal-exchange")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigx", description="Signal Exchange: share pseudonymised abuse signals.")
    parser.add_argument("--version", action="version", version=f"sigx {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_parser(sub)
    add_signal_parsers(sub)
    add_safeguard_parsers(sub)

    add_admin_parser(sub, _run_admin)
    add_audit_parser(sub)
    add_member_side_parsers(sub)
    add_console_parser(sub)
    return parser


def _run_admin(handler: Callable[[AdminClient, argparse.Namespace], Any], args: argparse.Namespace) -> int:
    with admin_client(args) as client:
        handler(client, args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (SignalExchangeError, ExchangeError) as exc:
        detail = exc.diagnostics() if isinstance(exc, SignalExchangeError) else str(exc)
        print(f"sigx: {detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `sigx pull … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
