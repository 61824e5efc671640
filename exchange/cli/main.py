"""``sigx``: run the exchange, and push, pull and look up signals from the shell.

sigx serve --data-dir DIR [--listen 127.0.0.1:7443]
sigx push --as CREDS FILE            CSV type,value,category[,provider|platform] or JSON lines
sigx pull --as CREDS [--after CURSOR | --cursor-file F] [--follow]   JSON lines out
sigx lookup --as CREDS TYPE:VALUE...
sigx retract --as CREDS SIGNAL_ID [--reason TEXT]
sigx feedback --as CREDS SIGNAL_ID VERDICT
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from client_sdk import ExchangeClient, Identifier, SignalExchangeError, stix
from client_sdk.admin import AdminClient
from client_sdk.files import parse_lines
from client_sdk.models import Accepted, Event, LookupResult
from client_sdk.vocab import VERDICTS
from exchange.cli.admin import add_admin_parser
from exchange.cli.audit import add_audit_parser
from exchange.cli.member_side import add_member_side_parsers
from exchange.cli.progress import Progress
from exchange.config import Settings
from exchange.errors import ExchangeError
from exchange.observability import logs

Handler = Callable[[argparse.Namespace], int]


# -- serve --------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from exchange.server import RunningExchange, serve

    settings = Settings.build(
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
    logs.configure(settings.log_format, capture_native=True)

    def ready(running: RunningExchange) -> None:
        host = settings.listen_host
        address = f"{host}:{running.port}"
        demo = settings.data_dir / "members" / "demo-a"
        print(
            f"Signal Exchange listening on {address} (mutual TLS), data in {settings.data_dir}\n"
            f"  SDK: ExchangeClient.connect({address!r}, credentials={str(demo)!r})\n"
            f"  CLI: sigx lookup --as {demo} --server {address} email:someone@example.com",
            flush=True,
        )

    serve(settings, on_ready=ready)
    return 0


# -- member commands ------------------------------------------------------------


def _client(args: argparse.Namespace) -> ExchangeClient:
    return ExchangeClient.connect(args.server, credentials=args.as_)


def _lines(path: str) -> tuple[Iterator[str], int | None]:
    if path == "-":
        return iter(sys.stdin), None
    with open(path, encoding="utf-8") as fh:
        total = sum(1 for line in fh if line.strip())
    return iter(open(path, encoding="utf-8", newline="")), total


def cmd_push(args: argparse.Namespace) -> int:
    if args.format == "stix":
        return stix.run_push(args, _client)
    lines, total = _lines(args.file)
    first = next(lines, "")
    signals = parse_lines(_chain(first, lines), args.format, first)
    if total and first.split(",", 1)[0].strip().lower() == "type":
        total -= 1  # the CSV header
    progress = Progress(sys.stderr, total, "signals")
    rejected = 0
    with _client(args) as client:
        results = client.submit_stream(
            signals, batch_size=args.batch_size, on_batch=lambda batch: progress.count(*(r.status for r in batch))
        )
        for index, result in enumerate(results):
            line = json.dumps({"item": index + 1, **asdict(result), "envelope_sha256": result.envelope_sha256.hex()})
            if result.status == "rejected":
                rejected += 1
                print(line, file=sys.stdout if args.json else sys.stderr)
            elif args.json:
                print(line)
    progress.finish()
    return 1 if rejected else 0


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _event_json(event: Event, include_envelope: bool = False) -> str:
    data: dict[str, Any] = {
        "seq": event.seq,
        "kind": event.kind,
        "signal_id": event.signal_id,
        "submitter": event.submitter,
        "received_at": event.received_at,
        "cursor": event.cursor,
    }
    if event.signal is not None:
        s = asdict(event.signal)
        s["value"] = s["value"].hex()
        s["labels"] = list(s["labels"])
        data["signal"] = s
    if event.kind == "retract":
        data["reason"] = event.reason
    if event.kind == "feedback":
        data["verdict"] = event.verdict
    if include_envelope:
        data["envelope"] = base64.b64encode(event.envelope).decode()
    return json.dumps(data)


def cmd_pull(args: argparse.Namespace) -> int:
    if args.format == "stix":
        return stix.run_pull(args, _client)
    cursor_file = Path(args.cursor_file) if args.cursor_file else None
    after = args.after
    if after is None and cursor_file is not None and cursor_file.exists():
        after = cursor_file.read_text().strip() or None

    def save(cursor: str) -> None:
        if cursor_file is not None:
            tmp = cursor_file.with_suffix(".tmp")
            tmp.write_text(cursor + "\n")
            os.replace(tmp, cursor_file)

    count = 0
    with _client(args) as client:
        if args.follow:
            events = client.subscribe(
                after, types=args.type, categories=args.category, verify=not args.no_verify, on_cursor=save
            )
        else:
            events = client.pull(
                after, limit=args.limit, types=args.type, categories=args.category, verify=not args.no_verify
            )
        last = after
        for event in events:
            print(_event_json(event, args.envelopes), flush=args.follow)
            last = event.cursor
            count += 1
            if count % 1000 == 0:
                save(last)
        if last:
            save(last)
    print(f"{count} events", file=sys.stderr)
    return 0


def parse_query(text: str) -> Identifier:
    """``TYPE:VALUE`` (e.g. ``email:a@b.com``, ``username:instagram:alice``, ``payment_handle:$jane``)."""
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise SystemExit(f"sigx: expected TYPE:VALUE, got {text!r}")
    return Identifier(kind.lower(), value)


def _lookup_json(result: LookupResult) -> dict[str, Any]:
    return {"found": result.found, "matches": [asdict(m) for m in result.matches]}


def cmd_lookup(args: argparse.Namespace) -> int:
    queries = [parse_query(q) for q in args.queries]
    with _client(args) as client:
        results = client.lookup(queries, max_distance=args.max_distance)
    for text, result in zip(args.queries, results, strict=True):
        if args.json:
            print(json.dumps({"query": text, **_lookup_json(result)}))
            continue
        print(f"{text}: {len(result.matches)} match(es)")
        for m in result.matches:
            fb = ", ".join(f"{k}={v}" for k, v in m.feedback.items() if v) or "no feedback"
            print(f"  signal {m.signal_id}  {m.category}  by {m.submitter}  last seen {_ts(m.last_seen)}  ({fb})")
    return 0


def _ts(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def cmd_retract(args: argparse.Namespace) -> int:
    with _client(args) as client:
        done = client.retract(args.signal_id, reason=args.reason)
    _accepted(args, done, "retracted")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    with _client(args) as client:
        done = client.feedback(args.signal_id, args.verdict)
    _accepted(args, done, "feedback recorded")
    return 0


def _accepted(args: argparse.Namespace, done: Accepted, what: str) -> None:
    if args.json:
        print(json.dumps({"signal_id": args.signal_id, "seq": done.seq, "log_index": done.log_index}))
    else:
        print(f"{what} (event {done.seq}, log index {done.log_index})")


# -- parser -------------------------------------------------------------------


def _member_parser(sub: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--as", dest="as_", required=True, metavar="CREDS", help="credentials directory")
    p.add_argument("--server", default=None, help="exchange address (default: the one in member.json)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handler)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigx", description="Signal Exchange: share pseudonymised abuse signals.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "serve", help="run the exchange server", description="Run the exchange (first start initialises DIR)."
    )
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="data directory (created on first start)")
    p.add_argument("--listen", default=None, help="HOST:PORT to listen on (default 127.0.0.1:7443)")
    p.add_argument("--config", default=None, metavar="FILE", help="TOML configuration (see deploy/examples)")
    p.add_argument("--database", default=None, metavar="URL", help="postgresql://… (default: SQLite in DIR)")
    p.add_argument("--metrics-listen", default=None, metavar="HOST:PORT", help="serve Prometheus metrics here")
    p.add_argument("--taxii-listen", default=None, metavar="HOST:PORT", help="serve the read-only TAXII 2.1 view here")
    p.add_argument("--log-format", default=None, choices=["json", "console", "auto"], help="log output format")
    p.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    p.add_argument("--json", action="store_true", help="with --check-config: print the settings as JSON")
    p.set_defaults(handler=cmd_serve)

    p = _member_parser(sub, "push", cmd_push, "submit signals from a CSV or JSON-lines file")
    p.add_argument("file", metavar="FILE", help="input file, or - for standard input")
    p.add_argument("--format", choices=["auto", "csv", "jsonl", "stix"], default="auto", help="input format")
    p.add_argument("--category", default=None, help="with --format stix: the category of every signal")
    p.add_argument("--partial", action="store_true", help="with --format stix: submit what maps even if some cannot")
    p.add_argument("--batch-size", type=int, default=1000, help="signals per batch")

    p = _member_parser(sub, "pull", cmd_pull, "print visible events as JSON lines")
    p.add_argument("--after", default=None, metavar="CURSOR", help="resume after this cursor")
    p.add_argument("--cursor-file", default=None, metavar="FILE", help="read the cursor from and save it to FILE")
    p.add_argument("--follow", action="store_true", help="stay connected and print new events live")
    p.add_argument("--limit", type=int, default=0, help="stop after N events")
    p.add_argument("--type", action="append", default=[], help="only this identifier type (repeatable)")
    p.add_argument("--category", action="append", default=[], help="only this category (repeatable)")
    p.add_argument("--no-verify", action="store_true", help="skip signature verification")
    p.add_argument("--envelopes", action="store_true", help="include each signed envelope (base64)")
    p.add_argument("--format", choices=["jsonl", "stix"], default="jsonl", help="JSON lines, or one STIX 2.1 bundle")

    p = _member_parser(sub, "lookup", cmd_lookup, "look up identifiers or media hashes")
    p.add_argument("queries", nargs="+", metavar="TYPE:VALUE", help="e.g. email:a@b.com, payment_handle:$jane")
    p.add_argument("--max-distance", type=int, default=None, help="PDQ Hamming distance (default 31)")

    p = _member_parser(sub, "retract", cmd_retract, "retract one of your signals")
    p.add_argument("signal_id", type=int)
    p.add_argument("--reason", default="", help="why (no personal data)")

    p = _member_parser(sub, "feedback", cmd_feedback, "give feedback on another member's signal")
    p.add_argument("signal_id", type=int)
    p.add_argument("verdict", choices=VERDICTS)

    add_admin_parser(sub, _run_admin)
    add_audit_parser(sub)
    add_member_side_parsers(sub)
    return parser


def _run_admin(handler: Callable[[AdminClient, argparse.Namespace], Any], args: argparse.Namespace) -> int:
    with AdminClient.connect(args.server, args.as_) as client:
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
