"""Handles: ``platform:handle`` usernames and ``provider:handle`` payment handles (cashtags, PayPal.Me,
Venmo and payment links)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from client_sdk.normalise._common import canonical_handle, fail, fold, qualifier_name, split_prefix


def normalise_username(value: str, qualifier: object) -> str:
    q = qualifier_name("username", qualifier, "platform")
    platform, handle = split_prefix("username", value, q, "platform", lambda p: p)
    return f"{platform}:{canonical_handle('username', handle)}"


# -------------------------------------------------------------------------------- payment_handle

_PROVIDER_ALIASES = {
    "cash.app": "cashapp",
    "cash-app": "cashapp",
    "cash_app": "cashapp",
    "paypal.me": "paypal",
    "paypalme": "paypal",
}
_NOT_PROVIDERS = frozenset({"http", "https", "ftp", "mailto", "www"})
_PAY_HOSTS = {
    "cash.app": "cashapp",
    "cash.me": "cashapp",
    "paypal.me": "paypal",
    "paypal.com": "paypal",
    "venmo.com": "venmo",
    "account.venmo.com": "venmo",
}
_PAY_URL_RE = re.compile(r"(?:([A-Za-z][A-Za-z0-9+.-]*)://)?([^/?#\s]+)(/[^?#]*)?(?:[?#].*)?", re.DOTALL)
_AMOUNT_RE = re.compile(r"\d+(?:[.,]\d{1,2})?(?:[A-Za-z]{3})?")


def _provider(name: str) -> str:
    p = _PROVIDER_ALIASES.get(name, name)
    if p in _NOT_PROVIDERS:
        raise fail("payment_handle", f"{p!r} is not a payment provider")
    return p


def _payment_url(value: str) -> tuple[str, str] | None:
    """(provider, raw handle) for a recognised payment link; None if ``value`` is not a URL."""
    m = _PAY_URL_RE.fullmatch(value)
    if not m:
        return None
    scheme, host, path = m.group(1), m.group(2).lower().rstrip("."), m.group(3) or ""
    host = host.removeprefix("www.")
    provider = _PAY_HOSTS.get(host)
    if provider is None:
        if scheme:
            raise fail("payment_handle", "URL is not a recognised payment link (cash.app, paypal.me, venmo.com)")
        return None
    if scheme and scheme.lower() not in ("http", "https"):
        raise fail("payment_handle", "payment link must use http or https")
    segs = [unquote(s) for s in path.split("/") if s]
    extra_ok = provider != "venmo"  # cash.app/$x/25 and paypal.me/x/10EUR carry an amount
    first = segs[0].lower() if segs else ""
    if host in ("paypal.com", "account.venmo.com") or (host == "venmo.com" and first == "u" and len(segs) > 1):
        want = "paypalme" if host == "paypal.com" else "u"
        if first != want:
            raise fail("payment_handle", f"{host} link must look like {host}/{want}/<handle>")
        segs = segs[1:]
    if not segs:
        raise fail("payment_handle", "payment link has no handle")
    handle, rest = segs[0], segs[1:]
    if rest and not (extra_ok and len(rest) == 1 and _AMOUNT_RE.fullmatch(rest[0])):
        raise fail("payment_handle", "unexpected path after the handle in the payment link")
    if provider == "cashapp" and not handle.startswith(("$", "£")):
        raise fail("payment_handle", "cash.app link path must start with '$' or '£'")
    return provider, handle


def _cashapp(handle: str) -> str:
    h = fold(handle, casefold=False).strip()
    if h[:1] in ("$", "£"):
        h = h[1:]
    if not re.fullmatch(r"[a-z0-9]{1,20}", h):
        raise fail("payment_handle", "cashtag must be 1-20 ASCII letters or digits after the '$'/'£'")
    if not re.search(r"[a-z]", h):
        raise fail("payment_handle", "cashtag must contain at least one letter")
    return h


def _paypal(handle: str) -> str:
    h = fold(handle, casefold=False).strip().removeprefix("@")
    if not re.fullmatch(r"[a-z0-9]{1,20}", h):
        raise fail("payment_handle", "PayPal.Me name must be 1-20 ASCII letters or digits")
    return h


def _venmo(handle: str) -> str:
    h = fold(handle, casefold=False).strip().removeprefix("@")
    if not re.fullmatch(r"[a-z0-9_-]{1,30}", h):
        raise fail("payment_handle", "Venmo username must be 1-30 ASCII letters, digits, '-' or '_'")
    return h


def _generic_payment(handle: str) -> str:
    h = canonical_handle("payment_handle", handle)
    if "/" in h:
        raise fail("payment_handle", "handle contains '/' (a URL of an unsupported provider?)")
    return h


_PROVIDER_RULES: dict[str, Callable[[str], str]] = {"cashapp": _cashapp, "paypal": _paypal, "venmo": _venmo}


def normalise_payment_handle(value: str, qualifier: object) -> str:
    kind = "payment_handle"
    raw_q = qualifier_name(kind, qualifier, "provider")
    q = _provider(raw_q) if raw_q is not None else None
    link = _payment_url(value)
    if link is None and value[0] in "$£" and q is None:
        link = ("cashapp", value)
    if link is None:
        hint = ", or give a '$'/'£' cashtag or a payment link"
        provider, handle = split_prefix(kind, value, q, "provider", _provider, hint)
        inner = _payment_url(handle.strip())
        if inner is not None:
            if inner[0] != provider:
                raise fail(kind, f"link is for {inner[0]!r} but the provider is {provider!r}")
            handle = inner[1]
    else:
        provider, handle = link
        if q is not None and q != provider:
            raise fail(kind, f"value is a {provider!r} handle but the provider qualifier is {q!r}")
    return f"{provider}:{_PROVIDER_RULES.get(provider, _generic_payment)(handle)}"
