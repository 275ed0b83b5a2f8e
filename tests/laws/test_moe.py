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
