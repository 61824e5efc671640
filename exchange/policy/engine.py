"""Every access decision of the exchange, in one place.

The interceptor asks ``admit`` for each call (certificate, role, status,
method), and long streams ask again as they go (``readmit``); the services ask
``check_submit``, ``read_filter``, ``can_read`` and ``charge`` for each item.
Denials are PermissionDeniedError naming the rule that denied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from client_sdk.vocab import TYPE_CODES, TYPE_NAMES
from exchange.errors import (
    ExchangeError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    UnauthenticatedError,
    UnavailableError,
    quoted,
)
from exchange.identity import Caller
from exchange.policy.document import PolicyDocument, Rules, matches
from exchange.policy.quota import QuotaLedger
from exchange.safeguards import charter as charters
from exchange.safeguards.charter import Charter
from exchange.store.base import EventFilter, SignalRecord, Store

_PKG = "/signal_exchange.v1."
ALL_ROLES = frozenset({"member", "operator", "auditor"})
MEMBERS = frozenset({"member"})

# Which roles may call which method. A method missing here is refused (fail closed).
METHOD_ROLES: dict[str, frozenset[str]] = {
    **{f"{_PKG}Exchange/{m}": MEMBERS for m in ("Submit", "SubmitStream", "Pull", "Subscribe", "Lookup", "Feedback")},
    f"{_PKG}Exchange/Retract": frozenset({"member", "operator"}),
    f"{_PKG}Pseudonymizer/GetPublicKey": ALL_ROLES,
    f"{_PKG}Pseudonymizer/Evaluate": frozenset({"member", "operator"}),
    **{f"{_PKG}Directory/{m}": ALL_ROLES for m in ("ListMembers", "ListSigningKeys", "WhoAmI")},
    **{
        f"{_PKG}Admin/{m}": frozenset({"operator"})
        for m in (
            "ApplyChange",
            "GetMember",
            "GetPolicy",
            "ListGroups",
            "ListCategories",
            "RunRetention",
            "GetStats",
            "GetCharter",
            "ListWarninglists",
            "GetReport",
        )
    },
    **{
        f"{_PKG}Log/{m}": ALL_ROLES
        for m in ("GetCheckpoint", "GetInclusionProof", "GetInclusionProofs", "GetConsistencyProof")
    },
    f"{_PKG}Log/GetEntries": frozenset({"auditor", "operator"}),
    **{f"{_PKG}Safeguards/{m}": frozenset({"member", "operator"}) for m in ("ListQuarantined", "ListRedress")},
    **{f"{_PKG}Safeguards/{m}": MEMBERS for m in ("Release", "Acknowledge")},
}
SUSPENDED_MAY_CALL = frozenset({f"{_PKG}Directory/WhoAmI"})
# The charter action each member method takes (WhoAmI takes none: every member may learn who it is).
METHOD_ACTIONS: dict[str, str] = {
    **{f"{_PKG}Exchange/{m}": "submit" for m in ("Submit", "SubmitStream", "Retract")},
    **{f"{_PKG}Exchange/{m}": "read" for m in ("Pull", "Subscribe")},
    f"{_PKG}Exchange/Lookup": "lookup",
    f"{_PKG}Exchange/Feedback": "feedback",
    **{f"{_PKG}Safeguards/{m}": "submit" for m in ("Release", "ListQuarantined")},
    **{f"{_PKG}Safeguards/{m}": "read" for m in ("Acknowledge", "ListRedress")},
    **{f"{_PKG}Pseudonymizer/{m}": "pseudonymise" for m in ("GetPublicKey", "Evaluate")},
    **{f"{_PKG}Directory/{m}": "directory" for m in ("ListMembers", "ListSigningKeys")},
    **{
        f"{_PKG}Log/{m}": "log"
        for m in ("GetCheckpoint", "GetInclusionProof", "GetInclusionProofs", "GetConsistencyProof", "GetEntries")
    },
}
# The streams that may run for long: each asks ``readmit`` again as it goes.
PULL, SUBSCRIBE, SUBMIT_STREAM = (f"{_PKG}Exchange/{m}" for m in ("Pull", "Subscribe", "SubmitStream"))
STREAM_RETRY = 5.0  # seconds a caller refused a stream is told to wait


class PolicyEngine:
    """Decisions from the policy in force, the directory and the quota ledger."""

    def __init__(self, store: Store, ledger: QuotaLedger, refresh: float = 1.0) -> None:
        self._store = store
        self.ledger = ledger
        self._refresh = refresh
        self._lock = threading.Lock()
        self._version = -1
        self._document = PolicyDocument()
        self._charter_version = -1
        self._charter = charters.DEFAULT_CHARTER
        self._checked = 0.0

    # -- the policy in force -------------------------------------------------

    def document(self) -> tuple[int, PolicyDocument]:
        """The policy in force and its version (re-read from the store at most every ``refresh`` s)."""
        now = time.monotonic()
        if now - self._checked >= self._refresh:
            self.reload()
        return self._version, self._document

    def reload(self) -> None:
        """Re-read the policy now (called after a local apply, so changes take effect at once)."""
        from exchange.policy.document import parse

        with self._lock:
            version, text = self._store.get_policy()
            if version != self._version:
                members = [m.member_id for m in self._store.list_members()]
                self._document = parse(text, members, self._store.categories()) if text else PolicyDocument()
                self._version = version
            charter_version, charter_text = self._store.get_charter()
            if charter_version != self._charter_version:
                self._charter = charters.from_store(charter_version, charter_text, self._store.categories())
                self._charter_version = charter_version
            self._checked = time.monotonic()

    def charter(self) -> tuple[int, Charter]:
        """The charter in force and its version (0: the default), re-read like the policy."""
        self.document()
        return self._charter_version, self._charter

    def rules(self, caller: Caller) -> Rules:
        return self.document()[1].rules_for(caller.member_id)

    # -- calls ------------------------------------------------------------------

    def admit(self, member_id: str, cert_issued: int, method: str) -> Caller:
        """The caller a client certificate (its common name and notBefore) stands for, if it may make
        this call now; raises Unauthenticated/PermissionDenied. Long streams ask again as they go."""
        member = self._store.get_member(member_id)
        if member is None:
            raise UnauthenticatedError(f"certificate names {member_id!r}, who is not in the directory")
        if cert_issued < member.certs_from:
            raise UnauthenticatedError(
                f"this certificate of {member_id} was revoked when a newer one was issued; use the newer one",
                reason="certificate_revoked",
            )
        caller = Caller(member, cert_issued)
        self.authorize(caller, method)
        return caller

    def admit_stream(self, caller: Caller, already_open: int) -> None:
        """May the caller open one more streaming call while it holds ``already_open`` on this replica?
        Raises QuotaExceededError (RESOURCE_EXHAUSTED) naming the ``max_streams`` limit."""
        limit = self.rules(caller).max_streams
        if already_open >= limit:
            raise QuotaExceededError(
                f"max_streams={limit} reached: {caller.member_id} already has {already_open} streams open on this"
                " replica; close one, or ask the operator to raise max_streams",
                retry_after=STREAM_RETRY,
                reason="max_streams",
            )

    def readmit(self, caller: Caller, method: str) -> Caller:
        """``admit`` again for a call in progress: a member suspended, removed or whose certificate was
        revoked since the call began is cut off."""
        return self.admit(caller.member_id, caller.cert_issued, method)

    def authorize(self, caller: Caller, method: str) -> None:
        """May this caller make this call at all? Raises PermissionDenied/Unauthenticated."""
        status = caller.member.status
        if status == "removed":
            raise UnauthenticatedError(f"member {caller.member_id} has been removed from the exchange")
        if status != "active" and method not in SUSPENDED_MAY_CALL:
            raise PermissionDeniedError(
                f"member {caller.member_id} is {status}: only Directory.WhoAmI is allowed", reason="member_suspended"
            )
        roles = METHOD_ROLES.get(method)
        if roles is None or caller.role not in roles:
            name = method.rsplit("/", 2)[-2:]
            raise PermissionDeniedError(f"role {caller.role} may not call {'.'.join(name)}", reason="role")
        action = METHOD_ACTIONS.get(method)
        kind = caller.member.kind
        if action is not None and caller.role == "member" and self.charter()[1].forbids(kind, action):
            raise PermissionDeniedError(
                f"charter forbid.{kind}: members of kind {kind} may not {action}", reason="charter"
            )

    # -- items ------------------------------------------------------------------

    def check_submit(self, caller: Caller, type_code: int, category: str, audience: str) -> int | None:
        """May the caller submit this type and category to this audience (a group name, "" for everyone)? The
        audience's group id. A group that does not exist is refused like one the caller is not in, so
        submitting reveals nothing about which groups exist."""
        rules = self.rules(caller)
        type_name = TYPE_NAMES.get(type_code, str(type_code))
        if not rules.allows("submit_types", type_name):
            raise PermissionDeniedError(f"policy submit_types does not allow {type_name}", reason="submit_types")
        if not rules.allows("submit_categories", category):
            raise PermissionDeniedError(
                f"policy submit_categories does not allow {category}", reason="submit_categories"
            )
        rule = self.charter()[1].category_rule(caller.member.kind, category)
        if rule is not None:
            raise PermissionDeniedError(self._category_denial(caller, rule, category), reason="charter")
        if not audience:
            return None
        group = self._store.group_id(audience)
        if group is None or group not in self._store.member_groups(caller.row):
            raise PermissionDeniedError(f"the submitter is not in audience group {quoted(audience)}", reason="audience")
        return group

    def check_retract(self, caller: Caller, signal_id: int, signal: SignalRecord | None, reason: str) -> None:
        """Members retract their own signals; operators any signal, with a reason (redress). A signal the
        caller may not retract is answered exactly like a missing one, so retraction reveals nothing about
        other members' signals."""
        if caller.role == "operator":
            if not reason.strip():
                raise InvalidArgumentError("an operator's retraction needs a reason", reason="reason_required")
            if signal is not None:
                return
        elif signal is not None and signal.submitter == caller.member_id:
            return
        raise NotFoundError(f"no signal {signal_id} that you may retract", reason="signal_not_found")

    def check_feedback(self, caller: Caller, signal_id: int, signal: SignalRecord | None, now: int) -> None:
        """Feedback is on another member's active signal the caller may see; anything else it may not see is
        answered like a missing signal."""
        if signal is None or signal.expires_at <= now or not self.can_read(caller, signal):
            raise NotFoundError(f"no active signal {signal_id}", reason="signal_not_found")
        if signal.submitter == caller.member_id:
            raise FailedPreconditionError("feedback is for other members' signals", reason="own_signal")

    def _category_denial(self, caller: Caller, rule: str, category: str) -> str:
        kinds = ", ".join(self.charter()[1].categories[rule])
        return f"charter categories.{rule}: {category} is for members of kind {kinds}, not {caller.member.kind}"

    def read_filter(
        self, caller: Caller, types: Sequence[int] = (), categories: Sequence[str] = (), lookup: bool = False
    ) -> EventFilter:
        """What the caller may read, narrowed by what it asked for; asking for more is denied. The charter
        narrows it further: categories the caller's kind may not use, and (except for a ``lookup``, which
        counts submitters itself) categories its kind sees only when corroborated."""
        rules = self.rules(caller)
        charter = self.charter()[1]
        kind = caller.member.kind

        def chartered(name: str) -> bool:
            if charter.category_rule(kind, name) is not None:
                return False
            return lookup or charter.submitters_needed(kind, name) <= 1

        for t in types:
            name = TYPE_NAMES.get(t, str(t))
            if not rules.allows("read_types", name):
                raise PermissionDeniedError(f"policy read_types does not allow {name}", reason="read_types")
        for c in categories:
            if not rules.allows("read_categories", c):
                raise PermissionDeniedError(f"policy read_categories does not allow {c}", reason="read_categories")
            rule = charter.category_rule(kind, c)
            if rule is not None:
                raise PermissionDeniedError(self._category_denial(caller, rule, c), reason="charter")
        all_categories = self._store.categories()
        readable_types = {code for name, code in TYPE_CODES.items() if rules.allows("read_types", name)}
        readable_cats = {
            c.row for name, c in all_categories.items() if rules.allows("read_categories", name) and chartered(name)
        }
        every_category = "*" in rules.read_categories and len(readable_cats) == len(all_categories)
        wanted_types = readable_types & set(types) if types else readable_types
        wanted_cats = readable_cats & {all_categories[c].row for c in categories} if categories else readable_cats
        return EventFilter(
            types=None if not types and "*" in rules.read_types else frozenset(wanted_types),
            categories=None if not categories and every_category else frozenset(wanted_cats),
            audiences=self._store.member_groups(caller.row),
            reader=caller.row,
        )

    def can_read(self, caller: Caller, signal: SignalRecord) -> bool:
        """Whether the caller may see this signal (type, category and audience)."""
        return self.reader(caller)(signal)

    def reader(self, caller: Caller) -> Callable[[SignalRecord], bool]:
        """``can_read`` for many signals: the rules and groups are read once, decisions are cached."""
        rules = self.rules(caller)
        charter = self.charter()[1]
        groups = self._store.member_groups(caller.row)
        decided: dict[tuple[int, str], bool] = {}

        def visible(signal: SignalRecord) -> bool:
            key = (signal.type, signal.category)
            allowed = decided.get(key)
            if allowed is None:
                allowed = decided[key] = (
                    matches(rules.read_types, TYPE_NAMES.get(signal.type, ""))
                    and matches(rules.read_categories, signal.category)
                    and charter.category_rule(caller.member.kind, signal.category) is None
                )
            return allowed and (signal.audience is None or signal.audience in groups)

        return visible

    def corroborated(self, caller: Caller) -> Callable[[Sequence[SignalRecord]], list[SignalRecord]] | None:
        """The charter's ``min_submitters`` for one look-up result: of the signals matching one query, those
        whose category the caller's kind may see now, given how many distinct members submitted them. None
        when the charter has no such rule (every signal is kept)."""
        charter = self.charter()[1]
        kind = caller.member.kind
        if not charter.min_submitters:
            return None

        def keep(signals: Sequence[SignalRecord]) -> list[SignalRecord]:
            submitters: dict[str, set[str]] = {}
            for s in signals:
                submitters.setdefault(s.category, set()).add(s.submitter)
            return [s for s in signals if len(submitters[s.category]) >= charter.submitters_needed(kind, s.category)]

        return keep

    def may_read_leaf(self, caller: Caller, submitter: str) -> bool:
        """Log leaf records are for their submitter, auditors and operators."""
        return caller.role in ("auditor", "operator") or submitter == caller.member_id

    def charge(self, caller: Caller, quota: str, amount: int) -> int:
        """Count ``amount`` against a quota or raise QuotaExceededError (RESOURCE_EXHAUSTED); the window."""
        return self.ledger.charge(caller.member_id, quota, amount, getattr(self.rules(caller), quota))

    @contextmanager
    def charged(self, caller: Caller, quota: str, amount: int) -> Iterator[None]:
        """``charge``, given back if the work fails because the store is unavailable: a client retrying
        through an outage (as the SDK does) is not charged once per attempt."""
        window = self.charge(caller, quota, amount)
        try:
            yield
        except UnavailableError:
            with suppress(ExchangeError):  # best effort: the store that failed may hold the ledger too
                self.ledger.refund(caller.member_id, quota, amount, window)
            raise
