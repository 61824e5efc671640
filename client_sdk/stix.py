"""STIX 2.1 in and out: the one mapping between this exchange's signals and STIX objects.

Shared by the exchange's TAXII view (``exchange/taxii``) and ``sigx pull/push --format stix``, so an
object has the same id and content whichever way a member receives it.

Out (what an event becomes)
  * SUBMIT   -> the observable (``file`` with ``hashes.MD5`` or ``hashes.x_pdq``; for identifier types a
               ``x-sigx-pseudonym`` observable carrying the 32-byte pseudonym, never the raw value) and
               an ``indicator`` whose pattern matches it (labels: the category; ``created_by_ref``: the
               submitter's identity; ``valid_until``: when the signal expires).
  * RETRACT  -> a new version of that indicator with ``revoked: true``.
  * FEEDBACK -> an ``opinion`` on the indicator (confirmed: agree, actioned: strongly-agree,
               false_positive: strongly-disagree, not_found and duplicate: neutral).
  Ids are UUIDv5: observables from their contributing properties (STIX 2.1 §2.9), everything else
  from the exchange (its CA certificate) and the signal id or event seq, so the TAXII view and a
  pull give the same ids.

In (what a member's threat-intelligence platform exports)
  ``email-addr``, ``user-account`` (``account_login`` and ``account_type`` as the platform), ``url``,
  ``domain-name``, ``ipv4-addr``/``ipv6-addr`` (single addresses), ``file`` (``hashes.MD5``,
  ``hashes.x_pdq``), and this exchange's ``x-sigx-phone-number`` (``value``) and
  ``x-sigx-payment-handle`` (``value``, ``provider``), published as ``extension-definition`` objects
  (``EXTENSION_DEFINITIONS``). Every value is normalised as any other input (and identifiers are
  pseudonymised by the SDK when submitted). Other observables, and values that do not normalise, are
  reported per object; SDOs, SROs and meta objects are context and are skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from client_sdk.errors import InvalidIdentifierError, SignalExchangeError
from client_sdk.models import Identifier

SPEC_VERSION = "2.1"
MEDIA_TYPE_STIX = "application/stix+json;version=2.1"
# STIX 2.1 §2.9: the namespace of deterministic observable ids.
_SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
# This project's namespace, for the objects it defines itself (extension definitions, its identity).
_PROJECT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://signal-exchange.invalid/stix")
_DEFINED_AT = "2025-01-01T00:00:00.000Z"

PSEUDONYM_TYPE = "x-sigx-pseudonym"
PHONE_TYPE = "x-sigx-phone-number"
PAYMENT_TYPE = "x-sigx-payment-handle"
PDQ_HASH = "x_pdq"

PSEUDONYM_TYPES = ("email", "phone", "username", "payment_handle", "url", "domain", "ip")
_OPINIONS = {
    "confirmed": "agree",
    "actioned": "strongly-agree",
    "false_positive": "strongly-disagree",
    "not_found": "neutral",
    "duplicate": "neutral",
}


class StixError(SignalExchangeError, ValueError):
    """A STIX document that cannot be read at all (not JSON, not a bundle)."""


def stable_uuid(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """A UUID of version 4's form whose 122 bits come from SHA-256(namespace, name): deterministic, as
    object ids must be for the TAXII view and a pull to agree, yet of the form STIX 2.1 requires for
    SDOs, SROs and custom observables (validators check the version digit)."""
    digest = hashlib.sha256(namespace.bytes + name.encode("utf-8")).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def _project_id(kind: str, name: str) -> str:
    return f"{kind}--{stable_uuid(_PROJECT_NAMESPACE, name)}"


EXCHANGE_IDENTITY: dict[str, Any] = {
    "type": "identity",
    "spec_version": SPEC_VERSION,
    "id": _project_id("identity", "signal-exchange"),
    "created": _DEFINED_AT,
    "modified": _DEFINED_AT,
    "name": "Signal Exchange",
    "description": "The Signal Exchange project, which defines the x-sigx observable types.",
    "identity_class": "system",
}


def _extension_definition(sco_type: str, description: str, properties: str) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": SPEC_VERSION,
        "id": _project_id("extension-definition", sco_type),
        "created_by_ref": EXCHANGE_IDENTITY["id"],
        "created": _DEFINED_AT,
        "modified": _DEFINED_AT,
        "name": sco_type,
        "description": description,
        "schema": f"A STIX 2.1 cyber-observable object of type {sco_type} with the properties {properties}.",
        "version": "1.0.0",
        "extension_types": ["new-sco"],
    }


EXTENSION_DEFINITIONS: dict[str, dict[str, Any]] = {
    PSEUDONYM_TYPE: _extension_definition(
        PSEUDONYM_TYPE,
        "An identifier (e-mail address, phone number, username, payment handle, URL, domain or IP address) "
        "as a Signal Exchange pseudonym: the exchange's RFC 9497 VOPRF output for its normalised form. "
        "It carries no raw value.",
        "identifier_type (email, phone, username, payment_handle, url, domain, ip; required), "
        "pseudonym (64 lower-case hex digits; required), oprf_epoch (integer)",
    ),
    PHONE_TYPE: _extension_definition(
        PHONE_TYPE,
        "A telephone number, in E.164 form or with a region.",
        "value (the number; required), region (ISO 3166-1 alpha-2, when the number has no leading +)",
    ),
    PAYMENT_TYPE: _extension_definition(
        PAYMENT_TYPE,
        "A payment handle (Cash App $cashtag, PayPal.me or Venmo name, ...).",
        "value (the handle or its URL; required), provider (cashapp, paypal, venmo, ...)",
    ),
}


def _extension(sco_type: str) -> dict[str, Any]:
    return {EXTENSION_DEFINITIONS[sco_type]["id"]: {"extension_type": "new-sco"}}


# -- timestamps and ids ---------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # signals come in batches that share a second
def timestamp(unix: float) -> str:
    """A STIX/TAXII timestamp in UTC with microsecond precision."""
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> float:
    """A STIX/TAXII timestamp (``…Z``, any sub-second precision) as Unix seconds; raises ValueError."""
    if not isinstance(text, str) or not text.endswith("Z") or "T" not in text:
        raise ValueError(f"not a UTC timestamp: {text!r}")
    body = text[:-1]
    whole, _, fraction = body.partition(".")
    if fraction and (not fraction.isdigit() or len(fraction) > 9):
        raise ValueError(f"not a UTC timestamp: {text!r}")
    base = dt.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return base.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def exchange_namespace(ca_pem: bytes) -> uuid.UUID:
    """The namespace of one exchange's object ids: derived from its CA certificate, which every member
    and the exchange itself hold."""
    der = x509.load_pem_x509_certificate(ca_pem).public_bytes(Encoding.DER)
    return uuid.uuid5(_PROJECT_NAMESPACE, hashlib.sha256(der).hexdigest())


def _sco_id(sco_type: str, contributing: Mapping[str, Any]) -> str:
    """STIX 2.1 §2.9 ids: UUIDv5 of the contributing properties for the standard observables; for this
    project's own observable types the same input, as a stable version-4-form UUID."""
    canonical = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if sco_type.startswith("x-"):
        return f"{sco_type}--{stable_uuid(_SCO_NAMESPACE, sco_type + canonical)}"
    return f"{sco_type}--{uuid.uuid5(_SCO_NAMESPACE, canonical)}"


