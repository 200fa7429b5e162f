"""Shared fixtures for the report parser tests: where the shared corpus is, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "receipts"


def corpus_root() -> Path:
    """MAILD_CORPUS points at the `corpus` folder; by default the one beside the repository."""
    return Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus")


@pytest.fixture(scope="session")
def corpus() -> Path:
    root = corpus_root()
    if not (root / "bounces" / "expected.jsonl").is_file():
        pytest.skip(f"bounce corpus not found at {root} (set MAILD_CORPUS to the folder holding bounces/ and postfix-dsn/)")
    return root


@pytest.fixture(scope="session")
def receipts_dir() -> Path:
    return DATA
