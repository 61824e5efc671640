"""Thin gRPC servicers: convert, call a service, convert back.

The servicers are async, on the server's event loop; the services are synchronous.
A unary method is written as a plain function and marked ``@on_pool``: it runs,
conversions included, on the bounded worker pool (``Offload``). Streaming
methods are async generators that take each blocking step (a page, a batch) to
the pool, so an open stream holds no thread between messages.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import grpc

from client_sdk.oprf import MODE_VOPRF, SUITE
from client_sdk.positions import log_index
from client_sdk.wire import (
    admin_pb2,
    admin_pb2_grpc,
    directory_pb2,
    directory_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    log_pb2,
    log_pb2_grpc,
    pseudonymizer_pb2,
    pseudonymizer_pb2_grpc,
    safeguards_pb2,
    safeguards_pb2_grpc,
)
from exchange.errors import UnavailableError
from exchange.identity import current_caller
from exchange.live.fanout import Fanout
from exchange.rpc import convert
from exchange.rpc.interceptor import run_admitted
from exchange.rpc.offload import Offload
from exchange.safeguards.service import Safeguards
from exchange.services.admin import AdminQueries, AdminService
from exchange.services.directory import DirectoryService
from exchange.services.ingest import IngestService
from exchange.services.log import LogService
from exchange.services.pseudonymizer import PseudonymizerService
from exchange.services.reader import ReaderService

H = TypeVar("H", bound="_OnPool")
R = TypeVar("R")


class _OnPool:
    """A servicer whose ``@on_pool`` methods run on ``offload``'s worker pool."""

    def __init__(self, offload: Offload) -> None:
        self._offload = offload


def on_pool(method: Callable[[H, Any, Any], R]) -> Callable[[H, Any, Any], Awaitable[R]]:
    """Make a blocking unary servicer method a coroutine that runs it on the worker pool, after the
    call's admission (in a copy of the call's context: ``current_caller()`` works there)."""

    @functools.wraps(method)
    async def run(self: H, request: Any, context: Any) -> R:
        return await self._offload(run_admitted, method, self, request, context)

    return run


class _Feed:
    """The next client message, handed from the event loop to a synchronous generator on the pool."""

    def __init__(self) -> None:
        self._item: Any = None

    def put(self, item: Any) -> None:
        self._item = item

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> Any:
        item, self._item = self._item, None
        if item is None:
            raise StopIteration
        return item


