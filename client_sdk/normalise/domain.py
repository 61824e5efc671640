"""Domain names: UTS #46 (non-transitional, no STD3 rules) to the lower-case A-label form, without
the trailing dot; a top-level label that is all digits is refused."""

from __future__ import annotations

import re

import idna

from client_sdk.normalise._common import fail

# A plain ASCII host name: letter-digit-hyphen labels of 1-63 characters that neither start nor end
# with '-' nor have '--' in positions 3-4 (so no 'xn--' label), an optional trailing dot.
_LDH_LABEL = r"(?![^.]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ASCII = re.compile(rf"(?:{_LDH_LABEL}\.)*{_LDH_LABEL}\.?", re.ASCII)
_MAX_DOMAIN = 253  # octets, without the trailing dot (RFC 1035), as idna counts them


def plain_ascii(text: str) -> str | None:
    """What ``idna.encode(text, uts46=True, std3_rules=False)`` returns for a plain ASCII host name, or
    None when ``text`` is anything else (then only ``idna`` decides).

    For such a name UTS #46 maps upper to lower case and nothing more, every label is already a
    valid IDNA label (only ``a-z0-9-``, no leading, trailing or 3-4 hyphens, no A-label to decode),
    and the lengths are the ones ``idna`` checks; tests/property/test_domain_fast_path.py holds it to
    ``idna`` on generated names, the edge cases included.
    """
    if len(text) > _MAX_DOMAIN + text.endswith(".") or not text.isascii() or not _PLAIN_ASCII.fullmatch(text):
        return None
    return text.lower()


def _uts46(text: str) -> str:
    fast = plain_ascii(text)
    if fast is not None:
        return fast
    return idna.encode(text, uts46=True, std3_rules=False, transitional=False).decode("ascii")


def idna_reason(err: Exception) -> str:
    """Why ``idna`` refused a name, without echoing it."""
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


def domain_ascii(kind: str, text: str) -> str:
    """``text`` as a lower-case A-label domain without its trailing dot; errors name ``kind``."""
    try:
        out = _uts46(text)
    except (idna.IDNAError, UnicodeError, ValueError) as err:
        raise fail(kind, idna_reason(err)) from None
    out = out.lower().removesuffix(".")
    if not out:
        raise fail(kind, "domain is empty")
    if out.rsplit(".", 1)[-1].isdigit():
        raise fail(kind, "top-level label is numeric (an IP address is not a domain)")
    return out


def normalise_domain(value: str) -> str:
    return domain_ascii("domain", value)
