"""Shared fixtures: where the published test vectors live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
