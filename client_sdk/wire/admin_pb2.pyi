from client_sdk.wire import signals_pb2 as _signals_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AdminChange(_message.Message):
    __slots__ = ("submitter", "created_at", "add_member", "set_member_status", "register_key", "revoke_key", "retire_key", "create_group", "set_group_membership", "apply_policy", "set_category", "issue_certificate", "set_member_kind", "apply_charter", "create_warninglist", "set_warninglist_entries", "set_quarantine")
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ADD_MEMBER_FIELD_NUMBER: _ClassVar[int]
    SET_MEMBER_STATUS_FIELD_NUMBER: _ClassVar[int]
    REGISTER_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_KEY_FIELD_NUMBER: _ClassVar[int]
    RETIRE_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_GROUP_FIELD_NUMBER: _ClassVar[int]
    SET_GROUP_MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    APPLY_POLICY_FIELD_NUMBER: _ClassVar[int]
    SET_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ISSUE_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SET_MEMBER_KIND_FIELD_NUMBER: _ClassVar[int]
    APPLY_CHARTER_FIELD_NUMBER: _ClassVar[int]
    CREATE_WARNINGLIST_FIELD_NUMBER: _ClassVar[int]
    SET_WARNINGLIST_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SET_QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    created_at: int
    add_member: AddMember
    set_member_status: SetMemberStatus
    register_key: RegisterKey
    revoke_key: RevokeKey
    retire_key: RetireKey
    create_group: CreateGroup
    set_group_membership: SetGroupMembership
    apply_policy: ApplyPolicy
    set_category: SetCategory
    issue_certificate: IssueCertificate
    set_member_kind: SetMemberKind
    apply_charter: ApplyCharter
    create_warninglist: CreateWarninglist
    set_warninglist_entries: SetWarninglistEntries
    set_quarantine: SetQuarantine
    def __init__(self, submitter: _Optional[str] = ..., created_at: _Optional[int] = ..., add_member: _Optional[_Union[AddMember, _Mapping]] = ..., set_member_status: _Optional[_Union[SetMemberStatus, _Mapping]] = ..., register_key: _Optional[_Union[RegisterKey, _Mapping]] = ..., revoke_key: _Optional[_Union[RevokeKey, _Mapping]] = ..., retire_key: _Optional[_Union[RetireKey, _Mapping]] = ..., create_group: _Optional[_Union[CreateGroup, _Mapping]] = ..., set_group_membership: _Optional[_Union[SetGroupMembership, _Mapping]] = ..., apply_policy: _Optional[_Union[ApplyPolicy, _Mapping]] = ..., set_category: _Optional[_Union[SetCategory, _Mapping]] = ..., issue_certificate: _Optional[_Union[IssueCertificate, _Mapping]] = ..., set_member_kind: _Optional[_Union[SetMemberKind, _Mapping]] = ..., apply_charter: _Optional[_Union[ApplyCharter, _Mapping]] = ..., create_warninglist: _Optional[_Union[CreateWarninglist, _Mapping]] = ..., set_warninglist_entries: _Optional[_Union[SetWarninglistEntries, _Mapping]] = ..., set_quarantine: _Optional[_Union[SetQuarantine, _Mapping]] = ...) -> None: ...

class AddMember(_message.Message):
    __slots__ = ("member_id", "role", "display_name", "signing_public_key", "tls_public_key", "kind")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    TLS_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    role: str
    display_name: str
    signing_public_key: bytes
    tls_public_key: bytes
    kind: str
    def __init__(self, member_id: _Optional[str] = ..., role: _Optional[str] = ..., display_name: _Optional[str] = ..., signing_public_key: _Optional[bytes] = ..., tls_public_key: _Optional[bytes] = ..., kind: _Optional[str] = ...) -> None: ...