# -- out: signals and events as STIX ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalView:
    """What the STIX objects of one signal are made from (the same on the exchange and in the SDK)."""

    signal_id: int
    submitter: str
    type: str  # SDK type name: email, …, media_md5, media_pdq
    value: bytes
    category: str
    qualifier: str
    confidence: int
    created: int  # when the exchange accepted it (Unix seconds)
    expires_at: int  # 0: unknown


class StixMapper:
    """Builds the STIX objects of one exchange's signals and events.

    Indicator ids stand for a signal id and opinion ids for a feedback event's seq, packed into the
    UUID behind a tag derived from the exchange and the kind (``number_of``), so an object can be
    found again from its id alone.
    """

    _KINDS = ("indicator", "opinion", "identity")

    def __init__(self, namespace: uuid.UUID) -> None:
        self._ns = namespace
        self._identity_ids: dict[str, str] = {}
        self._tags = {
            kind: int.from_bytes(hashlib.sha256(namespace.bytes + kind.encode()).digest()[:10], "big") >> 6
            for kind in self._KINDS
        }

    def _packed(self, kind: str, number: int) -> str:
        if not 0 <= number < 1 << 48:
            raise ValueError(f"{kind} number out of range: {number}")
        value = (self._tags[kind] << 48) | number  # 122 bits, around the version and variant bits
        n = (value >> 74) << 80 | 4 << 76 | ((value >> 62) & 0xFFF) << 64 | 0b10 << 62 | (value & ((1 << 62) - 1))
        return f"{kind}--{uuid.UUID(int=n)}"

    def number_of(self, object_id: str) -> tuple[str, int] | None:
        """(kind, signal id or seq) for an id this mapper made; None for any other id."""
        kind, sep, text = object_id.partition("--")
        if not sep or kind not in self._tags:
            return None
        try:
            n = uuid.UUID(text).int
        except ValueError:
            return None
        if (n >> 76) & 0xF != 4 or (n >> 62) & 0b11 != 0b10:
            return None
        value = (n >> 80) << 74 | ((n >> 64) & 0xFFF) << 62 | (n & ((1 << 62) - 1))
        if value >> 48 != self._tags[kind]:
            return None
        return kind, value & ((1 << 48) - 1)

    @property
    def namespace(self) -> uuid.UUID:
        return self._ns

    @classmethod
    def for_ca(cls, ca_pem: bytes) -> StixMapper:
        return cls(exchange_namespace(ca_pem))

    def indicator_id(self, signal_id: int) -> str:
        return self._packed("indicator", signal_id)

    def opinion_id(self, seq: int) -> str:
        return self._packed("opinion", seq)

    def identity_id(self, member_id: str) -> str:
        known = self._identity_ids.get(member_id)
        if known is None:
            known = self._identity_ids[member_id] = f"identity--{stable_uuid(self._ns, f'member:{member_id}')}"
        return known

    def identity(self, member_id: str) -> dict[str, Any]:
        """The identity object standing for a member (``created_by_ref`` of what it shares)."""
        return {
            "type": "identity",
            "spec_version": SPEC_VERSION,
            "id": self.identity_id(member_id),
            "created": _DEFINED_AT,
            "modified": _DEFINED_AT,
            "name": member_id,
            "description": f"Member {member_id} of this Signal Exchange.",
            "identity_class": "organization",
        }

    @staticmethod
    def observable(view: SignalView) -> dict[str, Any]:
        """The observable a signal is about: a file hash, or the pseudonym of an identifier."""
        hexed = view.value.hex()
        if view.type in ("media_md5", "media_pdq"):
            hashes = {"MD5": hexed} if view.type == "media_md5" else {PDQ_HASH: hexed}
            file_id = _sco_id("file", {"hashes": hashes})
            return {"type": "file", "spec_version": SPEC_VERSION, "id": file_id, "hashes": hashes}
        contributing = {"identifier_type": view.type, "pseudonym": hexed}
        return {
            "type": PSEUDONYM_TYPE,
            "spec_version": SPEC_VERSION,
            "id": _sco_id(PSEUDONYM_TYPE, contributing),
            **contributing,
            "extensions": _extension(PSEUDONYM_TYPE),
        }

    @staticmethod
    def pattern(view: SignalView) -> str:
        hexed = view.value.hex()
        if view.type == "media_md5":
            return f"[file:hashes.MD5 = '{hexed}']"
        if view.type == "media_pdq":
            return f"[file:hashes.{PDQ_HASH} = '{hexed}']"
        return f"[{PSEUDONYM_TYPE}:identifier_type = '{view.type}' AND {PSEUDONYM_TYPE}:pseudonym = '{hexed}']"

    def indicator(self, view: SignalView, modified: float | None = None, revoked: bool = False) -> dict[str, Any]:
        """The indicator of a signal; with ``revoked`` the version that records its retraction."""
        what = view.type.replace("_", " ") + ("" if view.type.startswith("media_") else " pseudonym")
        changed = float(view.created if modified is None else modified)
        if revoked:  # a new version needs a later ``modified``, even when retracted in the same second
            changed = max(changed, view.created + 0.001)
        created = timestamp(view.created)
        obj: dict[str, Any] = {
            "type": "indicator",
            "spec_version": SPEC_VERSION,
            "id": self.indicator_id(view.signal_id),
            "created_by_ref": self.identity_id(view.submitter),
            "created": created,
            "modified": created if changed == view.created else timestamp(changed),
            "name": f"{view.category}: {what}",
            "description": f"Signal {view.signal_id} shared by {view.submitter} on this Signal Exchange.",
            "indicator_types": ["malicious-activity"],
            "pattern": self.pattern(view),
            "pattern_type": "stix",
            "valid_from": created,
            "labels": [view.category],
            "confidence": view.confidence,
            "external_references": [{"source_name": "signal-exchange", "external_id": str(view.signal_id)}],
        }
        if view.expires_at > view.created:
            obj["valid_until"] = timestamp(view.expires_at)
        if revoked:
            obj["revoked"] = True
        return obj

    def opinion(self, seq: int, signal_id: int, member_id: str, verdict: str, at: int) -> dict[str, Any]:
        """One member's feedback on a signal, as an opinion on its indicator."""
        return {
            "type": "opinion",
            "spec_version": SPEC_VERSION,
            "id": self.opinion_id(seq),
            "created_by_ref": self.identity_id(member_id),
            "created": timestamp(at),
            "modified": timestamp(at),
            "explanation": f"Feedback from {member_id}: {verdict}.",
            "opinion": _OPINIONS.get(verdict, "neutral"),
            "object_refs": [self.indicator_id(signal_id)],
        }

    def submit_objects(self, view: SignalView) -> list[dict[str, Any]]:
        """The objects a SUBMIT event becomes: the observable, then its indicator."""
        return [self.observable(view), self.indicator(view)]


