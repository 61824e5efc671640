"""The only place protobuf messages and domain records meet."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from client_sdk.positions import log_index
from client_sdk.vocab import SUBMIT_STATUS_CODES, TYPE_NAMES, VERDICT_CODES, VERDICT_NAMES
from client_sdk.wire import admin_pb2, directory_pb2, exchange_pb2, log_pb2, safeguards_pb2
from exchange.policy.quota import UsageSummary
from exchange.rpc.status import status_for
from exchange.services.admin import ChangeResult, CharterInForce, MemberDetail
from exchange.services.ingest import ItemResult
from exchange.services.log import Evidence
from exchange.services.reader import LookupAnswer, Page, Query
from exchange.store.base import KeyRecord, MemberRecord, QuarantineRecord, RedressRecord, Stats, WarninglistRecord


def submit_response(results: list[ItemResult]) -> exchange_pb2.SubmitResponse:
    out = exchange_pb2.SubmitResponse()
    for r in results:
        item = out.results.add(status=SUBMIT_STATUS_CODES[r.status], seq=r.seq, signal_id=r.signal_id)
        if r.status == "accepted":
            item.log_index = log_index(r.seq)
        if r.error is not None:
            code: grpc.StatusCode = status_for(r.error)
            item.code = code.value[0]
            item.reason = r.error.reason
            item.message = r.error.message
    return out


def pull_response(page: Page) -> exchange_pb2.PullResponse:
    out = exchange_pb2.PullResponse(cursor=page.cursor)
    for e in page.events:
        event = out.events.add(
            seq=e.seq,
            kind=e.kind,
            envelope=e.envelope,
            received_at=e.received_at,
            signal_id=e.signal_id,
            expires_at=e.expires_at,
        )
        flags = page.flags.get(e.signal_id)
        if flags is not None:
            event.warninglists.extend(flags.warninglists)
            event.quarantine = flags.quarantine
    return out


def queries(request: exchange_pb2.LookupRequest) -> Sequence[Query]:
    """The request's queries, read where they are (each ``LookupQuery`` has the ``type`` and ``value`` of a Query)."""
    return request.queries  # type: ignore[return-value]


def lookup_response(answer: LookupAnswer) -> exchange_pb2.LookupResponse:
    """The answer as the wire's response: a result per query, a match per signal. A match's feedback counts and
    submitter quality are left unset when all zero (read as zeros), and the quality of each (submitter,
    category) is built once per response."""
    out = exchange_pb2.LookupResponse()
    add_result = out.results.add
    flags = answer.flags
    qualities: dict[tuple[str, str], exchange_pb2.SubmitterQuality | None] = {}
    for matches in answer.results:
        result = add_result()
        if not matches:
            continue
        add = result.matches.add
        for m in matches:
            s = m.signal
            match = add(
                signal_id=s.signal_id,
                submitter=s.submitter,
                type=s.type,
                value=s.value,
                category=s.category,
                qualifier=s.qualifier,
                confidence=s.confidence,
                first_seen=s.first_seen,
                last_seen=s.last_seen,
                expires_at=s.expires_at,
                distance=m.distance,
                seq=s.signal_id,
            )
            if any(m.feedback):
                f = match.feedback
                f.confirmed, f.actioned, f.false_positive, f.not_found, f.duplicate = m.feedback
            key = (s.submitter, s.category)
            if key not in qualities:
                qualities[key] = _quality(answer.quality, key)
            quality = qualities[key]
            if quality is not None:
                match.submitter_quality.CopyFrom(quality)
            flagged = flags.get(s.signal_id)
            if flagged is not None and flagged.warninglists:
                match.warninglists.extend(flagged.warninglists)
    return out


_QUALITY_VERDICTS = tuple((VERDICT_CODES[n], n) for n in ("confirmed", "actioned", "false_positive", "not_found"))


def _quality(
    quality: dict[tuple[str, str], dict[int, int]], key: tuple[str, str]
) -> exchange_pb2.SubmitterQuality | None:
    """A submitter's record in a category as the wire has it; None when no member has given a verdict."""
    verdicts = quality.get(key)
    if not verdicts:
        return None
    return exchange_pb2.SubmitterQuality(**{name: verdicts.get(code, 0) for code, name in _QUALITY_VERDICTS})


def member(m: MemberRecord) -> directory_pb2.Member:
    return directory_pb2.Member(
        member_id=m.member_id, display_name=m.display_name, role=m.role, status=m.status, kind=m.kind
    )


def signing_key(k: KeyRecord) -> directory_pb2.SigningKey:
    return directory_pb2.SigningKey(
        key_id=k.key_id,
        member_id=k.member_id,
        public_key=k.public_key,
        not_before=k.not_before,
        not_after=k.not_after or 0,
        revoked_at=k.revoked_at or 0,
        registered_index=max(0, k.registered_seq - 1),
        ended_index=max(0, k.ended_seq - 1),
    )


def proven_keys(
    keys: list[KeyRecord], checkpoint: str, evidence: list[Evidence]
) -> directory_pb2.ListSigningKeysResponse:
    out = directory_pb2.ListSigningKeysResponse(keys=[signing_key(k) for k in keys], checkpoint=checkpoint)
    for ev in evidence:
        out.evidence.add(index=ev.index, leaf=ev.leaf, envelope=ev.envelope, proof=ev.proof)
    return out


