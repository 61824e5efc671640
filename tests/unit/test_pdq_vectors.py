"""PDQ on the published images (ThreatExchange pdq/data): Identifier.from_image against both reference
implementations, within the tolerance expected.json states, and the modified copies match the original."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client_sdk import Identifier
from client_sdk.member import DEFAULT_MAX_DISTANCE, MediaError
from client_sdk.member.media import PDQ_MIN_QUALITY, hamming, md5_file, pdq, pdq_dihedral

TOLERANCE = 10  # expected.json: "within Hamming distance 10 of the reference for images of quality >= 80"
REFERENCES = ("pdq_python_reference", "pdq_wasm_reference")


@pytest.fixture(scope="module")
def expected(vectors: Path) -> dict[str, Any]:
    data = json.loads((vectors / "pdq" / "expected.json").read_text())
    assert "distance 10" in data["tolerance"] and "<= 31" in data["tolerance"]
    return data


def _distance(hex_a: str, hex_b: str) -> int:
    return hamming(bytes.fromhex(hex_a), bytes.fromhex(hex_b))


def test_from_image_is_within_tolerance_of_both_references(vectors: Path, expected: dict[str, Any]) -> None:
    checked = 0
    for case in expected["cases"]:
        ident = Identifier.from_image(vectors / "pdq" / case["file"])
        assert ident.type == "media_pdq" and len(ident.normalised()) == 64
        quality = pdq(vectors / "pdq" / case["file"]).quality
        for ref in REFERENCES:
            if ref not in case:
                continue
            if quality >= 80:
                assert _distance(ident.value, case[ref]) <= TOLERANCE, (case["file"], ref)
                checked += 1
            else:  # too little structure to hash (PDQ says discard); here it still equals the C++ reference
                assert quality < PDQ_MIN_QUALITY
    assert checked == 2 * 12 + 1  # twelve photos against both references, wee.jpg against the WASM build


def test_modified_copies_match_the_original(vectors: Path, expected: dict[str, Any]) -> None:
    original = Identifier.from_image(vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg").value
    assert _distance(original, expected["java_reference_aaa_orig"]) <= TOLERANCE
    mods = [c["file"] for c in expected["cases"] if c["file"].startswith("bridge-mods/")]
    assert len(mods) == 12
    for name in mods:
        assert _distance(Identifier.from_image(vectors / "pdq" / name).value, original) <= DEFAULT_MAX_DISTANCE, name
    for name in ("misc/small.jpg", "misc/wee.jpg"):  # other pictures do not
        assert _distance(Identifier.from_image(vectors / "pdq" / name).value, original) > DEFAULT_MAX_DISTANCE


def test_dihedral_hashes(vectors: Path, tmp_path: Path) -> None:
    from PIL import Image

    source = vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg"
    hashes = pdq_dihedral(source)
    assert len(hashes) == 8 and hashes[0] == pdq(source)
    rotated = tmp_path / "rotated.png"
    with Image.open(source) as image:
        image.transpose(Image.Transpose.ROTATE_90).save(rotated)
    turned = pdq(rotated).hash
    assert hamming(turned, hashes[0].hash) > DEFAULT_MAX_DISTANCE  # a rotation evades plain matching
    assert min(hamming(turned, h.hash) for h in hashes) <= DEFAULT_MAX_DISTANCE  # one dihedral variant catches it


def test_from_file_is_the_md5(vectors: Path) -> None:
    path = vectors / "pdq" / "misc" / "wee.jpg"
    import hashlib

    assert Identifier.from_file(path) == Identifier("media_md5", hashlib.md5(path.read_bytes()).hexdigest())
    assert md5_file(path).hex() == Identifier.from_file(path).value


def test_unreadable_files_are_media_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes(b"\xff\xd8\xff\xe0" + bytes(50))
    for path, words in (
        (text, "not an image"),
        (truncated, "half.jpg"),
        (tmp_path / "missing.png", "no such file"),
        (tmp_path, "is a directory"),
    ):
        with pytest.raises(MediaError, match=words):
            Identifier.from_image(path)
    with pytest.raises(MediaError, match="no such file"):
        Identifier.from_file(tmp_path / "missing.png")
