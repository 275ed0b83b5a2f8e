"""Kaplan et al. 2020 law: the paper's published consequences, limits and numerical range."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.laws import get_law
from scalefit.laws import kaplan as kap

TABLE_2 = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}  # Kaplan et al. Table 2, L(N, D)


def test_overfitting_exponent_is_the_papers_0_74():
    # Section 4.2: to avoid over-fitting, D must grow as N^(alpha_N/alpha_D) = N^0.74.
    assert kap.overfit_exponent(TABLE_2) == pytest.approx(0.74, abs=0.005)


def test_data_needed_reproduces_eq_4_4():
    # Eq. 4.4: keeping the over-fitting penalty below 2% needs D >~ (5 x 10^3) N^0.74 (coefficient rounded
    # to one figure; the Table 2 constants give 5.5e3).
    N = np.geomspace(1e6, 1e11, 6)
    ratio = kap.d_crit(TABLE_2, N) / (5e3 * N**0.74)
    assert np.all((ratio > 1.0) & (ratio < 1.1)), ratio
    np.testing.assert_allclose(kap.overfit_penalty(TABLE_2, N, kap.d_crit(TABLE_2, N)), 0.02, rtol=1e-9)


def test_limits_are_the_one_variable_laws():
    law = get_law("kaplan")
    N, D = np.geomspace(1e6, 1e10, 5), np.geomspace(1e8, 1e11, 5)
    np.testing.assert_allclose(law({"N": N, "D": np.full(5, 1e40)}, TABLE_2), kap.loss_n(TABLE_2, N), rtol=1e-9)
    np.testing.assert_allclose(law({"N": np.full(5, 1e60), "D": D}, TABLE_2), kap.loss_d(TABLE_2, D), rtol=1e-9)
    # the loss is above both limits, and falls with N and with D
    L = law({"N": N, "D": D}, TABLE_2)
    assert np.all(L > kap.loss_n(TABLE_2, N)) and np.all(L > kap.loss_d(TABLE_2, D))
    assert np.all(np.diff(law({"N": N, "D": np.full(5, 1e9)}, TABLE_2)) < 0)


def test_extreme_constants_stay_finite():
    law = get_law("kaplan")
    p = {"alpha_N": 0.01, "alpha_D": 0.002, "N_c": 1e250, "D_c": 1e-200}
    x = {"N": np.array([1e6, 1e12]), "D": np.array([1e8, 1e13])}
    assert np.isfinite(law(x, p)).all()
    assert all(np.isfinite(np.asarray(g)).all() for g in law.gradient(x, p).values())
