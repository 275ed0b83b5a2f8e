"""A small simulated Chinchilla run log shared by the reliability regression tests."""

from __future__ import annotations

import pytest

from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


@pytest.fixture(scope="module")
def frame():
    return simulate(get_law("chinchilla"), TRUE, n_points=30, noise=0.005, seed=1)


@pytest.fixture
def folder(tmp_path, frame):
    frame.to_csv(tmp_path / "runs.csv", index=False)
    return tmp_path


@pytest.fixture(scope="module")
def fitted(frame):
    import scalefit

    return scalefit.fit("chinchilla", frame, calibrate=False)
