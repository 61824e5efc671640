"""E-mail addresses: the local part lower-cased and NFC, the domain as :mod:`.domain` gives it; Gmail
addresses lose dots and the ``+tag``."""

from __future__ import annotations

import unicodedata

from client_sdk.normalise._common import fail
from client_sdk.normalise._unicode import first_default_ignorable
from client_sdk.normalise.domain import domain_ascii

_EMAIL_FORBIDDEN = set(' <>()[]\\,;:"')
_GMAIL = ("gmail.com", "googlemail.com")


def normalise_email(value: str) -> str:
    if "@" not in value:
        raise fail("email", "missing '@'")
    if value.count("@") != 1:
        raise fail("email", "more than one '@'")
    local, domain = value.split("@")
    if not local:
        raise fail("email", "local part is empty")
    if not domain:
        raise fail("email", "domain is empty")
    for i, ch in enumerate(local, 1):
        if ch in _EMAIL_FORBIDDEN or ch.isspace():
            raise fail("email", f"local part contains forbidden character U+{ord(ch):04X} at position {i}")
    di = first_default_ignorable(local)
    if di >= 0:
        raise fail("email", f"local part contains invisible code point U+{ord(local[di]):04X} at position {di + 1}")
    for _ in range(4):  # lower-case + NFC to a fixed point
        folded = unicodedata.normalize("NFC", local.lower())
        if folded == local:
            break
        local = folded
    dom = domain_ascii("email", domain)
    if "." not in dom:
        raise fail("email", "domain must have at least two labels")
    if dom in _GMAIL:
        dom = "gmail.com"
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise fail("email", "gmail local part is empty once dots and the +tag are removed")
    if len(local.encode("utf-8")) > 64:
        raise fail("email", "local part is longer than 64 octets")
    return f"{local}@{dom}"
