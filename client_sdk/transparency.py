"""Key transparency: trust a member's signing key only as far as the signature log proves it.

"Verified end to end" must not mean "relative to whatever key directory the exchange serves". So the
SDK asks the directory for proofs (``ListSigningKeys(prove=true)``) and trusts a key only when:

* the checkpoint is signed by the log key pinned in ``member.json``, under the pinned origin and key name;
* the admin entry that registered the key (``registered_index``) is in that checkpoint's tree (an
  RFC 9162 inclusion proof), its leaf record matches its envelope, and the envelope — verified before
  its body is parsed — is an ``AddMember`` or ``RegisterKey`` for exactly this member and public key,
  signed by a key that is itself trusted this way and belongs to an operator, or is the log's genesis (an
  operator registering itself at index 0, signed by the key it registers);
* the key's window starts at that entry's time, and a window that has ended is closed by a retire or
  revoke entry (``ended_index``) proven the same way, at the time the directory says.

A directory that invents, moves or hides keys must therefore write its lie into the log, where every
auditor sees it. What the log cannot prove here is absence: a revocation the exchange never logged is
caught by the auditor, not by this check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from client_sdk import merkle
from client_sdk.envelope import PAYLOAD_ADMIN, EnvelopeError, OpenedEnvelope, open_envelope
from client_sdk.errors import VerificationError
from client_sdk.keys import key_id_for, verify, window_admits
from client_sdk.log_entry import EntryError, LogEntry
from client_sdk.note import Checkpoint, NoteError, open_checkpoint
from client_sdk.positions import seq_at
from client_sdk.vocab import KIND_ADMIN
from client_sdk.wire import directory_pb2


class KeyTransparencyError(VerificationError):
    """The directory's proof for a signing key does not hold."""


