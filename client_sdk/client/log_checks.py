"""What a member checks against the signature log: checkpoints, receipts, inclusion, trusted keys."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

from client_sdk import merkle
from client_sdk.client.connection import BATCH, Connection
from client_sdk.errors import (
    VerificationError,
)
from client_sdk.log_entry import LogEntry
from client_sdk.models import (
    Accepted,
    Event,
    SubmitResult,
)
from client_sdk.note import Checkpoint
from client_sdk.transparency import (
    CheckpointTracker,
    KeyTransparencyError,
    TrustedKey,
    verify_directory,
)
from client_sdk.wire import (
    directory_pb2,
    log_pb2,
)


class _Directory:
    """Signing keys by key id, each trusted only once the signature log proves it (client_sdk.transparency).

    Fetched again on a miss, and — at most every ``refresh`` seconds — when an event lies beyond the log
    the proofs covered, since a key's window may have closed after them.
    """

    def __init__(
        self,
        fetch: Callable[[], directory_pb2.ListSigningKeysResponse],
        log: CheckpointTracker,
        refresh: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self._log = log
        self._refresh = refresh
        self._keys: dict[str, TrustedKey | KeyTransparencyError] = {}
        self._covers = 0  # log entries the proofs of the keys held cover
        self._fetched = -math.inf
        self._lock = threading.Lock()

    def key(self, key_id: str, seq: int = 0) -> TrustedKey | None:
        """The trusted key (None if the directory has none by this id) for an event of ``seq``; raises
        KeyTransparencyError if the directory has it but the log does not prove it."""
        with self._lock:
            stale = seq > self._covers and time.monotonic() - self._fetched >= self._refresh
            if key_id not in self._keys or stale:
                resp = self._fetch()
                checkpoint = self._log.accept(resp.checkpoint)
                self._keys = dict(verify_directory(resp, checkpoint))
                self._covers, self._fetched = checkpoint.size, time.monotonic()
            found = self._keys.get(key_id)
        if isinstance(found, KeyTransparencyError):
            raise found
        return found


class LogChecking(Connection):
    _checkpoints: CheckpointTracker
    _directory: _Directory

    def checkpoint(self, min_size: int = 0) -> Checkpoint:
        """The exchange's latest signed checkpoint (a fresh one if it covers fewer than ``min_size`` entries),
        verified against the log key pinned in the credentials."""
        note = self._call(self._log.GetCheckpoint, log_pb2.GetCheckpointRequest(min_size=min_size)).note
        return self._checkpoints.accept(note)

    def verify_inclusion(self, event: Event) -> Checkpoint:
        """Prove that a pulled event is in the signature log: rebuild its leaf record from the event itself
        (``Event.leaf``: index, kind, time, expiry, submitter, key id, SHA-256 of the envelope), fetch a
        checkpoint that covers it (verified against the pinned log key and consistent with every checkpoint
        this client saw before) and an inclusion proof, and check the proof. Returns the checkpoint; raises
        VerificationError."""
        return self._prove([event])

    def _prove(self, events: Sequence[Event]) -> Checkpoint:
        need = max(e.seq for e in events)
        latest = self._checkpoints.latest
        checkpoint = latest if latest is not None and latest.size >= need else self.checkpoint(min_size=need)
        for start in range(0, len(events), BATCH):
            chunk = events[start : start + BATCH]
            request = log_pb2.GetInclusionProofsRequest(indices=[e.log_index for e in chunk], tree_size=checkpoint.size)
            resp = self._call(self._log.GetInclusionProofs, request)
            if [p.index for p in resp.proofs] != [e.log_index for e in chunk]:
                raise VerificationError("the exchange answered proofs for other entries")
            for event, proof in zip(chunk, resp.proofs, strict=True):
                try:
                    merkle.verify_inclusion(
                        event.log_index,
                        checkpoint.size,
                        merkle.leaf_hash(event.leaf()),
                        list(proof.proof),
                        checkpoint.root,
                    )
                except merkle.ProofError as exc:
                    raise VerificationError(f"event {event.seq} is not in the signature log as pulled: {exc}") from None
        return checkpoint

    def verify_receipt(self, receipt: SubmitResult | Accepted) -> Checkpoint:
        """Prove that an accepted event is in the signature log.

        Fetches a signed checkpoint that covers it and an inclusion proof, checks
        that the leaf names this member and commits to the envelope this client
        sent, and verifies the proof. Returns the checkpoint; raises VerificationError.
        """
        index = receipt.log_index
        if index is None:
            raise VerificationError(f"{getattr(receipt, 'status', 'this')} result has no log receipt")
        checkpoint = self.checkpoint(min_size=index + 1)
        request = log_pb2.GetInclusionProofRequest(index=index, tree_size=checkpoint.size)
        resp = self._call(self._log.GetInclusionProof, request)
        if not resp.leaf:  # the exchange shows a leaf record only to its submitter
            raise VerificationError(f"log entry {index} is not this member's event")
        entry = LogEntry.decode(resp.leaf)
        if entry.index != index or entry.submitter != self.member_id:
            raise VerificationError(f"log entry {index} is not this member's event")
        if receipt.envelope_sha256 and entry.envelope_sha256 != receipt.envelope_sha256:
            raise VerificationError(f"log entry {index} commits to a different envelope")
        merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(resp.leaf), list(resp.proof), checkpoint.root)
        return checkpoint

    def _fetch_keys(self) -> directory_pb2.ListSigningKeysResponse:
        return self._call(self._directory_stub.ListSigningKeys, directory_pb2.ListSigningKeysRequest(prove=True))

    def _consistency(self, size1: int, size2: int) -> list[bytes]:
        request = log_pb2.GetConsistencyProofRequest(size1=size1, size2=size2)
        return list(self._call(self._log.GetConsistencyProof, request).proof)
