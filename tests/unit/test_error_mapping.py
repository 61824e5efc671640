"""Every domain error maps to a precise gRPC code, and the SDK has a twin for it. Which code each error gets,
with its reason, is checked end to end by tests/integration/test_error_round_trip.py."""

from __future__ import annotations

import inspect

import grpc
import pytest

import client_sdk.errors as sdk_errors
from exchange import errors
from exchange.rpc.status import STATUS_TABLE, status_for


def _domain_errors() -> list[type[errors.ExchangeError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ExchangeError) and cls is not errors.ExchangeError
    ]


@pytest.mark.parametrize("cls", _domain_errors(), ids=lambda c: c.__name__)
def test_every_error_class_is_mapped(cls: type[errors.ExchangeError]) -> None:
    error = cls("m", retry_after=1.0) if cls is errors.QuotaExceededError else cls("m")
    code = status_for(error)
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.OK)
    twin = sdk_errors.RPC_ERRORS.get(code.name)
    assert twin is not None and issubclass(twin, sdk_errors.ExchangeRpcError), f"no SDK twin for {code.name}"


def test_table_lists_subclasses_before_their_bases() -> None:
    classes = [cls for cls, _ in STATUS_TABLE]
    for i, cls in enumerate(classes):
        for later in classes[i + 1 :]:
            assert not issubclass(later, cls), f"{later.__name__} is shadowed by {cls.__name__}"


def test_unmapped_error_is_internal() -> None:
    class Stray(errors.ExchangeError):
        pass

    assert status_for(Stray("x")) == grpc.StatusCode.INTERNAL


def test_every_reason_is_a_tag() -> None:
    for cls in _domain_errors():
        assert cls.reason.replace("_", "").isalpha() and cls.reason.islower()
