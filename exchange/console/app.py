"""The console's Starlette application: the settings it runs with, the wrapper every page goes through
(session, CSRF, rendering, errors as messages on the page) and the routes of the one role it serves."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from client_sdk import ExchangeClient, SignalExchangeError
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.member import MatchIndex
from exchange.console import charts
from exchange.console.auth import COOKIE, CSRF_FIELD, SESSION_SECONDS, Session, Sessions
from exchange.console.jobs import Jobs

HERE = Path(__file__).parent
#: An uploaded file larger than this is refused before it is read.
MAX_UPLOAD = 32 * 1024 * 1024
#: Every response: no framing, no other origin's scripts or styles, no Referer (a login URL holds a token).
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


@dataclass
class ConsoleSettings:
    credentials_dir: Path
    credentials: Credentials
    role: str  # member, operator or auditor: what the exchange says these credentials are
    server: str | None = None  # the exchange's address (None: the one in member.json)
    index: Path | None = None  # a member's match index
    audit_state: Path | None = None  # an auditor's state directory (kept between audits)
    secure: bool = False  # served over TLS: the cookie is Secure too


class ConsoleError(SignalExchangeError):
    """Bad input to a console page: shown on the page, nothing changed."""


@dataclass
class Console:
    """What every page shares: settings, sessions, jobs and the console's clients of the exchange."""

    settings: ConsoleSettings
    sessions: Sessions = field(default_factory=Sessions)
    jobs: Jobs = field(default_factory=Jobs)
    _exchange: ExchangeClient | None = None
    _admin: AdminClient | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: what a role's pages keep while the console runs (the auditor's reports), by page module
    kept: dict[str, Any] = field(default_factory=dict)
    #: the session cookie's name: one per console port, so two consoles on one host keep their own sessions
    cookie: str = COOKIE
    #: signal id -> (checkpoint size, or 0 when the proof failed, and what to say), per console run
    inclusion: dict[int, tuple[int, str]] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.settings.role

    @property
    def nav(self) -> list[tuple[str, str]]:
        return nav_of(self.role)

    @property
    def member_id(self) -> str:
        return self.settings.credentials.member_id

    def exchange(self) -> ExchangeClient:
        with self._lock:
            if self._exchange is None:
                self._exchange = ExchangeClient.connect(self.settings.server, credentials=self.settings.credentials)
            return self._exchange

    def admin(self) -> AdminClient:
        with self._lock:
            if self._admin is None:
                self._admin = AdminClient.connect(self.settings.server, self.settings.credentials)
            return self._admin

    @contextmanager
    def index(self) -> Iterator[MatchIndex]:
        """The member's match index, opened for one request (sqlite connections are cheap and per thread)."""
        if self.settings.index is None:
            raise ConsoleError("this console was started without --index: there is no review queue")
        with MatchIndex.open(self.settings.index, credentials=self.settings.credentials) as index:
            yield index

    def close(self) -> None:
        for client in (self._exchange, self._admin):
            if client is not None:
                client.close()


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["ts"] = charts.timestamp
templates.env.filters["day"] = charts.day


@dataclass
class Page:
    """One request to a page, after its session and CSRF token were checked."""

    request: Request
    session: Session
    console: Console
    form: FormData | None = None

    def field(self, name: str, default: str = "") -> str:
        source: Any = self.form if self.form is not None else self.request.query_params
        value = source.get(name, default)
        return value if isinstance(value, str) else default

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        flash, self.session.flash = self.session.flash, []
        context.update(
            console=self.console,
            role=self.console.role,
            nav=self.console.nav,
            session=self.session,
            csrf_field=CSRF_FIELD,
            csrf=self.session.csrf,
            flash=flash,
            path=self.request.url.path,
        )
        return templates.TemplateResponse(self.request, template, context, status_code=status)

    def redirect(self, url: str, message: str = "", kind: str = "ok") -> Response:
        if message:
            self.session.flash.append((kind, message))
        return RedirectResponse(url, status_code=303)


Handler = Callable[[Page], Response]

#: The page modules of each role, in menu order. Each has ``NAV`` (its menu entries, ``(path, label)``) and
#: ``pages(console)`` (its routes). A new part of the exchange adds its module here (as the safeguards pages
#: do), and the pages of no other role can be reached.
ROLE_MODULES: dict[str, tuple[str, ...]] = {
    "member": ("exchange.console.member", "exchange.console.member_safeguards"),
    "operator": ("exchange.console.operator", "exchange.console.operator_safeguards"),
    "auditor": ("exchange.console.auditor",),
}