class SetMemberKind(_message.Message):
    __slots__ = ("member_id", "kind", "reason")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    kind: str
    reason: str
    def __init__(self, member_id: _Optional[str] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ApplyCharter(_message.Message):
    __slots__ = ("document", "sha256", "base_version")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    document: str
    sha256: bytes
    base_version: int
    def __init__(self, document: _Optional[str] = ..., sha256: _Optional[bytes] = ..., base_version: _Optional[int] = ...) -> None: ...

class CreateWarninglist(_message.Message):
    __slots__ = ("name", "mode", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    mode: str
    description: str
    def __init__(self, name: _Optional[str] = ..., mode: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class SetWarninglistEntries(_message.Message):
    __slots__ = ("list", "type", "values", "remove")
    LIST_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    list: str
    type: _signals_pb2.SignalType
    values: _containers.RepeatedScalarFieldContainer[bytes]
    remove: bool
    def __init__(self, list: _Optional[str] = ..., type: _Optional[_Union[_signals_pb2.SignalType, str]] = ..., values: _Optional[_Iterable[bytes]] = ..., remove: _Optional[bool] = ...) -> None: ...

class SetMemberStatus(_message.Message):
    __slots__ = ("member_id", "status", "reason")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    status: str
    reason: str
    def __init__(self, member_id: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RegisterKey(_message.Message):
    __slots__ = ("member_id", "public_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class RetireKey(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RevokeKey(_message.Message):
    __slots__ = ("key_id", "reason")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    reason: str
    def __init__(self, key_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateGroup(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SetGroupMembership(_message.Message):
    __slots__ = ("group", "member_id", "member")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    group: str
    member_id: str
    member: bool
    def __init__(self, group: _Optional[str] = ..., member_id: _Optional[str] = ..., member: _Optional[bool] = ...) -> None: ...

class ApplyPolicy(_message.Message):
    __slots__ = ("document", "base_version")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    document: str
    base_version: int
    def __init__(self, document: _Optional[str] = ..., base_version: _Optional[int] = ...) -> None: ...

class SetCategory(_message.Message):
    __slots__ = ("name", "retention_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    retention_days: int
    def __init__(self, name: _Optional[str] = ..., retention_days: _Optional[int] = ...) -> None: ...

class IssueCertificate(_message.Message):
    __slots__ = ("member_id", "tls_public_key", "revoke_earlier")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TLS_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_EARLIER_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    tls_public_key: bytes
    revoke_earlier: bool
    def __init__(self, member_id: _Optional[str] = ..., tls_public_key: _Optional[bytes] = ..., revoke_earlier: _Optional[bool] = ...) -> None: ...

class ApplyChangeRequest(_message.Message):
    __slots__ = ("envelope", "dry_run")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    envelope: bytes
    dry_run: bool
    def __init__(self, envelope: _Optional[bytes] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class IssuedCertificate(_message.Message):
    __slots__ = ("cert_pem", "key_pem")
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    cert_pem: bytes
    key_pem: bytes
    def __init__(self, cert_pem: _Optional[bytes] = ..., key_pem: _Optional[bytes] = ...) -> None: ...

class ApplyChangeResponse(_message.Message):
    __slots__ = ("seq", "summary", "certificate", "key_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    summary: str
    certificate: IssuedCertificate
    key_id: str
    def __init__(self, seq: _Optional[int] = ..., summary: _Optional[str] = ..., certificate: _Optional[_Union[IssuedCertificate, _Mapping]] = ..., key_id: _Optional[str] = ...) -> None: ...

class GetMemberRequest(_message.Message):
    __slots__ = ("member_id",)
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    def __init__(self, member_id: _Optional[str] = ...) -> None: ...

class MemberDetail(_message.Message):
    __slots__ = ("member_id", "role", "status", "display_name", "groups", "key_ids", "policy", "certificates_from", "kind", "certificates", "certificates_known_from")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FROM_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_KNOWN_FROM_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    role: str
    status: str
    display_name: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    policy: str
    certificates_from: int
    kind: str
    certificates: _containers.RepeatedCompositeFieldContainer[MemberCertificate]
    certificates_known_from: int
    def __init__(self, member_id: _Optional[str] = ..., role: _Optional[str] = ..., status: _Optional[str] = ..., display_name: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., key_ids: _Optional[_Iterable[str]] = ..., policy: _Optional[str] = ..., certificates_from: _Optional[int] = ..., kind: _Optional[str] = ..., certificates: _Optional[_Iterable[_Union[MemberCertificate, _Mapping]]] = ..., certificates_known_from: _Optional[int] = ...) -> None: ...

class MemberCertificate(_message.Message):
    __slots__ = ("serial", "sha256", "not_before", "not_after", "issued_at", "issued_index", "state")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_INDEX_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    serial: str
    sha256: bytes
    not_before: int
    not_after: int
    issued_at: int
    issued_index: int
    state: str
    def __init__(self, serial: _Optional[str] = ..., sha256: _Optional[bytes] = ..., not_before: _Optional[int] = ..., not_after: _Optional[int] = ..., issued_at: _Optional[int] = ..., issued_index: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...

class GetMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: MemberDetail
    def __init__(self, member: _Optional[_Union[MemberDetail, _Mapping]] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("document", "version")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    document: str
    version: int
    def __init__(self, document: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListGroupsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Group(_message.Message):
    __slots__ = ("name", "members")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., members: _Optional[_Iterable[str]] = ...) -> None: ...

class ListGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[Group]
    def __init__(self, groups: _Optional[_Iterable[_Union[Group, _Mapping]]] = ...) -> None: ...

class ListCategoriesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Category(_message.Message):
    __slots__ = ("name", "retention_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    retention_days: int
    def __init__(self, name: _Optional[str] = ..., retention_days: _Optional[int] = ...) -> None: ...

class ListCategoriesResponse(_message.Message):
    __slots__ = ("categories",)
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedCompositeFieldContainer[Category]
    def __init__(self, categories: _Optional[_Iterable[_Union[Category, _Mapping]]] = ...) -> None: ...

class RunRetentionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunRetentionResponse(_message.Message):
    __slots__ = ("purged",)
    PURGED_FIELD_NUMBER: _ClassVar[int]
    purged: int
    def __init__(self, purged: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Count(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: int
    def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class PairCount(_message.Message):
    __slots__ = ("key", "sub", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SUB_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    sub: str
    value: int
    def __init__(self, key: _Optional[str] = ..., sub: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("signals_by_category", "signals_by_type", "signals_by_member", "events_by_kind", "feedback_by_verdict", "submits_by_day", "lookups_by_member", "quota_denials_by_member", "active_signals", "counts_scope", "evaluations_by_member", "bulk_evaluations_by_member", "submits_by_day_category", "feedback_by_category", "last_activity_by_member", "quota_used_today", "quota_limits")
    SIGNALS_BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_BY_MEMBER_FIELD_NUMBER: _ClassVar[int]
    EVENTS_BY_KIND_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_BY_VERDICT_FIELD_NUMBER: _ClassVar[int]
    SUBMITS_BY_DAY_FIELD_NUMBER: _ClassVar[int]
    LOOKUPS_BY_MEMBER_FIELD_NUMBER: _ClassVar[int]
    QUOTA_DENIALS_BY_MEMBER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_SCOPE_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_BY_MEMBER_FIELD_NUMBER: _ClassVar[int]
    BULK_EVALUATIONS_BY_MEMBER_FIELD_NUMBER: _ClassVar[int]
    SUBMITS_BY_DAY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_BY_MEMBER_FIELD_NUMBER: _ClassVar[int]
    QUOTA_USED_TODAY_FIELD_NUMBER: _ClassVar[int]
    QUOTA_LIMITS_FIELD_NUMBER: _ClassVar[int]
    signals_by_category: _containers.RepeatedCompositeFieldContainer[Count]
    signals_by_type: _containers.RepeatedCompositeFieldContainer[Count]
    signals_by_member: _containers.RepeatedCompositeFieldContainer[Count]
    events_by_kind: _containers.RepeatedCompositeFieldContainer[Count]
    feedback_by_verdict: _containers.RepeatedCompositeFieldContainer[Count]
    submits_by_day: _containers.RepeatedCompositeFieldContainer[Count]
    lookups_by_member: _containers.RepeatedCompositeFieldContainer[Count]
    quota_denials_by_member: _containers.RepeatedCompositeFieldContainer[Count]
    active_signals: int
    counts_scope: str
    evaluations_by_member: _containers.RepeatedCompositeFieldContainer[Count]
    bulk_evaluations_by_member: _containers.RepeatedCompositeFieldContainer[Count]
    submits_by_day_category: _containers.RepeatedCompositeFieldContainer[PairCount]
    feedback_by_category: _containers.RepeatedCompositeFieldContainer[PairCount]
    last_activity_by_member: _containers.RepeatedCompositeFieldContainer[Count]
    quota_used_today: _containers.RepeatedCompositeFieldContainer[PairCount]
    quota_limits: _containers.RepeatedCompositeFieldContainer[PairCount]
    def __init__(self, signals_by_category: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., signals_by_type: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., signals_by_member: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., events_by_kind: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., feedback_by_verdict: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., submits_by_day: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., lookups_by_member: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., quota_denials_by_member: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., active_signals: _Optional[int] = ..., counts_scope: _Optional[str] = ..., evaluations_by_member: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., bulk_evaluations_by_member: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., submits_by_day_category: _Optional[_Iterable[_Union[PairCount, _Mapping]]] = ..., feedback_by_category: _Optional[_Iterable[_Union[PairCount, _Mapping]]] = ..., last_activity_by_member: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., quota_used_today: _Optional[_Iterable[_Union[PairCount, _Mapping]]] = ..., quota_limits: _Optional[_Iterable[_Union[PairCount, _Mapping]]] = ...) -> None: ...

class SetQuarantine(_message.Message):
    __slots__ = ("signal_id", "quarantined", "reason")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    quarantined: bool
    reason: str
    def __init__(self, signal_id: _Optional[int] = ..., quarantined: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class GetCharterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCharterResponse(_message.Message):
    __slots__ = ("document", "version", "sha256", "canonical", "applied_at", "applied_index")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    document: str
    version: int
    sha256: bytes
    canonical: str
    applied_at: int
    applied_index: int
    def __init__(self, document: _Optional[str] = ..., version: _Optional[int] = ..., sha256: _Optional[bytes] = ..., canonical: _Optional[str] = ..., applied_at: _Optional[int] = ..., applied_index: _Optional[int] = ...) -> None: ...

class ListWarninglistsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Warninglist(_message.Message):
    __slots__ = ("name", "mode", "description", "entries_by_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    mode: str
    description: str
    entries_by_type: _containers.RepeatedCompositeFieldContainer[Count]
    def __init__(self, name: _Optional[str] = ..., mode: _Optional[str] = ..., description: _Optional[str] = ..., entries_by_type: _Optional[_Iterable[_Union[Count, _Mapping]]] = ...) -> None: ...

class ListWarninglistsResponse(_message.Message):
    __slots__ = ("warninglists",)
    WARNINGLISTS_FIELD_NUMBER: _ClassVar[int]
    warninglists: _containers.RepeatedCompositeFieldContainer[Warninglist]
    def __init__(self, warninglists: _Optional[_Iterable[_Union[Warninglist, _Mapping]]] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: str
    def __init__(self, report: _Optional[str] = ...) -> None: ...
