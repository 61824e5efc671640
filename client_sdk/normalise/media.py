"""Media digests (MD5, PDQ): fixed-length lower-case hex."""

from __future__ import annotations

import re

from client_sdk.normalise._common import fail


def normalise_digest(kind: str, value: str, length: int) -> str:
    if len(value) != length:
        raise fail(kind, f"must be exactly {length} hex characters, got {len(value)}")
    if not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise fail(kind, "must contain only hex digits 0-9 a-f")
    return value.lower()
