"""What every ``sigx`` command shares: connection flags, the client with a bounded, announced retry, input
files read with clear errors, and the one exception for input errors (exit 2)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from client_sdk import ExchangeClient, SignalExchangeError
from client_sdk.admin import AdminClient
from client_sdk.client import RetryPolicy
from client_sdk.credentials import Credentials

Handler = Callable[[argparse.Namespace], int]
#: How long a command keeps retrying an exchange it cannot reach before it gives up (``--timeout``).
DEFAULT_TIMEOUT = 30.0


class UsageError(SignalExchangeError):
    """Bad input to a command: printed on one line; ``sigx`` exits 2."""


def add_connection_args(
    p: argparse.ArgumentParser, creds_help: str = "credentials directory", required: bool = True
) -> None:
    """``--as``, ``--server``, ``--timeout`` and ``--json``, the same on every command that talks to an exchange."""
    p.add_argument("--as", dest="as_", required=required, metavar="CREDS", help=creds_help)
    p.add_argument(
        "--server", default=None, metavar="HOST:PORT", help="exchange address (default: the one in member.json)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to keep retrying an exchange that cannot be reached (default {DEFAULT_TIMEOUT:.0f})",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")


def member_parser(sub: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    add_connection_args(p)
    p.set_defaults(handler=handler)
    return p


def credentials(args: argparse.Namespace) -> Credentials:
    """The ``--as`` credentials directory (CredentialsError naming what is wrong)."""
    return Credentials.load(args.as_)


def _notice(message: str) -> None:
    print(f"sigx: {message}", file=sys.stderr, flush=True)


def client(args: argparse.Namespace) -> ExchangeClient:
    """An ExchangeClient that retries an unreachable exchange for at most ``--timeout`` seconds, saying so."""
    retry = RetryPolicy(attempts=1_000, deadline=getattr(args, "timeout", DEFAULT_TIMEOUT))
    return ExchangeClient.connect(args.server, credentials=credentials(args), retry=retry, on_retry=_notice)


def admin_client(args: argparse.Namespace) -> AdminClient:
    return AdminClient.connect(args.server, credentials(args))


def text_lines(path: str) -> tuple[Iterator[str], int | None]:
    """The lines of an input file (``-``: standard input) and how many are not blank (None for stdin).
    UsageError naming the path when it is missing, a directory, unreadable or not UTF-8."""
    if path == "-":
        return iter(sys.stdin), None
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a directory, not a file")
    try:
        with open(p, encoding="utf-8") as fh:
            total = sum(1 for line in fh if line.strip())
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    return iter(open(p, encoding="utf-8", newline="")), total