def bundle(objects: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A STIX 2.1 bundle of ``objects``."""
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


# -- in: observables to identifiers ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mapped:
    """An identifier read from one STIX object."""

    object_id: str
    identifier: Identifier


@dataclass(frozen=True, slots=True)
class Problem:
    """A STIX object that gave no signal, and why. ``fatal``: an observable that should have mapped."""

    object_id: str
    reason: str
    fatal: bool = True


@dataclass
class ReadResult:
    mapped: list[Mapped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def failures(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]


_CONTEXT_TYPES = frozenset(
    {
        "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
        "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
        "opinion", "report", "threat-actor", "tool", "vulnerability", "relationship", "sighting",
        "extension-definition", "language-content", "marking-definition",
    }
)  # fmt: skip


def _string(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"has no {name}")
    return value


def _identifiers(obj: Mapping[str, Any]) -> list[Identifier]:
    """The identifiers of one observable; raises ValueError saying why there are none."""
    kind = obj.get("type")
    if kind == "email-addr":
        return [Identifier("email", _string(obj, "value"))]
    if kind == "url":
        return [Identifier("url", _string(obj, "value"))]
    if kind == "domain-name":
        return [Identifier("domain", _string(obj, "value"))]
    if kind in ("ipv4-addr", "ipv6-addr"):
        value = _string(obj, "value")
        address, _, prefix = value.partition("/")
        if prefix and prefix != ("32" if kind == "ipv4-addr" else "128"):
            raise ValueError("is a network (CIDR block), not a single address")
        return [Identifier("ip", address)]
    if kind == "user-account":
        login = obj.get("account_login") or obj.get("user_id")
        if not isinstance(login, str) or not login.strip():
            raise ValueError("has no account_login or user_id")
        return [Identifier("username", login, platform=_string(obj, "account_type"))]
    if kind == PHONE_TYPE:
        region = obj.get("region")
        return [Identifier("phone", _string(obj, "value"), region=region if isinstance(region, str) else None)]
    if kind == PAYMENT_TYPE:
        provider = obj.get("provider")
        handle = _string(obj, "value")
        return [Identifier("payment_handle", handle, provider=provider if isinstance(provider, str) else None)]
    if kind == "file":
        hashes = obj.get("hashes")
        if not isinstance(hashes, dict):
            raise ValueError("has no hashes")
        found = []
        for key, value in hashes.items():
            if key.upper() == "MD5" and isinstance(value, str):
                found.append(Identifier("media_md5", value))
            elif key.lower() == PDQ_HASH and isinstance(value, str):
                found.append(Identifier("media_pdq", value))
        if not found:
            raise ValueError(f"has no MD5 or {PDQ_HASH} hash (only {', '.join(sorted(hashes)) or 'none'})")
        return found
    if kind == PSEUDONYM_TYPE:
        raise ValueError("is already a pseudonym: only raw identifiers are submitted (they are pseudonymised here)")
    raise ValueError(f"observables of type {kind} are not signals this exchange takes")


def read_objects(objects: Iterable[Any]) -> ReadResult:
    """Map STIX objects to identifiers, normalising each (nothing is sent anywhere)."""
    result = ReadResult()
    for position, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            result.problems.append(Problem(f"objects[{position}]", "is not a STIX object (no type)"))
            continue
        given = obj.get("id")
        object_id = given if isinstance(given, str) else f"objects[{position}]"
        if obj["type"] in _CONTEXT_TYPES:
            result.problems.append(Problem(object_id, f"{obj['type']} is context, not an observable", fatal=False))
            continue
        try:
            for ident in _identifiers(obj):
                ident.normalised()  # raises InvalidIdentifierError naming the type and the reason
                result.mapped.append(Mapped(object_id, ident))
        except (ValueError, InvalidIdentifierError) as exc:
            result.problems.append(Problem(object_id, str(exc)))
    return result


def read_bundle(data: bytes | str) -> ReadResult:
    """Read a STIX 2.1 bundle (or a bare list of objects); raises StixError if it does not parse."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StixError(f"not JSON: {exc}") from None
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        objects = doc.get("objects", [])
    elif isinstance(doc, dict) and isinstance(doc.get("type"), str):
        objects = [doc]
    elif isinstance(doc, list):
        objects = doc
    else:
        raise StixError("not a STIX bundle, object or list of objects")
    if not isinstance(objects, list):
        raise StixError("bundle objects is not a list")
    return read_objects(objects)


# -- the sigx commands: push and pull --format stix ------------------------------------------------


def pull_objects(client: Any, after: str | None = None, verify: bool = True) -> list[dict[str, Any]]:
    """Everything ``client`` may see after cursor ``after`` as STIX objects: the extension definitions
    and identities they use, then per event its objects, in log order (a retraction of a signal not in
    this pull is left out, as its indicator is not known here)."""
    mapper = StixMapper.for_ca(client.credentials.ca_pem)
    views: dict[int, SignalView] = {}
    members: dict[str, None] = {}
    out: list[dict[str, Any]] = []
    for event in client.pull(after, verify=verify):
        members[event.submitter] = None
        if event.kind == "submit" and event.signal is not None:
            s = event.signal
            view = SignalView(
                s.signal_id, s.submitter, s.type, s.value, s.category, s.qualifier, s.confidence,
                event.received_at, s.expires_at,
            )  # fmt: skip
            views[s.signal_id] = view
            out.extend(mapper.submit_objects(view))
        elif event.kind == "retract" and event.signal_id in views:
            out.append(mapper.indicator(views[event.signal_id], modified=event.received_at, revoked=True))
        elif event.kind == "feedback":
            out.append(mapper.opinion(event.seq, event.signal_id, event.submitter, event.verdict, event.received_at))
    head = [EXCHANGE_IDENTITY, *EXTENSION_DEFINITIONS.values(), *(mapper.identity(m) for m in members)]
    return head + out


def run_pull(args: Any, connect: Any) -> int:
    """``sigx pull --format stix``: one STIX 2.1 bundle on standard output."""
    import sys

    with connect(args) as client:
        objects = pull_objects(client, args.after, verify=not args.no_verify)
    json.dump(bundle(objects), sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
    print(f"{len(objects)} STIX objects", file=sys.stderr)
    return 0


def run_push(args: Any, connect: Any) -> int:
    """``sigx push --format stix BUNDLE --category C [--partial]``: submit the bundle's observables.

    Exits 1 naming each object that could not be mapped (nothing is submitted then, unless
    ``--partial``), or when nothing in the bundle maps; 0 when everything mapped was accepted."""
    import sys

    from client_sdk.models import Signal

    category = getattr(args, "category", None)
    if not category:
        print("sigx: push --format stix needs --category (STIX observables carry none)", file=sys.stderr)
        return 2
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        result = read_bundle(data)
    except (OSError, StixError) as exc:
        print(f"sigx: {args.file}: {exc}", file=sys.stderr)
        return 1
    for problem in result.problems:
        kind = "cannot map" if problem.fatal else "skipped"
        print(json.dumps({"object": problem.object_id, kind: problem.reason}), file=sys.stderr)
    if not result.mapped:
        print("sigx: nothing in the bundle maps to a signal; nothing submitted", file=sys.stderr)
        return 1
    if result.failures and not getattr(args, "partial", False):
        count = len(result.failures)
        message = f"sigx: {count} object(s) cannot be mapped; nothing submitted (--partial submits the rest)"
        print(message, file=sys.stderr)
        return 1
    signals = [Signal(m.identifier, category=category) for m in result.mapped]
    rejected = 0
    with connect(args) as client:
        for mapped, outcome in zip(result.mapped, client.submit(signals, batch_size=args.batch_size), strict=True):
            line = {"object": mapped.object_id, "type": mapped.identifier.type, "status": outcome.status}
            if outcome.status == "rejected":
                rejected += 1
                line["reason"] = outcome.reason
            if args.json or outcome.status == "rejected":
                print(json.dumps(line), file=sys.stdout if args.json else sys.stderr)
    print(
        f"{len(signals) - rejected} submitted, {rejected} rejected, {len(result.failures)} not mapped", file=sys.stderr
    )
    return 1 if rejected or result.failures else 0
