"""The signature log's leaf record: what each Merkle leaf commits to.

Binary and canonical (one encoding per record), big-endian::

    version   u8     1
    index     u64    the entry's position in the log
    kind      u8     1 submit, 2 retract, 3 feedback, 4 admin change
    time      i64    when the exchange accepted it (unix seconds)
    expires   i64    when retention may purge its envelope (0: never)
    submitter u8 length + UTF-8
    key_id    u8 length + UTF-8
    sha256    32 bytes: SHA-256 of the envelope exactly as stored

The leaf hash is RFC 9162's ``SHA-256(0x00 || record)``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from client_sdk.errors import VerificationError
from client_sdk.vocab import EVENT_KINDS

VERSION = 1
KINDS = EVENT_KINDS
_HEAD = struct.Struct(">BQBqq")


def leaf_expires(record: bytes) -> int:
    """The ``expires`` field of a leaf record, read from its fixed head without decoding the rest."""
    return int(_HEAD.unpack_from(record, 0)[4])


def leaf_time(record: bytes) -> int:
    """The ``time`` field of a leaf record, read from its fixed head."""
    return int(_HEAD.unpack_from(record, 0)[3])


#: What an auditor says of an entry served without a leaf record: the exchange rebuilds leaves from its stored
#: rows and serves none for a row that no longer rebuilds the leaf it wrote (docs/log-format.md).
NO_LEAF = "no leaf record: the exchange's stored row no longer rebuilds it (edited, moved, or its envelope lost)"


class EntryError(VerificationError):
    """A leaf record that does not decode."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    index: int
    kind: int
    time: int
    expires_at: int
    submitter: str
    key_id: str
    envelope_sha256: bytes

    @classmethod
    def for_envelope(
        cls, index: int, kind: int, time: int, expires_at: int, submitter: str, key_id: str, envelope: bytes
    ) -> LogEntry:
        return cls(index, kind, time, expires_at, submitter, key_id, hashlib.sha256(envelope).digest())

    def encode(self) -> bytes:
        sub = self.submitter.encode()
        kid = self.key_id.encode()
        if len(sub) > 255 or len(kid) > 255 or len(self.envelope_sha256) != 32:
            raise ValueError("submitter and key id must be at most 255 bytes, the hash 32")
        head = _HEAD.pack(VERSION, self.index, self.kind, self.time, self.expires_at)
        return head + bytes([len(sub)]) + sub + bytes([len(kid)]) + kid + self.envelope_sha256

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Strict decoding; raises EntryError on anything but a canonical record."""
        try:
            version, index, kind, time, expires = _HEAD.unpack_from(data, 0)
            pos = _HEAD.size
            sub_len = data[pos]
            submitter = data[pos + 1 : pos + 1 + sub_len].decode()
            pos += 1 + sub_len
            kid_len = data[pos]
            key_id = data[pos + 1 : pos + 1 + kid_len].decode()
            pos += 1 + kid_len
            digest = data[pos : pos + 32]
        except (struct.error, IndexError, UnicodeDecodeError):
            raise EntryError("leaf record is truncated or not UTF-8") from None
        if version != VERSION or len(digest) != 32 or pos + 32 != len(data) or kind not in KINDS:
            raise EntryError("leaf record has a bad version, kind or length")
        entry = cls(index, kind, time, expires, submitter, key_id, digest)
        if entry.encode() != data:
            raise EntryError("leaf record is not canonical")
        return entry

    def matches(self, envelope: bytes) -> bool:
        """Whether ``envelope`` is the one this entry commits to."""
        return hashlib.sha256(envelope).digest() == self.envelope_sha256
