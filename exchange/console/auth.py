"""Who may use a running console: a one-time login token, then a session cookie and a CSRF token.

``sigx console`` prints a URL holding a login token (as notebook servers do). Opening it once trades
the token for a session: an unguessable id in a cookie that is HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it) and Secure when the console serves TLS. Every form
carries the session's CSRF token; a POST without the cookie or with another token is refused and
changes nothing. A logged-in analyst can mint further one-time links (for a colleague, with their
name, which the review queue records as the reviewer).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "sigx_console"
CSRF_FIELD = "csrf"
#: A session ends this long after it started (a fresh link is one ``sigx console`` restart away).
SESSION_SECONDS = 12 * 3600
#: A login link that nobody opened stops working after this long.
TOKEN_SECONDS = 24 * 3600


@dataclass
class Session:
    id: str
    csrf: str
    reviewer: str
    started_at: float
    flash: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) shown once on the next page

    def csrf_ok(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    """Login tokens and sessions, in memory: restarting the console logs everyone out."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (reviewer, issued at)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def login_token(self, reviewer: str) -> str:
        """A new one-time token; redeeming it starts a session whose decisions are recorded as ``reviewer``'s."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (reviewer, self._clock())
        return token

    def redeem(self, token: str) -> Session | None:
        """The new session for a valid, unused token (which is spent), or None."""
        with self._lock:
            entry = self._tokens.pop(token, None) if isinstance(token, str) else None
            if entry is None or self._clock() - entry[1] > TOKEN_SECONDS:
                return None
            session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), entry[0], self._clock())
            self._sessions[session.id] = session
            return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this cookie value, or None (unknown, or older than SESSION_SECONDS)."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and self._clock() - session.started_at > SESSION_SECONDS:
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
