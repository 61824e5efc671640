"""The member directory: members and their signing keys with validity windows."""

from __future__ import annotations

from exchange.services.log import Evidence, LogService
from exchange.store.base import KeyRecord, MemberRecord, Store


class DirectoryService:
    """Read-only views of members and keys for every authenticated caller."""

    def __init__(self, store: Store, log: LogService) -> None:
        self._store = store
        self._log = log

    def members(self) -> list[MemberRecord]:
        return self._store.list_members()

    def signing_keys(self, member_id: str | None) -> list[KeyRecord]:
        return self._store.list_signing_keys(member_id)

    def proven_keys(self, member_id: str | None) -> tuple[list[KeyRecord], str, list[Evidence]]:
        """The keys, a signed checkpoint, and the admin entries that opened and closed each key's window with
        their inclusion proofs: what lets a member trust a key without trusting this exchange."""
        keys = self._store.list_signing_keys(member_id)
        seqs = {k.registered_seq for k in keys} | {k.ended_seq for k in keys if k.ended_seq}
        if member_id is not None:  # the member's first key was registered by the entry that added the member
            seqs |= {min(k.registered_seq for k in keys)} if keys else set()
        checkpoint, evidence = self._log.evidence(seq - 1 for seq in seqs if seq > 0)
        return keys, checkpoint, evidence

    def groups_of(self, member_id: str) -> list[str]:
        return [g.name for g in self._store.list_groups() if member_id in g.members]
