from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SafeguardRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: bytes
    def __init__(self, envelope: _Optional[bytes] = ...) -> None: ...

class SafeguardResponse(_message.Message):
    __slots__ = ("seq", "log_index")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    seq: int
    log_index: int
    def __init__(self, seq: _Optional[int] = ..., log_index: _Optional[int] = ...) -> None: ...

class ListQuarantinedRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Quarantined(_message.Message):
    __slots__ = ("signal_id", "submitter", "reason", "since", "seq")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    submitter: str
    reason: str
    since: int
    seq: int
    def __init__(self, signal_id: _Optional[int] = ..., submitter: _Optional[str] = ..., reason: _Optional[str] = ..., since: _Optional[int] = ..., seq: _Optional[int] = ...) -> None: ...

class ListQuarantinedResponse(_message.Message):
    __slots__ = ("signals",)
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[Quarantined]
    def __init__(self, signals: _Optional[_Iterable[_Union[Quarantined, _Mapping]]] = ...) -> None: ...

class ListRedressRequest(_message.Message):
    __slots__ = ("pending_only",)
    PENDING_ONLY_FIELD_NUMBER: _ClassVar[int]
    pending_only: bool
    def __init__(self, pending_only: _Optional[bool] = ...) -> None: ...

class RedressItem(_message.Message):
    __slots__ = ("signal_id", "member", "received_via", "retracted_at", "outcome", "acknowledged_at", "retract_seq")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_VIA_FIELD_NUMBER: _ClassVar[int]
    RETRACTED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    RETRACT_SEQ_FIELD_NUMBER: _ClassVar[int]
    signal_id: int
    member: str
    received_via: str
    retracted_at: int
    outcome: str
    acknowledged_at: int
    retract_seq: int
    def __init__(self, signal_id: _Optional[int] = ..., member: _Optional[str] = ..., received_via: _Optional[str] = ..., retracted_at: _Optional[int] = ..., outcome: _Optional[str] = ..., acknowledged_at: _Optional[int] = ..., retract_seq: _Optional[int] = ...) -> None: ...

class ListRedressResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RedressItem]
    def __init__(self, items: _Optional[_Iterable[_Union[RedressItem, _Mapping]]] = ...) -> None: ...
