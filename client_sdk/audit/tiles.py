"""C2SP tlog-tiles paths and entry bundles."""

from __future__ import annotations

import struct
from collections.abc import Iterator

TILE_WIDTH = 256


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` with N in x-prefixed groups of three digits (``x001/x234/067``)."""
    digits = f"{index:d}"
    digits = digits.rjust((len(digits) + 2) // 3 * 3, "0")
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([*("x" + g for g in groups[:-1]), groups[-1]])
    suffix = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/{level}/{path}{suffix}"


def bundle(items: list[bytes]) -> bytes:
    """An entry bundle: each item as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for item in items:
        if len(item) > 0xFFFF:
            raise ValueError("bundle items are at most 65535 bytes")
        out += struct.pack(">H", len(item)) + item
    return bytes(out)


def unbundle(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated entry bundle")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > len(data):
            raise ValueError("truncated entry bundle")
        yield data[pos + 2 : pos + 2 + n]
        pos += 2 + n
