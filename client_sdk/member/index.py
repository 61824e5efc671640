"""``MatchIndex``: the member's own SQLite file of pseudonyms and media hashes → its account and content ids.

The file holds, and only holds: the member id and OPRF key (epoch and public-key fingerprint) it was built
for, ``pseudonym → account id`` rows (pseudonyms come from the exchange's VOPRF, so nobody can test guesses
against them offline), ``media hash → content id`` rows, the pull cursor, how far each input file was read,
and the review queue (``client_sdk.member.review``). Raw identifiers are never written to it.

Opening checks the file before touching it: a file that is not a match index, or is damaged, raises
IndexCorruptError and is left as it was; one built for another member or OPRF key raises IndexMismatchError.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client_sdk.credentials import Credentials
from client_sdk.member.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    MatchIndexError,
    unreadable,
)
from client_sdk.member.media import PDQ_MIN_QUALITY
from client_sdk.vocab import TYPE_NAMES

if TYPE_CHECKING:
    from client_sdk.client import ExchangeClient
    from client_sdk.member.bulk import AddReport
    from client_sdk.member.matcher import MatchReport
    from client_sdk.member.review import ReviewQueue

FORMAT = "sigx-match-index"
SCHEMA_VERSION = 2  # 2: items.quality (the submitter's record in the item's category)
MEDIA_MD5, MEDIA_PDQ = 8, 9  # wire type codes, as stored in media.kind
_SQLITE_HEADER = b"SQLite format 3\x00"
_IN_CHUNK = 500  # values per "IN (…)" query
_CACHE_KIB = 64 * 1024  # SQLite page cache (grows only as far as it is used)
_CHECKPOINT_PAGES = 20_000  # WAL frames (~80 MB) before SQLite copies them back into the file

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
    pseudonym BLOB NOT NULL, account_id TEXT NOT NULL, type INTEGER NOT NULL,
    PRIMARY KEY (pseudonym, account_id)
) WITHOUT ROWID;
CREATE INDEX accounts_by_id ON accounts (account_id);
CREATE TABLE media (
    kind INTEGER NOT NULL, hash BLOB NOT NULL, content_id TEXT NOT NULL, variant INTEGER NOT NULL,
    quality INTEGER NOT NULL DEFAULT 100,
    PRIMARY KEY (kind, hash, content_id, variant)
) WITHOUT ROWID;
CREATE INDEX media_by_id ON media (content_id);
CREATE TABLE sources (
    source TEXT PRIMARY KEY, offset INTEGER NOT NULL, line INTEGER NOT NULL, complete INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    own_kind TEXT NOT NULL,
    own_id TEXT NOT NULL,
    signal_id INTEGER NOT NULL,
    submitter TEXT NOT NULL,
    type TEXT NOT NULL,
    value BLOB NOT NULL,
    category TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    confidence INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    distance INTEGER NOT NULL,
    variant TEXT NOT NULL,
    feedback TEXT NOT NULL DEFAULT '{}',
    corroboration INTEGER NOT NULL DEFAULT 1,
    quality TEXT NOT NULL DEFAULT '{}',
    counted_at INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    changed_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (submitter, type, value, category, own_kind, own_id)
);
CREATE INDEX items_by_signal ON items (signal_id);
CREATE INDEX items_by_status ON items (status);
CREATE TABLE history (
    item INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, signal_id INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX history_by_item ON history (item);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    item INTEGER NOT NULL,
    signal_id INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    note TEXT NOT NULL,
    decided_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    sent_at INTEGER,
    seq INTEGER,
    log_index INTEGER
);
CREATE INDEX decisions_by_state ON decisions (state);
"""


