"""``sigx release | quarantine | redress``: a member's safeguard commands (its own quarantined signals, the
retractions for redress it must acknowledge)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from typing import Any

from client_sdk.vocab import REDRESS_OUTCOMES
from exchange.cli.common import client, member_parser


def _ts(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else "-"


def cmd_release(args: argparse.Namespace) -> int:
    with client(args) as c:
        done = c.release(args.signal_id, reason=args.reason)
    if args.json:
        print(json.dumps({"signal_id": args.signal_id, "seq": done.seq, "log_index": done.log_index}))
    else:
        print(f"released signal {args.signal_id}: it matches again (event {done.seq}, log index {done.log_index})")
    return 0


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    with client(args) as c:
        held = c.quarantined()
    if args.json:
        print(json.dumps([asdict(q) for q in held]))
        return 0
    for q in held:
        print(f"signal {q.signal_id}  {q.reason}  since {_ts(q.since)}  (event {q.seq})")
    if not held:
        print("no quarantined signals")
    return 0


def cmd_redress_list(args: argparse.Namespace) -> int:
    with client(args) as c:
        items = c.redress(pending_only=args.pending)
    if args.json:
        print(json.dumps([asdict(r) for r in items]))
        return 0
    for r in items:
        state = f"acknowledged {_ts(r.acknowledged_at)}: {r.outcome}" if r.outcome else "PENDING: acknowledge it"
        print(f"signal {r.signal_id}  received by {r.received_via}  retracted {_ts(r.retracted_at)}  {state}")
    if not items:
        print("no retractions for redress" + (" pending" if args.pending else ""))
    return 0


def cmd_redress_ack(args: argparse.Namespace) -> int:
    with client(args) as c:
        done = c.acknowledge(args.signal_id, args.outcome)
    if args.json:
        print(json.dumps({"signal_id": args.signal_id, "seq": done.seq, "log_index": done.log_index}))
    else:
        print(f"acknowledged signal {args.signal_id}: {args.outcome} (event {done.seq}, log index {done.log_index})")
    return 0


def add_safeguard_parsers(sub: Any) -> None:
    p = member_parser(sub, "release", cmd_release, "release one of your quarantined signals (it matches again)")
    p.add_argument("signal_id", type=int, metavar="SIGNAL_ID", help="the signal's id (sigx quarantine list)")
    p.add_argument("--reason", default="", help="why (kept in the signed log entry; no personal data)")
    quarantine = sub.add_parser("quarantine", help="your quarantined signals").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    member_parser(quarantine, "list", cmd_quarantine_list, "your quarantined signals, why and since when")
    redress = sub.add_parser("redress", help="retractions for redress of signals you received").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = member_parser(redress, "list", cmd_redress_list, "retractions for redress of signals you received")
    p.add_argument("--pending", action="store_true", help="only those you have not acknowledged")
    p = member_parser(redress, "ack", cmd_redress_ack, "acknowledge a retraction for redress (a signed log entry)")
    p.add_argument("signal_id", type=int, metavar="SIGNAL_ID", help="the retracted signal's id")
    p.add_argument(
        "outcome",
        choices=REDRESS_OUTCOMES,
        metavar="OUTCOME",
        help="what you had done on it: " + ", ".join(REDRESS_OUTCOMES),
    )
