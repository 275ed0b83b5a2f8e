"""Shared test fixtures: the reference data folder beside the repo, and a non-interactive plot backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of the reference data (../shared/data); skips the test when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference data {path} not available")
    return path


@pytest.fixture
def chinchilla_csv() -> Path:
    return shared_file("chinchilla/svg_extracted_data.csv")
