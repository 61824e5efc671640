"""The TAXII 2.1 read-only API as a Starlette application (OASIS TAXII 2.1, sections 4 and 5).

Every request authenticates the client certificate's member through the policy engine (``admit``, as
the gRPC interceptor does, so a suspended member or a revoked certificate is refused on its next page)
and reads through ``read_filter`` afresh. Collections: one per audience the caller can read (the
signals shared with every member, and each of its groups), ``can_write`` false: writes answer 403.
Errors are TAXII error messages with the status the specification gives them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from client_sdk.stix import MEDIA_TYPE_STIX, StixMapper, parse_timestamp, stable_uuid, timestamp
from exchange.errors import (
    ExchangeError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)
from exchange.identity import Caller
from exchange.policy.engine import PULL, PolicyEngine
from exchange.store.base import Store
from exchange.taxii.objects import Collection, EventIndex, Query, Version, select_versions

MEDIA_TYPE_TAXII = "application/taxii+json;version=2.1"
API_ROOT = "api"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
EVERYONE = "all-members"
_MATCH_FIELDS = frozenset({"type", "id", "version", "spec_version"})
_STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class TaxiiError(Exception):
    """An error answered as a TAXII error message."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type=MEDIA_TYPE_TAXII, headers=headers)


def error_response(status: int, description: str) -> Response:
    title = _STATUS_TITLES.get(status, "Error")
    return _json({"title": title, "description": description, "http_status": str(status)}, status)


@functools.lru_cache(maxsize=1024)
def _certificate_identity(pem: str) -> tuple[str, int]:
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise UnauthenticatedError("a client certificate from this exchange's CA is required")
    return str(names[0].value), int(cert.not_valid_before_utc.timestamp())


@dataclass
class TaxiiContext:
    """What the endpoints need from the exchange."""

    store: Store
    policy: PolicyEngine
    mapper: StixMapper
    title: str = "Signal Exchange"

    def __post_init__(self) -> None:
        self.index = EventIndex(self.store)


def _caller(ctx: TaxiiContext, request: Request) -> Caller:
    """The member the verified client certificate names, admitted as a Pull would be."""
    tls = request.scope.get("extensions", {}).get("tls", {})
    chain = tls.get("client_cert_chain") or ()
    if not chain:
        raise UnauthenticatedError("a client certificate from this exchange's CA is required")
    member, issued = _certificate_identity(chain[0])
    return ctx.policy.admit(member, issued, PULL)


