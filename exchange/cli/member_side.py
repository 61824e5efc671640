"""``sigx index``, ``sigx match`` and ``sigx review``: run the exchange's signals against your own platform.

sigx index add --as CREDS --index PATH FILE          pseudonymise your accounts (bulk quota) into PATH
sigx index add-media --index PATH DIR_OR_FILE...     PDQ and MD5 of your images and files
sigx index remove --index PATH ID...                 forget deleted accounts or content
sigx index stats --index PATH
sigx match --as CREDS --index PATH [--follow] [--dihedral]
sigx review list|show|decide|send --index PATH …

Everything here reads and writes only the member's own index file and sends only what the exchange
already receives (blinded elements, signed feedback). Nothing prints a raw identifier.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from client_sdk import ExchangeClient
from client_sdk.credentials import Credentials
from client_sdk.member import (
    DEFAULT_MAX_DISTANCE,
    AddReport,
    MatchIndex,
    MatchReport,
    MediaError,
    ReviewItem,
)
from client_sdk.member.accounts import BadRow
from client_sdk.member.bulk import count_lines, source_key
from client_sdk.member.media import PDQ_MIN_QUALITY
from client_sdk.member.review import STATUSES, SendReport
from client_sdk.vocab import VERDICTS
from exchange.cli.common import UsageError
from exchange.cli.progress import Progress

Handler = Callable[[argparse.Namespace], int]


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, default=_json_default) if args.json else text, flush=True)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _credentials(args: argparse.Namespace) -> Credentials | None:
    return Credentials.load(args.as_) if getattr(args, "as_", None) else None


def _client(args: argparse.Namespace, creds: Credentials) -> ExchangeClient:
    return ExchangeClient.connect(args.server, credentials=creds)


def _usage(message: str) -> UsageError:
    """An input error (``sigx`` prints it on one line and exits 2)."""
    return UsageError(message)


def _ts(t: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else "-"


# -- sigx index ----------------------------------------------------------------------------------


def cmd_index_add(args: argparse.Namespace) -> int:
    creds = Credentials.load(args.as_)
    path = Path(args.file)
    if not path.is_file():
        raise _usage(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    total = count_lines(path)
    bad: list[BadRow] = []

    def report_bad(row: BadRow) -> None:
        bad.append(row)
        print(f"line {row.line}: skipped: {row.reason}", file=sys.stderr)

    with MatchIndex.open(args.index, credentials=creds, create=True) as index, _client(args, creds) as client:
        start = index.progress(source_key(path))
        first = start.line if start and not start.complete else 0
        progress = Progress(sys.stderr, total - first, "lines")

        def step(report: AddReport) -> None:
            progress.counts = {"indexed": report.rows, "bad": report.bad}
            progress.set(report.lines - first)

        report = index.add_accounts(
            client, path, fmt=args.format, batch_size=args.batch_size, on_bad_row=report_bad, on_progress=step
        )
        if not report.already_complete:
            progress.finish()
    if report.already_complete:
        text = f"{path}: already indexed (all {report.lines} lines); nothing to do"
    else:
        resumed = f", resumed after line {report.resumed_at_line}" if report.resumed_at_line else ""
        text = (
            f"{report.rows} rows indexed ({report.added} new identifier(s)), {report.bad} bad row(s) skipped"
            f"{resumed}; {report.evaluations} bulk OPRF evaluations"
        )
    _out(args, asdict(report), text)
    return 1 if bad else 0


def _media_files(targets: list[str]) -> Iterator[Path]:
    for target in targets:
        path = Path(target)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def cmd_index_add_media(args: argparse.Namespace) -> int:
    files = list(_media_files(args.paths))
    if args.id and len(files) != 1:
        raise _usage("--id names one file; give exactly one file with it")
    failed = 0
    with MatchIndex.open(args.index, credentials=_credentials(args), create=True) as index:
        for path in files:
            try:
                added = index.add_media_file(path, args.id, min_quality=args.min_quality)
            except MediaError as exc:
                failed += 1
                print(f"skipped: {exc}", file=sys.stderr)
                continue
            note = "" if added.pdq_indexed else f" (PDQ quality {added.quality} < {args.min_quality}: MD5 only)"
            _out(
                args,
                {**asdict(added), "file": str(path)},
                f"{added.content_id}: md5 {added.md5.hex()} pdq {added.pdq} quality {added.quality}{note}",
            )
    if not args.json:
        print(f"{len(files) - failed} file(s) indexed, {failed} skipped", file=sys.stderr)
    return 1 if failed else 0


def cmd_index_remove(args: argparse.Namespace) -> int:
    ids = list(args.ids)
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as fh:
                ids += [line.strip() for line in fh if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise _usage(f"{args.file}: cannot be read ({exc})") from None
    if not ids:
        raise _usage("give account or content ids to remove (or --file)")
    with MatchIndex.open(args.index, credentials=_credentials(args)) as index:
        identifiers, media = index.remove(ids)
    _out(
        args,
        {"ids": len(set(ids)), "identifier_rows": identifiers, "media_rows": media},
        f"removed {identifiers} identifier row(s) and {media} media hash row(s) of {len(set(ids))} id(s)",
    )
    return 0


def cmd_index_stats(args: argparse.Namespace) -> int:
    with MatchIndex.open(args.index, credentials=_credentials(args)) as index:
        s = index.stats()
    lines = [
        f"index      {s.path} ({s.file_bytes:,} bytes)",
        f"member     {s.member_id or '- (not bound yet)'}",
        f"OPRF key   epoch {s.oprf_epoch if s.oprf_epoch is not None else '-'} {s.oprf_key}",
        f"accounts   {s.accounts:,} ({', '.join(f'{k} {v:,}' for k, v in s.identifiers.items()) or 'no identifiers'})",
        f"media      {s.media_items:,} ({', '.join(f'{k} {v:,}' for k, v in s.media_hashes.items()) or 'no hashes'})",
        f"review     {', '.join(f'{k} {v}' for k, v in s.items.items()) or 'no items'}",
        f"feedback   {', '.join(f'{k} {v}' for k, v in s.decisions.items()) or 'no decisions'}",
        f"cursor     {s.cursor or '- (match has not run)'}",
    ]
    _out(args, asdict(s), "\n".join(lines))
    return 0


# -- sigx match ------------------------------------------------------------------------------------


def _feedback_lines(reports: list[SendReport]) -> Iterator[str]:
    for r in reports:
        for d in r.sent:
            yield f"feedback sent: item {d.item} {d.verdict} on signal {d.signal_id} (log index {d.log_index})"
        for d in r.refused:
            yield f"feedback refused: item {d.item} {d.verdict} on signal {d.signal_id}: {d.error}"
        if r.queued:
            yield f"{r.queued} decision(s) still queued: {r.error}"


def cmd_match(args: argparse.Namespace) -> int:
    creds = Credentials.load(args.as_)
    with MatchIndex.open(args.index, credentials=creds) as index, _client(args, creds) as client:
        shown = [0]

        def step(report: MatchReport) -> None:
            if args.follow and report.new_items > shown[0]:
                for item in index.review.items("open")[: report.new_items - shown[0]]:
                    _out(args, item.as_dict(), _item_line(item))
                shown[0] = report.new_items

        report = index.match(
            client, follow=args.follow, dihedral=args.dihedral, max_distance=args.max_distance, on_step=step
        )
    for line in _feedback_lines(report.feedback):
        print(line, file=sys.stderr)
    summary = asdict(report)
    summary["feedback"] = [
        {"sent": len(r.sent), "refused": len(r.refused), "queued": r.queued} for r in report.feedback
    ]
    _out(
        args,
        summary,
        f"{report.events} events ({report.submits} submits): {report.hits} hit(s), {report.new_items} new or"
        f" re-opened item(s), {report.withdrawn} withdrawn; cursor {report.cursor or '-'}",
    )
    return 0


# -- sigx review -----------------------------------------------------------------------------------


def _item_line(item: ReviewItem) -> str:
    own = f"{item.own_kind} {item.own_id}"
    near = f" distance {item.distance} ({item.variant})" if item.type == "media_pdq" else ""
    fb = ", ".join(f"{k}={v}" for k, v in sorted(item.feedback.items()) if v) or "no feedback"
    why = f" — {item.reason}" if item.reason else ""
    q = item.submitter_quality
    upheld, not_upheld = (
        q.get("confirmed", 0) + q.get("actioned", 0),
        q.get("false_positive", 0) + q.get("not_found", 0),
    )
    record = f"  submitter's record {upheld} upheld / {not_upheld} not"
    return (
        f"{item.id:>5}  {item.status:<9} {own}  signal {item.signal_id} {item.type} {item.category}"
        f" by {item.submitter}{near}  seen {_ts(item.last_seen)}  members {item.corroboration}  {fb}{record}{why}"
    )


def cmd_review_list(args: argparse.Namespace) -> int:
    with MatchIndex.open(args.index, credentials=_credentials(args)) as index:
        items = index.review.items(args.status)
    for item in items:
        _out(args, item.as_dict(), _item_line(item))
    if not args.json:
        print(f"{len(items)} item(s)", file=sys.stderr)
    return 0


def cmd_review_show(args: argparse.Namespace) -> int:
    with MatchIndex.open(args.index, credentials=_credentials(args)) as index:
        queue = index.review
        item = queue.item(args.item)
        history = queue.history(args.item)
        decisions = queue.decisions(args.item)
    if args.json:
        data = item.as_dict()
        data["history"] = [dict(zip(("at", "status", "signal_id", "reason"), h, strict=True)) for h in history]
        data["decisions"] = [d.as_dict() for d in decisions]
        _out(args, data, "")
        return 0
    fields = [
        ("item", item.id),
        ("status", item.status + (f" ({item.reason})" if item.reason else "")),
        (item.own_kind, item.own_id),
        ("signal", f"{item.signal_id} by {item.submitter}"),
        ("type", item.type + (f" ({item.qualifier})" if item.qualifier else "")),
        ("category", item.category),
        ("confidence", item.confidence),
        ("first seen", _ts(item.first_seen)),
        ("last seen", _ts(item.last_seen)),
        ("expires", _ts(item.expires_at)),
        ("feedback", ", ".join(f"{k} {v}" for k, v in sorted(item.feedback.items())) or "-"),
        ("members", f"{item.corroboration} distinct member(s) submitted this value"),
    ]
    if item.type == "media_pdq":
        fields.append(("distance", f"{item.distance} ({item.variant})"))
    lines = [f"{k:<11}{v}" for k, v in fields]
    lines += ["", "history:"] + [f"  {_ts(at)}  {status:<9} signal {sid}  {why}" for at, status, sid, why in history]
    if decisions:
        lines += ["", "decisions:"]
        for d in decisions:
            sent = (
                f"sent, log index {d.log_index}" if d.state == "sent" else d.state + (f": {d.error}" if d.error else "")
            )
            note = f"  note: {d.note}" if d.note else ""
            lines.append(f"  {_ts(d.decided_at)}  {d.verdict} by {d.reviewer}  ({sent}){note}")
    print("\n".join(lines))
    return 0


def cmd_review_decide(args: argparse.Namespace) -> int:
    creds = _credentials(args)
    with MatchIndex.open(args.index, credentials=creds) as index:
        queue = index.review
        decision = queue.decide(
            args.item, args.verdict, reviewer=args.reviewer or getpass.getuser(), note=args.note, force=args.force
        )
        state = "queued: sigx match or sigx review send delivers it"
        if creds is not None:
            with _client(args, creds) as client:
                report = queue.send_feedback(client)
            decision = queue.decisions(args.item)[-1]
            for line in _feedback_lines([report]):
                print(line, file=sys.stderr)
            state = {"sent": f"sent (log index {decision.log_index})", "refused": f"refused: {decision.error}"}.get(
                decision.state, "queued: the exchange could not be reached; it is sent on the next try"
            )
    _out(args, decision.as_dict(), f"item {args.item}: {decision.verdict} by {decision.reviewer}, {state}")
    return 1 if decision.state == "refused" else 0


def cmd_review_send(args: argparse.Namespace) -> int:
    creds = Credentials.load(args.as_)
    with MatchIndex.open(args.index, credentials=creds) as index, _client(args, creds) as client:
        report = index.review.send_feedback(client)
    for line in _feedback_lines([report]):
        print(line, file=sys.stderr)
    data = {"sent": len(report.sent), "refused": len(report.refused), "queued": report.queued}
    _out(args, data, f"{data['sent']} sent, {data['refused']} refused, {data['queued']} still queued")
    return 0 if not report.queued else 1


# -- parsers ------------------------------------------------------------------------------------------


def _leaf(sub: Any, name: str, handler: Handler, help_text: str, *, creds: str = "no") -> argparse.ArgumentParser:
    """A command with ``--index`` and ``--json``; ``creds`` is ``required``, ``optional`` or ``no``."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--index", required=True, metavar="PATH", help="the member's match index file")
    if creds != "no":
        p.add_argument("--as", dest="as_", required=creds == "required", metavar="CREDS", help="credentials directory")
        p.add_argument("--server", default=None, help="exchange address (default: the one in member.json)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handler)
    return p


def add_member_side_parsers(sub: Any) -> None:
    """Add ``sigx index``, ``sigx match`` and ``sigx review`` to the ``sigx`` sub-command parser."""
    index = sub.add_parser("index", help="your own accounts and media, as a local match index").add_subparsers(
        dest="index_command", required=True, metavar="COMMAND"
    )
    p = _leaf(index, "add", cmd_index_add, "pseudonymise your accounts into the index (bulk OPRF)", creds="required")
    p.add_argument("file", metavar="FILE", help="CSV account_id,type,value[,provider|platform] or JSON lines")
    p.add_argument("--format", choices=["csv", "jsonl"], default=None, help="input format (default: from the file)")
    p.add_argument("--batch-size", type=int, default=1000, help="identifiers per Evaluate call")
    p = _leaf(index, "add-media", cmd_index_add_media, "PDQ and MD5 of your images and files", creds="optional")
    p.add_argument("paths", nargs="+", metavar="DIR_OR_FILE", help="files, or directories read recursively")
    p.add_argument("--id", default=None, help="content id for a single file (default: the file name)")
    p.add_argument(
        "--min-quality", type=int, default=PDQ_MIN_QUALITY, help="PDQ quality below which only the MD5 is kept"
    )
    p = _leaf(index, "remove", cmd_index_remove, "forget deleted accounts or content", creds="optional")
    p.add_argument("ids", nargs="*", metavar="ID", help="account or content ids")
    p.add_argument("--file", default=None, help="a file of ids, one a line")
    _leaf(index, "stats", cmd_index_stats, "what the index holds", creds="optional")

    p = _leaf(
        sub, "match", cmd_match, "match visible signals against your index into the review queue", creds="required"
    )
    p.add_argument("--follow", action="store_true", help="stay subscribed and match live events")
    p.add_argument("--dihedral", action="store_true", help="also match rotated and mirrored copies of your images")
    p.add_argument("--max-distance", type=int, default=DEFAULT_MAX_DISTANCE, help="PDQ Hamming distance (default 31)")

    review = sub.add_parser("review", help="the review queue of your index").add_subparsers(
        dest="review_command", required=True, metavar="COMMAND"
    )
    p = _leaf(review, "list", cmd_review_list, "list review items", creds="optional")
    p.add_argument("--status", choices=STATUSES, default=None, help="only items in this state")
    p = _leaf(review, "show", cmd_review_show, "one item, its history and decisions", creds="optional")
    p.add_argument("item", type=int, metavar="ITEM", help="the review item id (sigx review list)")
    p = _leaf(review, "decide", cmd_review_decide, "decide an item; sent as signed feedback", creds="optional")
    p.add_argument("item", type=int, metavar="ITEM", help="the review item id (sigx review list)")
    p.add_argument("verdict", choices=VERDICTS, metavar="VERDICT", help=", ".join(VERDICTS))
    p.add_argument("--note", default="", help="kept in the index only, never sent")
    p.add_argument("--reviewer", default=None, help="who decided (default: your login name)")
    p.add_argument("--force", action="store_true", help="decide even though the signal was withdrawn")
    _leaf(review, "send", cmd_review_send, "send queued decisions as signed feedback", creds="required")
