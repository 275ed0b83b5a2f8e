"""Clark et al. 2022 routed-model law: the bilinear log form, its derived quantities, 1%-noise recovery."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.laws import get_law
from scalefit.laws import moe as moe_mod
from tests.laws.recovery import assert_recovers

TRUE = {"a": -0.08, "b": -0.11, "c": 0.004, "d": 2.6}
RANGES = {"N": (1e7, 1e10), "E": (1.0, 512.0)}


def test_log_loss_is_bilinear_in_log_n_and_log_e():
    law = get_law("moe")
    n, e = np.array([1e8, 1e9, 1e8, 1e9]), np.array([1.0, 1.0, 64.0, 64.0])
    log_l = np.log(law({"N": n, "E": e}, TRUE))
    # the mixed second difference is c * (delta log N) * (delta log E): the interaction term
    mixed = log_l[3] - log_l[2] - log_l[1] + log_l[0]
    assert mixed == pytest.approx(TRUE["c"] * np.log(10.0) * np.log(64.0), rel=1e-12)
    # E = 1 is the dense power law L = exp(d) N^a
    np.testing.assert_allclose(law({"N": n[:2], "E": e[:2]}, TRUE), np.exp(TRUE["d"]) * n[:2] ** TRUE["a"])


def test_derived_cutoff_slope_and_effective_size():
    law = get_law("moe")
    cutoff = moe_mod.n_cutoff(TRUE)
    assert cutoff == pytest.approx(np.exp(0.11 / 0.004))
    assert moe_mod.expert_slope(TRUE, cutoff) == pytest.approx(0.0, abs=1e-12)  # experts stop helping there
    assert moe_mod.expert_slope(TRUE, 1e8) < 0
    assert np.isnan(moe_mod.n_cutoff({**TRUE, "c": -0.001}))  # experts help at every size
    n_eff = law.derived["N_eff"].fn(TRUE, N=1e8, E=32.0)
    assert n_eff > 1e8
    assert law({"N": n_eff, "E": 1.0}, TRUE) == pytest.approx(law({"N": 1e8, "E": 32.0}, TRUE), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_at_one_percent_noise(seed):
    assert_recovers(get_law("moe"), TRUE, RANGES, {"a": 0.03, "b": 0.15, "c": 0.25, "d": 0.02}, seed=seed)


SAT = {"a": -0.08, "b": -0.11, "c": 0.004, "d": 2.6, "E_start": 2.0, "E_max": 150.0}


def test_saturating_expert_count_limits():
    e = np.array([1.0, 2.0, 1e7])
    e_hat = moe_mod.saturated(e, 2.0, 150.0)
    assert e_hat[0] == pytest.approx(2.0, rel=1e-12)  # Ê(1) = E_start
    assert e_hat[1] == pytest.approx(1.0 / (1.0 / (1.0 + 1.0 / (1 / 2.0 - 1 / 150.0)) + 1 / 150.0), rel=1e-12)
    assert e_hat[2] == pytest.approx(150.0, rel=1e-4)  # approaches E_max
    assert np.all(np.diff(moe_mod.saturated(np.geomspace(1, 1e5, 50), 2.0, 150.0)) > 0)
    assert np.isnan(moe_mod.saturated(4.0, 10.0, 5.0))  # E_start must be below E_max


def test_saturating_gradient_matches_finite_differences():
    law = get_law("moe", saturating="true")
    x = {"N": np.array([1e8, 1e9, 3e9]), "E": np.array([3.0, 16.0, 512.0])}
    g = law.gradient(x, SAT)
    for k, v in SAT.items():
        h = 1e-5 * max(abs(v), 1e-2)
        up, down = law(x, {**SAT, k: v + h}), law(x, {**SAT, k: v - h})
        np.testing.assert_allclose(g[k], (up - down) / (2 * h), rtol=1e-5, err_msg=k)


def test_saturating_option_and_effective_size():
    law = get_law("moe", saturating=True)
    assert law.param_names[-2:] == ("E_start", "E_max") and law.options == {"saturating": True}
    assert get_law("moe", saturating="false").param_names == ("a", "b", "c", "d")
    with pytest.raises(Exception, match="saturating must be true or false"):
        get_law("moe", saturating="maybe")
    n_eff = law.derived["N_eff"].fn(SAT, N=1e8, E=32.0)
    assert law({"N": n_eff, "E": 1.0}, SAT) == pytest.approx(law({"N": 1e8, "E": 32.0}, SAT), rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_saturating_form_recovers_at_one_percent_noise(seed):
    assert_recovers(get_law("moe", saturating=True), SAT, {"N": (1e7, 1e10), "E": (1.0, 4096.0)},
                    {"a": 0.05, "b": 0.2, "c": 0.4, "d": 0.03, "E_start": 0.35, "E_max": 0.35}, seed=seed, n=300,
                    law_options={"saturating": True})
