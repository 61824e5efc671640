"""What an auditor keeps between runs (a directory of its own).

``state.json``: the audited size, the compact range at that size, members and
keys replayed from the log's admin entries, every checkpoint seen, counts.
``leaves.bin``: the leaf hash of every audited entry (32 bytes each), so a
rewritten history can be pinned to the first entry that changed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from client_sdk.keys import window_admits

#: Bumped when the state keeps something new; an older state is set aside and the log audited afresh.
STATE_VERSION = 2


@dataclass
class KeyWindow:
    member: str
    public_key: str  # hex
    not_before: int
    not_after: int | None = None
    revoked_at: int | None = None
    registered_seq: int = 0  # the admin entries (seq = index + 1) that opened and closed the window
    ended_seq: int = 0

    def admits(self, seq: int, t: int) -> bool:
        """``keys.window_admits``: the rule the exchange and the SDK apply too."""
        return window_admits(self.not_before, self.registered_seq, self.ended_seq, seq, t)

    def end(self, seq: int, t: int, revoked: bool) -> None:
        """A retirement or revocation replayed: the first one closes the window."""
        if revoked:
            self.revoked_at = self.revoked_at or t
        else:
            self.not_after = self.not_after or t
        self.ended_seq = self.ended_seq or seq


@dataclass
class SavedCheckpoint:
    size: int
    root: str  # hex
    note: str


@dataclass
class AuditState:
    origin: str = ""
    size: int = 0
    frontier: list[str] = field(default_factory=list)
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"role", "status"}
    keys: dict[str, KeyWindow] = field(default_factory=dict)
    checkpoints: list[SavedCheckpoint] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    last_time: int = 0  # the newest entry time audited: times never go backwards
    version: int = STATE_VERSION

    @classmethod
    def load(cls, directory: Path | None) -> AuditState:
        """The state kept in ``directory`` (a fresh one, so the whole log is audited again, if there is none or it
        was written by an auditor that kept less)."""
        if directory is None or not (directory / "state.json").exists():
            return cls()
        data = json.loads((directory / "state.json").read_text())
        if data.get("version") != STATE_VERSION:
            return cls()
        data["keys"] = {k: KeyWindow(**v) for k, v in data["keys"].items()}
        data["checkpoints"] = [SavedCheckpoint(**c) for c in data["checkpoints"]]
        return cls(**data)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=1, sort_keys=True))
        os.replace(tmp, directory / "state.json")


class LeafHashes:
    """The append-only file of audited leaf hashes."""

    def __init__(self, directory: Path | None) -> None:
        self._path = directory / "leaves.bin" if directory is not None else None

    def read(self, index: int) -> bytes | None:
        if self._path is None or not self._path.exists():
            return None
        with open(self._path, "rb") as fh:
            fh.seek(index * 32)
            data = fh.read(32)
        return data if len(data) == 32 else None

    def truncate_and_append(self, size: int, hashes: list[bytes]) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path, "ab") as fh:
            fh.truncate(size * 32)
            fh.seek(size * 32)
            fh.write(b"".join(hashes))
