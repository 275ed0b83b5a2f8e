"""Optimal-hyperparameter laws: the target=B variants (the contract test covers target=lr), option errors,
and the lr-bsz valley's derived quantities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import LawError
from scalefit.laws import get_law


def _recover(name, true, ranges, noise, seed=0, n=120):
    law = get_law(name, target="B")
    rng = np.random.default_rng(seed)
    x = {s: np.exp(rng.uniform(np.log(lo), np.log(hi), n)) for s, (lo, hi) in ranges.items()}
    y = law(x, true) * np.exp(noise * rng.standard_normal(n))
    return scalefit.fit(law, pd.DataFrame({**x, "B": y}), loss="mse")


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_steplaw_batch_law_recovers_paper_constants(noise):
    # Step Law paper: B* = 0.58 D^0.571 (tokens); 10% log-normal scatter like a grid of powers of sqrt(2)
    res = _recover("hparam-steplaw", {"c_B": 0.58, "gamma": 0.571}, {"D": (1e9, 1e12)}, noise)
    assert res.law_spec.target == "B" and res.law_spec.inputs == ("D",)
    tol = 1e-6 if noise == 0 else 0.02
    assert res.params["gamma"] == pytest.approx(0.571, abs=tol)
    assert np.log(res.params["c_B"]) == pytest.approx(np.log(0.58), abs=tol * 30 if noise else 1e-5)


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_compute_batch_law_recovers_deepseek_constants(noise):
    # DeepSeek LLM: B*(C) = 0.2920 C^0.3271 (tokens)
    res = _recover("hparam-compute", {"c_B": 0.292, "b": 0.3271}, {"C": (1e17, 1e22)}, noise, seed=1)
    tol = 1e-6 if noise == 0 else 0.01
    assert res.params["b"] == pytest.approx(0.3271, abs=tol)
    assert np.log(res.params["c_B"]) == pytest.approx(np.log(0.292), abs=tol * 50 if noise else 1e-5)


def test_mse_fit_in_log_space_is_ordinary_least_squares():
    rng = np.random.default_rng(4)
    n, d = np.exp(rng.uniform(18, 22, 40)), np.exp(rng.uniform(21, 25, 40))
    lr = 80 * n**-0.77 * d**0.2 * np.exp(0.3 * rng.standard_normal(40))
    res = scalefit.fit("hparam-steplaw", pd.DataFrame({"N": n, "D": d, "lr": lr}), loss="mse")
    X = np.c_[np.ones(40), np.log(n), np.log(d)]
    coef = np.linalg.lstsq(X, np.log(lr), rcond=None)[0]
    got = [np.log(res.params["c_eta"]), res.params["alpha"], res.params["beta"]]
    np.testing.assert_allclose(got, coef, atol=1e-6)


def test_unknown_target_is_a_clear_error():
    with pytest.raises(LawError, match="target must be 'lr'.*or 'B'"):
        get_law("hparam-steplaw", target="loss")
    with pytest.raises(LawError, match="n_ref must be a positive number"):
        get_law("lr-bsz", n_ref=-1)


def test_valley_derived_quantities():
    law = get_law("lr-bsz", n_ref=1e8, d_ref=1e10)
    p = {"E": 1.6, "A_N": 0.3, "alpha": 0.35, "A_D": 0.25, "beta": 0.3, "lr_ref": 3e-3, "alpha_eta": -0.5,
         "beta_eta": 0.2, "B_ref": 2e5, "gamma_B": 0.5, "k_lr": 0.01, "k_B": 0.02, "s": 0.4}
    N, D = 4e8, 3e10
    lr_opt = law.derived["lr_opt"].fn(p, N=N, D=D)
    b_opt = law.derived["B_opt"].fn(p, D=D)
    assert lr_opt == pytest.approx(3e-3 * 4**-0.5 * 3**0.2)
    assert b_opt == pytest.approx(2e5 * 3**0.5)
    # at the centre the loss is the floor and the penalty zero; away from it the penalty is the quadratic
    assert law.derived["penalty"].fn(p, lr=lr_opt, B=b_opt, N=N, D=D) == pytest.approx(0.0, abs=1e-15)
    floor = law.derived["loss_floor"].fn(p, N=N, D=D)
    assert law({"lr": lr_opt, "B": b_opt, "N": N, "D": D}, p) == pytest.approx(floor)
    pen = law.derived["penalty"].fn(p, lr=2 * lr_opt, B=b_opt, N=N, D=D)
    u = np.log(2)
    assert pen == pytest.approx(0.01 * u**2 + 0.02 * (0.4 * u) ** 2)
    # the tilt: at lr = 2 lr*, the best batch is B* 2^s
    bs = b_opt * np.exp(np.linspace(-1, 1, 2001))
    pens = law.derived["penalty"].fn(p, lr=2 * lr_opt, B=bs, N=N, D=D)
    assert np.log(bs[np.argmin(pens)] / b_opt) == pytest.approx(0.4 * u, abs=1e-3)
    # Step Law convention of the centre
    c_eta = law.derived["c_eta"].fn(p)
    assert c_eta * N**-0.5 * D**0.2 == pytest.approx(lr_opt)
    assert law.derived["c_B"].fn(p) * D**0.5 == pytest.approx(b_opt)
