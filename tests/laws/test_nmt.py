"""Ghorbani et al. 2021 encoder/decoder law: reference sizes, optimal split, option errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ExtrapolationWarning, LawError
from scalefit.laws import get_law
from scalefit.laws import nmt as nmt_mod

TRUE = {"alpha": 0.8, "p_e": 0.2, "p_d": 0.35, "L_inf": 1.2}


def _runs(seed=0, n=60):
    rng = np.random.default_rng(seed)
    ne, nd = np.exp(rng.uniform(np.log(2e7), np.log(2e9), (2, n)))
    loss = get_law("nmt")({"N_e": ne, "N_d": nd}, TRUE) * (1 + 0.003 * rng.standard_normal(n))
    return pd.DataFrame({"enc_params": ne, "N_d": nd, "loss": loss})


def test_reference_sizes_rescale_alpha_only():
    runs = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = scalefit.fit("nmt", runs, mapping={"N_e": "enc_params"})
        moved = scalefit.fit("nmt", runs, mapping={"N_e": "enc_params"}, law_options={"Ne_ref": 5e7, "Nd_ref": 4e8})
    for k in ("p_e", "p_d", "L_inf"):
        assert moved.params[k] == pytest.approx(base.params[k], rel=1e-4)
    p = base.params
    expected = p["alpha"] * (1e8 / 5e7) ** p["p_e"] * (1e8 / 4e8) ** p["p_d"]
    assert moved.params["alpha"] == pytest.approx(expected, rel=1e-4)
    x = {"enc_params": [3e7, 5e9], "N_d": [1e8, 2e10]}  # also beyond the fitted range
    with pytest.warns(ExtrapolationWarning):
        np.testing.assert_allclose(moved.predict(x), base.predict(x), rtol=1e-5)
    assert base.params["p_d"] > base.params["p_e"]  # the decoder exponent of the synthetic truth is larger


def test_optimal_split_minimises_the_loss_at_fixed_total():
    law = get_law("nmt")
    total = 1e9
    share = np.linspace(0.01, 0.99, 9801)
    losses = law({"N_e": share * total, "N_d": (1 - share) * total}, TRUE)
    best = share[np.argmin(losses)]
    assert best / (1 - best) == pytest.approx(nmt_mod.ratio_opt(TRUE), rel=2e-3)
    assert nmt_mod.ne_opt(TRUE, total) + nmt_mod.nd_opt(TRUE, total) == pytest.approx(total)
    assert law.derived["loss_opt"].fn(TRUE, N=total) == pytest.approx(losses.min(), rel=1e-6)
    assert nmt_mod.p_total(TRUE) == pytest.approx(0.55)


@pytest.mark.parametrize("bad", [0, -1e8, "abc", float("nan"), float("inf"), None])
def test_bad_reference_size_is_a_law_error(bad):
    with pytest.raises(LawError, match="Ne_ref must be a positive number"):
        get_law("nmt", Ne_ref=bad)


def test_unknown_option_is_a_law_error():
    with pytest.raises(LawError, match="does not take options"):
        get_law("nmt", N_ref=1e8)
