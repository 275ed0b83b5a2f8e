"""The implicit-law facility: the bracketed root finder and the implicit-function-theorem gradient."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.errors import LawError
from scalefit.laws.implicit import Implicit, solve_increasing


def test_solves_many_roots_at_once_to_machine_precision():
    a = np.array([[0.001], [2.0], [1e6]])  # (3, 1) "parameter sets"
    x = np.array([1.0, 2.0, 3.0, 4.0])  # (4,) "inputs"
    root = solve_increasing(lambda y: y**3 - a * x, 0.0, 1e3, dg=lambda y: 3 * y**2)
    assert root.shape == (3, 4)
    np.testing.assert_allclose(root, np.cbrt(a * x), rtol=1e-14)


def test_bisection_alone_agrees_with_newton():
    g = lambda y: np.log(y) - np.array([-30.0, 0.0, 5.0])  # noqa: E731
    newton = solve_increasing(g, 0.0, 1e3, dg=lambda y: 1.0 / y)
    bisection = solve_increasing(g, 0.0, 1e3)
    np.testing.assert_allclose(newton, np.exp([-30.0, 0.0, 5.0]), rtol=1e-13)
    np.testing.assert_allclose(bisection, newton, rtol=1e-12)


def test_roots_next_to_a_bracket_end_converge_quickly():
    # log(y) - 3 log(1 - y) = s has roots within 1e-26 of 0 and 1e-9 of 1 for |s| = 60
    s = np.array([-60.0, -20.0, 0.0, 20.0, 60.0])
    calls = []

    def g(y):
        calls.append(1)
        return np.log(y) - 3.0 * np.log1p(-y) - s

    root = solve_increasing(g, 0.0, 1.0, dg=lambda y: 1.0 / y + 3.0 / (1.0 - y))
    np.testing.assert_allclose(g(root), 0.0, atol=1e-6)
    assert root[0] == pytest.approx(np.exp(-60.0), rel=1e-12)
    assert 1.0 - root[-1] == pytest.approx(np.exp(-20.0), rel=1e-6)
    assert len(calls) < 30


@pytest.mark.parametrize("lo, hi", [(2.0, 1.0), (1.0, 1.0), (np.nan, 2.0), (0.0, np.inf)])
def test_an_empty_or_unbounded_bracket_gives_nan(lo, hi):
    assert np.isnan(solve_increasing(lambda y: y - 1.5, lo, hi, dg=lambda y: np.ones_like(y)))


def test_no_sign_change_gives_nan():
    out = solve_increasing(lambda y: y - np.array([0.5, 3.0, 1.5]), 1.0, 2.0, dg=lambda y: np.ones_like(y))
    assert np.isnan(out[0]) and np.isnan(out[1]) and out[2] == pytest.approx(1.5)


def _power_law_written_implicitly():
    """log(y - E) - log(A) + alpha log x = 0, i.e. y = E + A x^-alpha, bracket (E, E + A x^-alpha * 10)."""
    def residual(y, x, p):
        return np.log(y - p["E"]) - np.log(p["A"]) + p["alpha"] * np.log(x["x"])

    def dg_dy(y, x, p):
        return 1.0 / (y - p["E"])

    def dg_dp(y, x, p):
        return {"E": -1.0 / (y - p["E"]), "A": -1.0 / p["A"], "alpha": np.log(x["x"])}

    def bracket(x, p):
        return p["E"], p["E"] + 10.0 * p["A"] * x["x"] ** -p["alpha"]

    return Implicit(residual, dg_dy, dg_dp, bracket)


def test_implicit_formula_and_gradient_match_the_explicit_law():
    imp = _power_law_written_implicitly()
    x = {"x": np.geomspace(1e2, 1e8, 7)}
    p = {"E": np.array([[1.7], [2.0]]), "A": np.array([[400.0], [30.0]]), "alpha": np.array([[0.3], [0.1]])}
    t = p["A"] * x["x"] ** -p["alpha"]
    np.testing.assert_allclose(imp.formula(x, p), p["E"] + t, rtol=1e-13)
    grad = imp.gradient(x, p)
    np.testing.assert_allclose(grad["E"], 1.0, rtol=1e-10)
    np.testing.assert_allclose(grad["A"], t / p["A"], rtol=1e-10)
    np.testing.assert_allclose(grad["alpha"], -t * np.log(x["x"]), rtol=1e-10)


def test_a_law_without_parameter_derivatives_has_no_gradient():
    imp = _power_law_written_implicitly()
    bare = Implicit(imp.residual, imp.dg_dy, None, imp.bracket)
    with pytest.raises(LawError, match="without its parameter derivatives"):
        bare.gradient({"x": np.array([10.0])}, {"E": 1.0, "A": 2.0, "alpha": 0.5})
