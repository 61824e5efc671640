"""``sigx push | pull | lookup | retract | feedback``: a member's signals from the shell.

A file to push is read twice: once to check its shape (every malformed line is reported, with its
number, before anything is sent), then to send it. Standard input is spooled to a temporary file first.
Identifiers that fail normalisation are per-item rejections, reported with their line and the reason.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from client_sdk import Identifier, stix
from client_sdk.files import InputFileError, parse_rows, sniff
from client_sdk.models import Accepted, Event, LookupResult, Signal
from client_sdk.vocab import RETRACT_REASON_CODES, VERDICTS
from exchange.cli.common import UsageError, client, member_parser, text_lines
from exchange.cli.progress import Progress

#: Bad lines printed before "… and N more".
SHOWN_BAD_LINES = 20


# -- push ---------------------------------------------------------------------------------------


def _check_shape(path: str, fmt: str) -> tuple[int, str]:
    """Read the whole file once: how many signal rows it holds and its format. Raises UsageError listing the
    malformed lines (nothing has been sent)."""
    lines, _ = text_lines(path)
    first = next(lines, "")
    try:
        kind = sniff(first, fmt)
    except InputFileError as exc:
        raise UsageError(f"{path}: {exc}") from None
    bad: list[InputFileError] = []
    count = 0
    for row in parse_rows(_chain(first, lines), kind, first):
        if isinstance(row, InputFileError):
            bad.append(row)
        else:
            count += 1
    if bad:
        shown = "\n".join(f"  {path} {e}" for e in bad[:SHOWN_BAD_LINES])
        more = f"\n  … and {len(bad) - SHOWN_BAD_LINES} more" if len(bad) > SHOWN_BAD_LINES else ""
        raise UsageError(
            f"{path}: {len(bad)} malformed line(s); nothing was sent. Fix them and push again:\n{shown}{more}"
        )
    if count == 0:
        raise UsageError(
            f"{path}: holds no signals (expected CSV type,value,category[,provider|platform] or JSON lines)"
        )
    return count, kind


def _spooled(path: str) -> tuple[str, tempfile.TemporaryDirectory[str] | None]:
    """A path to read twice: the file itself, or standard input copied to a private temporary file."""
    if path != "-":
        return path, None
    tmp = tempfile.TemporaryDirectory(prefix="sigx-push-")
    spool = Path(tmp.name) / "stdin"
    with open(spool, "w", encoding="utf-8") as out:
        shutil.copyfileobj(sys.stdin, out)
    return str(spool), tmp


def cmd_push(args: argparse.Namespace) -> int:
    if args.format == "stix":
        return stix.run_push(args, client)
    path, spool = _spooled(args.file)
    try:
        return _push(args, path)
    finally:
        if spool is not None:
            spool.cleanup()


def _push(args: argparse.Namespace, path: str) -> int:
    total, kind = _check_shape(path, args.format)
    lines, _ = text_lines(path)
    first = next(lines, "")

    def signals() -> Iterator[Signal]:
        for row in parse_rows(_chain(first, lines), kind, first):
            if isinstance(row, Signal):  # the shape was checked: every row is a signal now
                yield row

    numbered = _numbered(path, kind)
    progress = Progress(sys.stderr, total, "signals", quiet=args.quiet)
    stored = rejected = 0
    try:
        with client(args) as c:
            results = c.submit_stream(
                signals(), batch_size=args.batch_size, on_batch=lambda b: progress.count(*(r.status for r in b))
            )
            for index, result in enumerate(results):
                record = {"item": index + 1, "line": next(numbered), **asdict(result)}
                record["envelope_sha256"] = result.envelope_sha256.hex()
                if result.status == "rejected":
                    rejected += 1
                    print(json.dumps(record), file=sys.stdout if args.json else sys.stderr)
                else:
                    stored += 1
                    if args.json:
                        print(json.dumps(record))
    except KeyboardInterrupt:
        progress.finish()
        print(
            f"sigx: interrupted: {stored} of the {total} signals are stored ({rejected} rejected, the rest not"
            f" answered); run the same command again to go on: what is stored already comes back as duplicate",
            file=sys.stderr,
        )
        return 130
    progress.finish()
    if not args.json:
        print(f"{stored} stored, {rejected} rejected, of {total} signals", file=sys.stderr)
    return 1 if rejected else 0


def _numbered(path: str, kind: str) -> Iterator[int]:
    """The line number of each signal row of a file whose shape has been checked."""
    lines, _ = text_lines(path)
    first = next(lines, "")
    if kind == "csv":
        reader = csv.reader(_chain(first, lines))
        for row in reader:
            if row and not (reader.line_num == 1 and row[0].strip().lower() == "type"):
                yield reader.line_num
    else:
        for number, line in enumerate(_chain(first, lines), start=1):
            if line.strip():
                yield number


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


# -- pull ---------------------------------------------------------------------------------------


def event_json(event: Event, include_envelope: bool = False) -> str:
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
        return stix.run_pull(args, client)
    cursor_file = Path(args.cursor_file) if args.cursor_file else None
    after = args.after
    if after is None and cursor_file is not None and cursor_file.exists():
        after = cursor_file.read_text().strip() or None

    def save(cursor: str) -> None:
        if cursor_file is not None:
            tmp = cursor_file.with_suffix(".tmp")
            tmp.write_text(cursor + "\n")
            os.replace(tmp, cursor_file)

    progress = Progress(sys.stderr, None, "events", quiet=args.quiet)
    with client(args) as c:
        if args.follow:
            events = c.subscribe(
                after, types=args.type, categories=args.category, verify=not args.no_verify, on_cursor=save
            )
        else:
            events = c.pull(
                after,
                limit=args.limit,
                types=args.type,
                categories=args.category,
                verify=not args.no_verify,
                prove=args.prove,
            )
        last = after
        try:
            for event in events:
                print(event_json(event, args.envelopes), flush=args.follow)
                last = event.cursor
                progress.count(event.kind)
                if progress.done % 1000 == 0:
                    save(last)
        finally:
            if last:
                save(last)
    progress.finish()
    return 0


# -- lookup, retract, feedback ------------------------------------------------------------------


def parse_query(text: str) -> Identifier:
    """``TYPE:VALUE`` (e.g. ``email:a@b.com``, ``username:instagram:alice``, ``payment_handle:$jane``)."""
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise UsageError(f"expected TYPE:VALUE (e.g. email:someone@example.com), got {text[:60]!r}")
    return Identifier(kind, value)


def _lookup_json(result: LookupResult) -> dict[str, Any]:
    return {"found": result.found, "matches": [asdict(m) for m in result.matches]}


def cmd_lookup(args: argparse.Namespace) -> int:
    queries = [parse_query(q) for q in args.queries]
    with client(args) as c:
        results = c.lookup(queries, max_distance=args.max_distance)
    for text, result in zip(args.queries, results, strict=True):
        if args.json:
            print(json.dumps({"query": text, **_lookup_json(result)}))
            continue
        print(f"{text}: {len(result.matches)} match{'' if len(result.matches) == 1 else 'es'}")
        for m in result.matches:
            fb = ", ".join(f"{k}={v}" for k, v in m.feedback.items() if v) or "no feedback"
            q = m.submitter_quality
            upheld, not_upheld = (
                q.get("confirmed", 0) + q.get("actioned", 0),
                q.get("false_positive", 0) + q.get("not_found", 0),
            )
            flags = "".join(f"  [warninglist {w}]" for w in m.warninglists)
            print(
                f"  signal {m.signal_id}  {m.category}  by {m.submitter}  last seen {_ts(m.last_seen)}  ({fb})"
                f"  submitter's record in {m.category}: {upheld} upheld, {not_upheld} not{flags}"
            )
    return 0


def _ts(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def cmd_retract(args: argparse.Namespace) -> int:
    with client(args) as c:
        done = c.retract(args.signal_id, reason=args.reason, reason_code=args.reason_code or "")
    _accepted(args, done, "retracted")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    with client(args) as c:
        done = c.feedback(args.signal_id, args.verdict)
    _accepted(
        args, done, "this was already your verdict: nothing new recorded" if done.unchanged else "feedback recorded"
    )
    return 0


def _accepted(args: argparse.Namespace, done: Accepted, what: str) -> None:
    if args.json:
        record = {
            "signal_id": args.signal_id,
            "seq": done.seq,
            "log_index": done.log_index,
            "unchanged": done.unchanged,
        }
        print(json.dumps(record))
    else:
        print(f"{what} (event {done.seq}, log index {done.log_index})")


# -- parsers --------------------------------------------------------------------------------------


def add_signal_parsers(sub: Any) -> None:
    p = member_parser(sub, "push", cmd_push, "submit signals from a CSV or JSON-lines file")
    p.add_argument(
        "file",
        metavar="FILE",
        help="CSV with columns type,value,category[,provider|platform] (a header row is skipped), JSON lines"
        " with those keys, a STIX 2.1 bundle (--format stix), or - for standard input",
    )
    p.add_argument(
        "--format",
        choices=["auto", "csv", "jsonl", "stix"],
        default="auto",
        help="input format (default auto: JSON lines when the first line starts with '{')",
    )
    p.add_argument("--category", default=None, help="with --format stix: the category of every signal")
    p.add_argument("--partial", action="store_true", help="with --format stix: submit what maps even if some cannot")
    p.add_argument("--batch-size", type=int, default=1000, metavar="N", help="signals per batch (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")

    p = member_parser(sub, "pull", cmd_pull, "print visible events as JSON lines")
    p.add_argument("--after", default=None, metavar="CURSOR", help="resume after this cursor")
    p.add_argument("--cursor-file", default=None, metavar="FILE", help="read the cursor from and save it to FILE")
    p.add_argument("--follow", action="store_true", help="stay connected and print new events live")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="stop after N events (default 0: all)")
    p.add_argument("--type", action="append", default=[], help="only this identifier type (repeatable)")
    p.add_argument("--category", action="append", default=[], help="only this category (repeatable)")
    p.add_argument("--no-verify", action="store_true", help="skip signature verification")
    p.add_argument("--prove", action="store_true", help="also check every page against the signature log")
    p.add_argument("--envelopes", action="store_true", help="include each signed envelope (base64)")
    p.add_argument("--format", choices=["jsonl", "stix"], default="jsonl", help="JSON lines, or one STIX 2.1 bundle")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")

    p = member_parser(sub, "lookup", cmd_lookup, "look up identifiers or media hashes")
    p.add_argument(
        "queries", nargs="+", metavar="TYPE:VALUE", help="e.g. email:a@b.com, payment_handle:$jane, media_pdq:<hex>"
    )
    p.add_argument("--max-distance", type=int, default=None, metavar="D", help="PDQ Hamming distance (default 31)")

    p = member_parser(sub, "retract", cmd_retract, "retract one of your signals")
    p.add_argument("signal_id", type=int, metavar="SIGNAL_ID", help="the signal's id (from push or pull)")
    p.add_argument("--reason", default="", help="why (no personal data)")
    p.add_argument(
        "--reason-code",
        default=None,
        choices=RETRACT_REASON_CODES,
        help="why, for machines; appeal_upheld, wrong_person and false_positive make it a retraction for redress:"
        " every member that received the signal is asked to acknowledge it",
    )

    p = member_parser(sub, "feedback", cmd_feedback, "give feedback on another member's signal")
    p.add_argument("signal_id", type=int, metavar="SIGNAL_ID", help="the signal's id (from pull or lookup)")
    p.add_argument("verdict", choices=VERDICTS, metavar="VERDICT", help=", ".join(VERDICTS))
