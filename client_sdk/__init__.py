"""Signal Exchange client SDK: normalise, pseudonymise, sign, push, pull and look up signals."""

from client_sdk.client import ExchangeClient
from client_sdk.credentials import Credentials
from client_sdk.errors import (
    ExchangeRpcError,
    InvalidIdentifierError,
    ProofError,
    SignalExchangeError,
    VerificationError,
)
from client_sdk.models import Event, Identifier, LookupResult, Match, MemberInfo, SharedSignal, Signal, SubmitResult

__all__ = [
    "Credentials",
    "Event",
    "ExchangeClient",
    "ExchangeRpcError",
    "Identifier",
    "InvalidIdentifierError",
    "LookupResult",
    "Match",
    "MemberInfo",
    "ProofError",
    "SharedSignal",
    "Signal",
    "SignalExchangeError",
    "SubmitResult",
    "VerificationError",
]
