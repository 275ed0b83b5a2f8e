"""Alabdulmohsin et al. 2022 estimators M1-M4: the forms, M4's implicit prediction and gradient, the inverse
D_at_loss, and 1%-noise recovery from the default start grids."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.laws import get_law
from tests.laws.recovery import assert_recovers

M4 = {"beta": 200.0, "c": -0.4, "alpha": 0.8, "eps_inf": 1.7, "eps_0": 6.0}


def test_m4_prediction_solves_its_equation_between_the_plateaus():
    law = get_law("alabdulmohsin-m4")
    x = np.geomspace(1.0, 1e14, 50)
    y = law({"D": x}, M4)
    lhs = (y - M4["eps_inf"]) / (M4["eps_0"] - y) ** M4["alpha"]
    np.testing.assert_allclose(lhs, M4["beta"] * x ** M4["c"], rtol=1e-11)
    assert np.all(np.diff(y) < 0) and M4["eps_inf"] < y.min() and y.max() < M4["eps_0"]
    assert y[0] > 5.9 and y[-1] < 1.702  # it leaves eps_0 and settles on eps_inf


def test_m4_with_alpha_one_has_a_closed_form_and_alpha_zero_is_m2():
    law = get_law("alabdulmohsin-m4")
    x = np.geomspace(1e2, 1e9, 30)
    f = M4["beta"] * x ** M4["c"]
    b = M4["eps_0"] - M4["eps_inf"]
    one = law({"D": x}, {**M4, "alpha": 1.0})
    np.testing.assert_allclose(one, M4["eps_inf"] + b * f / (1 + f), rtol=1e-13)
    big_eps0 = {**M4, "alpha": 0.0, "eps_0": 1e6}
    np.testing.assert_allclose(law({"D": x}, big_eps0), get_law("alabdulmohsin-m2")({"D": x}, M4), rtol=1e-13)


def test_m4_invalid_parameter_sets_are_nan_and_vectorised():
    law = get_law("alabdulmohsin-m4")
    params = {k: np.array([[v], [v]]) for k, v in M4.items()}
    params["eps_0"] = np.array([[6.0], [1.0]])  # second set: eps_0 below eps_inf
    out = law.formula({"D": np.array([1e3, 1e6])}, params)
    assert out.shape == (2, 2) and np.isfinite(out[0]).all() and np.isnan(out[1]).all()


@pytest.mark.parametrize("name, params", [
    ("alabdulmohsin-m1", {"beta": 50.0, "c": -0.3}),
    ("alabdulmohsin-m2", {"beta": 50.0, "c": -0.35, "eps_inf": 0.3}),
    ("alabdulmohsin-m3", {"beta": 5.0, "c": 0.35, "gamma": 1e-4}),
    ("alabdulmohsin-m4", M4),
])
def test_d_at_loss_inverts_each_estimator(name, params):
    law = get_law(name)
    x = np.geomspace(1e2, 1e5, 7)
    y = law({"D": x}, params)
    np.testing.assert_allclose(law.derived["D_at_loss"].fn(params, L=y), x, rtol=1e-9)
    assert np.isnan(law.derived["D_at_loss"].fn(params, L=-1.0))


def test_symbol_option():
    law = get_law("alabdulmohsin-m4", x="N")
    assert law.inputs == ("N",) and law.equation.endswith("beta*N^c") and "N_at_loss" in law.derived


@pytest.mark.parametrize("name, true, ranges, rtol", [
    ("alabdulmohsin-m1", {"beta": 50.0, "c": -0.3}, {"D": (1e4, 1e9)}, {"beta": 0.03, "c": 0.01}),
    ("alabdulmohsin-m2", {"beta": 50.0, "c": -0.35, "eps_inf": 0.3}, {"D": (1e4, 1e9)},
     {"beta": 0.08, "c": 0.02, "eps_inf": 0.015}),
    ("alabdulmohsin-m3", {"beta": 5.0, "c": 0.35, "gamma": 1e-4}, {"D": (1e1, 1e6)},
     {"beta": 0.02, "c": 0.01, "gamma": 0.06}),
    ("alabdulmohsin-m4", M4, {"D": (1e4, 1e10)},
     {"beta": 0.2, "c": 0.1, "alpha": 0.3, "eps_inf": 0.03, "eps_0": 0.07}),
])
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_at_one_percent_noise(name, true, ranges, rtol, seed):
    assert_recovers(get_law(name), true, ranges, rtol, seed=seed)
