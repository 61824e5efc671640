"""C2SP signed notes and tlog checkpoints: published vectors, byte-exact signing, strict parsing.

``signed-note/vectors.json`` (C2SP signed-note.md example and golang.org/x/mod sumdb/note tests)
is read through the ``vectors`` fixture: each note opens iff ``valid``, and the case carrying a
``signer_key`` must be reproduced byte for byte by :func:`client_sdk.note.sign_note`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk import keys, note
from client_sdk.errors import VerificationError
from client_sdk.note import Checkpoint, NoteError

KEY = keys.SigningKey.generate()
OTHER = keys.SigningKey.generate()
NAME = "log.example/sigx"
ROOT = bytes(range(32))


def _cases(vectors: Path) -> list[dict[str, Any]]:
    data = json.loads((vectors / "signed-note" / "vectors.json").read_text("utf-8"))
    assert data["cases"], "no signed-note cases"
    return data["cases"]


def _sign(text: str, key: keys.SigningKey = KEY, name: str = NAME) -> str:
    return note.sign_note(text, name, key.sign, key.public_key)


# --- published vectors ---------------------------------------------------------------------


def test_published_notes_verify_iff_valid(vectors: Path) -> None:
    wrong = []
    for case in _cases(vectors):
        name, public_key = note.parse_verifier_key(case["verifier_key"])
        try:
            text = note.open_note(case["note"], name, public_key)
        except NoteError as exc:
            outcome, text = False, str(exc)
        else:
            outcome = True
            assert case["note"].startswith(text + "\n\u2014 ")
        if outcome != case["valid"]:
            wrong.append(f"{case['desc']}: opened={outcome} ({text!r}), want valid={case['valid']}")
    assert not wrong, "\n".join(wrong)


def test_published_signer_key_reproduces_note(vectors: Path) -> None:
    signing_cases = [c for c in _cases(vectors) if "signer_key" in c]
    assert signing_cases
    for case in signing_cases:
        name, seed = note.signer_key_from_text(case["signer_key"])
        key = keys.SigningKey(Ed25519PrivateKey.from_private_bytes(seed))
        assert note.verifier_key(name, key.public_key) == case["verifier_key"]
        assert note.parse_verifier_key(case["verifier_key"]) == (name, key.public_key)
        signed = note.sign_note(case["text"], name, key.sign, key.public_key)
        assert signed == case["note"]
        assert signed.encode("utf-8") == case["note"].encode("utf-8")
        assert note.open_note(signed, name, key.public_key) == case["text"]


def test_published_key_ids(vectors: Path) -> None:
    for case in _cases(vectors):
        name, public_key = note.parse_verifier_key(case["verifier_key"])
        assert case["verifier_key"].split("+")[1] == note.key_hash(name, public_key).hex()
        # the key ID is also the first four bytes of every signature by that key
        text, sigs = note.parse_note(case["note"])
        assert text and sigs[0].key_hash == note.key_hash(name, public_key)


# --- signing and opening ---------------------------------------------------------------------


def test_sign_open_round_trip() -> None:
    text = "hello\n\nworld \u00e9\n"
    signed = _sign(text)
    assert signed.startswith(text + "\n\u2014 " + NAME + " ")
    assert signed.endswith("\n")
    assert note.open_note(signed, NAME, KEY.public_key) == text
    assert note.open_note(signed.encode("utf-8"), NAME, KEY.public_key) == text
    raw = base64.b64decode(signed.rsplit(" ", 1)[1])
    assert raw[:4] == note.key_hash(NAME, KEY.public_key) and len(raw) == 68


def test_unknown_signatures_are_ignored_and_cosignatures_work() -> None:
    text = "cosigned\n"
    by_key = _sign(text)
    by_other = _sign(text, OTHER, "witness.example/w1")
    both = by_key + by_other.split("\n\n", 1)[1]
    assert note.open_note(both, NAME, KEY.public_key) == text
    assert note.open_note(both, "witness.example/w1", OTHER.public_key) == text
    # same name, other key: its line has a different key ID, so it is ignored; no line of ours
    with pytest.raises(NoteError, match="no signature"):
        note.open_note(_sign(text, OTHER), NAME, KEY.public_key)


def test_failing_signature_by_known_key_rejects_note() -> None:
    text = "one\n"
    good = _sign(text)
    line = good.split("\n\n", 1)[1]
    raw = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
    raw[-1] ^= 1
    bad_line = f"\u2014 {NAME} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note(text + "\n" + bad_line, NAME, KEY.public_key)
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note(good + bad_line, NAME, KEY.public_key)
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note("two\n\n" + line, NAME, KEY.public_key)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no blank line\n\u2014 " + NAME + " AAAA\n",
        "text\n\n",
        "text\n\n\u2014 " + NAME + " AAAAAAAA",  # no final newline
        "text\n\n- " + NAME + " AAAAAAAA\n",  # hyphen, not em dash
        "text\n\n\u2014 " + NAME + "  AAAAAAAA\n",  # two spaces
        "text\n\n\u2014 " + NAME + "\n",  # no signature
        "text\n\n\u2014  AAAAAAAA\n",  # empty name
        "text\n\n\u2014 a+b AAAAAAAA\n",  # plus in name
        "text\n\n\u2014 " + NAME + " AAAA\n",  # only a key ID
        "text\n\n\u2014 " + NAME + " AAAAAAAA=\n",  # bad padding
        "text\n\n\u2014 " + NAME + " AAAAAAA%\n",  # not base64
        "text\n\n\u2014 " + NAME + " AAAAAAB=\n",  # non-canonical trailing bits
        "text\n\n\u2014 " + NAME + " AAAAAAAA\nextra\n",  # non-signature line after signatures
        "tab\there\n\n\u2014 " + NAME + " AAAAAAAA\n",  # control character
        "cr\r\n\n\u2014 " + NAME + " AAAAAAAA\n",
    ],
)
def test_malformed_notes_rejected(bad: str) -> None:
    with pytest.raises(NoteError):
        note.parse_note(bad)


def test_limits() -> None:
    text = "many\n"
    line = _sign(text, OTHER, "w").split("\n\n", 1)[1]
    ours = _sign(text).split("\n\n", 1)[1]
    assert note.open_note(text + "\n" + line * 99 + ours, NAME, KEY.public_key) == text
    with pytest.raises(NoteError, match="more than"):
        note.open_note(text + "\n" + line * 100 + ours, NAME, KEY.public_key)
    with pytest.raises(NoteError, match="larger than"):
        note.parse_note("x" * note.MAX_NOTE_BYTES + "\n\n" + ours)
    with pytest.raises(NoteError):
        note.parse_note(b"\xff\n\n" + ours.encode())
    with pytest.raises(NoteError):
        note.parse_note("lone \udc80 surrogate\n\n" + ours)


def test_sign_note_rejects_bad_input() -> None:
    for text in ["no newline", "ctl\x01\n", ""]:
        with pytest.raises(NoteError):
            _sign(text)
    for name in ["", "a b", "a+b", "a\u00a0b"]:
        with pytest.raises(NoteError):
            _sign("text\n", name=name)
    with pytest.raises(NoteError, match="does not verify"):
        note.sign_note("text\n", NAME, OTHER.sign, KEY.public_key)


def test_key_text_parsing() -> None:
    vkey = note.verifier_key(NAME, KEY.public_key)
    assert note.parse_verifier_key(vkey) == (NAME, KEY.public_key)
    name, hash_hex, key_b64 = vkey.split("+", 2)
    wrong_hash = f"{(int(hash_hex, 16) ^ 1):08x}"
    other_alg = base64.b64encode(b"\x02" + KEY.public_key).decode()
    small_order = base64.b64encode(b"\x01" + bytes(32)).decode()
    for bad in [
        f"{name}+{wrong_hash}+{key_b64}",
        f"{name}+{hash_hex[:7]}+{key_b64}",
        f"{name}+{hash_hex}+{other_alg}",
        f"{name}+{hash_hex}+{key_b64[:-4]}",
        f"{name}+{note.key_hash(name, bytes(32)).hex()}+{small_order}",
        f"{name}+{hash_hex}",
        f"+{hash_hex}+{key_b64}",
    ]:
        with pytest.raises(NoteError):
            note.parse_verifier_key(bad)
    for bad in ["PRIVATE+KEY+x", "PUBLIC+KEY+" + vkey, "PRIVATE+KEY+" + vkey]:
        with pytest.raises(NoteError):
            note.signer_key_from_text(bad)


def test_note_error_is_verification_error() -> None:
    assert issubclass(NoteError, VerificationError)


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_format_and_round_trip() -> None:
    cp = Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    text = cp.to_text()
    assert text == f"example.com/behind-the-sofa\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert Checkpoint.from_text(text) == cp
    ext = Checkpoint("o", 0, ROOT, ("ext one", "\u2014 two"))
    assert ext.to_text().endswith("\next one\n\u2014 two\n")
    assert Checkpoint.from_text(ext.to_text()) == ext
    big = Checkpoint("o", (1 << 64) - 1, ROOT)
    assert Checkpoint.from_text(big.to_text()) == big


def test_c2sp_checkpoint_example_text() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.from_text(text)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.to_text() == text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "o\n1\n",
        "o\n1\n{root}",  # no final newline
        "\n1\n{root}\n",  # empty origin
        "o\n01\n{root}\n",
        "o\n+1\n{root}\n",
        "o\n-1\n{root}\n",
        "o\n 1\n{root}\n",
        "o\n1_000\n{root}\n",
        "o\n\u0661\n{root}\n",  # Arabic-Indic digit one
        "o\n18446744073709551616\n{root}\n",  # 2**64
        "o\n\n{root}\n",
        "o\n1\n{short}\n",
        "o\n1\n{unpadded}\n",
        "o\n1\n{root}\n\n",  # empty extension line
        "o\n1\n{root}\next\n\nmore\n",
        "o\n1\n{root}\r\n",
        "o\t\n1\n{root}\n",
    ],
)
def test_checkpoint_rejections(bad: str) -> None:
    root = base64.b64encode(ROOT).decode()
    text = bad.format(root=root, short=base64.b64encode(ROOT[:31]).decode(), unpadded=root.rstrip("="))
    with pytest.raises(NoteError):
        Checkpoint.from_text(text)


def test_checkpoint_constructor_validates() -> None:
    for args in [("", 1, ROOT), ("a\nb", 1, ROOT), ("o", -1, ROOT), ("o", True, ROOT), ("o", 1, ROOT[:31])]:
        with pytest.raises(ValueError):
            Checkpoint(*args)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Checkpoint("o", 1, ROOT, ("",))


def test_signed_checkpoint_round_trip() -> None:
    cp = Checkpoint(NAME, 42, ROOT)
    signed = note.sign_checkpoint(cp, NAME, KEY.sign, KEY.public_key)
    assert note.open_checkpoint(signed, KEY.public_key) == cp
    assert note.open_checkpoint(signed, KEY.public_key, origin=NAME) == cp
    assert Checkpoint.from_text(note.open_note(signed, NAME, KEY.public_key)) == cp
    with pytest.raises(NoteError, match="origin"):
        note.open_checkpoint(signed, KEY.public_key, origin="other.example/log")
    with pytest.raises(NoteError):
        note.open_checkpoint(signed, OTHER.public_key)
    forged = signed.replace("\n42\n", "\n43\n")
    with pytest.raises(NoteError, match="does not verify"):
        note.open_checkpoint(forged, KEY.public_key)
