"""Identifier normalisation: the one place that turns a raw identifier into its canonical string.

Two members that hold the same e-mail address, phone number, handle, URL, ... must produce
byte-identical canonical strings, or their pseudonyms will never match. Every rule lives here.

``normalise(kind, value, qualifier)`` returns the canonical string or raises
:class:`~client_sdk.errors.InvalidIdentifierError` naming the kind and the reason; it never
returns a best guess for invalid input and never raises anything else. Reasons name positions
and code points but do not echo the identifier, so they are safe to log.

Every normaliser is idempotent, and accepts its own output: ``username`` and
``payment_handle`` return ``"platform:handle"`` / ``"provider:handle"`` and parse that prefix
back when it is given again.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import unquote

import idna
import phonenumbers

from client_sdk.errors import InvalidIdentifierError
from client_sdk.normalise._unicode import first_default_ignorable, strip_default_ignorable
from client_sdk.vocab import TYPES, canonical_type

KINDS: tuple[str, ...] = TYPES

# Longest raw value accepted per kind (characters, before trimming).
_MAX_LEN: dict[str, int] = {
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
_PREFIX_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]{0,63}):(.*)", re.DOTALL)


def _absent(qualifier: object) -> bool:
    return qualifier is None or (isinstance(qualifier, str) and not qualifier.strip())


def _fail(kind: str, reason: str) -> InvalidIdentifierError:
    return InvalidIdentifierError(kind, reason)


def _prepare(kind: str, value: object) -> str:
    """Type, length and control-character checks, then trim; rejects empty values."""
    if not isinstance(value, str):
        raise _fail(kind, f"value must be a string, not {type(value).__name__}")
    limit = _MAX_LEN[kind]
    if len(value) > limit:
        raise _fail(kind, f"value is longer than {limit} characters")
    for i, ch in enumerate(value, 1):
        cat = unicodedata.category(ch)
        if cat == "Cc":
            raise _fail(kind, f"control character U+{ord(ch):04X} at position {i}")
        if cat == "Cs":
            raise _fail(kind, f"lone surrogate U+{ord(ch):04X} at position {i} (not valid Unicode text)")
    value = value.strip()
    if not value:
        raise _fail(kind, "value is empty")
    return value


def _qualifier(kind: str, qualifier: object, what: str) -> str | None:
    """The canonical platform/provider name from a qualifier, or None when absent."""
    if qualifier is None:
        return None
    if not isinstance(qualifier, str):
        raise _fail(kind, f"{what} qualifier must be a string, not {type(qualifier).__name__}")
    q = qualifier.strip()
    if not q:
        return None
    if not q.isascii() or not _QUALIFIER_RE.fullmatch(q.lower()):
        raise _fail(kind, f"{what} must match [a-z0-9][a-z0-9._-]{{0,63}}")
    return q.lower()


def _split_prefix(
    kind: str, value: str, q: str | None, what: str, canon: Callable[[str], str], hint: str = ""
) -> tuple[str, str]:
    """Split ``"name:rest"`` (the normaliser's own output form); the qualifier must agree with it."""
    m = _PREFIX_RE.fullmatch(value)
    if m:
        name = canon(m.group(1).lower())
        if q is not None and name != q:
            raise _fail(kind, f"the value's '{what}:' prefix contradicts the {what} qualifier {q!r}")
        return name, m.group(2)
    if q is None:
        raise _fail(kind, f"{what} required: pass it as the qualifier or as a '{what}:' prefix{hint}")
    return q, value


def _fold(text: str, *, casefold: bool) -> str:
    """NFKC + case folding with default-ignorables removed, iterated to a fixed point."""
    for _ in range(8):
        t = strip_default_ignorable(unicodedata.normalize("NFKC", strip_default_ignorable(text)))
        t = t.casefold() if casefold else t.lower()
        t = strip_default_ignorable(unicodedata.normalize("NFKC", t))
        if t == text:
            return t
        text = t
    return text


def _canonical_handle(kind: str, handle: str) -> str:
    """Username rule: NFKC, casefold, no default-ignorables, trimmed, one leading '@' dropped."""
    h = _fold(handle, casefold=True).strip()
    if h.startswith("@"):
        h = _fold(h[1:], casefold=True).strip()
    if not h:
        raise _fail(kind, "handle is empty")
    if h.startswith("@"):
        raise _fail(kind, "handle has more than one leading '@'")
    for i, ch in enumerate(h, 1):
        if ch.isspace():
            raise _fail(kind, f"handle contains whitespace U+{ord(ch):04X} at position {i}")
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise _fail(kind, f"handle contains control code point U+{ord(ch):04X} at position {i}")
    if len(h) > _MAX_HANDLE:
        raise _fail(kind, f"handle is longer than {_MAX_HANDLE} characters")
    return h


# ---------------------------------------------------------------------------------------- domain


def _idna_reason(err: Exception) -> str:
    code = getattr(err, "code", None)
    cp = getattr(err, "codepoint", None)
    pos = getattr(err, "position", None)
    if cp is None:
        m = re.search(r"U\+([0-9A-Fa-f]{4,6})", str(err))
        cp = int(m.group(1), 16) if m else None
    if isinstance(err, idna.IDNABidiError):
        detail = "violates the IDNA bidi rule"
    elif isinstance(err, idna.InvalidCodepointContext):
        detail = "code point not allowed in this context"
    elif isinstance(err, idna.InvalidCodepoint):
        detail = "code point not allowed"
    else:
        msg = str(err)
        detail = msg if ("'" not in msg and '"' not in msg) else (code or type(err).__name__)
    if cp is not None:
        detail += f" (U+{cp:04X}" + (f" at position {pos})" if pos is not None else ")")
    return f"not a valid IDNA domain (UTS #46): {detail}"


def _domain_ascii(kind: str, text: str) -> str:
    try:
        out = idna.encode(text, uts46=True, std3_rules=False, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as err:
        raise _fail(kind, _idna_reason(err)) from None
    out = out.lower().removesuffix(".")
    if not out:
        raise _fail(kind, "domain is empty")
    if out.rsplit(".", 1)[-1].isdigit():
        raise _fail(kind, "top-level label is numeric (an IP address is not a domain)")
    return out


def _domain(value: str) -> str:
    return _domain_ascii("domain", value)


# ----------------------------------------------------------------------------------------- email

_EMAIL_FORBIDDEN = set(' <>()[]\\,;:"')
_GMAIL = ("gmail.com", "googlemail.com")


def _email(value: str) -> str:
    if "@" not in value:
        raise _fail("email", "missing '@'")
    if value.count("@") != 1:
        raise _fail("email", "more than one '@'")
    local, domain = value.split("@")
    if not local:
        raise _fail("email", "local part is empty")
    if not domain:
        raise _fail("email", "domain is empty")
    for i, ch in enumerate(local, 1):
        if ch in _EMAIL_FORBIDDEN or ch.isspace():
            raise _fail("email", f"local part contains forbidden character U+{ord(ch):04X} at position {i}")
    di = first_default_ignorable(local)
    if di >= 0:
        raise _fail("email", f"local part contains invisible code point U+{ord(local[di]):04X} at position {di + 1}")
    for _ in range(4):  # lower-case + NFC to a fixed point
        folded = unicodedata.normalize("NFC", local.lower())
        if folded == local:
            break
        local = folded
    dom = _domain_ascii("email", domain)
    if "." not in dom:
        raise _fail("email", "domain must have at least two labels")
    if dom in _GMAIL:
        dom = "gmail.com"
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise _fail("email", "gmail local part is empty once dots and the +tag are removed")
    if len(local.encode("utf-8")) > 64:
        raise _fail("email", "local part is longer than 64 octets")
    return f"{local}@{dom}"


# ----------------------------------------------------------------------------------------- phone

_PHONE_CHARS = re.compile(r"\+?[\d \-.()/\u2010-\u2015\u2212]+")


def _phone(value: str, qualifier: object) -> str:
    region = None
    if qualifier is not None:
        if not isinstance(qualifier, str):
            raise _fail("phone", f"region qualifier must be a string, not {type(qualifier).__name__}")
        region = qualifier.strip().upper() or None
        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            raise _fail("phone", "region qualifier is not a supported ISO 3166 alpha-2 code")
    v = unicodedata.normalize("NFKC", value).strip()
    if not _PHONE_CHARS.fullmatch(v):
        raise _fail("phone", "only digits, separators (space - . ( ) /) and a leading '+' are allowed")
    if not v.startswith("+") and region is None:
        raise _fail("phone", "needs a leading '+' (E.164) or a region qualifier such as 'US'")
    try:
        num = phonenumbers.parse(v, region)
    except phonenumbers.NumberParseException as err:
        raise _fail("phone", "cannot parse: " + re.sub(r"^\(\d+\)\s*", "", str(err))) from None
    if num.extension:
        raise _fail("phone", "extensions are not part of an E.164 number")
    if not phonenumbers.is_valid_number(num):
        raise _fail("phone", "not a valid number for its country (libphonenumber)")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


# -------------------------------------------------------------------------------------- username


def _username(value: str, qualifier: object) -> str:
    q = _qualifier("username", qualifier, "platform")
    platform, handle = _split_prefix("username", value, q, "platform", lambda p: p)
    return f"{platform}:{_canonical_handle('username', handle)}"


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
        raise _fail("payment_handle", f"{p!r} is not a payment provider")
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
            raise _fail("payment_handle", "URL is not a recognised payment link (cash.app, paypal.me, venmo.com)")
        return None
    if scheme and scheme.lower() not in ("http", "https"):
        raise _fail("payment_handle", "payment link must use http or https")
    segs = [unquote(s) for s in path.split("/") if s]
    extra_ok = provider != "venmo"  # cash.app/$x/25 and paypal.me/x/10EUR carry an amount
    first = segs[0].lower() if segs else ""
    if host in ("paypal.com", "account.venmo.com") or (host == "venmo.com" and first == "u" and len(segs) > 1):
        want = "paypalme" if host == "paypal.com" else "u"
        if first != want:
            raise _fail("payment_handle", f"{host} link must look like {host}/{want}/<handle>")
        segs = segs[1:]
    if not segs:
        raise _fail("payment_handle", "payment link has no handle")
    handle, rest = segs[0], segs[1:]
    if rest and not (extra_ok and len(rest) == 1 and _AMOUNT_RE.fullmatch(rest[0])):
        raise _fail("payment_handle", "unexpected path after the handle in the payment link")
    if provider == "cashapp" and not handle.startswith(("$", "£")):
        raise _fail("payment_handle", "cash.app link path must start with '$' or '£'")
    return provider, handle


def _cashapp(handle: str) -> str:
    h = _fold(handle, casefold=False).strip()
    if h[:1] in ("$", "£"):
        h = h[1:]
    if not re.fullmatch(r"[a-z0-9]{1,20}", h):
        raise _fail("payment_handle", "cashtag must be 1-20 ASCII letters or digits after the '$'/'£'")
    if not re.search(r"[a-z]", h):
        raise _fail("payment_handle", "cashtag must contain at least one letter")
    return h


def _paypal(handle: str) -> str:
    h = _fold(handle, casefold=False).strip().removeprefix("@")
    if not re.fullmatch(r"[a-z0-9]{1,20}", h):
        raise _fail("payment_handle", "PayPal.Me name must be 1-20 ASCII letters or digits")
    return h


def _venmo(handle: str) -> str:
    h = _fold(handle, casefold=False).strip().removeprefix("@")
    if not re.fullmatch(r"[a-z0-9_-]{1,30}", h):
        raise _fail("payment_handle", "Venmo username must be 1-30 ASCII letters, digits, '-' or '_'")
    return h


def _generic_payment(handle: str) -> str:
    h = _canonical_handle("payment_handle", handle)
    if "/" in h:
        raise _fail("payment_handle", "handle contains '/' (a URL of an unsupported provider?)")
    return h


_PROVIDER_RULES: dict[str, Callable[[str], str]] = {"cashapp": _cashapp, "paypal": _paypal, "venmo": _venmo}


def _payment(value: str, qualifier: object) -> str:
    kind = "payment_handle"
    raw_q = _qualifier(kind, qualifier, "provider")
    q = _provider(raw_q) if raw_q is not None else None
    link = _payment_url(value)
    if link is None and value[0] in "$£" and q is None:
        link = ("cashapp", value)
    if link is None:
        hint = ", or give a '$'/'£' cashtag or a payment link"
        provider, handle = _split_prefix(kind, value, q, "provider", _provider, hint)
        inner = _payment_url(handle.strip())
        if inner is not None:
            if inner[0] != provider:
                raise _fail(kind, f"link is for {inner[0]!r} but the provider is {provider!r}")
            handle = inner[1]
    else:
        provider, handle = link
        if q is not None and q != provider:
            raise _fail(kind, f"value is a {provider!r} handle but the provider qualifier is {q!r}")
    return f"{provider}:{_PROVIDER_RULES.get(provider, _generic_payment)(handle)}"


# ------------------------------------------------------------------------------------------- url
# Google Safe Browsing canonicalisation, worked on bytes: a str's lone surrogates U+DC80..U+DCFF
# stand for the raw bytes 0x80..0xFF (Python's surrogateescape), as in the published vectors.

_URL_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_URL_SPACE += "\u2028\u2029\u202f\u205f\u3000"
_PCT_RE = re.compile(rb"%([0-9A-Fa-f]{2})")
_PORT_RE = re.compile(rb":(\d+)(?:/|\Z)")
_PORT_END_RE = re.compile(rb":\d+\Z")
_IPISH_RE = re.compile(rb"(?:0[xX][0-9A-Fa-f]+|[0-9.])+")
_DOTS_RE = re.compile(rb"\.{2,}")
_HOST_DELIMS = frozenset(":/?#[]@\\%")


def _unescape(s: bytes) -> bytes:
    return _PCT_RE.sub(lambda m: bytes([int(m.group(1), 16)]), s)


def _escape(s: bytes) -> bytes:
    return b"".join(b"%%%02x" % c if c <= 0x20 or c >= 0x7F or c in b"#%" else bytes([c]) for c in s)


def _split_scheme(s: bytes) -> tuple[bytes, bytes]:
    for i, c in enumerate(s):
        if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            continue
        if 0x30 <= c <= 0x39 or c in b"+-.":
            if i == 0:
                return b"", s
            continue
        if c == 0x3A and _PORT_RE.match(s, i) is None:  # ':' not followed by a port
            return s[:i], s[i + 1 :]
        if c != 0x3A:
            return b"", s
    return b"", s


def _ip_number(part: bytes, nbytes: int) -> list[int] | None:
    try:
        if part[:2].lower() == b"0x":
            v = int(part[2:], 16)
        elif len(part) > 1 and part[:1] == b"0":
            v = int(part[1:], 8)
        else:
            v = int(part, 10)
    except ValueError:
        return None
    if v >= 1 << 32:
        return None
    return [(v >> (8 * i)) & 0xFF for i in reversed(range(nbytes))]


def _ipv4_host(host: bytes) -> bytes | None:
    """Dotted-decimal form of a decimal/octal/hex IPv4 host (``3279880203``, ``0x7f.1``), or None."""
    if not _IPISH_RE.fullmatch(host):
        return None
    parts = host.split(b".")
    if len(parts) > 4:
        return None
    octets: list[int] = []
    for i, part in enumerate(parts):
        got = _ip_number(part, 5 - len(parts) if i == len(parts) - 1 else 1)
        if got is None:
            return None
        octets += got
    return b".".join(b"%d" % o for o in octets)


def _url_host(hostish: bytes) -> bytes:
    host = hostish.rpartition(b"@")[2]
    while (trimmed := _PORT_END_RE.sub(b"", host.strip(b".")).strip(b".")) != host:  # drop port(s)
        host = trimmed
    if host.startswith(b"["):
        if not host.endswith(b"]"):
            raise _fail("url", "IPv6 host literal is missing its ']'")
        try:
            addr = ipaddress.IPv6Address(_unescape(host[1:-1]).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise _fail("url", "invalid IPv6 host literal") from None
        return b"[" + _escape(str(addr).encode("ascii")) + b"]"
    raw = _unescape(host)
    if any(c > 0x80 for c in raw):  # internationalised: IDNA (UTS #46) each non-ASCII label
        try:
            text = idna.uts46_remap(raw.decode("utf-8"), std3_rules=False, transitional=False)
        except UnicodeDecodeError:
            raise _fail("url", "host is neither ASCII nor valid UTF-8") from None
        except (idna.IDNAError, ValueError) as err:
            raise _fail("url", "host is " + _idna_reason(err)) from None
        if _HOST_DELIMS.intersection(text):
            raise _fail("url", "internationalised host maps to a URL delimiter under UTS #46")
        labels = []
        for label in text.split("."):
            try:
                labels.append(label if label.isascii() else idna.alabel(label).decode("ascii"))
            except (idna.IDNAError, UnicodeError, ValueError) as err:
                raise _fail("url", "host is " + _idna_reason(err)) from None
        host = _escape(".".join(labels).encode("ascii"))
    host = _DOTS_RE.sub(b".", host).strip(b".")
    if not host:
        raise _fail("url", "missing host name")
    return _ipv4_host(host) or host.lower()


def _url_path(rest: bytes) -> bytes:
    segs: list[bytes] = []
    for seg in rest.split(b"/"):
        if seg in (b"", b"."):
            continue
        if seg == b"..":
            if segs:
                segs.pop()
            continue
        segs.append(seg)
    path = b"/" + b"/".join(segs)
    if rest.endswith(b"/") and not path.endswith(b"/"):
        path += b"/"
    return path


def _url(value: object) -> str:
    if not isinstance(value, str):
        raise _fail("url", f"value must be a string, not {type(value).__name__}")
    if len(value) > _MAX_LEN["url"]:
        raise _fail("url", f"value is longer than {_MAX_LEN['url']} characters")
    try:
        s = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as err:
        raise _fail("url", f"lone surrogate at position {err.start + 1} (not valid Unicode text)") from None
    s = s.partition(b"#")[0]
    s = s.decode("utf-8", "surrogateescape").strip(_URL_SPACE).encode("utf-8", "surrogateescape")
    s = s.replace(b"\t", b"").replace(b"\r", b"").replace(b"\n", b"")
    if not s:
        raise _fail("url", "value is empty")
    while (t := _unescape(s)) != s:  # every pass shortens s, so this ends
        s = t
    s = _escape(s)
    scheme, rest = _split_scheme(s)
    rest = rest.partition(b"?")[0]
    if scheme:
        if not rest.startswith(b"//"):
            raise _fail("url", "scheme is not followed by '//' (not a web URL)")
        rest = rest[2:]
    else:
        scheme = b"http"
    slash = rest.find(b"/")
    hostish, path = (rest, b"") if slash < 0 else (rest[:slash], rest[slash:])
    if not hostish:
        raise _fail("url", "missing host name")
    out = scheme.lower() + b"://" + _url_host(hostish) + _url_path(path)
    if len(out) > _MAX_LEN["url"]:
        raise _fail("url", f"canonical URL is longer than {_MAX_LEN['url']} characters")
    return out.decode("ascii")


# --------------------------------------------------------------------------------- ip and media


def _ip(value: str) -> str:
    if "%" in value:
        raise _fail("ip", "zone/scope identifiers ('%...') are not allowed")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise _fail("ip", "not a valid IPv4 or IPv6 address") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _hex_digest(kind: str, value: str, length: int) -> str:
    if len(value) != length:
        raise _fail(kind, f"must be exactly {length} hex characters, got {len(value)}")
    if not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise _fail(kind, "must contain only hex digits 0-9 a-f")
    return value.lower()


# -------------------------------------------------------------------------------------- public API


def normalise(kind: str, value: str, qualifier: str | None = None) -> str:
    """Return the canonical string of identifier ``value`` of type ``kind``.

    ``kind`` is one of :data:`KINDS` (or its upper-case wire name). ``qualifier`` is the
    platform for ``username``, the provider for ``payment_handle`` and the default region
    (ISO 3166 alpha-2) for ``phone``; other kinds take none (``None`` or ``""``).

    Raises :class:`InvalidIdentifierError` (naming the kind and the reason) for any invalid input.
    """
    canon = canonical_type(kind)
    if canon not in ("username", "payment_handle", "phone") and not _absent(qualifier):
        raise _fail(canon, "this identifier type takes no qualifier")
    if canon == "url":
        return _url(value)
    v = _prepare(canon, value)
    if canon == "email":
        return _email(v)
    if canon == "phone":
        return _phone(v, qualifier)
    if canon == "username":
        return _username(v, qualifier)
    if canon == "payment_handle":
        return _payment(v, qualifier)
    if canon == "domain":
        return _domain(v)
    if canon == "ip":
        return _ip(v)
    return _hex_digest(canon, v, 32 if canon == "media_md5" else 64)
