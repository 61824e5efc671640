"""Media hashes as every member must compute them: PDQ of the decoded image and MD5 of the file's bytes.

The PDQ pipeline (all members must use the same one, or near-duplicates stop matching): Pillow
decodes the file (its first frame), shrinks it to fit 512x512 with ``Image.thumbnail`` (as the
ThreatExchange Python reference does), converts it to RGB, and ``pdqhash`` (Meta's C++ PDQ) hashes it.
EXIF orientation is not applied; ``--dihedral`` matching covers rotated and mirrored copies. The
hash is the 256 bits in ``pdqhash``'s order packed big-endian, so its hex is the reference's hex.

Pillow, numpy and pdqhash are the ``media`` extra (``pip install 'signal-exchange[media]'``); they are
imported only when an image is hashed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_sdk.member.errors import MediaError, MediaSupportError, unreadable

#: Images are shrunk to fit this square before hashing (Image.thumbnail keeps the aspect ratio).
PDQ_MAX_SIDE = 512
#: PDQ's guidance: hashes of quality below this carry too little structure to match on.
PDQ_MIN_QUALITY = 50
#: The order of pdqhash's dihedral hashes (variant 0 is the image as it is).
DIHEDRAL = ("original", "rotate-90", "rotate-180", "rotate-270", "flip-x", "flip-y", "flip-diagonal", "flip-anti")
#: What Pillow reads in a standard install (the README lists these).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WebP")


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A 256-bit PDQ hash and its quality (0-100)."""

    hash: bytes
    quality: int

    @property
    def hex(self) -> str:
        return self.hash.hex()


def _libraries() -> tuple[Any, Any, Any]:
    try:
        import numpy
        import pdqhash
        from PIL import Image
    except ImportError as exc:
        raise MediaSupportError(
            f"image hashing needs the media extra ({exc.name} is missing): pip install 'signal-exchange[media]'"
        ) from None
    return Image, numpy, pdqhash


def _pixels(path: str | Path) -> Any:
    """The image as an RGB array, shrunk to fit PDQ_MAX_SIDE; raises MediaError naming the file."""
    image_module, numpy, _ = _libraries()
    try:
        with image_module.open(path) as image:
            image.thumbnail((PDQ_MAX_SIDE, PDQ_MAX_SIDE))
            return numpy.asarray(image.convert("RGB"))
    except image_module.UnidentifiedImageError:
        raise MediaError(f"{path}: not an image Pillow can read ({', '.join(IMAGE_FORMATS)}, …)") from None
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise MediaError(unreadable(path, exc)) from None
        raise MediaError(f"{path}: cannot decode the image ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # Pillow's decoders raise OSError, ValueError, SyntaxError, DecompressionBombError …
        raise MediaError(f"{path}: cannot decode the image ({type(exc).__name__}: {exc})") from None


def _packed(bits: Any) -> bytes:
    _, numpy, _ = _libraries()
    return bytes(numpy.packbits(numpy.asarray(bits, dtype=numpy.uint8)).tobytes())


def pdq(path: str | Path) -> PdqHash:
    """The PDQ hash of an image file. Raises MediaError (unreadable, not an image), MediaSupportError."""
    pixels = _pixels(path)
    bits, quality = _libraries()[2].compute(pixels)
    return PdqHash(_packed(bits), int(quality))


def pdq_dihedral(path: str | Path) -> list[PdqHash]:
    """The PDQ hashes of the image's eight rotations and reflections, in DIHEDRAL order (the first is ``pdq``)."""
    pixels = _pixels(path)
    hashes, quality = _libraries()[2].compute_dihedral(pixels)
    return [PdqHash(_packed(bits), int(quality)) for bits in hashes]


def md5_file(path: str | Path) -> bytes:
    """The MD5 of a file's bytes (16 bytes), read in chunks. Raises MediaError if it cannot be read."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise MediaError(unreadable(path, exc)) from None
    return digest.digest()


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two equal-length hashes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
