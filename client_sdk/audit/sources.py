"""Where an audit reads the log from: a live exchange, or a directory written by ``sigx audit export``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import grpc

from client_sdk import merkle
from client_sdk.audit.tiles import TILE_WIDTH, bundle, tile_path, unbundle
from client_sdk.client.connection import open_channel
from client_sdk.credentials import Credentials
from client_sdk.errors import from_rpc_error
from client_sdk.wire import log_pb2, log_pb2_grpc

Entry = tuple[int, bytes, bytes]  # index, leaf record, envelope (b"" once purged)


class LogSource(Protocol):
    def checkpoint(self) -> str: ...
    def entries(self, start: int, end: int) -> Iterator[list[Entry]]: ...
    def consistency(self, size1: int, size2: int) -> list[bytes] | None: ...


class RemoteSource:
    """The Log service of a running exchange (auditor or operator credentials)."""

    def __init__(self, address: str | None, credentials: str | Path | Credentials) -> None:
        creds = credentials if isinstance(credentials, Credentials) else Credentials.load(credentials)
        self.credentials = creds
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        self._channel = open_channel(address or creds.address, creds, options)
        self._stub = log_pb2_grpc.LogStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def checkpoint(self) -> str:
        try:
            return self._stub.GetCheckpoint(log_pb2.GetCheckpointRequest(), timeout=60).note
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def entries(self, start: int, end: int) -> Iterator[list[Entry]]:
        try:
            for page in self._stub.GetEntries(log_pb2.GetEntriesRequest(start=start, end=end)):
                yield [(e.index, e.leaf, e.envelope) for e in page.entries]
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def consistency(self, size1: int, size2: int) -> list[bytes] | None:
        try:
            request = log_pb2.GetConsistencyProofRequest(size1=size1, size2=size2)
            return list(self._stub.GetConsistencyProof(request, timeout=60).proof)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None


class DirectorySource:
    """A static export: ``checkpoint``, ``tile/entries/…`` leaf bundles, ``envelopes/…`` and hash tiles."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / "checkpoint").exists():
            raise FileNotFoundError(f"{root} holds no checkpoint: not a log export")

    def checkpoint(self) -> str:
        return (self.root / "checkpoint").read_text()

    def _bundle(self, kind: str, index: int, size: int) -> list[bytes]:
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        rel = tile_path("entries", index, width)
        path = self.root / (rel if kind == "entries" else rel.replace("tile/entries", "envelopes", 1))
        return list(unbundle(path.read_bytes()))

    def entries(self, start: int, end: int) -> Iterator[list[Entry]]:
        for n in range(start // TILE_WIDTH, (end + TILE_WIDTH - 1) // TILE_WIDTH):
            leaves = self._bundle("entries", n, end)
            envelopes = self._bundle("envelopes", n, end)
            base = n * TILE_WIDTH
            yield [
                (base + i, leaf, env)
                for i, (leaf, env) in enumerate(zip(leaves, envelopes, strict=True))
                if start <= base + i < end
            ]

    def consistency(self, size1: int, size2: int) -> None:
        return None  # offline: the auditor recomputes every root from the entries instead

    def check_tiles(self, size: int) -> list[str]:
        """Compare every hash tile with hashes recomputed from the entry bundles; return problems."""
        problems: list[str] = []
        level_hashes = [merkle.leaf_hash(leaf) for page in self.entries(0, size) for _, leaf, _ in page]
        level = 0
        while level_hashes:
            for n in range((len(level_hashes) + TILE_WIDTH - 1) // TILE_WIDTH):
                want = level_hashes[n * TILE_WIDTH : (n + 1) * TILE_WIDTH]
                path = self.root / tile_path(level, n, len(want))
                if not path.exists() or path.read_bytes() != b"".join(want):
                    problems.append(f"tile {path.relative_to(self.root)} is missing or differs")
            full = len(level_hashes) // TILE_WIDTH
            level_hashes = [merkle.root(level_hashes[i * TILE_WIDTH : (i + 1) * TILE_WIDTH]) for i in range(full)]
            level += 1
        return problems


def export(source: LogSource, directory: Path, progress: object = None) -> int:
    """Write the log as static files (checkpoint, entry bundles, envelopes, hash tiles); return its size."""
    from client_sdk.note import unverified_checkpoint

    note = source.checkpoint()
    size = unverified_checkpoint(note).size
    directory.mkdir(parents=True, exist_ok=True)
    leaves: list[bytes] = []
    envelopes: list[bytes] = []
    hashes: list[bytes] = []

    def flush(n: int) -> None:
        for kind, items in (("entries", leaves), ("envelopes", envelopes)):
            rel = tile_path("entries", n, len(items))
            path = directory / (rel if kind == "entries" else rel.replace("tile/entries", "envelopes", 1))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bundle(items))
        leaves.clear()
        envelopes.clear()

    for page in source.entries(0, size):
        for index, leaf, envelope in page:
            leaves.append(leaf)
            envelopes.append(envelope)
            hashes.append(merkle.leaf_hash(leaf))
            if len(leaves) == TILE_WIDTH:
                flush(index // TILE_WIDTH)
        if callable(progress):
            progress(len(hashes), size)
    if leaves:
        flush(size // TILE_WIDTH)
    level = 0
    while hashes:
        for n in range((len(hashes) + TILE_WIDTH - 1) // TILE_WIDTH):
            chunk = hashes[n * TILE_WIDTH : (n + 1) * TILE_WIDTH]
            path = directory / tile_path(level, n, len(chunk))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(chunk))
        full = len(hashes) // TILE_WIDTH
        hashes = [merkle.root(hashes[i * TILE_WIDTH : (i + 1) * TILE_WIDTH]) for i in range(full)]
        level += 1
    (directory / "checkpoint").write_text(note)
    return size
