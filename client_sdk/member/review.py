"""The review queue: each hit of one signal on one of the member's own ids is an item an analyst decides.

States::

    open ──decide──▶ decided          (the decision is queued as signed feedback, sent exactly once)
    open ──withdraw─▶ withdrawn       (the signal was retracted or expired: nobody acts on it)
    withdrawn ──hit─▶ open            (the same submitter submitted the same value and category again)

A decided item stays decided (a later decision replaces the verdict at the exchange); deciding a withdrawn
item is refused unless forced. Decisions keep who, when and a note locally; only the verdict is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from client_sdk.client import ExchangeClient
from client_sdk.errors import DeadlineExceededError, ExchangeRpcError, UnavailableError
from client_sdk.member.errors import ReviewError, StaleItemError
from client_sdk.member.index import MatchIndex
from client_sdk.vocab import canonical_verdict

OPEN, DECIDED, WITHDRAWN = "open", "decided", "withdrawn"
STATUSES = (OPEN, DECIDED, WITHDRAWN)
HIT, WITHDRAW, DECIDE = "hit", "withdraw", "decide"
PENDING, SENT, REFUSED = "pending", "sent", "refused"
MAX_NOTE = 4000
#: How ``ReviewQueue.page`` sorts: by corroboration then recency, or by recency.
ORDERS = {"corroboration": "corroboration DESC, last_seen DESC, id DESC", "recent": "last_seen DESC, id DESC"}


def next_status(status: str | None, action: str, *, force: bool = False, reason: str = "") -> str:
    """The state an item moves to (``status`` None: no item yet). Raises ReviewError for a refused move."""
    if action == HIT:
        return DECIDED if status == DECIDED else OPEN
    if action == WITHDRAW:
        if status is None:
            raise ReviewError("no item to withdraw")
        return WITHDRAWN if status in (OPEN, WITHDRAWN) else status
    if action == DECIDE:
        if status is None:
            raise ReviewError("no item to decide")
        if status == WITHDRAWN and not force:
            why = f" ({reason})" if reason else ""
            raise ReviewError(f"the signal was withdrawn{why}: nobody should act on it (--force to decide anyway)")
        return DECIDED
    raise ReviewError(f"unknown action {action!r}")


@dataclass(frozen=True, slots=True)
class Hit:
    """A visible signal that matched one of the member's own ids."""

    own_kind: str  # account or content
    own_id: str
    signal_id: int
    submitter: str
    type: str
    value: bytes
    category: str
    qualifier: str
    confidence: int
    seen_at: int
    expires_at: int = 0  # 0: not known yet
    distance: int = 0
    variant: str = ""  # for PDQ: which rotation or reflection of the own image matched


@dataclass(frozen=True, slots=True)
class Counts:
    """What a look-up says of an item's signal now."""

    item: int
    feedback: dict[str, int]
    corroboration: int
    first_seen: int
    last_seen: int
    expires_at: int
    quality: dict[str, int] = field(default_factory=dict)  # the submitter's record in the category


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One item of the queue, as ``sigx review list/show`` prints it."""

    id: int
    status: str
    reason: str
    own_kind: str
    own_id: str
    signal_id: int
    submitter: str
    type: str
    category: str
    qualifier: str
    confidence: int
    first_seen: int
    last_seen: int
    expires_at: int
    distance: int
    variant: str
    feedback: dict[str, int]
    corroboration: int
    changed_at: int
    value: bytes = field(repr=False, default=b"")
    #: The submitter's record in this category: members' current verdicts on its signals (confirmed, actioned,
    #: false_positive, not_found), from the last look-up.
    submitter_quality: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__ if name != "value"}  # type: ignore[attr-defined]
        data["value"] = self.value.hex()
        return data


@dataclass(frozen=True, slots=True)
class Decision:
    """An analyst's decision; ``state`` says whether its feedback was sent (pending, sent, refused)."""

    id: int
    item: int
    signal_id: int
    verdict: str
    reviewer: str
    note: str
    decided_at: int
    state: str
    attempts: int
    error: str
    sent_at: int | None
    seq: int | None
    log_index: int | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass
class SendReport:
    """What one pass over the feedback queue did."""

    sent: list[Decision] = field(default_factory=list)
    refused: list[Decision] = field(default_factory=list)
    queued: int = 0  # still pending: the exchange could not be reached
    error: str = ""


