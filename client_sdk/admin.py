"""The operator's client: signed admin changes and read-only views over mutual TLS."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from client_sdk.client.connection import open_channel
from client_sdk.credentials import Credentials
from client_sdk.envelope import seal_body
from client_sdk.errors import from_rpc_error
from client_sdk.wire import admin_pb2, admin_pb2_grpc, directory_pb2, directory_pb2_grpc

T = TypeVar("T")

#: What each ``MemberCertificate.state`` means, for people.
CERTIFICATE_STATES = {
    "valid": "valid",
    "expired": "expired",
    "not_accepted": "no longer accepted (issued before the member's certificate cut-off)",
}


def state_label(state: str) -> str:
    """A ``MemberCertificate.state`` for people (an unknown one as it is)."""
    return CERTIFICATE_STATES.get(state, state)


def days_left(not_after: int, now: float) -> int:
    """Whole days until a certificate's ``not_after`` (negative once it has expired)."""
    return math.floor((not_after - now) / 86_400)


class AdminClient:
    """Talks to the Admin and Directory services as an operator."""

    def __init__(self, channel: grpc.Channel, credentials: Credentials, timeout: float = 60.0) -> None:
        self._channel = channel
        self.credentials = credentials
        self.timeout = timeout
        self._admin = admin_pb2_grpc.AdminStub(channel)
        self._directory = directory_pb2_grpc.DirectoryStub(channel)

    @classmethod
    def connect(cls, address: str | None, credentials: str | Path | Credentials) -> AdminClient:
        creds = credentials if isinstance(credentials, Credentials) else Credentials.load(credentials)
        return cls(open_channel(address or creds.address, creds), creds)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def change(self, *, dry_run: bool = False, **change: Any) -> admin_pb2.ApplyChangeResponse:
        """Sign an AdminChange with the operator's key and apply it (or only describe it)."""
        body = admin_pb2.AdminChange(submitter=self.credentials.member_id, created_at=int(time.time()), **change)
        envelope = seal_body(body, self.credentials.signing_key)
        return self._call(self._admin.ApplyChange, admin_pb2.ApplyChangeRequest(envelope=envelope, dry_run=dry_run))

    def member(self, member_id: str) -> admin_pb2.MemberDetail:
        """A member's detail: kind, status, groups, keys, effective policy and the TLS certificates the
        exchange issued to it, each with its state (``CERTIFICATE_STATES``)."""
        return self._call(self._admin.GetMember, admin_pb2.GetMemberRequest(member_id=member_id)).member

    def members(self) -> list[directory_pb2.Member]:
        return list(self._call(self._directory.ListMembers, directory_pb2.ListMembersRequest()).members)

    def keys(self, member_id: str = "") -> list[directory_pb2.SigningKey]:
        request = directory_pb2.ListSigningKeysRequest(member_id=member_id)
        return list(self._call(self._directory.ListSigningKeys, request).keys)

    def policy(self) -> admin_pb2.GetPolicyResponse:
        return self._call(self._admin.GetPolicy, admin_pb2.GetPolicyRequest())

    def groups(self) -> list[admin_pb2.Group]:
        return list(self._call(self._admin.ListGroups, admin_pb2.ListGroupsRequest()).groups)

    def categories(self) -> list[admin_pb2.Category]:
        return list(self._call(self._admin.ListCategories, admin_pb2.ListCategoriesRequest()).categories)

    def run_retention(self) -> int:
        return self._call(self._admin.RunRetention, admin_pb2.RunRetentionRequest()).purged

    def stats(self) -> admin_pb2.GetStatsResponse:
        """Aggregates, quota use today and each member's daily quota limits (``quota_limits``)."""
        return self._call(self._admin.GetStats, admin_pb2.GetStatsRequest())

    def warninglists(self) -> list[admin_pb2.Warninglist]:
        """Every warninglist with its mode and how many values of each type it holds."""
        return list(self._call(self._admin.ListWarninglists, admin_pb2.ListWarninglistsRequest()).warninglists)

    def report(self, period: str) -> str:
        """The signed transparency report of ``period`` (``2026-Q4`` or ``2026``)."""
        return self._call(self._admin.GetReport, admin_pb2.GetReportRequest(period=period)).report

    def charter(self) -> admin_pb2.GetCharterResponse:
        """The charter in force (version 0: the default): document, SHA-256, its rules as canonical JSON, and
        when and at which log index it was applied."""
        return self._call(self._admin.GetCharter, admin_pb2.GetCharterRequest())

    def apply_charter(
        self, document: str, *, base_version: int = 0, dry_run: bool = False
    ) -> admin_pb2.ApplyChangeResponse:
        """Put a charter (JSON or YAML text) in force; its SHA-256 goes into the signed change."""
        digest = hashlib.sha256(document.encode()).digest()
        change = admin_pb2.ApplyCharter(document=document, sha256=digest, base_version=base_version)
        return self.change(dry_run=dry_run, apply_charter=change)
