"""The authenticated caller, set once per request by the interceptor."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from exchange.errors import UnauthenticatedError
from exchange.store.base import MemberRecord


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the member named by the client certificate, as the directory knows it."""

    member: MemberRecord
    cert_issued: int = 0  # notBefore of the client certificate the call came with (Unix seconds)

    @property
    def member_id(self) -> str:
        return self.member.member_id

    @property
    def row(self) -> int:
        return self.member.row

    @property
    def role(self) -> str:
        return self.member.role


_CURRENT: ContextVar[Caller | None] = ContextVar("sigx_caller", default=None)


def current_caller() -> Caller:
    """The caller of the request being handled; raises if the interceptor did not run."""
    caller = _CURRENT.get()
    if caller is None:
        raise UnauthenticatedError("no authenticated caller")
    return caller


def set_caller(caller: Caller | None) -> object:
    """Bind the caller for this request; returns a token for ``reset_caller``."""
    return _CURRENT.set(caller)


def reset_caller(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]