_ITEM_COLUMNS = (
    "id, status, reason, own_kind, own_id, signal_id, submitter, type, category, qualifier, confidence, first_seen,"
    " last_seen, expires_at, distance, variant, feedback, corroboration, changed_at, value, quality"
)
_DECISION_COLUMNS = (
    "id, item, signal_id, verdict, reviewer, note, decided_at, state, attempts, error, sent_at, seq, log_index"
)


def _item(row: Sequence[Any]) -> ReviewItem:
    values = list(row)
    values[16] = json.loads(values[16])
    values[19] = bytes(values[19])
    values[20] = json.loads(values[20])
    return ReviewItem(*values)


class ReviewQueue:
    """The review queue inside a MatchIndex file."""

    def __init__(self, index: MatchIndex) -> None:
        self._index = index

    # -- reading -------------------------------------------------------------------------

    def items(self, status: str | None = None) -> list[ReviewItem]:
        """Items, newest change first, optionally of one status."""
        if status is not None and status not in STATUSES:
            raise ReviewError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        where = " WHERE status = ?" if status else ""
        sql = f"SELECT {_ITEM_COLUMNS} FROM items{where} ORDER BY changed_at DESC, id DESC"
        return [_item(r) for r in self._index.query(sql, (status,) if status else ())]

    def item(self, item_id: int) -> ReviewItem:
        """One item; raises ReviewError if there is none with that id."""
        rows = self._index.query(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,))
        if not rows:
            raise ReviewError(f"no review item {item_id} in {self._index.path}")
        return _item(rows[0])

    def history(self, item_id: int) -> list[tuple[int, str, int, str]]:
        """``(at, status, signal id, reason)`` of every change of an item, oldest first."""
        sql = "SELECT at, status, signal_id, reason FROM history WHERE item = ? ORDER BY rowid"
        return [tuple(r) for r in self._index.query(sql, (item_id,))]

    def page(
        self,
        status: str,
        *,
        category: str = "",
        type: str = "",
        submitter: str = "",
        min_corroboration: int = 0,
        order: str = "corroboration",
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ReviewItem], int]:
        """One page of the items of a status that match the filters (empty: any), in ``order`` (``ORDERS``), and
        how many match in all. Raises ReviewError for an unknown status or order."""
        if status not in STATUSES:
            raise ReviewError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        if order not in ORDERS:
            raise ReviewError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
        clauses: list[str] = ["status = ?"]
        args: list[object] = [status]
        for column, value in (("category", category), ("type", type), ("submitter", submitter)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if min_corroboration:
            clauses.append("corroboration >= ?")
            args.append(min_corroboration)
        where = " AND ".join(clauses)
        total = self._index.query(f"SELECT count(*) FROM items WHERE {where}", args)[0][0]
        sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE {where} ORDER BY {ORDERS[order]} LIMIT ? OFFSET ?"
        return [_item(r) for r in self._index.query(sql, [*args, limit, offset])], total

    def summary(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Items per status, and the categories, types and submitters items have (for filters)."""
        counts = {s: 0 for s in STATUSES}
        counts.update(dict(self._index.query("SELECT status, count(*) FROM items GROUP BY status")))
        facets = {
            column: [r[0] for r in self._index.query(f"SELECT DISTINCT {column} FROM items ORDER BY 1")]
            for column in ("category", "type", "submitter")
        }
        return counts, facets

    def track_record(self, submitter: str) -> dict[str, int]:
        """This member's verdicts on a submitter's signals: the latest decision not refused of each item of
        theirs, counted by verdict."""
        sql = (
            "SELECT d.verdict, count(*) FROM decisions d JOIN items i ON i.id = d.item WHERE i.submitter = ?"
            " AND d.id = (SELECT max(id) FROM decisions WHERE item = d.item AND state != ?) GROUP BY d.verdict"
        )
        return dict(self._index.query(sql, (submitter, REFUSED)))

    def versions(self, item_ids: Sequence[int]) -> dict[int, int]:
        """Each item's version: the id of its latest history row, which every change of the item adds. A page
        that shows an item keeps its version, so a decision made from it can be refused if someone else changed
        the item meanwhile (``decide(expect_version=…)``)."""
        sql = "SELECT item, max(rowid) FROM history WHERE item IN ({marks}) GROUP BY item"
        return dict(self._index.query_in(sql, list(item_ids)))

    def decisions(self, item_id: int | None = None, state: str | None = None) -> list[Decision]:
        """Decisions of one item or all, optionally in one state, oldest first."""
        clauses: list[str] = []
        args: list[object] = []
        if item_id is not None:
            clauses.append("item = ?")
            args.append(item_id)
        if state is not None:
            clauses.append("state = ?")
            args.append(state)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT {_DECISION_COLUMNS} FROM decisions{where} ORDER BY id"
        return [Decision(*r) for r in self._index.query(sql, args)]

    def redress_outcome(self, signal_id: int) -> str:
        """What this member had done on a signal, for acknowledging its retraction for redress:
        ``action_taken`` if an analyst confirmed or actioned one of its items, else ``no_action``."""
        sql = "SELECT 1 FROM decisions WHERE signal_id = ? AND verdict IN ('confirmed', 'actioned') LIMIT 1"
        return "action_taken" if self._index.query(sql, (signal_id,)) else "no_action"

    # -- what matching records --------------------------------------------------------------

    def record_hits(self, hits: Sequence[Hit]) -> list[int]:
        """Add or refresh an item per hit, in one transaction: new items open, withdrawn ones re-open.
        The ids of items created or re-opened."""
        changed: list[int] = []
        now = int(time.time())
        with self._index.transaction() as conn:
            for hit in hits:
                key = (hit.submitter, hit.type, hit.value, hit.category, hit.own_kind, hit.own_id)
                row = conn.execute(
                    "SELECT id, status, signal_id FROM items WHERE submitter = ? AND type = ? AND value = ?"
                    " AND category = ? AND own_kind = ? AND own_id = ?",
                    key,
                ).fetchone()
                if row is None:
                    item = conn.execute(
                        "INSERT INTO items (own_kind, own_id, signal_id, submitter, type, value, category, qualifier,"
                        " confidence, first_seen, last_seen, expires_at, distance, variant, status, reason,"
                        " changed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
                        (
                            hit.own_kind, hit.own_id, hit.signal_id, hit.submitter, hit.type, hit.value, hit.category,
                            hit.qualifier, hit.confidence, hit.seen_at, hit.seen_at, hit.expires_at, hit.distance,
                            hit.variant, OPEN, now, now,
                        ),
                    ).lastrowid or 0  # fmt: skip
                    self._log(conn, item, now, OPEN, hit.signal_id, "matched")
                    changed.append(item)
                    continue
                item, status, signal = row
                new = next_status(status, HIT)
                if status == WITHDRAWN or (signal != hit.signal_id and status == OPEN):
                    reason = f"re-submitted as signal {hit.signal_id}" if status == WITHDRAWN else ""
                    conn.execute(
                        "UPDATE items SET status = ?, reason = ?, signal_id = ?, last_seen = ?, expires_at = ?,"
                        " confidence = ?, distance = ?, variant = ?, changed_at = ? WHERE id = ?",
                        (new, reason, hit.signal_id, hit.seen_at, hit.expires_at, hit.confidence, hit.distance,
                         hit.variant, now, item),
                    )  # fmt: skip
                    self._log(conn, item, now, new, hit.signal_id, reason or "matched again")
                    changed.append(item)
                else:
                    conn.execute("UPDATE items SET last_seen = max(last_seen, ?) WHERE id = ?", (hit.seen_at, item))
        return changed

    def withdraw_signal(self, signal_id: int, reason: str) -> int:
        """Mark the open items of a signal withdrawn (decided ones keep their decision, with a note in their
        history); how many were withdrawn."""
        now = int(time.time())
        with self._index.transaction() as conn:
            rows = conn.execute("SELECT id, status FROM items WHERE signal_id = ?", (signal_id,)).fetchall()
            withdrawn = 0
            for item, status in rows:
                new = next_status(status, WITHDRAW)
                if new == status:
                    if status == DECIDED:
                        self._log(conn, item, now, status, signal_id, f"signal withdrawn after the decision: {reason}")
                    continue
                conn.execute(
                    "UPDATE items SET status = ?, reason = ?, changed_at = ? WHERE id = ?", (new, reason, now, item)
                )
                self._log(conn, item, now, new, signal_id, reason)
                withdrawn += 1
        return withdrawn

    def update_counts(self, counts: Sequence[Counts]) -> None:
        """Store the exchange's current feedback counts, corroboration, first/last seen and expiry of items,
        in one transaction."""
        now = int(time.time())
        with self._index.transaction() as conn:
            conn.executemany(
                "UPDATE items SET feedback = ?, corroboration = ?, first_seen = ?, last_seen = ?, expires_at = ?,"
                " counted_at = ?, quality = ? WHERE id = ?",
                [
                    (json.dumps(c.feedback, sort_keys=True), c.corroboration, c.first_seen, c.last_seen, c.expires_at,
                     now, json.dumps(c.quality, sort_keys=True), c.item)
                    for c in counts
                ],
            )  # fmt: skip

    @staticmethod
    def _log(conn: Any, item: int, at: int, status: str, signal_id: int, reason: str) -> None:
        conn.execute(
            "INSERT INTO history (item, at, status, signal_id, reason) VALUES (?, ?, ?, ?, ?)",
            (item, at, status, signal_id, reason),
        )

    # -- decisions -------------------------------------------------------------------------------

    def decide(
        self,
        item_id: int,
        verdict: str,
        *,
        reviewer: str,
        note: str = "",
        force: bool = False,
        expect_version: int | None = None,
    ) -> Decision:
        """Record a decision and queue its feedback. Raises ReviewError for an unknown item or verdict, or a
        withdrawn item without ``force`` (saying why it was withdrawn); StaleItemError, changing nothing, if
        ``expect_version`` is given and the item changed since (``versions``): someone else decided it, or
        matching re-opened or withdrew it."""
        try:
            key = canonical_verdict(verdict)
        except ValueError as exc:
            raise ReviewError(str(exc)) from None
        if not reviewer.strip():
            raise ReviewError("a decision needs a reviewer name (--reviewer)")
        if len(note) > MAX_NOTE:
            raise ReviewError(f"the note is longer than {MAX_NOTE} characters")
        now = int(time.time())
        with self._index.transaction() as conn:
            row = conn.execute("SELECT status, reason, signal_id FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise ReviewError(f"no review item {item_id} in {self._index.path}")
            status, reason, signal_id = row
            if expect_version is not None:
                now_version = conn.execute("SELECT max(rowid) FROM history WHERE item = ?", (item_id,)).fetchone()[0]
                if now_version != expect_version:
                    why = f" ({reason})" if reason else ""
                    raise StaleItemError(
                        f"item {item_id} changed since it was shown: it is {status} now{why}; nothing was recorded"
                    )
            new = next_status(status, DECIDE, force=force, reason=reason)
            conn.execute(
                "UPDATE items SET status = ?, reason = ?, changed_at = ? WHERE id = ?",
                (new, f"{key} by {reviewer}", now, item_id),
            )
            self._log(conn, item_id, now, new, signal_id, f"{key} by {reviewer}" + (" (forced)" if force else ""))
            # an earlier unsent decision on the same item is superseded: only the latest verdict goes out
            conn.execute(
                "UPDATE decisions SET state = ?, error = 'superseded by a later decision' WHERE item = ? AND state = ?",
                (REFUSED, item_id, PENDING),
            )
            conn.execute(
                "INSERT INTO decisions (item, signal_id, verdict, reviewer, note, decided_at, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item_id, signal_id, key, reviewer.strip(), note, now, PENDING),
            )
        return self.decisions(item_id)[-1]

    def send_feedback(self, client: ExchangeClient) -> SendReport:
        """Send every pending decision's verdict as signed feedback, each exactly once: a decision is marked
        sent (with its log receipt) as soon as the exchange accepts it, refused if the exchange refuses it for
        good (the signal is gone or retracted), and kept pending if the exchange cannot be reached."""
        report = SendReport()
        for decision in self.decisions(state=PENDING):
            try:
                accepted = client.feedback(decision.signal_id, decision.verdict)
            except (UnavailableError, DeadlineExceededError) as exc:
                self._attempted(decision.id, exc.diagnostics())
                report.queued = len(self.decisions(state=PENDING))
                report.error = exc.diagnostics()
                return report
            except ExchangeRpcError as exc:
                self._finish(decision.id, REFUSED, error=exc.diagnostics())
                report.refused.append(self.decisions(decision.item)[-1])
                continue
            self._finish(decision.id, SENT, seq=accepted.seq, log_index=accepted.log_index)
            report.sent.append(next(d for d in self.decisions(decision.item) if d.id == decision.id))
        return report

    def _attempted(self, decision_id: int, error: str) -> None:
        with self._index.transaction() as conn:
            conn.execute("UPDATE decisions SET attempts = attempts + 1, error = ? WHERE id = ?", (error, decision_id))

    def _finish(
        self, decision_id: int, state: str, *, error: str = "", seq: int | None = None, log_index: int | None = None
    ) -> None:
        with self._index.transaction() as conn:
            conn.execute(
                "UPDATE decisions SET state = ?, attempts = attempts + 1, error = ?, sent_at = ?, seq = ?,"
                " log_index = ? WHERE id = ?",
                (state, error, int(time.time()) if state == SENT else None, seq, log_index, decision_id),
            )
