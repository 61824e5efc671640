"""The only place protobuf messages and domain records meet."""

from __future__ import annotations

import grpc

from client_sdk._wire import directory_pb2, exchange_pb2
from exchange.rpc.status import status_for
from exchange.services.ingest import ItemResult
from exchange.services.reader import Page, Query
from exchange.store.base import KeyRecord, MatchRecord, MemberRecord

_SUBMIT_STATUS = {
    "accepted": exchange_pb2.SUBMIT_STATUS_ACCEPTED,
    "duplicate": exchange_pb2.SUBMIT_STATUS_DUPLICATE,
    "rejected": exchange_pb2.SUBMIT_STATUS_REJECTED,
}


def submit_response(results: list[ItemResult]) -> exchange_pb2.SubmitResponse:
    out = exchange_pb2.SubmitResponse()
    for r in results:
        item = out.results.add(status=_SUBMIT_STATUS[r.status], seq=r.seq, signal_id=r.signal_id)
        if r.error is not None:
            code: grpc.StatusCode = status_for(r.error)
            item.code = code.value[0]
            item.reason = r.error.reason
            item.message = r.error.message
    return out


def pull_response(page: Page) -> exchange_pb2.PullResponse:
    out = exchange_pb2.PullResponse(cursor=page.cursor)
    for e in page.events:
        out.events.add(seq=e.seq, kind=e.kind, envelope=e.envelope, received_at=e.received_at, signal_id=e.signal_id)
    return out


def queries(request: exchange_pb2.LookupRequest) -> list[Query]:
    return [Query(q.type, q.value) for q in request.queries]


def lookup_response(results: list[list[MatchRecord]]) -> exchange_pb2.LookupResponse:
    out = exchange_pb2.LookupResponse()
    for matches in results:
        result = out.results.add()
        for m in matches:
            s = m.signal
            result.matches.add(
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
                feedback=exchange_pb2.FeedbackCounts(
                    confirmed=m.feedback[0],
                    actioned=m.feedback[1],
                    false_positive=m.feedback[2],
                    not_found=m.feedback[3],
                    duplicate=m.feedback[4],
                ),
                distance=m.distance,
                seq=s.signal_id,
            )
    return out


def member(m: MemberRecord) -> directory_pb2.Member:
    return directory_pb2.Member(member_id=m.member_id, display_name=m.display_name, role=m.role, status=m.status)


def signing_key(k: KeyRecord) -> directory_pb2.SigningKey:
    return directory_pb2.SigningKey(
        key_id=k.key_id,
        member_id=k.member_id,
        public_key=k.public_key,
        not_before=k.not_before,
        not_after=k.not_after or 0,
        revoked_at=k.revoked_at or 0,
    )
