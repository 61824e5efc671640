from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNAL_TYPE_UNSPECIFIED: _ClassVar[SignalType]
    SIGNAL_TYPE_EMAIL: _ClassVar[SignalType]
    SIGNAL_TYPE_PHONE: _ClassVar[SignalType]
    SIGNAL_TYPE_USERNAME: _ClassVar[SignalType]
    SIGNAL_TYPE_PAYMENT_HANDLE: _ClassVar[SignalType]
    SIGNAL_TYPE_URL: _ClassVar[SignalType]
    SIGNAL_TYPE_DOMAIN: _ClassVar[SignalType]
    SIGNAL_TYPE_IP: _ClassVar[SignalType]
    SIGNAL_TYPE_MEDIA_MD5: _ClassVar[SignalType]
    SIGNAL_TYPE_MEDIA_PDQ: _ClassVar[SignalType]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_SUBMIT: _ClassVar[EventKind]
    EVENT_KIND_RETRACT: _ClassVar[EventKind]
    EVENT_KIND_FEEDBACK: _ClassVar[EventKind]
    EVENT_KIND_ADMIN: _ClassVar[EventKind]
    EVENT_KIND_SAFEGUARD: _ClassVar[EventKind]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_CONFIRMED: _ClassVar[Verdict]
    VERDICT_ACTIONED: _ClassVar[Verdict]
    VERDICT_FALSE_POSITIVE: _ClassVar[Verdict]
    VERDICT_NOT_FOUND: _ClassVar[Verdict]
    VERDICT_DUPLICATE: _ClassVar[Verdict]
SIGNAL_TYPE_UNSPECIFIED: SignalType
SIGNAL_TYPE_EMAIL: SignalType
SIGNAL_TYPE_PHONE: SignalType
SIGNAL_TYPE_USERNAME: SignalType
SIGNAL_TYPE_PAYMENT_HANDLE: SignalType
SIGNAL_TYPE_URL: SignalType
SIGNAL_TYPE_DOMAIN: SignalType
SIGNAL_TYPE_IP: SignalType
SIGNAL_TYPE_MEDIA_MD5: SignalType
SIGNAL_TYPE_MEDIA_PDQ: SignalType
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_SUBMIT: EventKind
EVENT_KIND_RETRACT: EventKind
EVENT_KIND_FEEDBACK: EventKind
EVENT_KIND_ADMIN: EventKind
EVENT_KIND_SAFEGUARD: EventKind
VERDICT_UNSPECIFIED: Verdict
VERDICT_CONFIRMED: Verdict
VERDICT_ACTIONED: Verdict
VERDICT_FALSE_POSITIVE: Verdict
VERDICT_NOT_FOUND: Verdict
VERDICT_DUPLICATE: Verdict

class Envelope(_message.Message):
    __slots__ = ("payload", "payload_type", "signatures")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    payload_type: str
    signatures: _containers.RepeatedCompositeFieldContainer[Signature]
    def __init__(self, payload: _Optional[bytes] = ..., payload_type: _Optional[str] = ..., signatures: _Optional[_Iterable[_Union[Signature, _Mapping]]] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("keyid", "sig")
    KEYID_FIELD_NUMBER: _ClassVar[int]
    SIG_FIELD_NUMBER: _ClassVar[int]
    keyid: str
    sig: bytes
    def __init__(self, keyid: _Optional[str] = ..., sig: _Optional[bytes] = ...) -> None: ...

class SignalBody(_message.Message):
    __slots__ = ("submitter", "type", "value", "category", "qualifier", "audience", "confidence", "created_at", "expires_at", "labels", "oprf_epoch")
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OPRF_EPOCH_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    type: SignalType
    value: bytes
    category: str
    qualifier: str
    audience: str
    confidence: int
    created_at: int
    expires_at: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    oprf_epoch: int
    def __init__(self, submitter: _Optional[str] = ..., type: _Optional[_Union[SignalType, str]] = ..., value: _Optional[bytes] = ..., category: _Optional[str] = ..., qualifier: _Optional[str] = ..., audience: _Optional[str] = ..., confidence: _Optional[int] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., oprf_epoch: _Optional[int] = ...) -> None: ...

class RetractBody(_message.Message):
    __slots__ = ("submitter", "signal_id", "reason", "created_at", "reason_code")
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    signal_id: int
    reason: str
    created_at: int
    reason_code: str
    def __init__(self, submitter: _Optional[str] = ..., signal_id: _Optional[int] = ..., reason: _Optional[str] = ..., created_at: _Optional[int] = ..., reason_code: _Optional[str] = ...) -> None: ...

class FeedbackBody(_message.Message):
    __slots__ = ("submitter", "signal_id", "verdict", "created_at")
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    signal_id: int
    verdict: Verdict
    created_at: int
    def __init__(self, submitter: _Optional[str] = ..., signal_id: _Optional[int] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., created_at: _Optional[int] = ...) -> None: ...

class SafeguardBody(_message.Message):
    __slots__ = ("submitter", "created_at", "release", "quarantine", "acknowledge")
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    created_at: int
    release: Release
    quarantine: QuarantineSignal
    acknowledge: Acknowledge
    def __init__(self, submitter: _Optional[str] = ..., created_at: _Optional[int] = ..., release: _Optional[_Union[Release, _Mapping]] = ..., quarantine: _Optional[_Union[QuarantineSignal, _Mapping]] = ..., acknowledge: _Optional[_Union[Acknowledge, _Mapping]] = ...) -> None: ...

class Release(_message.Message):
    __slots__ = ("signal_id", "reason")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    reason: str
    def __init__(self, signal_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class QuarantineSignal(_message.Message):
    __slots__ = ("signal_id", "reason", "member", "matches", "window")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    reason: str
    member: str
    matches: int
    window: int
    def __init__(self, signal_id: _Optional[int] = ..., reason: _Optional[str] = ..., member: _Optional[str] = ..., matches: _Optional[int] = ..., window: _Optional[int] = ...) -> None: ...

class Acknowledge(_message.Message):
    __slots__ = ("signal_id", "outcome")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    outcome: str
    def __init__(self, signal_id: _Optional[int] = ..., outcome: _Optional[str] = ...) -> None: ...
