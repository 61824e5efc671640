"""``sigx audit verify``: recompute the log and check every entry, signature and checkpoint.

An entry is sound when its leaf record decodes and sits at its own index; its
envelope (unless purged, which is allowed only after its expiry) hashes to the
record, is signed by a key of the record's submitter that was valid at the
record's time, and carries a body whose submitter is that member. Keys,
members and roles are replayed from the log's own admin entries, starting from
the self-signed genesis, so the audit needs nothing from the exchange but the
log. The recomputed root must equal the signed checkpoint's, and every
checkpoint seen before must be consistent with it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client_sdk import keys, merkle
from client_sdk.audit.sources import LogSource
from client_sdk.audit.state import AuditState, KeyWindow, LeafHashes, SavedCheckpoint
from client_sdk.envelope import PAYLOAD_ADMIN, PAYLOAD_KINDS, EnvelopeError, OpenedEnvelope, open_envelope
from client_sdk.errors import VerificationError
from client_sdk.log_entry import KINDS, NO_LEAF, EntryError, LogEntry
from client_sdk.note import Checkpoint, open_checkpoint, unverified_checkpoint
from client_sdk.positions import seq_at
from client_sdk.vocab import KIND_ADMIN, KIND_SAFEGUARD


@dataclass
class Problem:
    index: int | None
    reason: str


@dataclass
class Report:
    size: int = 0
    new_entries: int = 0
    members: int = 0
    keys: int = 0
    checkpoints: int = 0
    purged: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.size,
            "new_entries": self.new_entries,
            "members": self.members,
            "keys": self.keys,
            "checkpoints": self.checkpoints,
            "purged_envelopes": self.purged,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "entries_per_second": round(self.new_entries / self.seconds) if self.seconds else None,
            "problems": [{"index": p.index, "reason": p.reason} for p in self.problems],
        }


class Auditor:
    """Audits a log source against the exchange's pinned log key, resuming from ``state_dir``."""

    def __init__(
        self,
        source: LogSource,
        log_public_key: bytes,
        state_dir: Path | None,
        progress: Callable[[int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
        threads: int = 2,
    ) -> None:
        self._source = source
        self._log_key = log_public_key
        self._state_dir = state_dir
        self._progress = progress
        self._clock = clock
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="sigx-audit")
        self.state = AuditState.load(state_dir)
        self._leaves = LeafHashes(state_dir)
        self.report = Report()

    # -- checkpoints ------------------------------------------------------------------

    def _open_checkpoint(self, note: str) -> Checkpoint:
        origin = unverified_checkpoint(note).origin
        if self.state.origin and origin != self.state.origin:
            raise VerificationError(f"checkpoint origin changed from {self.state.origin!r} to {origin!r}")
        return open_checkpoint(note, self._log_key, origin)

    def _problem(self, index: int | None, reason: str) -> None:
        self.report.problems.append(Problem(index, reason))

    # -- the run -------------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        try:
            checkpoint = self._open_checkpoint(self._source.checkpoint())
        except VerificationError as exc:
            self._problem(None, f"checkpoint: {exc}")
            return self._finish(started, save=False)
        self.state.origin = checkpoint.origin
        start = self.state.size
        if checkpoint.size < start:
            self._problem(None, f"the log shrank: checkpoint of {checkpoint.size} entries after {start} were audited")
            return self._finish(started, save=False)
        proofs_available = True
        for old in self.state.checkpoints:
            proof = self._source.consistency(old.size, checkpoint.size) if old.size < checkpoint.size else []
            if proof is None:
                proofs_available = False
                break
            try:
                if old.size == checkpoint.size:
                    if bytes.fromhex(old.root) != checkpoint.root:
                        raise VerificationError("same size, different root")
                else:
                    merkle.verify_consistency(
                        old.size, checkpoint.size, proof, bytes.fromhex(old.root), checkpoint.root
                    )
            except VerificationError as exc:
                self._problem(
                    None,
                    f"checkpoint of size {old.size} is not consistent with size "
                    f"{checkpoint.size}: history was rewritten ({exc})",
                )
                self._locate_rewrite(old.size)
                self._scan(start, checkpoint)  # and name what is wrong among the new entries (not saved)
                return self._finish(started, save=False)
        if not proofs_available:
            start = 0  # offline: recompute everything and compare with what was audited
            self.state = AuditState(origin=checkpoint.origin, checkpoints=self.state.checkpoints)
        self._scan(start, checkpoint)
        if self.report.ok:
            self.state.checkpoints.append(SavedCheckpoint(checkpoint.size, checkpoint.root.hex(), ""))
            self.state.checkpoints = self.state.checkpoints[-50:]
        return self._finish(started, save=self.report.ok)

    def _locate_rewrite(self, size: int) -> None:
        """Name the first entry whose leaf differs from the one audited before."""
        for page in self._source.entries(0, size):
            for index, leaf, _ in page:
                seen = self._leaves.read(index)
                if seen is not None and seen != merkle.leaf_hash(leaf):
                    self._problem(index, "entry differs from the one audited earlier (history rewritten)")
                    return

    def _finish(self, started: float, save: bool) -> Report:
        r = self.report
        r.size = self.state.size
        r.members = len(self.state.members)
        r.keys = len(self.state.keys)
        r.checkpoints = len(self.state.checkpoints)
        r.counts = dict(self.state.counts)
        r.purged = self.state.counts.get("purged", 0)
        r.seconds = time.monotonic() - started
        if save and self._state_dir is not None:
            self.state.save(self._state_dir)
        self._pool.shutdown(wait=False)
        return r

    def _scan(self, start: int, checkpoint: Checkpoint) -> None:
        compact = merkle.CompactRange()
        if start:
            compact = merkle.CompactRange.from_list(self.state.size, self.state.frontier)
        old_roots = {c.size: bytes.fromhex(c.root) for c in self.state.checkpoints} if start == 0 else {}
        expected = start
        now = int(self._clock())
        for page in self._source.entries(start, checkpoint.size):
            hashes: list[bytes] = []
            pending: list[tuple[int, LogEntry, OpenedEnvelope, bytes]] = []
            for index, leaf, envelope in page:
                if index != expected:
                    self._problem(expected, f"entry {expected} is missing: the log returned index {index} next")
                    return
                expected += 1
                leaf_hash = merkle.leaf_hash(leaf)
                hashes.append(leaf_hash)
                if start == 0:
                    seen = self._leaves.read(index)
                    if seen is not None and seen != leaf_hash:
                        self._problem(index, "entry differs from the one audited earlier (history rewritten)")
                checked = self._check_entry(index, leaf, envelope, now)
                if checked is not None:
                    pending.append((index, *checked))
                compact.append(leaf_hash)
                if compact.size in old_roots and compact.root() != old_roots[compact.size]:
                    self._problem(index, f"recomputed root at size {compact.size} differs from a saved checkpoint")
            signatures = [(key, op.signed_message(), op.signature) for _, _, op, key in pending]
            for (index, entry, opened, _), ok in zip(pending, keys.verify_many(signatures, self._pool), strict=True):
                if not ok:
                    self._problem(index, "envelope signature does not verify")
                else:  # bodies are parsed only once their signature has verified
                    self._body_ok(index, entry, opened)
            self._leaves.truncate_and_append(expected - len(hashes), hashes)
            self.report.new_entries += len(page)
            if self._progress is not None:
                self._progress(expected, checkpoint.size)
        if expected != checkpoint.size:
            self._problem(expected, f"the log ended at {expected} entries, the checkpoint says {checkpoint.size}")
            return
        if compact.root() != checkpoint.root:
            self._problem(None, "the root recomputed from the entries differs from the signed checkpoint")
            return
        self.state.size = compact.size
        self.state.frontier = compact.to_list()

    # -- one entry ---------------------------------------------------------------------------

    def _check_entry(
        self, index: int, leaf: bytes, envelope: bytes, now: int
    ) -> tuple[LogEntry, OpenedEnvelope, bytes] | None:
        """Structural checks; returns what to verify in bulk (entry, envelope, public key). Admin entries are
        verified and replayed here, in log order."""
        counts = self.state.counts
        if not leaf:
            self._problem(index, NO_LEAF)
            return None
        try:
            entry = LogEntry.decode(leaf)
        except EntryError as exc:
            self._problem(index, f"leaf record: {exc}")
            return None
        if entry.index != index:
            self._problem(index, f"leaf record says index {entry.index}: entries were reordered")
            return None
        if entry.time < self.state.last_time:
            self._problem(index, f"entry time {entry.time} is before the previous entry's {self.state.last_time}")
        self.state.last_time = max(self.state.last_time, entry.time)
        kind = KINDS[entry.kind]
        counts[kind] = counts.get(kind, 0) + 1
        if not envelope:
            counts["purged"] = counts.get("purged", 0) + 1
            if entry.kind == KIND_ADMIN:
                self._problem(index, "an admin entry's envelope is missing (admin changes are never purged)")
            elif entry.expires_at <= 0 or entry.expires_at > now:
                self._problem(index, "envelope purged before its expiry")
            return None
        if not entry.matches(envelope):
            self._problem(index, "envelope does not match its leaf record (edited)")
            return None
        try:
            opened = open_envelope(envelope)
        except EnvelopeError as exc:
            self._problem(index, f"envelope: {exc}")
            return None
        if PAYLOAD_KINDS.get(opened.payload_type) != entry.kind or opened.key_id != entry.key_id:
            self._problem(index, "envelope payload type or key id differs from the leaf record")
            return None
        if index == 0:
            self._genesis(index, entry, opened)
            return None
        key = self.state.keys.get(opened.key_id)
        if key is None or key.member != entry.submitter:
            self._problem(index, f"signed by {opened.key_id}, which is not a key of {entry.submitter}")
            return None
        if not key.admits(seq_at(index), entry.time):
            self._problem(index, f"key {opened.key_id} was not valid for this entry (outside its window)")
            return None
        member = self.state.members.get(entry.submitter, {})
        if member.get("status") != "active":
            self._problem(index, f"{entry.submitter} was {member.get('status', 'unknown')} when this was accepted")
        public_key = bytes.fromhex(key.public_key)
        if member.get("role") == "system" and entry.kind != KIND_SAFEGUARD:
            self._problem(index, f"{entry.submitter}, the exchange's own key, signed an entry that is not a safeguard")
            return None
        if entry.kind != KIND_ADMIN:
            return entry, opened, public_key
        if member.get("role") != "operator":
            self._problem(index, f"admin change by {entry.submitter}, who is not an operator")
            return None
        if not keys.verify(public_key, opened.signed_message(), opened.signature):
            self._problem(index, "admin change signature does not verify")
            return None
        if self._body_ok(index, entry, opened):
            self._replay(entry, opened.body())
        return None

    def _body_ok(self, index: int, entry: LogEntry, opened: OpenedEnvelope) -> bool:
        try:
            body: Any = opened.body()
        except EnvelopeError as exc:
            self._problem(index, f"body: {exc}")
            return False
        if body.submitter != entry.submitter:
            self._problem(index, f"body names {body.submitter!r}, the leaf record {entry.submitter!r}")
            return False
        return True

    def _genesis(self, index: int, entry: LogEntry, opened: OpenedEnvelope) -> None:
        # The one body read before its signature is checked: the genesis carries the key that signs it.
        try:
            body: Any = opened.body() if opened.payload_type == PAYLOAD_ADMIN else None
        except EnvelopeError:
            body = None
        add = body.add_member if body is not None and body.WhichOneof("change") == "add_member" else None
        if add is None or add.role != "operator" or add.member_id != entry.submitter:
            self._problem(index, "the first entry is not an operator registering itself")
            return None
        if keys.key_id_for(add.signing_public_key) != opened.key_id or not keys.verify(
            add.signing_public_key, opened.signed_message(), opened.signature
        ):
            self._problem(index, "the genesis entry is not signed by the key it registers")
            return None
        self._replay(entry, body)
        return None

    def _replay(self, entry: LogEntry, body: Any) -> None:
        """Apply an admin change to the replayed directory."""
        kind = body.WhichOneof("change")
        change = getattr(body, kind)
        st = self.state
        seq = seq_at(entry.index)
        if kind == "add_member":
            st.members[change.member_id] = {
                "role": change.role or "member",
                "status": "active",
                "kind": change.kind or ("platform" if (change.role or "member") == "member" else ""),
            }
            kid = keys.key_id_for(change.signing_public_key)
            st.keys[kid] = KeyWindow(change.member_id, change.signing_public_key.hex(), entry.time, registered_seq=seq)
        elif kind == "register_key":
            kid = keys.key_id_for(change.public_key)
            st.keys[kid] = KeyWindow(change.member_id, change.public_key.hex(), entry.time, registered_seq=seq)
        elif kind in ("retire_key", "revoke_key") and change.key_id in st.keys:
            st.keys[change.key_id].end(seq, entry.time, revoked=kind == "revoke_key")
        elif kind == "set_member_status" and change.member_id in st.members:
            st.members[change.member_id]["status"] = change.status
        elif kind == "set_member_kind" and change.member_id in st.members:
            st.members[change.member_id]["kind"] = change.kind
        elif kind == "apply_charter" and hashlib.sha256(change.document.encode()).digest() != change.sha256:
            self._problem(entry.index, "a charter change whose sha256 is not that of its document")
