"""Console sign-in: a login token works once and expires, a session ends after its lifetime, and a CSRF
token is compared whole (with an injected clock)."""

from __future__ import annotations

from exchange.console.auth import SESSION_SECONDS, TOKEN_SECONDS, Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_login_token_works_once_and_expires() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    token = sessions.login_token("alice")
    session = sessions.redeem(token)
    assert session is not None and session.reviewer == "alice" and sessions.get(session.id) is session
    assert sessions.redeem(token) is None
    late = sessions.login_token("bob")
    clock.now += TOKEN_SECONDS + 1
    assert sessions.redeem(late) is None
    assert sessions.redeem("") is None and sessions.redeem("guess") is None


def test_a_session_ends_after_its_lifetime_or_when_signed_out() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    first = sessions.redeem(sessions.login_token("alice"))
    second = sessions.redeem(sessions.login_token("bob"))
    assert first is not None and second is not None and first.id != second.id and first.csrf != second.csrf
    sessions.end(second.id)
    assert sessions.get(second.id) is None
    clock.now += SESSION_SECONDS + 1
    assert sessions.get(first.id) is None and sessions.get(None) is None


def test_the_csrf_token_is_compared_whole() -> None:
    sessions = Sessions()
    session = sessions.redeem(sessions.login_token("x"))
    assert session is not None and session.csrf_ok(session.csrf)
    for wrong in ("", session.csrf[:-1], session.csrf + "x", None, 123, session.csrf[::-1]):
        assert not session.csrf_ok(wrong)
