"""The exchange plug-in's own record of what it has fetched: signal id -> value, per collaboration.

A retraction or a feedback event names only a signal id, yet the record it changes is keyed by the
signal's value (python-threatexchange keys records by (signal type, hash)), and several members may
have shared the same value. This SQLite file, in the member's credentials directory by default,
remembers each visible signal's value, submitter, category and expiry, and the feedback events seen,
so every update can carry the full current record of a value. It is a cache of what the exchange
says: delete it and the next fetch from no checkpoint rebuilds it; resuming from a checkpoint it has
not reached first replays the events up to that checkpoint into it, yielding nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signals (
    signal_id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    submitter TEXT NOT NULL,
    category TEXT NOT NULL,
    confidence INTEGER NOT NULL,
    labels TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    retract_seq INTEGER
);
CREATE INDEX IF NOT EXISTS signals_key ON signals (key);
CREATE INDEX IF NOT EXISTS signals_expiry ON signals (expires_at);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY,
    signal_id INTEGER NOT NULL,
    submitter TEXT NOT NULL,
    verdict TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_signal ON feedback (signal_id);
"""
_CHUNK = 900  # SQLite host parameters per statement, with room to spare


@dataclass(frozen=True, slots=True)
class IndexedSignal:
    signal_id: int
    key: str  # "<sdk type>:<hex value>"
    submitter: str
    category: str
    confidence: int
    labels: tuple[str, ...]
    expires_at: int


#: (signal id, submitter, category, confidence, labels, expires at) of a signal in force.
LiveSignal = tuple[int, str, str, int, tuple[str, ...], int]


def signal_key(type_name: str, value: bytes) -> str:
    return f"{type_name}:{value.hex()}"


def _labels_text(labels: Sequence[str]) -> str:
    return json.dumps(list(labels)) if labels else "[]"  # most signals carry no labels


def _labels_of(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text != "[]" else ()


def _chunks(items: Sequence[object]) -> Iterable[Sequence[object]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class SignalIndex:
    """One collaboration's index file."""

    def __init__(self, path: Path, owner: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        if self._meta("owner") != owner:  # another member or exchange: start over
            self.reset()
            self._set_meta("owner", owner)

    def close(self) -> None:
        self._db.close()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @property
    def seen_seq(self) -> int:
        """Every event up to this seq has been applied."""
        return int(self._meta("seen_seq") or 0)

    def reset(self) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM signals")
            self._db.execute("DELETE FROM feedback")
            self._db.execute("DELETE FROM meta WHERE key != 'owner'")

    def apply(
        self,
        submits: Sequence[IndexedSignal],
        retracts: Sequence[tuple[int, int]],
        feedback: Sequence[tuple[int, int, str, str]],
        seen_seq: int,
    ) -> None:
        """Record one page of events (idempotent: a page applied twice changes nothing more)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO signals (signal_id, key, submitter, category, confidence, labels, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (s.signal_id, s.key, s.submitter, s.category, s.confidence, _labels_text(s.labels), s.expires_at)
                    for s in submits
                ],
            )
            self._db.executemany(
                "UPDATE signals SET retract_seq = ? WHERE signal_id = ?", [(q, i) for i, q in retracts]
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO feedback (seq, signal_id, submitter, verdict) VALUES (?, ?, ?, ?)", feedback
            )
            if seen_seq > self.seen_seq:
                self._set_meta("seen_seq", str(seen_seq))

    def keys_of(self, signal_ids: Sequence[int]) -> dict[int, str]:
        """The value key of each known signal id."""
        out: dict[int, str] = {}
        for chunk in _chunks(signal_ids):
            marks = ",".join("?" * len(chunk))
            for signal_id, key in self._db.execute(
                f"SELECT signal_id, key FROM signals WHERE signal_id IN ({marks})", chunk
            ):
                out[signal_id] = key
        return out

    def live(self, keys: Sequence[str], now: int) -> dict[str, list[LiveSignal]]:
        """The signals on each key that are neither retracted nor expired at ``now``, oldest first."""
        out: dict[str, list[LiveSignal]] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT key, signal_id, submitter, category, confidence, labels, expires_at FROM signals"
                f" WHERE key IN ({marks}) AND retract_seq IS NULL AND expires_at > ? ORDER BY signal_id",
                (*chunk, now),
            )
            for key, *signal in rows:
                signal[4] = _labels_of(signal[4])
                out.setdefault(key, []).append(tuple(signal))  # type: ignore[arg-type]
        return out

    def feedback_of(self, signal_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """(submitter, verdict) of every feedback event seen on each signal."""
        out: dict[int, list[tuple[str, str]]] = {}
        for chunk in _chunks(signal_ids):
            marks = ",".join("?" * len(chunk))
            for signal_id, submitter, verdict in self._db.execute(
                f"SELECT signal_id, submitter, verdict FROM feedback WHERE signal_id IN ({marks}) ORDER BY seq", chunk
            ):
                out.setdefault(signal_id, []).append((submitter, verdict))
        return out

    def expired_keys(self, after: int, until: int) -> list[str]:
        """Keys with a signal that expired in (after, until] and was not retracted."""
        rows = self._db.execute(
            "SELECT DISTINCT key FROM signals WHERE expires_at > ? AND expires_at <= ? AND retract_seq IS NULL",
            (after, until),
        )
        return [key for (key,) in rows]
