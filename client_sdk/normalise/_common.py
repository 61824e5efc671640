"""What every rule set shares: the error, the length and control-character checks, qualifiers,
``name:`` prefixes and the NFKC/casefold fold used for handles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from client_sdk.errors import InvalidIdentifierError
from client_sdk.normalise._unicode import strip_default_ignorable
from client_sdk.vocab import TYPES

KINDS: tuple[str, ...] = TYPES

# Longest raw value accepted per kind (characters, before trimming).
MAX_LEN: dict[str, int] = {
    "email": 320,
    "phone": 64,
    "username": 400,
    "payment_handle": 512,
    "url": 2048,
    "domain": 1024,
    "ip": 64,
    "media_md5": 256,
    "media_pdq": 256,
}
_MAX_HANDLE = 256
_QUALIFIER_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ASCII_CONTROL = re.compile("[\x00-\x1f\x7f]")
_PREFIX_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]{0,63}):(.*)", re.DOTALL)


def absent(qualifier: object) -> bool:
    return qualifier is None or (isinstance(qualifier, str) and not qualifier.strip())


def fail(kind: str, reason: str) -> InvalidIdentifierError:
    return InvalidIdentifierError(kind, reason)


def prepare(kind: str, value: object) -> str:
    """Type, length and control-character checks, then trim; rejects empty values."""
    if not isinstance(value, str):
        raise fail(kind, f"value must be a string, not {type(value).__name__}")
    limit = MAX_LEN[kind]
    if len(value) > limit:
        raise fail(kind, f"value is longer than {limit} characters")
    if value.isascii():  # in ASCII the control characters (Cc) are U+0000-U+001F and U+007F; no surrogates
        m = _ASCII_CONTROL.search(value)
        if m:
            raise fail(kind, f"control character U+{ord(m.group()):04X} at position {m.start() + 1}")
    else:
        for i, ch in enumerate(value, 1):
            cat = unicodedata.category(ch)
            if cat == "Cc":
                raise fail(kind, f"control character U+{ord(ch):04X} at position {i}")
            if cat == "Cs":
                raise fail(kind, f"lone surrogate U+{ord(ch):04X} at position {i} (not valid Unicode text)")
    value = value.strip()
    if not value:
        raise fail(kind, "value is empty")
    return value


def qualifier_name(kind: str, qualifier: object, what: str) -> str | None:
    """The canonical platform/provider name from a qualifier, or None when absent."""
    if qualifier is None:
        return None
    if not isinstance(qualifier, str):
        raise fail(kind, f"{what} qualifier must be a string, not {type(qualifier).__name__}")
    q = qualifier.strip()
    if not q:
        return None
    if not q.isascii() or not _QUALIFIER_RE.fullmatch(q.lower()):
        raise fail(kind, f"{what} must match [a-z0-9][a-z0-9._-]{{0,63}}")
    return q.lower()


def split_prefix(
    kind: str, value: str, q: str | None, what: str, canon: Callable[[str], str], hint: str = ""
) -> tuple[str, str]:
    """Split ``"name:rest"`` (the normaliser's own output form); the qualifier must agree with it."""
    m = _PREFIX_RE.fullmatch(value)
    if m:
        name = canon(m.group(1).lower())
        if q is not None and name != q:
            raise fail(kind, f"the value's '{what}:' prefix contradicts the {what} qualifier {q!r}")
        return name, m.group(2)
    if q is None:
        raise fail(kind, f"{what} required: pass it as the qualifier or as a '{what}:' prefix{hint}")
    return q, value


def fold(text: str, *, casefold: bool) -> str:
    """NFKC + case folding with default-ignorables removed, iterated to a fixed point."""
    for _ in range(8):
        t = strip_default_ignorable(unicodedata.normalize("NFKC", strip_default_ignorable(text)))
        t = t.casefold() if casefold else t.lower()
        t = strip_default_ignorable(unicodedata.normalize("NFKC", t))
        if t == text:
            return t
        text = t
    return text


def canonical_handle(kind: str, handle: str) -> str:
    """Username rule: NFKC, casefold, no default-ignorables, trimmed, one leading '@' dropped."""
    h = fold(handle, casefold=True).strip()
    if h.startswith("@"):
        h = fold(h[1:], casefold=True).strip()
    if not h:
        raise fail(kind, "handle is empty")
    if h.startswith("@"):
        raise fail(kind, "handle has more than one leading '@'")
    for i, ch in enumerate(h, 1):
        if ch.isspace():
            raise fail(kind, f"handle contains whitespace U+{ord(ch):04X} at position {i}")
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise fail(kind, f"handle contains control code point U+{ord(ch):04X} at position {i}")
    if len(h) > _MAX_HANDLE:
        raise fail(kind, f"handle is longer than {_MAX_HANDLE} characters")
    return h
