"""The operator's changes: members, keys, groups, policy and taxonomy.

Each change arrives as an AdminChange envelope signed by an operator; it is
validated, then applied in the same transaction that records it as an event.
A dry run validates and describes the change without making it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from client_sdk.envelope import PAYLOAD_ADMIN
from client_sdk.keys import is_valid_public_key, key_id_for
from client_sdk.vocab import TYPE_NAMES, VALUE_BYTES
from client_sdk.wire import admin_pb2
from exchange.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError, quoted
from exchange.identity import Caller
from exchange.pki.ca import CertificateAuthority, IssuedCert, describe, issued_at, not_after, parse_tls_public_key
from exchange.policy import document as policy_doc
from exchange.policy.engine import PolicyEngine
from exchange.policy.quota import UsageSummary
from exchange.safeguards import charter as charters
from exchange.safeguards.service import MODES, SYSTEM_MEMBER, SYSTEM_ROLE
from exchange.services.envelopes import EnvelopeOpener
from exchange.store.base import (
    AdminEvent,
    Category,
    CertificateRecord,
    GroupRecord,
    MemberRecord,
    Stats,
    Store,
    WarninglistRecord,
)

ROLES = ("member", "operator", "auditor")
STATUSES = ("active", "suspended", "removed")
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
CATEGORY = re.compile(r"[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*){0,3}")
MAX_RETENTION_DAYS = 3650
MAX_WARNINGLIST_VALUES = 10_000  # per change
MAX_DESCRIPTION = 256


@dataclass(frozen=True, slots=True)
class ChangeResult:
    seq: int
    summary: str
    certificate: IssuedCert | None = None
    key_id: str = ""


def _name(value: str, what: str) -> str:
    if not NAME.fullmatch(value):
        raise InvalidArgumentError(f"{what} must match {NAME.pattern}, got {quoted(value)}", reason="bad_name")
    return value


def _public_key(raw: bytes) -> bytes:
    if not is_valid_public_key(raw):
        raise InvalidArgumentError(
            "not a valid Ed25519 public key (32 bytes, canonical, not of small order)", reason="bad_key"
        )
    return raw


def _tls_public_key(der: bytes) -> ec.EllipticCurvePublicKey | None:
    """The member's own TLS public key, or None (empty: the exchange makes the key)."""
    if not der:
        return None
    try:
        return parse_tls_public_key(der)
    except ValueError as exc:
        raise InvalidArgumentError(f"tls_public_key: {exc}", reason="bad_tls_key") from None


def certificate_record(cert: IssuedCert) -> CertificateRecord:
    """What the store records of a certificate the CA issued (the store adds when and by which event)."""
    return CertificateRecord(*describe(cert.cert_pem))


