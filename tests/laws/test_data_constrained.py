"""Muennighoff et al. 2023 data-constrained law: the paper's constants reproduce its published numbers,
the law reduces to Chinchilla without repetition, and a 1%-noise refit recovers the constants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import LawError
from scalefit.laws import data_constrained as dc
from scalefit.laws import get_law
from tests.laws.recovery import assert_recovers

# App. A / github.com/huggingface/datablations README: a, b, e are log A, log B, log E
PAPER = {"E": np.exp(0.6254804), "A": np.exp(6.255414), "B": np.exp(7.3049974), "alpha": 0.3526596,
         "beta": 0.3526596, "R_D_star": 15.387756, "R_N_star": 5.309743}
RANGES = {"N": (1e7, 1e10), "D": (1e8, 1e12), "U_D": (1e7, 1e11)}


def test_paper_constants_reproduce_the_figure_1_losses():
    # the two 25B-unique-token models of Figure 1 (right), losses as printed in the authors' README
    law = get_law("data-constrained")
    better = law({"N": 6.34e9, "D": 242e9, "U_D": 25e9}, PAPER)
    chinchilla_like = law({"N": 8.67e9, "D": 178e9, "U_D": 25e9}, PAPER)
    assert better == pytest.approx(2.2256440889984477, rel=1e-12)
    assert chinchilla_like == pytest.approx(2.2269634075087867, rel=1e-12)
    assert better < chinchilla_like  # "many epochs, fewer parameters" wins at equal compute


def test_paper_constants_reproduce_the_optimal_allocation():
    # README: the budget of the 8.67B x 178B model with 25B unique tokens is best spent on
    # "227B tokens, 9.1 epochs, 6.8B parameters"
    law = get_law("data-constrained")
    extra = {"C": 6 * 8.67e9 * 178e9, "U_D": 25e9}
    assert law.derived["N_alloc"].fn(PAPER, **extra) == pytest.approx(6.8e9, rel=0.01)
    assert law.derived["D_alloc"].fn(PAPER, **extra) == pytest.approx(227e9, rel=0.005)
    assert law.derived["epochs_alloc"].fn(PAPER, **extra) == pytest.approx(9.1, rel=0.01)
    # and it is the minimum of the loss along the budget
    n = np.geomspace(3e9, 12e9, 2001)
    losses = law({"N": n, "D": extra["C"] / (6 * n), "U_D": np.full_like(n, 25e9)}, PAPER)
    assert law.derived["loss_alloc"].fn(PAPER, **extra) == pytest.approx(losses.min(), rel=1e-9)
    # vectorised like every derived quantity: K parameter sets (bootstrap) x several budgets
    sets = {k: np.array([[v], [v]]) for k, v in PAPER.items()}
    budgets = np.array([extra["C"], 4 * extra["C"]])
    n_sets = law.derived["N_alloc"].fn(sets, C=budgets, U_D=25e9)
    assert n_sets.shape == (2, 2)
    np.testing.assert_allclose(n_sets[:, 0], law.derived["N_alloc"].fn(PAPER, **extra), rtol=1e-9)


def test_derived_decay_quantities():
    law = get_law("data-constrained")
    assert law.derived["D_half_life"].fn(PAPER) == pytest.approx(15.387756 * np.log(2))
    assert law.derived["max_data_multiplier"].fn(PAPER) == pytest.approx(16.387756)
    d_eff = law.derived["D_eff"].fn(PAPER, D=np.array([1e9, 4e9, 1e12]), U_D=1e9)
    assert d_eff[0] == pytest.approx(1e9)  # one epoch: every token is fresh
    assert 3.5e9 < d_eff[1] < 4e9  # four epochs are worth almost four (the paper's "up to 4 epochs")
    assert d_eff[2] == pytest.approx(16.387756e9, rel=1e-6)  # saturates at U_D (1 + R_D_star)


def test_reduces_to_chinchilla_without_repetition_or_excess_parameters():
    law, chin = get_law("data-constrained"), get_law("chinchilla")
    x = {"N": np.array([1e8, 5e8]), "D": np.array([2e9, 1e10]), "U_D": np.array([1e11, 1e12])}
    np.testing.assert_allclose(law(x, PAPER), chin({"N": x["N"], "D": x["D"]}, PAPER), rtol=1e-14)


def test_unique_params_from_a_column():
    law = get_law("data-constrained", unique_params="column")
    assert law.inputs == ("N", "D", "U_D", "U_N") and law.options == {"unique_params": "column"}
    derived = get_law("data-constrained")
    x = {"N": np.array([2e10]), "D": np.array([1e11]), "U_D": np.array([2e9])}
    u_n = np.exp(dc._log_n_opt(PAPER, 2e9)[0])
    np.testing.assert_allclose(law({**x, "U_N": u_n}, PAPER), derived(x, PAPER), rtol=1e-12)
    with pytest.raises(LawError, match="unique_params must be one of"):
        get_law("data-constrained", unique_params="auto")


@pytest.mark.parametrize("seed", [0, 1])
def test_refit_at_one_percent_noise_recovers_the_paper_constants(seed):
    rtol = {"E": 0.03, "A": 0.3, "B": 0.25, "alpha": 0.04, "beta": 0.04, "R_D_star": 0.1, "R_N_star": 0.5}
    assert_recovers(get_law("data-constrained"), PAPER, RANGES, rtol, seed=seed)


def test_fits_from_run_log_columns():
    law = get_law("data-constrained")
    rng = np.random.default_rng(4)
    x = {s: np.exp(rng.uniform(np.log(lo), np.log(hi), 80)) for s, (lo, hi) in RANGES.items()}
    runs = pd.DataFrame({"n_params": x["N"], "n_tokens": x["D"], "unique_tokens": x["U_D"], "loss": law(x, PAPER)})
    fit = scalefit.fit("data-constrained", runs)
    assert fit.data["provenance"]["U_D"] == "column 'unique_tokens'"
    assert fit.params["R_D_star"] == pytest.approx(PAPER["R_D_star"], rel=1e-3)