def _modules(role: str) -> list[Any]:
    import importlib

    return [importlib.import_module(name) for name in ROLE_MODULES[role]]


def nav_of(role: str) -> list[tuple[str, str]]:
    """The menu of a role's console; its first entry is the home page."""
    return [entry for module in _modules(role) for entry in module.NAV]


def refused(request: Request, status: int, message: str) -> Response:
    return templates.TemplateResponse(
        request, "refused.html", {"message": message, "role": None, "nav": [], "flash": []}, status_code=status
    )


def page(console: Console, path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route whose handler runs (on the thread pool: gRPC and sqlite block) only for a live session and,
    for a POST, only with that session's CSRF token. A page's ConsoleError or exchange error is shown on
    the page it came from, with status 400, having changed nothing."""

    async def endpoint(request: Request) -> Response:
        session = console.sessions.get(request.cookies.get(console.cookie))
        if session is None:
            return refused(
                request,
                401 if request.method == "GET" else 403,
                "Not signed in: open the login link that sigx console printed.",
            )
        form = None
        if request.method == "POST":
            length = int(request.headers.get("content-length") or 0)
            if length > MAX_UPLOAD:
                return refused(request, 413, f"The upload is larger than {MAX_UPLOAD // 2**20} MiB.")
            form = await request.form(max_part_size=MAX_UPLOAD)
            if not session.csrf_ok(form.get(CSRF_FIELD)):
                return refused(
                    request,
                    403,
                    "The form's CSRF token is not this session's: nothing was changed. Reload the page and try again.",
                )
        current = Page(request, session, console, form)
        try:
            return await run_in_threadpool(handler, current)
        except (ConsoleError, SignalExchangeError) as exc:
            message = exc.diagnostics() if isinstance(exc, SignalExchangeError) else str(exc)
            return current.render("error.html", status=400, message=message)

    return Route(path, endpoint, methods=list(methods))


def _login(console: Console) -> Route:
    async def login(request: Request) -> Response:
        session = console.sessions.redeem(request.query_params.get("token", ""))
        if session is None:
            return refused(
                request,
                403,
                "This login link is not valid (each link works once): run sigx console again for a new one.",
            )
        response = RedirectResponse(console.nav[0][0], status_code=303)
        response.set_cookie(
            console.cookie,
            session.id,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=console.settings.secure,
            path="/",
        )
        return response

    return Route("/login", login)


def _logout(console: Console) -> Handler:
    def logout(p: Page) -> Response:
        console.sessions.end(p.session.id)
        response = refused(p.request, 200, "Signed out.")
        response.delete_cookie(p.console.cookie, path="/")
        return response

    return logout


def _home(p: Page) -> Response:
    return RedirectResponse(p.console.nav[0][0], status_code=303)


def _invite(p: Page) -> Response:
    """A new one-time login link for a colleague, with their name as reviewer."""
    name = p.field("reviewer").strip()
    if not name or len(name) > 80:
        raise ConsoleError("give the colleague's name (1 to 80 characters): it is recorded with their decisions")
    token = p.console.sessions.login_token(name)
    link = str(p.request.url_for("login").include_query_params(token=token))
    return p.render("invite.html", link=link, reviewer=name)


def _session_page(p: Page) -> Response:
    return p.render("invite.html", link="", reviewer="")


def _job_page(p: Page) -> Response:
    job = p.console.jobs.get(str(p.request.path_params.get("job", "")))
    if job is None:
        raise ConsoleError("no such job (jobs are kept while this console runs)")
    return p.render("job.html", job=job)


def _headers(app: ASGIApp) -> ASGIApp:
    async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await app(scope, receive, sending)

    return with_headers


def build_app(console: Console) -> ASGIApp:
    """The ASGI application for ``console``: the login route, static files and its role's pages."""
    if console.role not in ROLE_MODULES:
        raise ConsoleError(f"the console serves members, operators and auditors, not role {console.role!r}")
    routes: list[BaseRoute] = [
        _login(console),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        page(console, "/", _home),
        page(console, "/logout", _logout(console), ("POST",)),
        page(console, "/session", _session_page),
        page(console, "/session/invite", _invite, ("POST",)),
        page(console, "/jobs/{job}", _job_page),
    ]
    for module in _modules(console.role):
        routes += [page(console, path, handler, methods) for path, handler, methods in module.pages(console)]
    app = Starlette(routes=routes)
    return _headers(app)