class AdminService:
    """Applies signed admin changes."""

    def __init__(
        self,
        store: Store,
        opener: EnvelopeOpener,
        policy: PolicyEngine,
        ca: Callable[[], CertificateAuthority],
    ) -> None:
        self._store = store
        self._opener = opener
        self._policy = policy
        self._ca = ca

    def apply(self, caller: Caller, envelope: bytes, dry_run: bool = False) -> ChangeResult:
        """Verify and apply (or, with ``dry_run``, only describe) one signed change."""
        body: Any
        body, now = self._opener.open_one(caller, envelope, PAYLOAD_ADMIN)
        kind = body.WhichOneof("change")
        if kind is None:
            raise InvalidArgumentError("the change is empty", reason="empty_change")
        event = None if dry_run else AdminEvent(caller.row, envelope, now)
        handler = getattr(self, f"_{kind}")
        return handler(caller, getattr(body, kind), event, now)

    @staticmethod
    def _done(event: AdminEvent | None, changed: bool, summary: str, already: str) -> ChangeResult:
        """What a change did (``summary``), would do (a dry run), or why it did nothing (``already``)."""
        if not changed:
            return ChangeResult(0, f"no change: {already}")
        return ChangeResult(0, f"would: {summary}") if event is None else ChangeResult(event.seq, summary)

    def _add_member(self, caller: Caller, ch: admin_pb2.AddMember, event: AdminEvent | None, now: int) -> ChangeResult:
        member_id = _name(ch.member_id, "member_id")
        role = ch.role or "member"
        if role == SYSTEM_ROLE:  # the exchange's own key, registered once (datadir.bootstrap does it)
            if member_id != SYSTEM_MEMBER or any(m.role == SYSTEM_ROLE for m in self._store.list_members()):
                raise FailedPreconditionError(
                    f"the one {SYSTEM_ROLE} member is {SYSTEM_MEMBER!r}, registered once", reason="bad_role"
                )
        elif role not in ROLES:
            raise InvalidArgumentError(f"role must be one of {', '.join(ROLES)}", reason="bad_role")
        kind = ch.kind or ("platform" if role == "member" else "")
        if kind:
            charters.check_kind(self._policy.charter()[1], kind)
        public_key = _public_key(ch.signing_public_key)
        key_id = key_id_for(public_key)
        tls_key = _tls_public_key(ch.tls_public_key)
        if self._store.get_member(member_id) is not None:
            raise FailedPreconditionError(f"member {quoted(member_id)} already exists", reason="member_exists")
        what = f"{role} {member_id}" + (f" of kind {kind}" if kind else "")
        if event is None:
            return ChangeResult(0, f"would add {what} with key {key_id}", key_id=key_id)
        cert = self._ca().issue_client(member_id, tls_key)  # before the event: nothing logged if this fails
        name = ch.display_name or member_id
        self._store.add_member(member_id, role, name, now, event, (key_id, public_key), kind, certificate_record(cert))
        return ChangeResult(event.seq, f"added {what} with key {key_id}", cert, key_id)

    def _set_member_kind(
        self, caller: Caller, ch: admin_pb2.SetMemberKind, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        member = self._store.get_member(ch.member_id)
        if member is None:
            raise NotFoundError(f"no member {quoted(ch.member_id)}", reason="member_not_found")
        charters.check_kind(self._policy.charter()[1], ch.kind)
        document = self._policy.document()[1]
        kinds = {m.member_id: m.kind for m in self._store.list_members()} | {ch.member_id: ch.kind}
        charters.check_policy(self._policy.charter()[1], document, kinds, self._store.categories())
        summary = f"{ch.member_id}: kind {member.kind or '-'} -> {ch.kind}"
        already = f"{ch.member_id} is of kind {ch.kind} already"
        if event is None:
            return self._done(None, member.kind != ch.kind, summary, already)
        changed = self._store.set_member_kind(ch.member_id, ch.kind, event)
        self._policy.reload()
        return self._done(event, changed, summary, already)

    def _apply_charter(
        self, caller: Caller, ch: admin_pb2.ApplyCharter, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        if ch.sha256 != charters.digest(ch.document):
            raise InvalidArgumentError(
                "sha256 is not the SHA-256 of the charter document sent", reason="charter_digest"
            )
        new = charters.parse(ch.document, self._store.categories())
        version, old = self._policy.charter()
        if ch.base_version and ch.base_version != version:
            raise FailedPreconditionError(
                f"the charter changed (now version {version}, the change was against {ch.base_version})",
                reason="charter_changed",
            )
        kinds = {m.member_id: m.kind for m in self._store.list_members()}
        charters.check_members(new, kinds)
        charters.check_policy(new, self._policy.document()[1], kinds, self._store.categories())
        if new == old and version:
            return ChangeResult(0, "no change: the charter in force is the same")
        if event is None:
            return ChangeResult(0, f"would put charter sha256:{ch.sha256.hex()[:16]} in force")
        new_version = self._store.set_charter(ch.document, ch.sha256, version, event)
        self._policy.reload()
        return ChangeResult(event.seq, f"charter version {new_version} (sha256:{ch.sha256.hex()}) in force")

    def _issue_certificate(
        self, caller: Caller, ch: admin_pb2.IssueCertificate, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        member = self._store.get_member(ch.member_id)
        if member is None:
            raise NotFoundError(f"no member {quoted(ch.member_id)}", reason="member_not_found")
        if member.status != "active":
            raise FailedPreconditionError(
                f"member {quoted(ch.member_id)} is {member.status}: certificates are issued to active members only",
                reason="member_not_active",
            )
        if ch.revoke_earlier and ch.member_id == caller.member_id:
            raise FailedPreconditionError(
                "an operator cannot revoke its own certificates (a lost reply would lock it out); ask another operator",
                reason="own_certificate",
            )
        public_key = _tls_public_key(ch.tls_public_key)
        whose = "its own key" if public_key is not None else "a key made by the exchange"
        revoking = "; earlier ones revoked" if ch.revoke_earlier else ""
        if event is None:
            return ChangeResult(0, f"would issue a TLS client certificate to {ch.member_id} for {whose}{revoking}")
        cert = self._ca().issue_client(ch.member_id, public_key)  # before the event: nothing logged if this fails
        revoke_before = issued_at(cert.cert_pem) if ch.revoke_earlier else None
        self._store.record_certificate(ch.member_id, certificate_record(cert), revoke_before, event)
        summary = f"issued a TLS client certificate to {ch.member_id} for {whose}{revoking}"
        return ChangeResult(event.seq, f"{summary}; valid until {not_after(cert.cert_pem):%Y-%m-%d}", cert)

    def _set_member_status(
        self, caller: Caller, ch: admin_pb2.SetMemberStatus, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        if ch.status not in STATUSES:
            raise InvalidArgumentError(f"status must be one of {', '.join(STATUSES)}", reason="bad_status")
        if ch.member_id == caller.member_id:
            raise FailedPreconditionError("an operator cannot change its own status", reason="own_status")
        member = self._store.get_member(ch.member_id)
        if member is None:
            raise NotFoundError(f"no member {quoted(ch.member_id)}", reason="member_not_found")
        if member.status == "removed" and ch.status != "removed":
            raise FailedPreconditionError(
                f"member {quoted(ch.member_id)} was removed, which is final: its certificate and keys stay refused;"
                " onboard it again under a new member id with new credentials",
                reason="member_removed",
            )
        summary = f"{ch.member_id}: {member.status} -> {ch.status}"
        already = f"{ch.member_id} is {ch.status} already"
        if event is None:
            return self._done(None, member.status != ch.status, summary, already)
        return self._done(event, self._store.set_member_status(ch.member_id, ch.status, event), summary, already)

    def _register_key(
        self, caller: Caller, ch: admin_pb2.RegisterKey, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        public_key = _public_key(ch.public_key)
        key_id = key_id_for(public_key)
        if self._store.get_member(ch.member_id) is None:
            raise NotFoundError(f"no member {quoted(ch.member_id)}", reason="member_not_found")
        if self._store.get_signing_key(key_id) is not None:
            raise FailedPreconditionError(f"key {key_id} is already registered", reason="key_exists")
        if event is not None:
            self._store.add_signing_key(ch.member_id, key_id, public_key, now, event)
        seq = 0 if event is None else event.seq
        return ChangeResult(seq, f"registered key {key_id} for {ch.member_id}", key_id=key_id)

    def _end_key(self, key_id: str, revoke: bool, event: AdminEvent | None, now: int) -> ChangeResult:
        key = self._store.get_signing_key(key_id)
        if key is None:
            raise NotFoundError(f"no signing key {key_id}", reason="key_not_found")
        verb = "revoked" if revoke else "retired"
        summary = f"{verb} key {key_id} of {key.member_id}"
        already = f"key {key_id} of {key.member_id} was {verb} already"
        if event is None:
            return self._done(None, (key.revoked_at if revoke else key.not_after) is None, summary, already)
        return self._done(event, self._store.end_signing_key(key_id, now, revoke, event), summary, already)

    def _retire_key(self, caller: Caller, ch: admin_pb2.RetireKey, event: AdminEvent | None, now: int) -> ChangeResult:
        return self._end_key(ch.key_id, False, event, now)

    def _revoke_key(self, caller: Caller, ch: admin_pb2.RevokeKey, event: AdminEvent | None, now: int) -> ChangeResult:
        return self._end_key(ch.key_id, True, event, now)

    def _create_group(
        self, caller: Caller, ch: admin_pb2.CreateGroup, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        name = _name(ch.name, "group name")
        already = f"group {name} exists"
        if event is None:
            return self._done(None, self._store.group_id(name) is None, f"create group {name}", already)
        return self._done(event, self._store.create_group(name, event), f"created group {name}", already)

    def _set_group_membership(
        self, caller: Caller, ch: admin_pb2.SetGroupMembership, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        verb = "added" if ch.member else "removed"
        summary = f"{verb} {ch.member_id} {'to' if ch.member else 'from'} group {ch.group}"
        already = f"{ch.member_id} is {'in' if ch.member else 'not in'} group {ch.group} already"
        if self._store.group_id(ch.group) is None:
            raise NotFoundError(f"no group {quoted(ch.group)}", reason="group_not_found")
        member = self._store.get_member(ch.member_id)
        if member is None:
            raise NotFoundError(f"no member {quoted(ch.member_id)}", reason="member_not_found")
        if event is None:
            inside = self._store.group_id(ch.group) in self._store.member_groups(member.row)
            return self._done(None, inside != ch.member, summary, already)
        changed = self._store.set_group_membership(ch.group, ch.member_id, ch.member, event)
        return self._done(event, changed, summary, already)

    def _apply_policy(
        self, caller: Caller, ch: admin_pb2.ApplyPolicy, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        directory = self._store.list_members()
        new = policy_doc.parse(ch.document, [m.member_id for m in directory], self._store.categories())
        charters.check_policy(
            self._policy.charter()[1], new, {m.member_id: m.kind for m in directory}, self._store.categories()
        )
        version, old = self._policy.document()
        if ch.base_version and ch.base_version != version:
            raise FailedPreconditionError(
                f"the policy changed (now version {version}, diff was against {ch.base_version}); review it again",
                reason="policy_changed",
            )
        changes = policy_doc.diff(old, new)
        if event is None or not changes:
            return ChangeResult(0, changes or "no change: the policy in force is the same")
        new_version = self._store.set_policy(new.render(), version, event)
        self._policy.reload()
        return ChangeResult(event.seq, f"policy version {new_version} in force\n{changes}")

    def _create_warninglist(
        self, caller: Caller, ch: admin_pb2.CreateWarninglist, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        name = _name(ch.name, "warninglist name")
        if ch.mode not in MODES:
            raise InvalidArgumentError(
                f"mode must be one of {', '.join(MODES)}, got {quoted(ch.mode)}", reason="bad_mode"
            )
        if len(ch.description) > MAX_DESCRIPTION or not ch.description.isprintable():
            raise InvalidArgumentError(
                f"description: at most {MAX_DESCRIPTION} printable characters", reason="bad_description"
            )
        summary = f"created {ch.mode} warninglist {name}"
        already = f"warninglist {name} exists"
        if event is None:
            exists = any(w.name == name for w in self._store.list_warninglists())
            return self._done(None, not exists, summary, already)
        return self._done(event, self._store.create_warninglist(name, ch.mode, ch.description, event), summary, already)

    def _set_warninglist_entries(
        self, caller: Caller, ch: admin_pb2.SetWarninglistEntries, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        want = VALUE_BYTES.get(ch.type)
        if want is None:
            raise InvalidArgumentError(f"unknown signal type {ch.type}", reason="unknown_type")
        if not ch.values:
            raise InvalidArgumentError("no values", reason="no_values")
        if len(ch.values) > MAX_WARNINGLIST_VALUES:
            raise InvalidArgumentError(
                f"{len(ch.values)} values exceed the maximum of {MAX_WARNINGLIST_VALUES} per change",
                reason="batch_too_large",
            )
        type_name = TYPE_NAMES[ch.type]
        for i, value in enumerate(ch.values):
            if len(value) != want:
                raise InvalidArgumentError(
                    f"value {i}: a {type_name} value is {want} bytes, got {len(value)}", reason="bad_value"
                )
        lists = {w.name: w for w in self._store.list_warninglists()}
        if ch.list not in lists:
            raise NotFoundError(f"no warninglist {quoted(ch.list)}", reason="warninglist_not_found")
        verb = "removed from" if ch.remove else "added to"
        if event is None:
            return ChangeResult(0, f"would: {len(set(ch.values))} {type_name} value(s) {verb} {ch.list}")
        changed, quarantined = self._store.set_warninglist_entries(
            ch.list, ch.type, list(ch.values), ch.remove, now, event
        )
        if not changed:
            return ChangeResult(0, f"no change: every value is {'absent from' if ch.remove else 'on'} {ch.list}")
        summary = f"{changed} {type_name} value(s) {verb} {lists[ch.list].mode} warninglist {ch.list}"
        if quarantined:
            summary += f"; quarantined {len(quarantined)} signal(s) already shared: {', '.join(map(str, quarantined))}"
        return ChangeResult(event.seq, summary)

    def _set_quarantine(
        self, caller: Caller, ch: admin_pb2.SetQuarantine, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        if not ch.reason.strip() or len(ch.reason) > MAX_DESCRIPTION:
            raise InvalidArgumentError(
                f"a quarantine change needs a reason of at most {MAX_DESCRIPTION} characters", reason="reason_required"
            )
        signal = self._store.get_signal(ch.signal_id) if 0 < ch.signal_id < 2**63 else None
        if signal is None or signal.retracted or signal.expires_at <= now:
            raise NotFoundError(f"no active signal {ch.signal_id}", reason="signal_not_found")
        held = self._store.signal_flags([ch.signal_id]).get(ch.signal_id)
        if ch.quarantined == bool(held and held.quarantine):
            state = f"quarantined ({held.quarantine})" if held and held.quarantine else "not quarantined"
            reason = "already_quarantined" if ch.quarantined else "not_quarantined"
            raise FailedPreconditionError(f"signal {ch.signal_id} is {state} already", reason=reason)
        verb = "quarantined" if ch.quarantined else "released"
        if event is None:
            return ChangeResult(0, f"would: signal {ch.signal_id} {verb}")
        self._store.set_quarantine(ch.signal_id, ch.quarantined, "operator", now, event)
        return ChangeResult(event.seq, f"signal {ch.signal_id} of {signal.submitter} {verb}")

    def _set_category(
        self, caller: Caller, ch: admin_pb2.SetCategory, event: AdminEvent | None, now: int
    ) -> ChangeResult:
        if not CATEGORY.fullmatch(ch.name):
            raise InvalidArgumentError(f"category must match {CATEGORY.pattern}", reason="bad_name")
        if not 1 <= ch.retention_days <= MAX_RETENTION_DAYS:
            raise InvalidArgumentError(f"retention_days must be 1..{MAX_RETENTION_DAYS}", reason="bad_retention")
        current = self._store.categories().get(ch.name)
        summary = (
            f"category {ch.name}: retention {current.retention_days} -> {ch.retention_days} days"
            if current
            else f"new category {ch.name}, retention {ch.retention_days} days"
        )
        already = f"category {ch.name} keeps signals {ch.retention_days} days already"
        if event is None:
            return self._done(None, current is None or current.retention_days != ch.retention_days, summary, already)
        return self._done(event, self._store.set_category(ch.name, ch.retention_days, event), summary, already)


@dataclass(frozen=True, slots=True)
class MemberDetail:
    member: MemberRecord
    groups: list[str]
    key_ids: list[str]
    policy: str
    #: the certificates recorded for the member, oldest first, each with its state now (``CertificateRecord.state``)
    certificates: list[tuple[CertificateRecord, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CharterInForce:
    version: int  # 0: the default charter
    document: str  # as applied (JSON or YAML), or the default's canonical JSON
    sha256: bytes  # of the applied document (empty for the default)
    canonical: str  # the charter's rules as canonical JSON (``Charter.render``)
    applied_at: int = 0
    seq: int = 0  # the admin event that applied it


#: The daily quotas whose use and limit the operator sees per member (``GetStats``), by the charter action that
#: can forbid them.
DAILY_QUOTAS = {"lookups_per_day": "lookup", "evaluations_per_day": "pseudonymise", "oprf_bulk_per_day": "pseudonymise"}


class AdminQueries:
    """Read-only views for operators."""

    def __init__(
        self,
        store: Store,
        policy: PolicyEngine,
        purge: Callable[[], int],
        report: Callable[[str], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._policy = policy
        self._purge = purge
        self._report = report
        self._clock = clock

    def report(self, period: str) -> str:
        """The signed transparency report of ``period`` (``exchange.safeguards.report``)."""
        return self._report(period)

    def member(self, member_id: str) -> MemberDetail:
        member = self._store.get_member(member_id)
        if member is None:
            raise NotFoundError(f"no member {quoted(member_id)}", reason="member_not_found")
        groups = [g.name for g in self._store.list_groups() if member_id in g.members]
        keys = [k.key_id for k in self._store.list_signing_keys(member_id)]
        rules = self._policy.document()[1].rules_for(member_id)
        rendered = policy_doc.PolicyDocument(rules, {}).render().replace("[defaults]", f"[members.{member_id}]")
        now = self._clock()
        certs = [(c, c.state(member.certs_from, now)) for c in self._store.list_certificates(member_id)]
        return MemberDetail(member, groups, keys, rendered, certs)

    def policy(self) -> tuple[int, str]:
        version, doc = self._policy.document()
        return version, doc.render()

    def charter(self) -> CharterInForce:
        """The charter in force: its version (0: the default), the applied document (or the default's canonical
        JSON), the applied document's SHA-256 (empty for the default), its rules as canonical JSON, and when
        and by which admin event it was applied."""
        version, text = self._store.get_charter()
        if not version:
            default = charters.DEFAULT_CHARTER.render()
            return CharterInForce(0, default, b"", default)
        canonical = charters.from_store(version, text, self._store.categories()).render()
        applied_at, seq = self._store.charter_applied(version)
        return CharterInForce(version, text, charters.digest(text), canonical, applied_at, seq)

    def groups(self) -> list[GroupRecord]:
        return self._store.list_groups()

    def warninglists(self) -> list[WarninglistRecord]:
        return self._store.list_warninglists()

    def categories(self) -> list[Category]:
        return sorted(self._store.categories().values(), key=lambda c: c.name)

    def run_retention(self) -> int:
        return self._purge()

    def stats(self) -> tuple[Stats, UsageSummary, dict[tuple[str, str], int]]:
        """Stored aggregates; look-ups and quota denials per member (over the ledger's scope); and each
        member's and operator's daily quota limits (``quota_limits``)."""
        return self._store.stats(), self._policy.ledger.summary(), self.quota_limits()

    def quota_limits(self) -> dict[tuple[str, str], int]:
        """(member, daily quota) -> the most the member may use in a UTC day: its policy's limit (defaults
        and its own table), or 0 where the charter forbids its kind the action. Members and operators only
        (auditors call nothing that takes quota)."""
        document = self._policy.document()[1]
        charter = self._policy.charter()[1]
        limits: dict[tuple[str, str], int] = {}
        for m in self._store.list_members():
            if m.role not in ("member", "operator"):
                continue
            rules = document.rules_for(m.member_id)
            for quota, action in DAILY_QUOTAS.items():
                forbidden = m.role == "member" and charter.forbids(m.kind, action)
                limits[(m.member_id, quota)] = 0 if forbidden else int(getattr(rules, quota))
        return limits
