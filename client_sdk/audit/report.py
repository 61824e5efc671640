"""The transparency report: every number rebuilt from the signature log alone.

The exchange publishes a report for a period (``sigx admin report --period 2026-Q4``): counts per category,
type and member kind of signals shared, retracted (and for redress), quarantined, feedback outcomes, redress
acknowledgement times and members by kind, signed with the log key and anchored to a checkpoint. Anyone with
the log rebuilds it here (``sigx audit report REPORT``) from the entries the checkpoint covers, with no
access to the exchange's database, and compares number by number.

Counts from 1 to 9 are published as ``"< 10"`` (and acknowledgement times only from 10 acknowledgements),
so no single member's activity can be read off a report.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from client_sdk import merkle
from client_sdk.envelope import EnvelopeError, open_envelope
from client_sdk.log_entry import NO_LEAF, EntryError, LogEntry
from client_sdk.note import Checkpoint, NoteError, open_checkpoint, open_note, parse_note, sign_note
from client_sdk.vocab import EVENT_KINDS, REDRESS_REASON_CODES, TYPE_NAMES, VERDICT_NAMES

FORMAT = "sigx-transparency-report/1"
SMALL = 10  # counts below this (but above 0) are published as "< 10"
DEFAULT_FP_THRESHOLD = 3  # the policy's quarantine_false_positives when no policy sets it
_PERIOD = re.compile(r"(\d{4})(?:-Q([1-4]))?")

Entry = tuple[int, bytes, bytes]  # index, leaf record, envelope (b"" once purged)


class ReportError(ValueError):
    """A malformed period or report, or one whose signature or anchor does not verify."""


def period_bounds(period: str, now: float) -> tuple[int, int]:
    """``2026-Q4`` (a quarter) or ``2026`` (a year) as [start, end) Unix times, UTC. Raises ReportError for a
    malformed period or one that has not begun at ``now``."""
    m = _PERIOD.fullmatch(period)
    if m is None:
        raise ReportError(f"period {period[:20]!r}: expected YEAR-QN (e.g. 2026-Q4) or YEAR")
    year = int(m.group(1))
    if not 1970 <= year <= 9998:
        raise ReportError(f"period {period}: the year is out of range")
    if m.group(2):
        q = int(m.group(2))
        start = calendar.timegm((year, 3 * q - 2, 1, 0, 0, 0))
        end = calendar.timegm((year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, 0, 0, 0))
    else:
        start, end = calendar.timegm((year, 1, 1, 0, 0, 0)), calendar.timegm((year + 1, 1, 1, 0, 0, 0))
    if start > now:
        raise ReportError(f"period {period} is in the future: it has not begun")
    return start, end


def shown(n: int) -> int | str:
    """A count as published: 0, ``"< 10"`` for 1 to 9, else the count."""
    return n if n == 0 or n >= SMALL else f"< {SMALL}"


@dataclass
class _Signal:
    category: str
    type: str
    submitter: str
    type_code: int
    value: bytes
    expires: int
    active: bool = True
    quarantined: bool = False
    false_positives: set[str] = field(default_factory=set)


@dataclass
class Tally:
    """Replays the log in order; counts what happened between ``start`` and ``end`` (entry times)."""

    start: int
    end: int
    members: dict[str, dict[str, str]] = field(default_factory=dict)
    fp_threshold: int = DEFAULT_FP_THRESHOLD
    signals: dict[int, _Signal] = field(default_factory=dict)
    keys: dict[tuple[str, int, bytes, str], int] = field(default_factory=dict)
    by_value: dict[tuple[int, bytes], set[int]] = field(default_factory=dict)
    warninglists: dict[str, str] = field(default_factory=dict)
    redress_at: dict[int, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    ack_seconds: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def _in(self, t: int) -> bool:
        return self.start <= t < self.end

    def _count(self, t: int, *keys: str) -> None:
        if self._in(t):
            for k in keys:
                self.counts[k] += 1

    def add(self, index: int, leaf: bytes, envelope: bytes) -> None:
        """One entry (in log order)."""
        if not leaf:
            self.problems.append(f"entry {index}: {NO_LEAF}")
            return
        try:
            entry = LogEntry.decode(leaf)
        except EntryError as exc:
            self.problems.append(f"entry {index}: leaf record: {exc}")
            return
        if not envelope:
            return  # purged by retention: only expired signals' entries, already counted when they happened
        if not entry.matches(envelope):
            self.problems.append(f"entry {index}: the envelope does not match its leaf record (edited)")
        try:
            body: Any = open_envelope(envelope).body()
        except EnvelopeError as exc:
            self.problems.append(f"entry {index}: {exc}")
            return
        kind = EVENT_KINDS.get(entry.kind, "")
        getattr(self, f"_{kind}", lambda *_: None)(index + 1, entry, body)

    # -- one kind of entry each -----------------------------------------------------------------

    def _submit(self, seq: int, entry: LogEntry, body: Any) -> None:
        key = (body.submitter, body.type, bytes(body.value), body.category)
        sid = self.keys.setdefault(key, seq)  # submitted again after a retraction: the same signal, revived
        kind = self.members.get(body.submitter, {}).get("kind", "") or "none"
        type_name = TYPE_NAMES.get(body.type, str(body.type))
        before = self.signals.get(sid)
        self.signals[sid] = _Signal(
            body.category, type_name, body.submitter, body.type, bytes(body.value), entry.expires_at
        )
        if before is not None:  # its quarantine and the verdicts on it stay with it
            self.signals[sid].quarantined = before.quarantined
            self.signals[sid].false_positives = before.false_positives
        self.by_value.setdefault((body.type, bytes(body.value)), set()).add(sid)
        self._count(
            entry.time,
            "shared.total",
            f"shared.by_category.{body.category}",
            f"shared.by_type.{type_name}",
            f"shared.by_member_kind.{kind}",
        )

    def _retract(self, seq: int, entry: LogEntry, body: Any) -> None:
        signal = self.signals.get(body.signal_id)
        if signal is None:
            return
        signal.active = False
        redress = self.members.get(body.submitter, {}).get("role") == "operator" or (
            body.reason_code in REDRESS_REASON_CODES
        )
        self._count(entry.time, "retracted.total", f"retracted.by_category.{signal.category}")
        if redress:
            self.redress_at[body.signal_id] = entry.time
            self._count(entry.time, "retracted.for_redress")

    def _feedback(self, seq: int, entry: LogEntry, body: Any) -> None:
        verdict = VERDICT_NAMES.get(body.verdict, str(body.verdict))
        self._count(entry.time, f"feedback.{verdict}")
        signal = self.signals.get(body.signal_id)
        if signal is None:
            return
        if verdict == "false_positive":
            signal.false_positives.add(body.submitter)
        else:
            signal.false_positives.discard(body.submitter)
        if (
            verdict == "false_positive"
            and self.fp_threshold
            and len(signal.false_positives) >= self.fp_threshold
            and not signal.quarantined
        ):
            self._quarantine(signal, entry.time, "false_positive")

    def _quarantine(self, signal: _Signal, t: int, reason: str) -> None:
        signal.quarantined = True
        self._count(t, "quarantined.total", f"quarantined.by_reason.{reason}")

    def _safeguard(self, seq: int, entry: LogEntry, body: Any) -> None:
        action = body.WhichOneof("action")
        if action == "quarantine":
            signal = self.signals.get(body.quarantine.signal_id)
            if signal is not None and not signal.quarantined:
                self._quarantine(signal, entry.time, body.quarantine.reason or "match_flood")
        elif action == "release":
            signal = self.signals.get(body.release.signal_id)
            if signal is not None:
                signal.quarantined = False
        elif action == "acknowledge":
            retracted = self.redress_at.get(body.acknowledge.signal_id)
            if retracted is not None and self._in(entry.time):
                self.ack_seconds.append(entry.time - retracted)
                self.counts[f"acknowledged.{body.acknowledge.outcome}"] += 1

    def _admin(self, seq: int, entry: LogEntry, body: Any) -> None:
        kind = body.WhichOneof("change")
        if kind is None:
            return
        ch: Any = getattr(body, kind)
        if kind == "add_member":
            role = ch.role or "member"
            self.members[ch.member_id] = {
                "role": role,
                "kind": ch.kind or ("platform" if role == "member" else ""),
                "status": "active",
            }
        elif kind == "set_member_kind" and ch.member_id in self.members:
            self.members[ch.member_id]["kind"] = ch.kind
        elif kind == "set_member_status" and ch.member_id in self.members:
            self.members[ch.member_id]["status"] = ch.status
        elif kind == "apply_policy":
            try:
                defaults = tomllib.loads(ch.document).get("defaults", {})
            except tomllib.TOMLDecodeError:
                defaults = {}
            self.fp_threshold = int(defaults.get("quarantine_false_positives", DEFAULT_FP_THRESHOLD))
        elif kind == "create_warninglist":
            self.warninglists.setdefault(ch.name, ch.mode)
        elif kind == "set_warninglist_entries" and not ch.remove and self.warninglists.get(ch.list) == "block":
            for value in ch.values:
                for sid in sorted(self.by_value.get((ch.type, bytes(value)), ())):
                    listed = self.signals[sid]
                    if listed.active and listed.expires > entry.time and not listed.quarantined:
                        self._quarantine(listed, entry.time, "warninglist")
        elif kind == "set_quarantine":
            held = self.signals.get(ch.signal_id)
            if held is None:
                return
            if ch.quarantined and not held.quarantined:
                self._quarantine(held, entry.time, "operator")
            elif not ch.quarantined:
                held.quarantined = False

    # -- the numbers --------------------------------------------------------------------------

    def numbers(self) -> dict[str, Any]:
        """The report's numbers, as published (small counts hidden), nested by section."""
        out: dict[str, Any] = {}
        for key, n in sorted(self.counts.items()):
            node = out
            *path, last = key.split(".", 2)  # a category's own dots stay in its name
            for part in path:
                node = node.setdefault(part, {})
            node[last] = shown(n)
        out.setdefault("shared", {}).setdefault("total", 0)
        out.setdefault("retracted", {}).setdefault("total", 0)
        out["retracted"].setdefault("for_redress", 0)
        out.setdefault("quarantined", {}).setdefault("total", 0)
        times = sorted(self.ack_seconds)
        ack: dict[str, Any] = {"count": shown(len(times))}
        if len(times) >= SMALL:
            ack["median_seconds"] = _rank(times, 0.5)
            ack["p90_seconds"] = _rank(times, 0.9)
        out["redress_acknowledgement"] = ack
        kinds = Counter(
            m["kind"] or "none" for m in self.members.values() if m["role"] == "member" and m["status"] != "removed"
        )
        out["members_by_kind"] = {k: shown(n) for k, n in sorted(kinds.items())}
        return out