def key_fingerprint(public_key: bytes) -> str:
    """How the index names an OPRF public key: ``sha256:`` and the first 16 hex digits of its SHA-256."""
    return "sha256:" + hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What an index holds (``sigx index stats``)."""

    path: str
    member_id: str
    oprf_epoch: int | None
    oprf_key: str
    accounts: int
    identifiers: dict[str, int]
    media_items: int
    media_hashes: dict[str, int]
    items: dict[str, int]
    decisions: dict[str, int]
    cursor: str
    file_bytes: int


@dataclass(frozen=True, slots=True)
class SourceProgress:
    """How far an input file was indexed: resume after ``line``, at byte ``offset``."""

    offset: int
    line: int
    complete: bool


def _damaged(path: Path, exc: Exception) -> MatchIndexError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and not any(w in text for w in ("malformed", "not a database")):
        return MatchIndexError(f"{path}: {text}")  # locked, read-only, disk full: the file itself is fine
    return IndexCorruptError(f"{path} is damaged or not a match index ({text}); nothing in it was changed")


class MatchIndex:
    """A member-owned match index file. Open with :meth:`open`; use as a context manager.

    Thread-safe for one writer: every write runs in one transaction (``BEGIN IMMEDIATE``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, credentials: Credentials | None = None, create: bool = False) -> MatchIndex:
        """Open (or with ``create``, make) the index at ``path``; with ``credentials``, check (or, on a new
        index, record) the member and OPRF key it is for.

        Raises IndexMissingError, IndexCorruptError (not an index, damaged: nothing is written),
        IndexMismatchError (another member or key epoch)."""
        path = Path(path)
        fresh = not path.exists() or (path.is_file() and path.stat().st_size == 0)
        if fresh and not create:
            raise IndexMissingError(f"no match index at {path} (sigx index add or add-media creates one)")
        if path.is_dir():
            raise IndexCorruptError(f"{path} is a directory, not a match index")
        if not fresh:
            try:
                with open(path, "rb") as fh:
                    header = fh.read(len(_SQLITE_HEADER))
            except OSError as exc:
                raise MatchIndexError(unreadable(path, exc)) from None
            if header != _SQLITE_HEADER:
                raise IndexCorruptError(f"{path} is not a match index (not a SQLite database); nothing was changed")
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        except sqlite3.Error as exc:
            raise MatchIndexError(f"{path}: cannot be opened ({exc})") from None
        try:
            if fresh:
                cls._create(conn)
            else:
                cls._check_format(conn, path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # pseudonyms are random keys: each batch touches pages all over the tree. A larger page cache and
            # rarer checkpoints write each page back once for many batches (half the CPU per row at 1M rows).
            conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            conn.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
            index = cls(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _damaged(path, exc) from None
        except MatchIndexError:
            conn.close()
            raise
        if credentials is not None:
            try:
                index.bind(credentials)
            except MatchIndexError:
                index.close()
                raise
        return index

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        meta = {"format": FORMAT, "schema": str(SCHEMA_VERSION), "created_at": str(int(time.time())), "cursor": ""}
        inserts = "".join(f"INSERT INTO meta (key, value) VALUES ('{k}', '{v}');" for k, v in meta.items())
        conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}{inserts}COMMIT;")  # one transaction: all or nothing

    @staticmethod
    def _check_format(conn: sqlite3.Connection, path: Path) -> None:
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall()) if has_meta else {}
        if meta.get("format") != FORMAT:
            raise IndexCorruptError(f"{path} is a SQLite database but not a match index; nothing was changed")
        if int(meta.get("schema", "0")) > SCHEMA_VERSION:
            raise MatchIndexError(f"{path} was made by a newer version of signal-exchange (schema {meta['schema']})")
        if int(meta.get("schema", "0")) < 2:  # one transaction: the column and the version move together
            conn.executescript(
                "BEGIN IMMEDIATE; ALTER TABLE items ADD COLUMN quality TEXT NOT NULL DEFAULT '{}';"
                " UPDATE meta SET value = '2' WHERE key = 'schema'; COMMIT;"
            )

    def bind(self, credentials: Credentials) -> None:
        """Check that the index is this member's and for this OPRF key; record them on a new index.

        Raises IndexMismatchError saying which of member, epoch or key differs."""
        member = self._meta.get("member_id")
        epoch = self._meta.get("oprf_epoch")
        key = self._meta.get("oprf_key")
        theirs = key_fingerprint(credentials.oprf_public_key)
        if member is not None and member != credentials.member_id:
            raise IndexMismatchError(
                f"{self.path} is member {member}'s match index, not {credentials.member_id}'s: use that member's"
                " credentials or another --index"
            )
        if epoch is not None and int(epoch) != credentials.oprf_epoch:
            raise IndexMismatchError(
                f"{self.path} was built for OPRF key epoch {epoch} ({key}); the credentials use epoch"
                f" {credentials.oprf_epoch} ({theirs}), so its pseudonyms cannot match: build a new index"
            )
        if key is not None and key != theirs:
            raise IndexMismatchError(
                f"{self.path} was built with OPRF key {key}, not the credentials' {theirs} (another exchange?):"
                " build a new index"
            )
        if member is None or epoch is None or key is None:
            values = {"member_id": credentials.member_id, "oprf_epoch": str(credentials.oprf_epoch), "oprf_key": theirs}
            with self.transaction() as conn:
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))
            self._meta.update(values)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> MatchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back whole on any error (SQLite errors become MatchIndexError)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise _damaged(self.path, exc) from None
            raise

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Rows of a read-only statement (SQLite errors become MatchIndexError)."""
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None

    def query_in(self, sql: str, values: Sequence[Any], extra: Sequence[Any] = ()) -> list[Any]:
        """Rows of ``sql`` whose ``{in}`` placeholder is filled with ``values``, in chunks."""
        rows: list[Any] = []
        for start in range(0, len(values), _IN_CHUNK):
            chunk = values[start : start + _IN_CHUNK]
            rows += self.query(sql.format(marks=",".join("?" * len(chunk))), [*extra, *chunk])
        return rows

    @property
    def member_id(self) -> str:
        return self._meta.get("member_id", "")

    def meta(self, key: str, default: str = "") -> str:
        return self._meta.get(key, default)

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        """Set a meta value inside the caller's transaction."""
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        self._meta[key] = value

    # -- accounts ------------------------------------------------------------------------

    def add_pseudonyms(
        self, rows: Sequence[tuple[bytes, str, int]], source: str | None = None, progress: SourceProgress | None = None
    ) -> int:
        """Add ``(pseudonym, account id, type code)`` rows (and record how far ``source`` was read) atomically;
        how many were new."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO accounts (pseudonym, account_id, type) VALUES (?, ?, ?)", rows)
            added = conn.total_changes - before
            if source is not None and progress is not None:
                self._save_progress(conn, source, progress)
        return added

    def _save_progress(self, conn: sqlite3.Connection, source: str, progress: SourceProgress) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO sources (source, offset, line, complete, updated_at) VALUES (?, ?, ?, ?, ?)",
            (source, progress.offset, progress.line, int(progress.complete), int(time.time())),
        )

    def save_progress(self, source: str, progress: SourceProgress) -> None:
        """Record how far an input file was read (nothing else changes)."""
        with self.transaction() as conn:
            self._save_progress(conn, source, progress)

    def progress(self, source: str) -> SourceProgress | None:
        """How far ``source`` was read by an earlier run, if it was."""
        rows = self.query("SELECT offset, line, complete FROM sources WHERE source = ?", (source,))
        return SourceProgress(rows[0][0], rows[0][1], bool(rows[0][2])) if rows else None

    def remove(self, own_ids: Iterable[str]) -> tuple[int, int]:
        """Remove accounts and content ids (for deleted accounts or content): their open review items are
        withdrawn. ``(identifier rows, media rows)`` removed."""
        ids = sorted(set(own_ids))
        now = int(time.time())
        removed = [0, 0]
        with self.transaction() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                removed[0] += conn.execute(f"DELETE FROM accounts WHERE account_id IN ({marks})", chunk).rowcount
                removed[1] += conn.execute(f"DELETE FROM media WHERE content_id IN ({marks})", chunk).rowcount
                opened = conn.execute(
                    f"SELECT id, signal_id FROM items WHERE status = 'open' AND own_id IN ({marks})", chunk
                ).fetchall()
                reason = "removed from the match index"
                conn.executemany(
                    "UPDATE items SET status = 'withdrawn', reason = ?, changed_at = ? WHERE id = ?",
                    [(reason, now, item) for item, _ in opened],
                )
                conn.executemany(
                    "INSERT INTO history (item, at, status, signal_id, reason) VALUES (?, ?, 'withdrawn', ?, ?)",
                    [(item, now, signal, reason) for item, signal in opened],
                )
            if removed[1]:
                self._bump_media(conn)
        return removed[0], removed[1]

    def accounts_for(self, pseudonyms: Sequence[bytes]) -> dict[bytes, list[tuple[str, int]]]:
        """``pseudonym → [(account id, type code)]`` for those of ``pseudonyms`` in the index."""
        found: dict[bytes, list[tuple[str, int]]] = {}
        rows = self.query_in(
            "SELECT pseudonym, account_id, type FROM accounts WHERE pseudonym IN ({marks})", pseudonyms
        )
        for pseudonym, account, type_code in rows:
            found.setdefault(pseudonym, []).append((account, type_code))
        return found

    # -- media -------------------------------------------------------------------------------

    def add_media(self, content_id: str, md5: bytes, pdq: Sequence[tuple[bytes, int]]) -> int:
        """Index one file: its MD5 and its PDQ hashes as ``(hash, quality)`` in dihedral order (variant 0 is the
        image as it is). How many rows were new."""
        rows = [(MEDIA_MD5, md5, content_id, 0, 100)]
        rows += [(MEDIA_PDQ, h, content_id, variant, quality) for variant, (h, quality) in enumerate(pdq)]
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO media (kind, hash, content_id, variant, quality) VALUES (?, ?, ?, ?, ?)", rows
            )
            added = conn.total_changes - before
            if added:
                self._bump_media(conn)
        return added

    def _bump_media(self, conn: sqlite3.Connection) -> None:
        self.set_meta(conn, "media_version", str(int(self.meta("media_version", "0")) + 1))

    def media_version(self) -> str:
        """Changes whenever media rows are added or removed (by any process)."""
        rows = self.query("SELECT value FROM meta WHERE key = 'media_version'")
        return rows[0][0] if rows else "0"

    def md5_content(self, hashes: Sequence[bytes]) -> dict[bytes, list[str]]:
        """``md5 → [content id]`` for those of ``hashes`` in the index."""
        found: dict[bytes, list[str]] = {}
        rows = self.query_in(
            "SELECT hash, content_id FROM media WHERE kind = ? AND hash IN ({marks})", hashes, extra=(MEDIA_MD5,)
        )
        for h, content in rows:
            found.setdefault(h, []).append(content)
        return found

    def pdq_hashes(self, dihedral: bool) -> list[tuple[bytes, str, int]]:
        """Every indexed PDQ hash as ``(hash, content id, variant)``: originals only, or all eight variants."""
        sql = "SELECT hash, content_id, variant FROM media WHERE kind = ?" + ("" if dihedral else " AND variant = 0")
        return [(bytes(h), c, v) for h, c, v in self.query(sql, (MEDIA_PDQ,))]

    # -- the pull cursor ---------------------------------------------------------------------

    @property
    def cursor(self) -> str:
        """Where ``match`` resumes (empty: from the beginning)."""
        return self.meta("cursor")

    # -- summary ---------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        """Counts of what the index holds."""
        by_type = {
            TYPE_NAMES.get(t, str(t)): n for t, n in self.query("SELECT type, count(*) FROM accounts GROUP BY type")
        }
        media = {
            ("md5" if k == MEDIA_MD5 else "pdq"): n
            for k, n in self.query("SELECT kind, count(*) FROM media WHERE variant = 0 GROUP BY kind")
        }
        epoch = self.meta("oprf_epoch")
        return IndexStats(
            path=str(self.path),
            member_id=self.member_id,
            oprf_epoch=int(epoch) if epoch else None,
            oprf_key=self.meta("oprf_key"),
            accounts=self.query("SELECT count(DISTINCT account_id) FROM accounts")[0][0],
            identifiers=dict(sorted(by_type.items())),
            media_items=self.query("SELECT count(DISTINCT content_id) FROM media")[0][0],
            media_hashes=media,
            items=dict(self.query("SELECT status, count(*) FROM items GROUP BY status ORDER BY status")),
            decisions=dict(self.query("SELECT state, count(*) FROM decisions GROUP BY state ORDER BY state")),
            cursor=self.cursor,
            file_bytes=self.path.stat().st_size,
        )

    # -- the SDK's one-stop API (each delegates to its module) ---------------------------------------

    @property
    def review(self) -> ReviewQueue:
        """The review queue in this file."""
        from client_sdk.member.review import ReviewQueue

        return ReviewQueue(self)

    def add_accounts(self, client: ExchangeClient, path: str | Path, **options: Any) -> AddReport:
        """Pseudonymise an accounts file through the exchange (bulk quota) into this index; resumable.
        Options and errors: ``client_sdk.member.bulk.index_file``."""
        from client_sdk.member.bulk import index_file

        self.bind(client.credentials)
        return index_file(self, client, path, **options)

    def add_media_file(
        self, path: str | Path, content_id: str | None = None, *, min_quality: int = PDQ_MIN_QUALITY
    ) -> MediaAdded:
        """Index one file under ``content_id`` (default: its name): its MD5 and, if it is an image of PDQ quality
        at least ``min_quality``, its eight dihedral PDQ hashes. Raises MediaError for a file that cannot be read
        or is not an image, MediaSupportError without the media extra."""
        from client_sdk.member.media import md5_file, pdq_dihedral

        name = content_id or Path(path).name
        md5 = md5_file(path)
        hashes = pdq_dihedral(path)
        quality = hashes[0].quality
        kept = [(h.hash, h.quality) for h in hashes] if quality >= min_quality else []
        return MediaAdded(name, md5, hashes[0].hex, quality, bool(kept), self.add_media(name, md5, kept))

    def match(self, client: ExchangeClient, *, follow: bool = False, **options: Any) -> MatchReport:
        """Match what the exchange has (after the saved cursor; live too with ``follow``) against this index and
        keep the review queue. Options and errors: ``client_sdk.member.matcher.MatchRun``."""
        from client_sdk.member.matcher import MatchRun

        self.bind(client.credentials)
        return MatchRun(self, client, **options).run(follow=follow)


@dataclass(frozen=True, slots=True)
class MediaAdded:
    """One indexed file: its content id, MD5, PDQ (hex) and quality, whether PDQ was kept, rows added."""

    content_id: str
    md5: bytes
    pdq: str
    quality: int
    pdq_indexed: bool
    added: int