@dataclass(frozen=True, slots=True)
class LogPin:
    """What ``member.json`` pins about the signature log: its key, origin and verifier key name."""

    public_key: bytes
    origin: str = ""  # "": any origin whose note verifies under the key name
    key_name: str = ""  # "": the origin (C2SP's recommendation)

    def open(self, note: str) -> Checkpoint:
        """Verify a signed checkpoint against the pin; raises KeyTransparencyError."""
        try:
            return open_checkpoint(note, self.public_key, self.key_name or None, origin=self.origin or None)
        except (NoteError, ValueError) as exc:
            raise KeyTransparencyError(f"checkpoint does not verify against the pinned log key: {exc}") from None


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A signing key whose window the log proves."""

    key_id: str
    member_id: str
    public_key: bytes
    not_before: int
    not_after: int | None
    revoked_at: int | None
    registered_index: int
    ended_index: int = 0  # 0: the window is open

    def admits(self, seq: int, t: float) -> bool:
        """Whether the key signs the event of ``seq`` at time ``t`` (``keys.window_admits``)."""
        ended = seq_at(self.ended_index) if self.ended_index else 0
        return window_admits(self.not_before, seq_at(self.registered_index), ended, seq, t)


@dataclass(frozen=True, slots=True)
class _Entry:
    entry: LogEntry
    opened: OpenedEnvelope


class _Verifier:
    def __init__(self, resp: directory_pb2.ListSigningKeysResponse, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self._keys = {k.key_id: k for k in resp.keys}
        self._evidence = {ev.index: ev for ev in resp.evidence}
        self._entries: dict[int, _Entry] = {}
        self._trusted: dict[str, TrustedKey] = {}
        self._roles: dict[str, str] = {}
        self._first_index: dict[str, int] = {}
        for k in resp.keys:
            if k.member_id not in self._first_index or k.registered_index < self._first_index[k.member_id]:
                self._first_index[k.member_id] = k.registered_index

    # -- entries -----------------------------------------------------------------------------

    def _entry(self, index: int, what: str) -> _Entry:
        """An admin entry proven to be in the checkpoint's tree, its leaf matching its envelope."""
        if index in self._entries:
            return self._entries[index]
        ev = self._evidence.get(index)
        if ev is None:
            raise KeyTransparencyError(f"{what}: no proof for log entry {index}")
        try:
            merkle.verify_inclusion(
                index, self.checkpoint.size, merkle.leaf_hash(ev.leaf), list(ev.proof), self.checkpoint.root
            )
            entry = LogEntry.decode(ev.leaf)
            opened = open_envelope(ev.envelope)
        except (merkle.ProofError, EntryError, EnvelopeError) as exc:
            raise KeyTransparencyError(f"{what}: log entry {index}: {exc}") from None
        if entry.index != index or entry.kind != KIND_ADMIN or not entry.matches(ev.envelope):
            raise KeyTransparencyError(f"{what}: log entry {index} is not the admin change it is served as")
        if opened.payload_type != PAYLOAD_ADMIN or opened.key_id != entry.key_id:
            raise KeyTransparencyError(f"{what}: log entry {index} is not an admin change")
        self._entries[index] = found = _Entry(entry, opened)
        return found

    def _change(self, index: int, what: str, visiting: frozenset[str]) -> tuple[LogEntry, Any]:
        """The body of an admin entry signed by a trusted operator key (or the genesis), verified first."""
        found = self._entry(index, what)
        entry, opened = found.entry, found.opened
        if index == 0:
            body = self._parse(opened, what)
            add = body.add_member if body.WhichOneof("change") == "add_member" else None
            if add is None or add.role != "operator" or add.member_id != entry.submitter:
                raise KeyTransparencyError(f"{what}: the log's first entry is not an operator registering itself")
            if key_id_for(add.signing_public_key) != opened.key_id or not verify(
                add.signing_public_key, opened.signed_message(), opened.signature
            ):
                raise KeyTransparencyError(f"{what}: the genesis entry is not signed by the key it registers")
            return entry, body
        signer = self.trust(opened.key_id, visiting)
        if signer.member_id != entry.submitter or not signer.admits(seq_at(index), entry.time):
            raise KeyTransparencyError(f"{what}: entry {index} is signed by a key not valid for its submitter then")
        if self.role(signer.member_id, visiting) != "operator":
            raise KeyTransparencyError(f"{what}: entry {index} is signed by {signer.member_id}, not an operator")
        if not verify(signer.public_key, opened.signed_message(), opened.signature):
            raise KeyTransparencyError(f"{what}: entry {index}: signature does not verify")
        return entry, self._parse(opened, what)

    @staticmethod
    def _parse(opened: OpenedEnvelope, what: str) -> Any:
        try:
            return opened.body()
        except EnvelopeError as exc:
            raise KeyTransparencyError(f"{what}: {exc}") from None

    # -- members and keys ----------------------------------------------------------------------

    def role(self, member_id: str, visiting: frozenset[str]) -> str:
        """The member's role, from the entry that added it (the registration of its first key)."""
        if member_id not in self._roles:
            index = self._first_index.get(member_id)
            if index is None:
                raise KeyTransparencyError(f"member {member_id}: the directory lists no key of it")
            _, body = self._change(index, f"member {member_id}", visiting)
            add = body.add_member if body.WhichOneof("change") == "add_member" else None
            if add is None or add.member_id != member_id:
                raise KeyTransparencyError(f"member {member_id}: entry {index} did not add this member")
            self._roles[member_id] = add.role or "member"
        return self._roles[member_id]

    def trust(self, key_id: str, visiting: frozenset[str] = frozenset()) -> TrustedKey:
        """The key, once the log proves its window; raises KeyTransparencyError."""
        if key_id in self._trusted:
            return self._trusted[key_id]
        k = self._keys.get(key_id)
        if k is None:
            raise KeyTransparencyError(f"key {key_id} is not in the directory")
        if key_id in visiting:
            raise KeyTransparencyError(f"key {key_id}: its registration depends on itself")
        visiting |= {key_id}
        what = f"key {key_id} of {k.member_id}"
        entry, body = self._change(k.registered_index, what, visiting)
        kind = body.WhichOneof("change")
        if kind == "add_member":
            member, public_key = body.add_member.member_id, body.add_member.signing_public_key
        elif kind == "register_key":
            member, public_key = body.register_key.member_id, body.register_key.public_key
        else:
            raise KeyTransparencyError(f"{what}: entry {k.registered_index} registers no key")
        if member != k.member_id or public_key != k.public_key or key_id_for(public_key) != key_id:
            raise KeyTransparencyError(f"{what}: entry {k.registered_index} registers another key or member")
        if entry.time != k.not_before:
            raise KeyTransparencyError(f"{what}: its window does not start when the log registered it")
        end = self._end(k, what, visiting)
        trusted = TrustedKey(
            key_id,
            k.member_id,
            k.public_key,
            k.not_before,
            k.not_after or None,
            k.revoked_at or None,
            k.registered_index,
            k.ended_index,
        )
        if end is not None and end != min(t for t in (k.not_after, k.revoked_at) if t):
            raise KeyTransparencyError(f"{what}: its window does not end when the log ended it")
        self._trusted[key_id] = trusted
        return trusted

    def _end(self, k: directory_pb2.SigningKey, what: str, visiting: frozenset[str]) -> int | None:
        """When the log closed the key's window (None: open), checking the directory agrees."""
        if not (k.not_after or k.revoked_at):
            if k.ended_index:
                raise KeyTransparencyError(f"{what}: the log ended its window but the directory shows it open")
            return None
        if not k.ended_index:
            raise KeyTransparencyError(f"{what}: its window ended, but no log entry is named for it")
        entry, body = self._change(k.ended_index, what, visiting)
        kind = body.WhichOneof("change")
        if kind not in ("retire_key", "revoke_key") or getattr(body, kind).key_id != k.key_id:
            raise KeyTransparencyError(f"{what}: entry {k.ended_index} does not end this key")
        return entry.time