def _rank(values: list[int], q: float) -> int:
    """The nearest-rank ``q`` quantile of sorted ``values``."""
    return values[max(0, math.ceil(q * len(values)) - 1)]


def rebuild(entries: Iterable[Entry], start: int, end: int) -> Tally:
    """Replay ``entries`` (the whole log up to the anchor, in order) and count the period [start, end)."""
    tally = Tally(start, end)
    for index, leaf, envelope in entries:
        tally.add(index, leaf, envelope)
    return tally


# -- the signed document ------------------------------------------------------------------------


def document(period: str, start: int, end: int, checkpoint: str, numbers: dict[str, Any]) -> str:
    """The report's text (what is signed): the format line, then canonical JSON."""
    body = {"period": period, "start": start, "end": end, "checkpoint": checkpoint, "numbers": numbers}
    return f"{FORMAT}\n{json.dumps(body, indent=1, sort_keys=True)}\n"


def sign(text: str, name: str, sign_bytes: Any, public_key: bytes) -> str:
    """The report signed as a C2SP note with the log key."""
    return sign_note(text, name, sign_bytes, public_key)


@dataclass(frozen=True, slots=True)
class Report:
    period: str
    start: int
    end: int
    checkpoint: Checkpoint
    checkpoint_note: str
    numbers: dict[str, Any]


