"""Thin gRPC servicers: convert, call a service, convert back."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from client_sdk._wire import (
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
)
from client_sdk.oprf import MODE_VOPRF, SUITE
from exchange.identity import current_caller
from exchange.rpc import convert
from exchange.services.admin import AdminQueries, AdminService
from exchange.services.directory import DirectoryService
from exchange.services.ingest import IngestService
from exchange.services.log import LogService
from exchange.services.pseudonymizer import PseudonymizerService
from exchange.services.reader import ReaderService


class ExchangeHandler(exchange_pb2_grpc.ExchangeServicer):
    def __init__(self, ingest: IngestService, reader: ReaderService) -> None:
        self._ingest = ingest
        self._reader = reader

    def Submit(self, request: exchange_pb2.SubmitRequest, context: grpc.ServicerContext) -> exchange_pb2.SubmitResponse:
        return convert.submit_response(self._ingest.submit(current_caller(), request.envelopes))

    def SubmitStream(
        self, request_iterator: Iterator[exchange_pb2.SubmitRequest], context: grpc.ServicerContext
    ) -> Iterator[exchange_pb2.SubmitResponse]:
        batches = (request.envelopes for request in request_iterator)
        for results in self._ingest.submit_stream(current_caller(), batches):
            yield convert.submit_response(results)

    def Pull(
        self, request: exchange_pb2.PullRequest, context: grpc.ServicerContext
    ) -> Iterator[exchange_pb2.PullResponse]:
        caller = current_caller()
        flt = self._reader.visibility(caller, request.types, request.categories)
        for page in self._reader.pull(caller, request.cursor, request.limit, flt):
            yield convert.pull_response(page)

    def Subscribe(
        self, request: exchange_pb2.PullRequest, context: grpc.ServicerContext
    ) -> Iterator[exchange_pb2.PullResponse]:
        caller = current_caller()
        flt = self._reader.visibility(caller, request.types, request.categories)
        for page in self._reader.subscribe(caller, request.cursor, flt, context.is_active):
            yield convert.pull_response(page)

    def Lookup(self, request: exchange_pb2.LookupRequest, context: grpc.ServicerContext) -> exchange_pb2.LookupResponse:
        distance = request.max_distance if request.HasField("max_distance") else None
        return convert.lookup_response(self._reader.lookup(current_caller(), convert.queries(request), distance))

    def Retract(
        self, request: exchange_pb2.RetractRequest, context: grpc.ServicerContext
    ) -> exchange_pb2.RetractResponse:
        seq = self._ingest.retract(current_caller(), request.envelope)
        return exchange_pb2.RetractResponse(seq=seq, log_index=seq - 1)

    def Feedback(
        self, request: exchange_pb2.FeedbackRequest, context: grpc.ServicerContext
    ) -> exchange_pb2.FeedbackResponse:
        outcome = self._ingest.feedback(current_caller(), request.envelope)
        return exchange_pb2.FeedbackResponse(seq=outcome.seq, log_index=outcome.seq - 1, unchanged=not outcome.changed)


class PseudonymizerHandler(pseudonymizer_pb2_grpc.PseudonymizerServicer):
    def __init__(self, service: PseudonymizerService) -> None:
        self._service = service

    def GetPublicKey(
        self, request: pseudonymizer_pb2.GetPublicKeyRequest, context: grpc.ServicerContext
    ) -> pseudonymizer_pb2.GetPublicKeyResponse:
        keyring = self._service.keyring
        return pseudonymizer_pb2.GetPublicKeyResponse(
            suite=SUITE, mode=MODE_VOPRF, epoch=keyring.current_epoch, public_key=keyring.public_key()
        )

    def Evaluate(
        self, request: pseudonymizer_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> pseudonymizer_pb2.EvaluateResponse:
        evaluated, proof, epoch = self._service.evaluate(
            current_caller(), request.blinded_elements, request.epoch, request.bulk
        )
        return pseudonymizer_pb2.EvaluateResponse(evaluated_elements=evaluated, proof=proof, epoch=epoch)


class DirectoryHandler(directory_pb2_grpc.DirectoryServicer):
    def __init__(self, directory: DirectoryService) -> None:
        self._directory = directory

    def ListMembers(
        self, request: directory_pb2.ListMembersRequest, context: grpc.ServicerContext
    ) -> directory_pb2.ListMembersResponse:
        return directory_pb2.ListMembersResponse(members=[convert.member(m) for m in self._directory.members()])

    def ListSigningKeys(
        self, request: directory_pb2.ListSigningKeysRequest, context: grpc.ServicerContext
    ) -> directory_pb2.ListSigningKeysResponse:
        if request.prove:
            return convert.proven_keys(*self._directory.proven_keys(request.member_id or None))
        keys = self._directory.signing_keys(request.member_id or None)
        return directory_pb2.ListSigningKeysResponse(keys=[convert.signing_key(k) for k in keys])

    def WhoAmI(
        self, request: directory_pb2.WhoAmIRequest, context: grpc.ServicerContext
    ) -> directory_pb2.WhoAmIResponse:
        caller = current_caller()
        return directory_pb2.WhoAmIResponse(
            member=convert.member(caller.member), groups=self._directory.groups_of(caller.member_id)
        )


class AdminHandler(admin_pb2_grpc.AdminServicer):
    def __init__(self, changes: AdminService, queries: AdminQueries) -> None:
        self._changes = changes
        self._queries = queries

    def ApplyChange(
        self, request: admin_pb2.ApplyChangeRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ApplyChangeResponse:
        return convert.change_response(self._changes.apply(current_caller(), request.envelope, request.dry_run))

    def GetMember(
        self, request: admin_pb2.GetMemberRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetMemberResponse:
        return admin_pb2.GetMemberResponse(member=convert.member_detail(self._queries.member(request.member_id)))

    def GetPolicy(
        self, request: admin_pb2.GetPolicyRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetPolicyResponse:
        version, document = self._queries.policy()
        return admin_pb2.GetPolicyResponse(document=document, version=version)

    def ListGroups(
        self, request: admin_pb2.ListGroupsRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListGroupsResponse:
        groups = [admin_pb2.Group(name=g.name, members=g.members) for g in self._queries.groups()]
        return admin_pb2.ListGroupsResponse(groups=groups)

    def ListCategories(
        self, request: admin_pb2.ListCategoriesRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListCategoriesResponse:
        cats = [admin_pb2.Category(name=c.name, retention_days=c.retention_days) for c in self._queries.categories()]
        return admin_pb2.ListCategoriesResponse(categories=cats)

    def RunRetention(
        self, request: admin_pb2.RunRetentionRequest, context: grpc.ServicerContext
    ) -> admin_pb2.RunRetentionResponse:
        return admin_pb2.RunRetentionResponse(purged=self._queries.run_retention())

    def GetStats(self, request: admin_pb2.GetStatsRequest, context: grpc.ServicerContext) -> admin_pb2.GetStatsResponse:
        return convert.stats_response(*self._queries.stats())


class LogHandler(log_pb2_grpc.LogServicer):
    def __init__(self, log: LogService, max_batch: int) -> None:
        self._log = log
        self._max_batch = max_batch

    def GetCheckpoint(
        self, request: log_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetCheckpointResponse:
        return log_pb2.GetCheckpointResponse(note=self._log.checkpoint(request.min_size))

    def GetInclusionProof(
        self, request: log_pb2.GetInclusionProofRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetInclusionProofResponse:
        proof, leaf = self._log.inclusion(current_caller(), request.index, request.tree_size)
        return log_pb2.GetInclusionProofResponse(proof=proof, leaf=leaf)

    def GetInclusionProofs(
        self, request: log_pb2.GetInclusionProofsRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetInclusionProofsResponse:
        proofs = self._log.inclusions(list(request.indices), request.tree_size, self._max_batch)
        out = log_pb2.GetInclusionProofsResponse()
        for index, proof in zip(request.indices, proofs, strict=True):
            out.proofs.add(index=index, proof=proof)
        return out

    def GetConsistencyProof(
        self, request: log_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> log_pb2.GetConsistencyProofResponse:
        return log_pb2.GetConsistencyProofResponse(proof=self._log.consistency(request.size1, request.size2))

    def GetEntries(
        self, request: log_pb2.GetEntriesRequest, context: grpc.ServicerContext
    ) -> Iterator[log_pb2.GetEntriesResponse]:
        for page in self._log.entries(request.start, request.end):
            yield convert.entries_response(page)