def change_response(result: ChangeResult) -> admin_pb2.ApplyChangeResponse:
    out = admin_pb2.ApplyChangeResponse(seq=result.seq, summary=result.summary, key_id=result.key_id)
    if result.certificate is not None:
        out.certificate.cert_pem = result.certificate.cert_pem
        out.certificate.key_pem = result.certificate.key_pem
    return out


def member_detail(d: MemberDetail) -> admin_pb2.MemberDetail:
    m = d.member
    return admin_pb2.MemberDetail(
        member_id=m.member_id,
        role=m.role,
        status=m.status,
        display_name=m.display_name,
        groups=d.groups,
        key_ids=d.key_ids,
        policy=d.policy,
        certificates_from=m.certs_from,
        kind=m.kind,
        certificates=[
            admin_pb2.MemberCertificate(
                serial=c.serial,
                sha256=c.fingerprint,
                not_before=c.not_before,
                not_after=c.not_after,
                issued_at=c.issued_at,
                issued_index=log_index(c.seq) if c.seq else 0,
                state=state,
            )
            for c, state in d.certificates
        ],
        certificates_known_from=m.certs_known_from,
    )


def charter_response(c: CharterInForce) -> admin_pb2.GetCharterResponse:
    return admin_pb2.GetCharterResponse(
        document=c.document,
        version=c.version,
        sha256=c.sha256,
        canonical=c.canonical,
        applied_at=c.applied_at,
        applied_index=log_index(c.seq) if c.seq else 0,
    )


def warninglists_response(lists: list[WarninglistRecord]) -> admin_pb2.ListWarninglistsResponse:
    out = admin_pb2.ListWarninglistsResponse()
    for w in lists:
        entries = _counts({TYPE_NAMES.get(t, str(t)): n for t, n in w.entries.items()})
        out.warninglists.add(name=w.name, mode=w.mode, description=w.description, entries_by_type=entries)
    return out


def quarantined_response(records: list[QuarantineRecord]) -> safeguards_pb2.ListQuarantinedResponse:
    out = safeguards_pb2.ListQuarantinedResponse()
    for q in records:
        out.signals.add(signal_id=q.signal_id, submitter=q.submitter, reason=q.reason, since=q.since, seq=q.seq)
    return out


def redress_response(records: list[RedressRecord]) -> safeguards_pb2.ListRedressResponse:
    out = safeguards_pb2.ListRedressResponse()
    for r in records:
        out.items.add(
            signal_id=r.signal_id,
            member=r.member,
            received_via=r.via,
            retracted_at=r.retracted_at,
            outcome=r.outcome,
            acknowledged_at=r.acknowledged_at,
            retract_seq=r.retract_seq,
        )
    return out


def _counts(items: dict) -> list[admin_pb2.Count]:
    return [admin_pb2.Count(key=str(k), value=v) for k, v in sorted(items.items(), key=lambda kv: str(kv[0]))]


def stats_response(stats: Stats, usage: UsageSummary, limits: dict[tuple[str, str], int]) -> admin_pb2.GetStatsResponse:
    kinds = {1: "submit", 2: "retract", 3: "feedback", 4: "admin"}
    return admin_pb2.GetStatsResponse(
        signals_by_category=_counts(stats.signals_by_category),
        signals_by_type=_counts({TYPE_NAMES.get(k, str(k)): v for k, v in stats.signals_by_type.items()}),
        signals_by_member=_counts(stats.signals_by_member),
        events_by_kind=_counts({kinds.get(k, str(k)): v for k, v in stats.events_by_kind.items()}),
        feedback_by_verdict=_counts({VERDICT_NAMES.get(k, str(k)): v for k, v in stats.feedback_by_verdict.items()}),
        submits_by_day=_counts(stats.submits_by_day),
        lookups_by_member=_counts(usage.lookups),
        quota_denials_by_member=_counts(usage.denials),
        evaluations_by_member=_counts(usage.evaluations),
        bulk_evaluations_by_member=_counts(usage.bulk_evaluations),
        active_signals=stats.active_signals,
        counts_scope=usage.scope,
        submits_by_day_category=_pairs(stats.submits_by_day_category),
        feedback_by_category=_pairs(
            {(c, VERDICT_NAMES.get(v, str(v))): n for (c, v), n in stats.feedback_by_category.items()}
        ),
        last_activity_by_member=_counts(stats.last_activity),
        quota_used_today=_pairs(usage.today),
        quota_limits=_pairs(limits),
    )


def _pairs(items: dict[tuple[str, str], int]) -> list[admin_pb2.PairCount]:
    return [admin_pb2.PairCount(key=k, sub=s, value=v) for (k, s), v in sorted(items.items())]


def entries_response(page: list[tuple[int, bytes, bytes]]) -> log_pb2.GetEntriesResponse:
    out = log_pb2.GetEntriesResponse()
    for index, leaf, envelope in page:
        out.entries.add(index=index, leaf=leaf, envelope=envelope)
    return out