def _accepts_taxii(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if not accept:
        return True
    for part in accept.split(","):
        media = part.split(";q=")[0].strip().replace(" ", "").lower()
        if media in ("*/*", "application/*", "application/taxii+json", MEDIA_TYPE_TAXII):
            return True
    return False


Endpoint = Callable[[TaxiiContext, Request, Caller], Response]


def _endpoint(ctx: TaxiiContext, fn: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, check Accept, run ``fn`` in a worker thread (the store blocks), map errors."""
    from starlette.concurrency import run_in_threadpool

    async def handle(request: Request) -> Response:
        def run() -> Response:
            caller = _caller(ctx, request)
            if not _accepts_taxii(request):
                raise TaxiiError(406, f"this server answers {MEDIA_TYPE_TAXII}")
            return fn(ctx, request, caller)

        try:
            return await run_in_threadpool(run)
        except TaxiiError as exc:
            return error_response(exc.status, exc.description)
        except ExchangeError as exc:
            return error_response(_status_of(exc), exc.message)

    return handle


def _status_of(exc: ExchangeError) -> int:
    if isinstance(exc, UnauthenticatedError):
        return 401
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, InvalidArgumentError):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UnavailableError):
        return 503
    return 500


# -- collections ------------------------------------------------------------------


@dataclass(frozen=True)
class _Audience:
    collection_id: str
    title: str
    row: int | None
    name: str


def _audiences(ctx: TaxiiContext, caller: Caller) -> list[_Audience]:
    ns = ctx.mapper.namespace
    out = [_Audience(str(stable_uuid(ns, "collection:")), "Shared with every member", None, "")]
    groups = ctx.store.member_groups(caller.row)
    for group in sorted(ctx.store.list_groups(), key=lambda g: g.name):
        row = ctx.store.group_id(group.name)
        if row is not None and row in groups:
            collection_id = str(stable_uuid(ns, f"collection:{group.name}"))
            out.append(_Audience(collection_id, f"Group {group.name}", row, group.name))
    return out


def _collection_resource(a: _Audience) -> dict[str, Any]:
    return {
        "id": a.collection_id,
        "title": a.title,
        "description": "Signals of this audience the caller may read, as STIX 2.1 indicators and opinions.",
        "alias": a.name or EVERYONE,
        "can_read": True,
        "can_write": False,
        "media_types": [MEDIA_TYPE_STIX],
    }


def _collection(ctx: TaxiiContext, request: Request, caller: Caller) -> Collection:
    wanted = request.path_params["collection"]
    for a in _audiences(ctx, caller):
        if wanted in (a.collection_id, a.name or EVERYONE):
            ctx.policy.read_filter(caller)  # the caller may read at all
            return Collection(ctx.store, ctx.mapper, ctx.index, a.row, a.name, lambda: ctx.policy.read_filter(caller))
    raise TaxiiError(404, f"no collection {wanted!r} is readable by {caller.member_id}")


# -- parameters ------------------------------------------------------------------------


def _query(request: Request, allowed: frozenset[str]) -> Query:
    """Parse added_after, limit, next and match[...]; anything malformed is a 400."""
    params = request.query_params
    values: dict[str, Any] = {}
    for key in params:
        if key.startswith("match[") and key.endswith("]"):
            name = key[6:-1]
            if name not in allowed:
                raise TaxiiError(400, f"match[{name}] is not supported here (supported: {', '.join(sorted(allowed))})")
            items = [v.strip() for raw in params.getlist(key) for v in raw.split(",") if v.strip()]
            if not items:
                raise TaxiiError(400, f"{key} is empty")
            values[name] = items
        elif key not in ("added_after", "limit", "next"):
            raise TaxiiError(400, f"unknown query parameter {key!r}")
    query = Query()
    if "added_after" in params:
        try:
            query = _replace(query, added_after=parse_timestamp(params["added_after"]))
        except ValueError:
            raise TaxiiError(400, "added_after must be a timestamp such as 2025-01-31T12:00:00.000000Z") from None
    if "limit" in params:
        text = params["limit"]
        if not text.isdigit() or int(text) < 1:
            raise TaxiiError(400, "limit must be a whole number of at least 1")
        query = _replace(query, limit=min(int(text), MAX_LIMIT))
    else:
        query = _replace(query, limit=DEFAULT_LIMIT)
    if "next" in params:
        token = params["next"]
        if not token.startswith("s") or not token[1:].isdigit() or len(token) > 21:
            raise TaxiiError(400, "next is not a token this server gave")
        query = _replace(query, after_seq=int(token[1:]))
    if "type" in values:
        query = _replace(query, types=frozenset(values["type"]))
    if "id" in values:
        query = _replace(query, ids=frozenset(values["id"]))
    if "spec_version" in values:
        query = _replace(query, spec_versions=frozenset(values["spec_version"]))
    if "version" in values:
        for v in values["version"]:
            if v not in ("first", "last", "all"):
                try:
                    parse_timestamp(v)
                except ValueError:
                    msg = f"match[version] must be first, last, all or a timestamp, not {v!r}"
                    raise TaxiiError(400, msg) from None
        query = _replace(query, versions=tuple(values["version"]))
    return query


def _replace(query: Query, **changes: Any) -> Query:
    from dataclasses import replace

    return replace(query, **changes)


def _date_headers(versions: list[Version]) -> dict[str, str]:
    if not versions:
        return {}
    return {
        "X-TAXII-Date-Added-First": timestamp(versions[0].date_added),
        "X-TAXII-Date-Added-Last": timestamp(versions[-1].date_added),
    }


def _paged(items: list[Any], key: str, more: bool, resume: int) -> dict[str, Any]:
    body: dict[str, Any] = {"more": more}
    if more:
        body["next"] = f"s{resume}"
    if items:
        body[key] = items
    return body


# -- endpoints -----------------------------------------------------------------------


def discovery(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    root = str(request.url_for("api_root"))
    return _json(
        {
            "title": ctx.title,
            "description": "The read-only TAXII 2.1 view of this Signal Exchange.",
            "default": root,
            "api_roots": [root],
        }
    )


def api_root(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    return _json(
        {
            "title": ctx.title,
            "description": "Signals the caller may read, one collection per audience.",
            "versions": [MEDIA_TYPE_TAXII],
            "max_content_length": 0,
        }
    )


def collections(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    ctx.policy.read_filter(caller)
    return _json({"collections": [_collection_resource(a) for a in _audiences(ctx, caller)]})


def collection(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    wanted = request.path_params["collection"]
    for a in _audiences(ctx, caller):
        if wanted in (a.collection_id, a.name or EVERYONE):
            return _json(_collection_resource(a))
    raise TaxiiError(404, f"no collection {wanted!r} is readable by {caller.member_id}")


def objects(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    coll = _collection(ctx, request, caller)
    query = _query(request, _MATCH_FIELDS)
    versions, more, resume = coll.page(query)
    return _json(_paged([v.obj for v in versions], "objects", more, resume), headers=_date_headers(versions))


def manifest(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    coll = _collection(ctx, request, caller)
    query = _query(request, _MATCH_FIELDS)
    versions, more, resume = coll.page(query)
    records = [
        {
            "id": v.obj["id"],
            "date_added": timestamp(v.date_added),
            "version": v.obj["modified"],
            "media_type": MEDIA_TYPE_STIX,
        }
        for v in versions
    ]
    return _json(_paged(records, "objects", more, resume), headers=_date_headers(versions))


def _object_versions(ctx: TaxiiContext, request: Request, caller: Caller) -> tuple[list[Version], Query]:
    coll = _collection(ctx, request, caller)
    query = _query(request, frozenset({"version", "spec_version"}))
    object_id = request.path_params["object"]
    found = coll.versions_of_id(object_id)
    if query.added_after is not None:
        found = [v for v in found if v.date_added > query.added_after]
    if query.spec_versions is not None and "2.1" not in query.spec_versions:
        found = []
    if not found:
        raise TaxiiError(404, f"no object {object_id!r} in this collection for {caller.member_id}")
    return found, query


def get_object(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    found, query = _object_versions(ctx, request, caller)
    chosen = select_versions(found, query.versions)
    page = chosen[: query.limit]
    more = len(chosen) > len(page)
    body = _paged([v.obj for v in page], "objects", more, page[-1].seq if page else 0)
    return _json(body, headers=_date_headers(page))


def object_versions(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    found, query = _object_versions(ctx, request, caller)
    page = found[: query.limit]
    more = len(found) > len(page)
    body = _paged([v.obj["modified"] for v in page], "versions", more, page[-1].seq if page else 0)
    return _json(body, headers=_date_headers(page))


def read_only(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    _collection(ctx, request, caller)  # an unknown collection is still a 404
    raise TaxiiError(403, "this TAXII view is read-only: submit signals with the SDK or sigx push")


def status(ctx: TaxiiContext, request: Request, caller: Caller) -> Response:
    raise TaxiiError(404, "this read-only view has no status resources")


def build_app(ctx: TaxiiContext) -> Starlette:
    """The TAXII 2.1 application: discovery at /taxii2/, one API root at /api/."""

    def route(path: str, fn: Endpoint, methods: tuple[str, ...] = ("GET",), name: str | None = None) -> Route:
        return Route(path, _endpoint(ctx, fn), methods=list(methods), name=name)

    base = f"/{API_ROOT}/collections/{{collection}}"
    routes = [
        route("/taxii2/", discovery),
        route(f"/{API_ROOT}/", api_root, name="api_root"),
        route(f"/{API_ROOT}/collections/", collections),
        route(f"{base}/", collection),
        route(f"{base}/objects/", objects),
        route(f"{base}/objects/", read_only, ("POST",)),
        route(f"{base}/manifest/", manifest),
        route(f"{base}/objects/{{object}}/", get_object),
        route(f"{base}/objects/{{object}}/", read_only, ("DELETE",)),
        route(f"{base}/objects/{{object}}/versions/", object_versions),
        route(f"/{API_ROOT}/status/{{status}}/", status),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        return error_response(code, "no such TAXII resource" if code == 404 else str(_STATUS_TITLES.get(code, "")))

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
