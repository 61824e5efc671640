"""IP addresses: the compressed text form; an IPv4-mapped IPv6 address as its IPv4 address."""

from __future__ import annotations

import ipaddress

from client_sdk.normalise._common import fail


def normalise_ip(value: str) -> str:
    if "%" in value:
        raise fail("ip", "zone/scope identifiers ('%...') are not allowed")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise fail("ip", "not a valid IPv4 or IPv6 address") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