def verify_directory(
    resp: directory_pb2.ListSigningKeysResponse, checkpoint: Checkpoint
) -> dict[str, TrustedKey | KeyTransparencyError]:
    """Every key of a proven directory response, checked as the module says against ``checkpoint`` (the
    response's, already verified against the pin): the trusted key, or why it cannot be trusted. One key
    the log does not prove leaves the others usable; using it fails with its reason."""
    verifier = _Verifier(resp, checkpoint)
    out: dict[str, TrustedKey | KeyTransparencyError] = {}
    for k in resp.keys:
        try:
            out[k.key_id] = verifier.trust(k.key_id)
        except KeyTransparencyError as exc:
            out[k.key_id] = exc
    return out


class CheckpointTracker:
    """The newest checkpoint a client has seen; every other one it meets must be consistent with it (RFC 9162
    consistency proofs), so the exchange cannot show this client two different histories over time."""

    def __init__(self, pin: LogPin, consistency: Callable[[int, int], Sequence[bytes]]) -> None:
        self.pin = pin
        self._consistency = consistency
        self._lock = threading.Lock()
        self.latest: Checkpoint | None = None

    def accept(self, note: str) -> Checkpoint:
        """Verify ``note`` against the pin and against the newest checkpoint seen; raises KeyTransparencyError."""
        checkpoint = self.pin.open(note)
        with self._lock:
            latest = self.latest
        if latest is not None:
            older, newer = sorted((latest, checkpoint), key=lambda c: c.size)
            try:
                if older.size == newer.size:
                    if older.root != newer.root:
                        raise merkle.ProofError("two checkpoints of one size with different roots")
                elif older.size:
                    proof = self._consistency(older.size, newer.size)
                    merkle.verify_consistency(older.size, newer.size, list(proof), older.root, newer.root)
            except merkle.ProofError as exc:
                raise KeyTransparencyError(
                    f"checkpoint of {checkpoint.size} entries is not consistent with the one of {latest.size} seen"
                    f" before: the log's history was rewritten ({exc})"
                ) from None
        with self._lock:
            if self.latest is None or checkpoint.size > self.latest.size:
                self.latest = checkpoint
        return checkpoint
