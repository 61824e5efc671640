"""URLs: Google Safe Browsing canonicalisation."""

from __future__ import annotations

import ipaddress
import re

import idna

from client_sdk.normalise._common import MAX_LEN, fail
from client_sdk.normalise.domain import idna_reason

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
            raise fail("url", "IPv6 host literal is missing its ']'")
        try:
            addr = ipaddress.IPv6Address(_unescape(host[1:-1]).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise fail("url", "invalid IPv6 host literal") from None
        return b"[" + _escape(str(addr).encode("ascii")) + b"]"
    raw = _unescape(host)
    if any(c > 0x80 for c in raw):  # internationalised: IDNA (UTS #46) each non-ASCII label
        try:
            text = idna.uts46_remap(raw.decode("utf-8"), std3_rules=False, transitional=False)
        except UnicodeDecodeError:
            raise fail("url", "host is neither ASCII nor valid UTF-8") from None
        except (idna.IDNAError, ValueError) as err:
            raise fail("url", "host is " + idna_reason(err)) from None
        if _HOST_DELIMS.intersection(text):
            raise fail("url", "internationalised host maps to a URL delimiter under UTS #46")
        labels = []
        for label in text.split("."):
            try:
                labels.append(label if label.isascii() else idna.alabel(label).decode("ascii"))
            except (idna.IDNAError, UnicodeError, ValueError) as err:
                raise fail("url", "host is " + idna_reason(err)) from None
        host = _escape(".".join(labels).encode("ascii"))
    host = _DOTS_RE.sub(b".", host).strip(b".")
    if not host:
        raise fail("url", "missing host name")
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


def normalise_url(value: object) -> str:
    if not isinstance(value, str):
        raise fail("url", f"value must be a string, not {type(value).__name__}")
    if len(value) > MAX_LEN["url"]:
        raise fail("url", f"value is longer than {MAX_LEN['url']} characters")
    try:
        s = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as err:
        raise fail("url", f"lone surrogate at position {err.start + 1} (not valid Unicode text)") from None
    s = s.partition(b"#")[0]
    s = s.decode("utf-8", "surrogateescape").strip(_URL_SPACE).encode("utf-8", "surrogateescape")
    s = s.replace(b"\t", b"").replace(b"\r", b"").replace(b"\n", b"")
    if not s:
        raise fail("url", "value is empty")
    while (t := _unescape(s)) != s:  # every pass shortens s, so this ends
        s = t
    s = _escape(s)
    scheme, rest = _split_scheme(s)
    rest = rest.partition(b"?")[0]
    if scheme:
        if not rest.startswith(b"//"):
            raise fail("url", "scheme is not followed by '//' (not a web URL)")
        rest = rest[2:]
    else:
        scheme = b"http"
    slash = rest.find(b"/")
    hostish, path = (rest, b"") if slash < 0 else (rest[:slash], rest[slash:])
    if not hostish:
        raise fail("url", "missing host name")
    out = scheme.lower() + b"://" + _url_host(hostish) + _url_path(path)
    if len(out) > MAX_LEN["url"]:
        raise fail("url", f"canonical URL is longer than {MAX_LEN['url']} characters")
    return out.decode("ascii")
