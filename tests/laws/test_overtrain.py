"""The over-training law (Gadre et al. 2024 Eq. 4): formula, gradient, derived quantities, recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.fitting import fit
from scalefit.laws import get_law

# Gadre et al. 2024, RedPajama, C4 eval loss (Table 6 / Fig. 1 fit).
TRUE = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}


def _params(d):
    return {k: np.asarray(v, dtype=float) for k, v in d.items()}


def test_formula_matches_equation_and_chinchilla_form():
    law = get_law("overtrain")
    N, M = np.array([1e7, 4e8, 7e9]), np.array([20.0, 320.0, 5.0])
    C = 6 * N * (M * N)
    got = law({"C": C, "M": M}, TRUE)
    want = TRUE["E"] + (TRUE["a"] * M ** TRUE["eta"] + TRUE["b"] * M ** -TRUE["eta"]) * C ** -TRUE["eta"]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # Equivalent Chinchilla law with alpha = beta = 2 eta, A = a 6^-eta, B = b 6^-eta.
    fit_params = _params(TRUE)
    A = float(law.derived["A"].fn(fit_params))
    B = float(law.derived["B"].fn(fit_params))
    chin = get_law("chinchilla")({"N": N, "D": M * N}, {"E": 1.84, "A": A, "B": B, "alpha": 0.272, "beta": 0.272})
    np.testing.assert_allclose(got, chin, rtol=1e-12)


def test_gradient_matches_finite_differences():
    law = get_law("overtrain")
    x = {"C": np.array([1e17, 1e20, 5e21]), "M": np.array([20.0, 640.0, 10.0])}
    g = law.gradient(x, _params(TRUE))
    for name in TRUE:
        h = 1e-6 * max(1.0, abs(TRUE[name]))
        up, dn = dict(TRUE), dict(TRUE)
        up[name] += h
        dn[name] -= h
        fd = (law(x, up) - law(x, dn)) / (2 * h)
        np.testing.assert_allclose(np.broadcast_to(g[name], fd.shape), fd, rtol=1e-5, err_msg=name)


def test_m_opt_minimises_loss_at_fixed_compute():
    law = get_law("overtrain")
    p = _params(TRUE)
    m_star = float(law.derived["M_opt"].fn(p))
    assert m_star == pytest.approx((367.0 / 212.0) ** (1 / 0.272))
    C = 1e22
    ms = np.geomspace(m_star / 50, m_star * 50, 20001)
    losses = law({"C": np.full_like(ms, C), "M": ms}, TRUE)
    assert ms[np.argmin(losses)] == pytest.approx(m_star, rel=1e-3)
    n = float(law.derived["N_opt"].fn(p, C=C))
    d = float(law.derived["D_opt"].fn(p, C=C))
    assert 6 * n * d == pytest.approx(C)
    assert d / n == pytest.approx(m_star)
    assert float(law.derived["loss_opt"].fn(p, C=C)) == pytest.approx(losses.min(), rel=1e-9)


def test_recovers_parameters_from_synthetic_runs():
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 5e8, 6), 5)
    M = np.tile([5.0, 20.0, 80.0, 320.0, 640.0], 6)
    D = M * N
    L = get_law("overtrain")({"C": 6 * N * D, "M": M}, TRUE) * np.exp(rng.normal(0, 0.002, N.size))
    res = fit("overtrain", pd.DataFrame({"N": N, "D": D, "loss": L}))
    assert res.data["provenance"] == {"C": "derived 6ND", "M": "derived D/N", "L": "column 'loss'"}
    assert res.params["E"] == pytest.approx(TRUE["E"], rel=0.05)
    assert res.params["eta"] == pytest.approx(TRUE["eta"], rel=0.05)
    assert res.params["a"] == pytest.approx(TRUE["a"], rel=0.3)
    assert res.params["b"] == pytest.approx(TRUE["b"], rel=0.3)
    assert res.derived("M_opt") == pytest.approx(7.55, rel=0.1)


def test_start_grid_is_small():
    assert len(get_law("overtrain").start_grid()) <= 2000


def test_bad_inputs_are_reported():
    from scalefit.errors import RunDataError

    frame = pd.DataFrame({"N": [1e7, 2e7, 4e7, 8e7, 1e8], "loss": [4.0, 3.8, 3.6, 3.5, 3.4]})
    with pytest.raises(RunDataError, match="missing columns for C, M"):
        fit("overtrain", frame)
    frame["D"] = [2e8, -1, 8e8, 1.6e9, 2e9]
    with pytest.raises(RunDataError, match="must be > 0"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit("overtrain", frame)