def open_report(note: str, log_public_key: bytes, log_key_name: str, origin: str | None = None) -> Report:
    """Verify a report's signature by the log key and its anchor checkpoint; parse it. Raises ReportError."""
    try:
        text = open_note(note, log_key_name, log_public_key)
    except NoteError as exc:
        raise ReportError(f"the report's signature: {exc}") from None
    first, _, rest = text.partition("\n")
    if first != FORMAT:
        raise ReportError(f"not a transparency report (first line {first[:40]!r})")
    try:
        body = json.loads(rest)
        checkpoint = open_checkpoint(body["checkpoint"], log_public_key, log_key_name, origin=origin)
        return Report(
            body["period"], int(body["start"]), int(body["end"]), checkpoint, body["checkpoint"], body["numbers"]
        )
    except (ValueError, KeyError, TypeError, NoteError) as exc:
        raise ReportError(f"malformed report: {exc}") from None


def flatten(numbers: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``section.key`` -> value for every number of a report."""
    for key, value in sorted(numbers.items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, name + ".")
        else:
            yield name, value


@dataclass(frozen=True, slots=True)
class Comparison:
    agree: list[str]
    disagree: list[tuple[str, Any, Any]]  # name, the report's value, the log's
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.disagree and not self.problems


def check(report: Report, entries: Iterable[Entry]) -> Comparison:
    """Rebuild ``report`` from the log's entries (exactly the anchor checkpoint's, in order) and compare."""
    tree = merkle.CompactRange()

    def tee() -> Iterator[Entry]:
        for e in entries:
            tree.append(merkle.leaf_hash(e[1]))
            yield e

    tally = rebuild(tee(), report.start, report.end)
    problems = list(tally.problems)
    if tree.size != report.checkpoint.size:
        problems.append(f"the log gave {tree.size} entries, the report's checkpoint covers {report.checkpoint.size}")
    elif (tree.root() if tree.size else merkle.EMPTY_ROOT) != report.checkpoint.root:
        problems.append("the entries do not hash to the report's checkpoint (the log was rewritten)")
    mine = dict(flatten(tally.numbers()))
    theirs = dict(flatten(report.numbers))
    agree, disagree = [], []
    for name in sorted(set(mine) | set(theirs)):
        a, b = theirs.get(name, 0), mine.get(name, 0)
        (agree.append(name) if a == b else disagree.append((name, a, b)))  # type: ignore[func-returns-value]
    return Comparison(agree, disagree, problems)


def unverified_period(note: str) -> str:
    """The period a report note names (before verifying it), for messages."""
    text, _ = parse_note(note)
    return str(json.loads(text.partition("\n")[2]).get("period", "?"))
