"""``sigx audit``: verify the signature log (online or from an export) and export it as static files."""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path
from typing import Any

from client_sdk.audit.sources import DirectorySource, RemoteSource, export
from client_sdk.audit.verifier import Auditor, Problem, Report
from client_sdk.credentials import Credentials
from exchange.cli.common import UsageError
from exchange.cli.progress import Progress


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    d = report.as_dict()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "-"
    rate = f" ({d['entries_per_second']:,}/s)" if d["entries_per_second"] else ""
    print(
        f"{'OK' if report.ok else 'FAILED'}: {report.size} entries ({report.new_entries} new{rate}), "
        f"{_n(report.members, 'member')}, {_n(report.keys, 'key')}, {_n(report.checkpoints, 'checkpoint')}, "
        f"{report.purged} purged envelopes\nentries: {counts}"
    )
    for p in report.problems[:100]:
        print(f"  entry {p.index}: {p.reason}" if p.index is not None else f"  log: {p.reason}")
    if len(report.problems) > 100:
        print(f"  … and {len(report.problems) - 100} more problems")


def cmd_verify(args: argparse.Namespace) -> int:
    progress = Progress(sys.stderr, None, "entries")
    state = Path(args.state) if args.state else None
    if args.export_dir:
        if args.log_key:
            log_key = bytes.fromhex(args.log_key)
        elif args.as_:
            log_key = Credentials.load(args.as_).log_public_key
        else:
            raise UsageError("offline verification needs the log's public key: --log-key HEX or --as CREDS")
        directory = DirectorySource(Path(args.export_dir))
        report = Auditor(directory, log_key, state, progress.set).run()
        if report.ok:
            report.problems.extend(Problem(None, text) for text in directory.check_tiles(report.size))
    else:
        if not args.as_:
            raise UsageError("online verification needs auditor credentials: --as CREDS")
        source = RemoteSource(args.server, args.as_)
        try:
            report = Auditor(source, source.credentials.log_public_key, state, progress.set).run()
        finally:
            source.close()
    if progress.done:
        progress.finish()
    _print_report(report, args.json)
    return 0 if report.ok else 1


def read_report_note(path: Path) -> str:
    """The signed report in a file ``sigx admin report`` wrote: the note itself, its ``--json`` or ``--html``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc})") from None
    if text.lstrip().startswith("{"):
        try:
            return str(json.loads(text)["report"])
        except (ValueError, KeyError, TypeError):
            raise UsageError(f'{path}: JSON without a "report" (the signed note)') from None
    start, end = text.find(HTML_NOTE_START), text.find(HTML_NOTE_END)
    if start >= 0 and end > start:
        return html.unescape(text[start + len(HTML_NOTE_START) : end])
    return text


HTML_NOTE_START = '<pre id="signed-report">'
HTML_NOTE_END = "</pre>"


def cmd_report(args: argparse.Namespace) -> int:
    from client_sdk.audit import report as reports

    creds = Credentials.load(args.as_)
    note = read_report_note(Path(args.report))
    try:
        report = reports.open_report(note, creds.log_public_key, creds.log_key_name, creds.log_origin)
    except reports.ReportError as exc:
        raise UsageError(f"{args.report}: {exc}") from None
    source = RemoteSource(args.server, creds)
    try:
        pages = source.entries(0, report.checkpoint.size)
        result = reports.check(report, (e for page in pages for e in page))
    finally:
        source.close()
    if args.json:
        data = {
            "ok": result.ok,
            "period": report.period,
            "checkpoint_size": report.checkpoint.size,
            "agree": result.agree,
            "disagree": [{"number": n, "report": a, "log": b} for n, a, b in result.disagree],
            "problems": result.problems,
        }
        print(json.dumps(data, indent=2))
    else:
        verdict = "every number agrees with the log" if result.ok else "the report and the log DISAGREE"
        print(f"report {report.period}, anchored to {report.checkpoint.size} entries: {verdict}")
        for name in result.agree:
            print(f"  agrees     {name}")
        for name, theirs, mine in result.disagree:
            print(f"  DISAGREES  {name}: the report says {theirs}, the log gives {mine}")
        for problem in result.problems:
            print(f"  problem    {problem}")
    return 0 if result.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    progress = Progress(sys.stderr, None, "entries")
    source = RemoteSource(args.server, args.as_)
    try:
        size = export(source, Path(args.dir), progress.set)
    finally:
        source.close()
    if progress.done:
        progress.finish()
    print(
        json.dumps({"entries": size, "directory": args.dir}) if args.json else f"exported {size} entries to {args.dir}"
    )
    return 0


def add_audit_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify or export the signature log", description="The auditor's tools.")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser(
        "verify",
        help="verify the signature log (online, or an export directory)",
        description="Recompute the log, check every entry, signature and checkpoint; exit 1 on any problem.",
    )
    p.add_argument("export_dir", nargs="?", metavar="EXPORT_DIR", help="verify a `sigx audit export` directory")
    p.add_argument("--as", dest="as_", default=None, metavar="CREDS", help="auditor credentials directory")
    p.add_argument("--server", default=None, help="exchange address (default: the one in member.json)")
    p.add_argument("--state", default=None, metavar="DIR", help="keep state here: later runs read only new entries")
    p.add_argument("--log-key", default=None, metavar="HEX", help="the log's Ed25519 public key (offline)")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(handler=cmd_verify)
    p = actions.add_parser(
        "export",
        help="write the log as static files",
        description="Write checkpoint, C2SP tlog-tiles hash tiles, entry bundles and envelopes to DIR.",
    )
    p.add_argument("dir", metavar="DIR", help="where to write the export (created if missing)")
    p.add_argument("--as", dest="as_", required=True, metavar="CREDS", help="auditor or operator credentials")
    p.add_argument("--server", default=None, help="exchange address (default: the one in member.json)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_export)
    p = actions.add_parser(
        "report",
        help="rebuild a transparency report from the log alone and compare it",
        description="Verify a report's signature and anchor, rebuild every number from the signature log (no"
        " database access), and say which agree; exit 1 on any disagreement.",
    )
    p.add_argument(
        "report", metavar="REPORT", help="the report file (sigx admin report: the signed note, --json or --html)"
    )
    p.add_argument("--as", dest="as_", required=True, metavar="CREDS", help="auditor credentials directory")
    p.add_argument("--server", default=None, help="exchange address (default: the one in member.json)")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.set_defaults(handler=cmd_report)
