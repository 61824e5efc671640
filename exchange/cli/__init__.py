"""``sigx``, the command line: the member's, operator's and auditor's commands (gRPC clients on the
SDK alone) and ``sigx serve`` (which loads the server only when it runs)."""

from exchange.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
