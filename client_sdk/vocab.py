"""The exchange's vocabulary, derived once from the wire enums: signal types, event kinds, verdicts
and submit statuses, with the facts about them that the enums cannot carry (value lengths,
qualifiers). Every other module — SDK and server alike — takes its tables from here.

Names are the enum names without their prefix, lower-cased: ``SIGNAL_TYPE_PAYMENT_HANDLE`` is
``payment_handle``, ``VERDICT_FALSE_POSITIVE`` is ``false_positive``. A type is also the OPRF
input's label (``type || 0x00 || normalised``), so its canonical spelling is part of every
pseudonym: :func:`canonical_type` is the only way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from client_sdk.errors import InvalidIdentifierError
from client_sdk.wire import exchange_pb2, signals_pb2


def _table(enum: Any, prefix: str) -> dict[str, Any]:
    """``{name: value}`` of a proto enum, without its prefix and its UNSPECIFIED zero."""
    return {name.removeprefix(prefix).lower(): value for name, value in enum.items() if value}


def _inverse(table: Mapping[str, int]) -> dict[int, str]:
    return {value: name for name, value in table.items()}


# -- signal types ------------------------------------------------------------------------------

TYPE_CODES: dict[str, signals_pb2.SignalType] = _table(signals_pb2.SignalType, "SIGNAL_TYPE_")
TYPE_NAMES: dict[int, str] = _inverse(TYPE_CODES)
TYPES: tuple[str, ...] = tuple(TYPE_CODES)

TYPE_EMAIL = signals_pb2.SIGNAL_TYPE_EMAIL
TYPE_USERNAME = signals_pb2.SIGNAL_TYPE_USERNAME
TYPE_PAYMENT_HANDLE = signals_pb2.SIGNAL_TYPE_PAYMENT_HANDLE
TYPE_MEDIA_MD5 = signals_pb2.SIGNAL_TYPE_MEDIA_MD5
TYPE_MEDIA_PDQ = signals_pb2.SIGNAL_TYPE_MEDIA_PDQ

#: Media hashes travel as themselves; every other type as a 32-byte pseudonym.
MEDIA_TYPES: frozenset[str] = frozenset(name for name in TYPES if name.startswith("media_"))
MEDIA_CODES: frozenset[int] = frozenset(TYPE_CODES[name] for name in MEDIA_TYPES)
#: Wire value -> the length of its value in bytes: 16 for MD5, 32 for PDQ and for pseudonyms.
VALUE_BYTES: dict[int, int] = {code: 16 if code == TYPE_MEDIA_MD5 else 32 for code in TYPE_NAMES}
#: Types qualified by the platform (usernames) or the provider (payment handles) they live on.
QUALIFIER_FIELD: dict[str, str] = {"username": "platform", "payment_handle": "provider"}
QUALIFIED_CODES: frozenset[int] = frozenset(TYPE_CODES[name] for name in QUALIFIER_FIELD)

_TYPE_ALIASES: dict[str, str] = {
    spelling: name for name in TYPES for spelling in (name, name.upper(), "SIGNAL_TYPE_" + name.upper())
}


def canonical_type(kind: object) -> str:
    """The canonical name of a signal type given as ``email``, ``EMAIL`` or ``SIGNAL_TYPE_EMAIL``.

    Raises InvalidIdentifierError for anything else.
    """
    name = _TYPE_ALIASES.get(kind) if isinstance(kind, str) else None
    if name is None:
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
        raise InvalidIdentifierError(str(shown), f"unknown identifier type; expected one of {', '.join(TYPES)}")
    return name


def type_name(code: int) -> str:
    """The name of a wire type (``"unknown"`` for a value this SDK does not know)."""
    return TYPE_NAMES.get(code, "unknown")


# -- event kinds -------------------------------------------------------------------------------

EVENT_KIND_CODES: dict[str, signals_pb2.EventKind] = _table(signals_pb2.EventKind, "EVENT_KIND_")
EVENT_KINDS: dict[int, str] = _inverse(EVENT_KIND_CODES)
KIND_SUBMIT = signals_pb2.EVENT_KIND_SUBMIT
KIND_RETRACT = signals_pb2.EVENT_KIND_RETRACT
KIND_FEEDBACK = signals_pb2.EVENT_KIND_FEEDBACK
KIND_ADMIN = signals_pb2.EVENT_KIND_ADMIN
KIND_SAFEGUARD = signals_pb2.EVENT_KIND_SAFEGUARD
#: How a recipient answers a retraction for redress (``acknowledge(signal_id, outcome=…)``).
REDRESS_OUTCOMES = ("no_action", "action_taken", "action_reversed")
#: ``RetractBody.reason_code``: the first three make a retraction for redress (an operator's always is).
RETRACT_REASON_CODES = ("appeal_upheld", "wrong_person", "false_positive", "superseded", "other")
REDRESS_REASON_CODES = frozenset(RETRACT_REASON_CODES[:3])

# -- verdicts ----------------------------------------------------------------------------------

VERDICT_CODES: dict[str, signals_pb2.Verdict] = _table(signals_pb2.Verdict, "VERDICT_")
VERDICT_NAMES: dict[int, str] = _inverse(VERDICT_CODES)
VERDICTS: tuple[str, ...] = tuple(VERDICT_CODES)
#: Verdicts that count against a signal (a consumer found it wrong or could not find it).
NEGATIVE_VERDICTS: frozenset[str] = frozenset({"false_positive", "not_found"})


def canonical_verdict(verdict: object) -> str:
    """``confirmed``, ``CONFIRMED``, ``VERDICT_CONFIRMED`` or ``false-positive`` → the verdict's name.

    Raises ValueError naming the verdicts for anything else.
    """
    if isinstance(verdict, str):
        name = verdict.strip().lower().replace("-", "_").removeprefix("verdict_")
        if name in VERDICT_CODES:
            return name
    raise ValueError(f"unknown verdict {str(verdict)[:40]!r}; expected one of {', '.join(VERDICTS)}")


# -- submit statuses ---------------------------------------------------------------------------

SUBMIT_STATUS_CODES: dict[str, exchange_pb2.SubmitStatus] = _table(exchange_pb2.SubmitStatus, "SUBMIT_STATUS_")
SUBMIT_STATUS_NAMES: dict[int, str] = _inverse(SUBMIT_STATUS_CODES)
