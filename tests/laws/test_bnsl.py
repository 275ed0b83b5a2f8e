"""Caballero et al. 2023 broken neural scaling law: shape, options, 1%-noise recovery with one break, and
a two-break fit."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.errors import LawError
from scalefit.laws import get_law
from tests.laws.recovery import assert_recovers, refit_errors, synthetic

TRUE = {"a": 0.5, "b": 8.0, "c0": 0.1, "c1": 0.3, "d1": 1e8, "f1": 0.5}


def test_exponent_changes_across_the_break():
    law = get_law("bnsl")
    x = np.geomspace(1e2, 1e14, 400)
    slope = np.gradient(np.log(law({"D": x}, TRUE) - TRUE["a"]), np.log(x))
    assert slope[0] == pytest.approx(-0.1, abs=1e-3)
    assert slope[-1] == pytest.approx(-0.4, abs=1e-3)
    assert law.derived["final_exponent"].fn(TRUE) == pytest.approx(0.4)
    flat = law({"D": x}, {**TRUE, "c1": 0.0})
    np.testing.assert_allclose(flat, TRUE["a"] + TRUE["b"] * x ** -0.1, rtol=1e-12)


def test_options():
    law = get_law("bnsl", x="C", breaks=2)
    assert law.inputs == ("C",) and law.options == {"x": "C", "breaks": 2}
    assert law.param_names == ("a", "b", "c0", "c1", "d1", "f1", "c2", "d2", "f2")
    assert len(law.start_grid()) <= 5000
    assert get_law("bnsl", breaks=2.0).options["breaks"] == 2  # --opt breaks=2 arrives as a float
    with pytest.raises(LawError, match="breaks must be a whole number"):
        get_law("bnsl", breaks=3)
    with pytest.raises(LawError, match="clashes"):
        get_law("bnsl", x="d1")


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_one_break_at_one_percent_noise(seed):
    rtol = {"a": 0.04, "b": 0.15, "c0": 0.1, "c1": 0.12, "d1": 0.12, "f1": 0.35}
    assert_recovers(get_law("bnsl"), TRUE, {"D": (1e6, 1e11)}, rtol, seed=seed)


def test_two_breaks_from_the_default_grid():
    true = {"a": 0.3, "b": 5.0, "c0": 0.05, "c1": 0.3, "d1": 1e6, "f1": 0.3, "c2": -0.2, "d2": 1e10, "f2": 0.3}
    law = get_law("bnsl", breaks=2)
    frame, x, y = synthetic(law, true, {"D": (1e4, 1e12)}, noise=0.002, seed=0, n=300)
    _, result = refit_errors(law, frame, true)
    assert np.max(np.abs(result.predict(x) / y - 1)) < 0.002
    # the breaks are interchangeable (the product is symmetric): compare them in order of location
    fitted = sorted((result.params[f"d{i}"], result.params[f"c{i}"], result.params[f"f{i}"]) for i in (1, 2))
    for (d, c, f), (d_true, c_true, f_true) in zip(fitted, [(1e6, 0.3, 0.3), (1e10, -0.2, 0.3)]):
        assert d == pytest.approx(d_true, rel=0.3) and c == pytest.approx(c_true, rel=0.15)
        assert f == pytest.approx(f_true, rel=0.5)
    for k in ("a", "b", "c0"):
        assert result.params[k] == pytest.approx(true[k], rel=0.2)