class ExchangeHandler(_OnPool, exchange_pb2_grpc.ExchangeServicer):
    def __init__(self, offload: Offload, ingest: IngestService, reader: ReaderService, live: Fanout) -> None:
        super().__init__(offload)
        self._ingest = ingest
        self._reader = reader
        self._live = live
        self.stopping = False  # set on shutdown: client streams end after the batch in hand

    @on_pool
    def Submit(self, request: exchange_pb2.SubmitRequest, context: grpc.ServicerContext) -> exchange_pb2.SubmitResponse:
        return convert.submit_response(self._ingest.submit(current_caller(), request.envelopes))

    async def SubmitStream(
        self, request_iterator: AsyncIterator[exchange_pb2.SubmitRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[exchange_pb2.SubmitResponse]:
        feed = _Feed()
        results = (convert.submit_response(r) for r in self._ingest.submit_stream(current_caller(), feed))
        async for request in request_iterator:  # no thread is held while the client sends its next batch
            if self.stopping:
                raise UnavailableError(
                    "the exchange is shutting down: every batch answered so far is stored; send the rest again",
                    reason="shutting_down",
                )
            feed.put(request.envelopes)
            yield await self._offload(next, results)

    async def Pull(
        self, request: exchange_pb2.PullRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[exchange_pb2.PullResponse]:
        async for response in self._offload.stream(self._pages, request):
            yield response

    def _pages(self, request: exchange_pb2.PullRequest) -> Iterator[exchange_pb2.PullResponse]:
        caller = current_caller()
        flt = self._reader.visibility(caller, request.types, request.categories)
        return (convert.pull_response(page) for page in self._reader.pull(caller, request.cursor, request.limit, flt))

    async def Subscribe(
        self, request: exchange_pb2.PullRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[exchange_pb2.PullResponse]:
        caller = current_caller()
        wanted = (list(request.types), list(request.categories))
        flt = await self._offload(self._reader.visibility, caller, *wanted)
        async for response in self._live.stream(caller, request.cursor, flt, wanted):
            yield response

    @on_pool
    def Lookup(self, request: exchange_pb2.LookupRequest, context: grpc.ServicerContext) -> exchange_pb2.LookupResponse:
        distance = request.max_distance if request.HasField("max_distance") else None
        return convert.lookup_response(self._reader.lookup(current_caller(), convert.queries(request), distance))

    @on_pool
    def Retract(
        self, request: exchange_pb2.RetractRequest, context: grpc.ServicerContext
    ) -> exchange_pb2.RetractResponse:
        seq = self._ingest.retract(current_caller(), request.envelope)
        return exchange_pb2.RetractResponse(seq=seq, log_index=log_index(seq))

    @on_pool
    def Feedback(
        self, request: exchange_pb2.FeedbackRequest, context: grpc.ServicerContext
    ) -> exchange_pb2.FeedbackResponse:
        outcome = self._ingest.feedback(current_caller(), request.envelope)
        return exchange_pb2.FeedbackResponse(
            seq=outcome.seq, log_index=log_index(outcome.seq), unchanged=not outcome.changed
        )


class PseudonymizerHandler(_OnPool, pseudonymizer_pb2_grpc.PseudonymizerServicer):
    def __init__(self, offload: Offload, service: PseudonymizerService) -> None:
        super().__init__(offload)
        self._service = service

    @on_pool
    def GetPublicKey(
        self, request: pseudonymizer_pb2.GetPublicKeyRequest, context: grpc.ServicerContext
    ) -> pseudonymizer_pb2.GetPublicKeyResponse:
        keyring = self._service.keyring
        return pseudonymizer_pb2.GetPublicKeyResponse(
            suite=SUITE, mode=MODE_VOPRF, epoch=keyring.current_epoch, public_key=keyring.public_key()
        )

    @on_pool
    def Evaluate(
        self, request: pseudonymizer_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> pseudonymizer_pb2.EvaluateResponse:
        evaluated, proof, epoch = self._service.evaluate(
            current_caller(), request.blinded_elements, request.epoch, request.bulk
        )
        return pseudonymizer_pb2.EvaluateResponse(evaluated_elements=evaluated, proof=proof, epoch=epoch)


class DirectoryHandler(_OnPool, directory_pb2_grpc.DirectoryServicer):
    def __init__(self, offload: Offload, directory: DirectoryService) -> None:
        super().__init__(offload)
        self._directory = directory

    @on_pool
    def ListMembers(
        self, request: directory_pb2.ListMembersRequest, context: grpc.ServicerContext
    ) -> directory_pb2.ListMembersResponse:
        return directory_pb2.ListMembersResponse(members=[convert.member(m) for m in self._directory.members()])

    @on_pool
    def ListSigningKeys(
        self, request: directory_pb2.ListSigningKeysRequest, context: grpc.ServicerContext
    ) -> directory_pb2.ListSigningKeysResponse:
        if request.prove:
            return convert.proven_keys(*self._directory.proven_keys(request.member_id or None))
        keys = self._directory.signing_keys(request.member_id or None)
        return directory_pb2.ListSigningKeysResponse(keys=[convert.signing_key(k) for k in keys])

    @on_pool
    def WhoAmI(
        self, request: directory_pb2.WhoAmIRequest, context: grpc.ServicerContext
    ) -> directory_pb2.WhoAmIResponse:
        caller = current_caller()
        return directory_pb2.WhoAmIResponse(
            member=convert.member(caller.member), groups=self._directory.groups_of(caller.member_id)
        )


class AdminHandler(_OnPool, admin_pb2_grpc.AdminServicer):
    def __init__(self, offload: Offload, changes: AdminService, queries: AdminQueries) -> None:
        super().__init__(offload)
        self._changes = changes
        self._queries = queries

    @on_pool
    def ApplyChange(
        self, request: admin_pb2.ApplyChangeRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ApplyChangeResponse:
        return convert.change_response(self._changes.apply(current_caller(), request.envelope, request.dry_run))

    @on_pool
    def GetMember(
        self, request: admin_pb2.GetMemberRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetMemberResponse:
        return admin_pb2.GetMemberResponse(member=convert.member_detail(self._queries.member(request.member_id)))

    @on_pool
    def GetPolicy(
        self, request: admin_pb2.GetPolicyRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetPolicyResponse:
        version, document = self._queries.policy()
        return admin_pb2.GetPolicyResponse(document=document, version=version)

    @on_pool
    def ListGroups(
        self, request: admin_pb2.ListGroupsRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListGroupsResponse:
        groups = [admin_pb2.Group(name=g.name, members=g.members) for g in self._queries.groups()]
        return admin_pb2.ListGroupsResponse(groups=groups)

    @on_pool
    def ListCategories(
        self, request: admin_pb2.ListCategoriesRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListCategoriesResponse:
        cats = [admin_pb2.Category(name=c.name, retention_days=c.retention_days) for c in self._queries.categories()]
        return admin_pb2.ListCategoriesResponse(categories=cats)

    @on_pool
    def RunRetention(
        self, request: admin_pb2.RunRetentionRequest, context: grpc.ServicerContext
    ) -> admin_pb2.RunRetentionResponse:
        return admin_pb2.RunRetentionResponse(purged=self._queries.run_retention())

    @on_pool
    def GetStats(self, request: admin_pb2.GetStatsRequest, context: grpc.ServicerContext) -> admin_pb2.GetStatsResponse:
        return convert.stats_response(*self._queries.stats())

    @on_pool
    def ListWarninglists(
        self, request: admin_pb2.ListWarninglistsRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListWarninglistsResponse:
        return convert.warninglists_response(self._queries.warninglists())

    @on_pool
    def GetReport(
        self, request: admin_pb2.GetReportRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetReportResponse:
        return admin_pb2.GetReportResponse(report=self._queries.report(request.period))

    @on_pool
    def GetCharter(
        self, request: admin_pb2.GetCharterRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetCharterResponse:
        return convert.charter_response(self._queries.charter())


class SafeguardsHandler(_OnPool, safeguards_pb2_grpc.SafeguardsServicer):
    def __init__(self, offload: Offload, safeguards: Safeguards) -> None:
        super().__init__(offload)
        self._safeguards = safeguards

    @on_pool
    def Release(
        self, request: safeguards_pb2.SafeguardRequest, context: grpc.ServicerContext
    ) -> safeguards_pb2.SafeguardResponse:
        seq = self._safeguards.release(current_caller(), request.envelope)
        return safeguards_pb2.SafeguardResponse(seq=seq, log_index=log_index(seq))

    @on_pool
    def Acknowledge(
        self, request: safeguards_pb2.SafeguardRequest, context: grpc.ServicerContext
    ) -> safeguards_pb2.SafeguardResponse:
        seq = self._safeguards.acknowledge(current_caller(), request.envelope)
        return safeguards_pb2.SafeguardResponse(seq=seq, log_index=log_index(seq))

    @on_pool
    def ListRedress(
        self, request: safeguards_pb2.ListRedressRequest, context: grpc.ServicerContext
    ) -> safeguards_pb2.ListRedressResponse:
        return convert.redress_response(self._safeguards.redress(current_caller(), request.pending_only))

    @on_pool
    def ListQuarantined(
        self, request: safeguards_pb2.ListQuarantinedRequest, context: grpc.ServicerContext
    ) -> safeguards_pb2.ListQuarantinedResponse:
        return convert.quarantined_response(self._safeguards.quarantined(current_caller()))


class LogHandler(_OnPool, log_pb2_grpc.LogServicer):
    def __init__(self, offload: Offload, log: LogService, max_batch: int) -> None:
        super().__init__(offload)
        self._log = log
        self._max_batch = max_batch

    @on_pool
    def GetCheckpoint(
        self, request: log_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetCheckpointResponse:
        return log_pb2.GetCheckpointResponse(note=self._log.checkpoint(request.min_size))

    @on_pool
    def GetInclusionProof(
        self, request: log_pb2.GetInclusionProofRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetInclusionProofResponse:
        proof, leaf = self._log.inclusion(current_caller(), request.index, request.tree_size)
        return log_pb2.GetInclusionProofResponse(proof=proof, leaf=leaf)

    @on_pool
    def GetInclusionProofs(
        self, request: log_pb2.GetInclusionProofsRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetInclusionProofsResponse:
        proofs = self._log.inclusions(list(request.indices), request.tree_size, self._max_batch)
        out = log_pb2.GetInclusionProofsResponse()
        for index, proof in zip(request.indices, proofs, strict=True):
            out.proofs.add(index=index, proof=proof)
        return out

    @on_pool
    def GetConsistencyProof(
        self, request: log_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetConsistencyProofResponse:
        return log_pb2.GetConsistencyProofResponse(proof=self._log.consistency(request.size1, request.size2))

    async def GetEntries(
        self, request: log_pb2.GetEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[log_pb2.GetEntriesResponse]:
        async for response in self._offload.stream(self._entries, request):
            yield response

    def _entries(self, request: log_pb2.GetEntriesRequest) -> Iterator[log_pb2.GetEntriesResponse]:
        return (convert.entries_response(page) for page in self._log.entries(request.start, request.end))
