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


@dataclass
class KeyWindow:
    member: str
    public_key: str  # hex
    not_before: int
    not_after: int | None = None
    revoked_at: int | None = None

    def valid_at(self, t: int) -> bool:
        if t < self.not_before or (self.not_after is not None and t >= self.not_after):
            return False
        return self.revoked_at is None or t < self.revoked_at


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

    @classmethod
    def load(cls, directory: Path | None) -> AuditState:
        if directory is None or not (directory / "state.json").exists():
            return cls()
        data = json.loads((directory / "state.json").read_text())
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
