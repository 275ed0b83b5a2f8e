"""Shared test fixtures: the reference data folder beside the repo, and a non-interactive plot backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# The suite runs on as many pytest-xdist workers as cores (-n 2): a BLAS thread pool per worker on top only
# oversubscribes them (the fits already limit BLAS to one thread; this covers the rest). Set before numpy loads;
# measured on test_bnsl + test_stack + test_scale with -n 2: 132 -> 124 CPU-s, 134 -> 123 s wall.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))


# reference files that ship inside the package (scalefit/datasets): tests on them never skip
BUNDLED = {"chinchilla/svg_extracted_data.csv": "epoch-chinchilla", "gadre/runs_flat.csv": "gadre-overtrain",
           "steplaw/dense_lr_bs_loss.csv": "steplaw-dense"}


def shared_file(relative: str) -> Path:
    """A file of the reference data: the bundled copy when the package ships it, else ../shared/data
    (the test is skipped when that is absent)."""
    if relative in BUNDLED:
        from scalefit.datasets import dataset_path

        return dataset_path(BUNDLED[relative])
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference data {path} not available")
    return path


@pytest.fixture
def chinchilla_csv() -> Path:
    return shared_file("chinchilla/svg_extracted_data.csv")
