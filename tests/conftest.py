"""Shared fixtures: where the published test vectors live."""

from __future__ import annotations

import os

# The in-process servers run gRPC's asyncio stack, whose threads gRPC's fork handlers cannot pause: a test
# that forks (a subprocess started with ``user=``, which cannot use vfork) would run them in the child.
# Children here always exec at once, so they need no fork handlers at all. Set before grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange import logs

ROOT = Path(__file__).resolve().parent.parent


def vectors_dir() -> Path:
    """Published vectors: ``$SIGX_VECTORS`` or ``../shared/vectors`` beside the checkout."""
    env = os.environ.get("SIGX_VECTORS")
    path = Path(env) if env else ROOT.parent / "shared" / "vectors"
    if not path.is_dir():
        pytest.fail(f"published test vectors not found at {path} (set SIGX_VECTORS)")
    return path


@pytest.fixture(scope="session")
def vectors() -> Path:
    return vectors_dir()


@pytest.fixture(scope="session", autouse=True)
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """In-process servers log JSON to one file per session (kept out of captured output)."""
    path = tmp_path_factory.mktemp("logs") / "server.log"
    with open(path, "a", encoding="utf-8") as stream:
        logs.configure("json", stream=stream)
        yield path
