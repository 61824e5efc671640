"""The member directory: members and their signing keys with validity windows."""

from __future__ import annotations

from exchange.store.base import KeyRecord, MemberRecord, Store


class DirectoryService:
    """Read-only views of members and keys for every authenticated caller."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def members(self) -> list[MemberRecord]:
        return self._store.list_members()

    def signing_keys(self, member_id: str | None) -> list[KeyRecord]:
        return self._store.list_signing_keys(member_id)

    def groups_of(self, member_id: str) -> list[str]:
        return [g.name for g in self._store.list_groups() if member_id in g.members]
