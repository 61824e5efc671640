from client_sdk.wire import signals_pb2 as _signals_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBMIT_STATUS_UNSPECIFIED: _ClassVar[SubmitStatus]
    SUBMIT_STATUS_ACCEPTED: _ClassVar[SubmitStatus]
    SUBMIT_STATUS_DUPLICATE: _ClassVar[SubmitStatus]
    SUBMIT_STATUS_REJECTED: _ClassVar[SubmitStatus]
SUBMIT_STATUS_UNSPECIFIED: SubmitStatus
SUBMIT_STATUS_ACCEPTED: SubmitStatus
SUBMIT_STATUS_DUPLICATE: SubmitStatus
SUBMIT_STATUS_REJECTED: SubmitStatus

class SubmitRequest(_message.Message):
    __slots__ = ("envelopes",)
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    envelopes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, envelopes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubmitResult(_message.Message):
    __slots__ = ("status", "seq", "signal_id", "code", "reason", "message", "log_index")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    status: SubmitStatus
    seq: int
    signal_id: int
    code: int
    reason: str
    message: str
    log_index: int
    def __init__(self, status: _Optional[_Union[SubmitStatus, str]] = ..., seq: _Optional[int] = ..., signal_id: _Optional[int] = ..., code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., log_index: _Optional[int] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitResult, _Mapping]]] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("cursor", "limit", "types", "categories")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    limit: int
    types: _containers.RepeatedScalarFieldContainer[_signals_pb2.SignalType]
    categories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cursor: _Optional[str] = ..., limit: _Optional[int] = ..., types: _Optional[_Iterable[_Union[_signals_pb2.SignalType, str]]] = ..., categories: _Optional[_Iterable[str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "kind", "envelope", "received_at", "signal_id", "expires_at", "warninglists", "quarantine")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    WARNINGLISTS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: _signals_pb2.EventKind
    envelope: bytes
    received_at: int
    signal_id: int
    expires_at: int
    warninglists: _containers.RepeatedScalarFieldContainer[str]
    quarantine: str
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[_signals_pb2.EventKind, str]] = ..., envelope: _Optional[bytes] = ..., received_at: _Optional[int] = ..., signal_id: _Optional[int] = ..., expires_at: _Optional[int] = ..., warninglists: _Optional[_Iterable[str]] = ..., quarantine: _Optional[str] = ...) -> None: ...

class PullResponse(_message.Message):
    __slots__ = ("events", "cursor")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    cursor: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...

class LookupQuery(_message.Message):
    __slots__ = ("type", "value")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: _signals_pb2.SignalType
    value: bytes
    def __init__(self, type: _Optional[_Union[_signals_pb2.SignalType, str]] = ..., value: _Optional[bytes] = ...) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("queries", "max_distance")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[LookupQuery]
    max_distance: int
    def __init__(self, queries: _Optional[_Iterable[_Union[LookupQuery, _Mapping]]] = ..., max_distance: _Optional[int] = ...) -> None: ...

class FeedbackCounts(_message.Message):
    __slots__ = ("confirmed", "actioned", "false_positive", "not_found", "duplicate")
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    ACTIONED_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    confirmed: int
    actioned: int
    false_positive: int
    not_found: int
    duplicate: int
    def __init__(self, confirmed: _Optional[int] = ..., actioned: _Optional[int] = ..., false_positive: _Optional[int] = ..., not_found: _Optional[int] = ..., duplicate: _Optional[int] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("signal_id", "submitter", "type", "value", "category", "qualifier", "confidence", "first_seen", "last_seen", "expires_at", "feedback", "distance", "seq", "warninglists", "submitter_quality")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WARNINGLISTS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_QUALITY_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    submitter: str
    type: _signals_pb2.SignalType
    value: bytes
    category: str
    qualifier: str
    confidence: int
    first_seen: int
    last_seen: int
    expires_at: int
    feedback: FeedbackCounts
    distance: int
    seq: int
    warninglists: _containers.RepeatedScalarFieldContainer[str]
    submitter_quality: SubmitterQuality
    def __init__(self, signal_id: _Optional[int] = ..., submitter: _Optional[str] = ..., type: _Optional[_Union[_signals_pb2.SignalType, str]] = ..., value: _Optional[bytes] = ..., category: _Optional[str] = ..., qualifier: _Optional[str] = ..., confidence: _Optional[int] = ..., first_seen: _Optional[int] = ..., last_seen: _Optional[int] = ..., expires_at: _Optional[int] = ..., feedback: _Optional[_Union[FeedbackCounts, _Mapping]] = ..., distance: _Optional[int] = ..., seq: _Optional[int] = ..., warninglists: _Optional[_Iterable[str]] = ..., submitter_quality: _Optional[_Union[SubmitterQuality, _Mapping]] = ...) -> None: ...

class SubmitterQuality(_message.Message):
    __slots__ = ("confirmed", "actioned", "false_positive", "not_found")
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    ACTIONED_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    confirmed: int
    actioned: int
    false_positive: int
    not_found: int
    def __init__(self, confirmed: _Optional[int] = ..., actioned: _Optional[int] = ..., false_positive: _Optional[int] = ..., not_found: _Optional[int] = ...) -> None: ...

class LookupResult(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    def __init__(self, matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[LookupResult]
    def __init__(self, results: _Optional[_Iterable[_Union[LookupResult, _Mapping]]] = ...) -> None: ...

class RetractRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: bytes
    def __init__(self, envelope: _Optional[bytes] = ...) -> None: ...

class RetractResponse(_message.Message):
    __slots__ = ("seq", "log_index")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    seq: int
    log_index: int
    def __init__(self, seq: _Optional[int] = ..., log_index: _Optional[int] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: bytes
    def __init__(self, envelope: _Optional[bytes] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ("seq", "log_index", "unchanged")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    seq: int
    log_index: int
    unchanged: bool
    def __init__(self, seq: _Optional[int] = ..., log_index: _Optional[int] = ..., unchanged: _Optional[bool] = ...) -> None: ...
