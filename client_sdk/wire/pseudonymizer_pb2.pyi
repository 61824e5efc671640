from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetPublicKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPublicKeyResponse(_message.Message):
    __slots__ = ("suite", "mode", "epoch", "public_key")
    SUITE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    suite: str
    mode: int
    epoch: int
    public_key: bytes
    def __init__(self, suite: _Optional[str] = ..., mode: _Optional[int] = ..., epoch: _Optional[int] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("blinded_elements", "epoch", "bulk")
    BLINDED_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BULK_FIELD_NUMBER: _ClassVar[int]
    blinded_elements: _containers.RepeatedScalarFieldContainer[bytes]
    epoch: int
    bulk: bool
    def __init__(self, blinded_elements: _Optional[_Iterable[bytes]] = ..., epoch: _Optional[int] = ..., bulk: _Optional[bool] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("evaluated_elements", "proof", "epoch")
    EVALUATED_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    evaluated_elements: _containers.RepeatedScalarFieldContainer[bytes]
    proof: bytes
    epoch: int
    def __init__(self, evaluated_elements: _Optional[_Iterable[bytes]] = ..., proof: _Optional[bytes] = ..., epoch: _Optional[int] = ...) -> None: ...
