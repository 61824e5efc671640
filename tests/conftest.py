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

ROOT = Path(__file__).resolve().parent.parent


VECTORS = ROOT / "tests" / "vectors" / "published"


def vectors_path() -> Path:
    """Published vectors: the project's own copy (``tests/vectors/published``), or ``$SIGX_VECTORS``."""
    env = os.environ.get("SIGX_VECTORS")
    return Path(env) if env else VECTORS


def vectors_dir() -> Path:
    """``vectors_path()``, failing the test loudly if it is missing."""
    path = vectors_path()
    if not path.is_dir():
        pytest.fail(f"published test vectors not found at {path} (unset SIGX_VECTORS to use the project's copy)")
    return path


@pytest.fixture(scope="session")
def vectors() -> Path:
    return vectors_dir()


@pytest.fixture(scope="session", autouse=True)
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """In-process servers log JSON to one file per session (kept out of captured output)."""
    path = tmp_path_factory.mktemp("logs") / "server.log"
    try:
        from exchange.observability import logs
    except ModuleNotFoundError:  # the member's install (no server packages): no server runs in this process
        yield path
        return
    with open(path, "a", encoding="utf-8") as stream:
        logs.configure("json", stream=stream)
        yield path


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CI=true``) a test that skips itself (no PostgreSQL, no vectors, …) fails instead."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if _in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"
