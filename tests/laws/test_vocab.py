"""Tao et al. 2024 vocabulary law: the released constants give the paper's headline optimal vocabulary for
Llama2-70B, the optimum is the loss minimum at fixed compute, options, and 1%-noise recovery."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.errors import LawError
from scalefit.laws import get_law
from scalefit.laws import vocab as vocab_mod
from tests.laws.recovery import assert_recovers

# github.com/sail-sg/scaling-with-vocab, optimal_Nv_predict.py (approach 3), in units of 1e6 parameters and
# 1e9 tokens; converted here to raw counts
_A1, _A2, _B, _E = 1.8313851559554126, 0.19584238398665638, 2.1241123120064955, 5.5327846803337435
_ALPHA1, _ALPHA2, _BETA = 0.44660634152009615, 0.6707374679896795, 0.44660634152009615
PAPER = {"E": _E, "A1": _A1 * 1e6**_ALPHA1, "alpha1": _ALPHA1, "A2": _A2 * 1e6**_ALPHA2, "alpha2": _ALPHA2,
         "B": _B * 1e9**_BETA, "beta": _BETA}


def _compute_optimal_flops(n_nv):
    """The repository's Nnvopt_to_flops: the FLOPs for which n_nv non-vocabulary parameters are optimal."""
    return (n_nv / np.exp(-2.4846510161625193)) ** 2


def test_llama2_70b_deserves_a_vocabulary_of_at_least_216k():
    # Abstract: "the optimal vocabulary size of Llama2-70B should have been at least 216K, 7 times larger
    # than its vocabulary of 32K"; width d = 8192 for 50B-100B non-vocabulary parameters in the repository
    nv = get_law("vocab").derived["Nv_opt"].fn(PAPER, N_nv=70e9, C=_compute_optimal_flops(70e9))
    v_opt = nv / 8192
    assert 216e3 <= v_opt <= 220e3
    assert v_opt / 32e3 == pytest.approx(7.0, abs=0.25)


def test_optimal_vocabulary_minimises_the_loss_at_fixed_compute():
    law = get_law("vocab")
    n_nv, c = 3e9, 1e22
    nv_opt = vocab_mod.nv_opt(PAPER, n_nv, c)
    grid = nv_opt * np.geomspace(0.2, 5.0, 4001)
    losses = law({"N_nv": np.full_like(grid, n_nv), "N_v": grid, "D": c / (6 * (n_nv + grid))}, PAPER)
    assert grid[np.argmin(losses)] == pytest.approx(nv_opt, rel=2e-3)
    # vectorised over parameter sets (bootstrap) and budgets
    sets = {k: np.array([v, v]) for k, v in PAPER.items()}
    np.testing.assert_allclose(vocab_mod.nv_opt(sets, n_nv, c), [nv_opt, nv_opt], rtol=1e-12)


def test_characters_option_and_errors():
    law = get_law("vocab", data="H")
    assert law.inputs == ("N_nv", "N_v", "H") and law.equation.endswith("B/H^beta")
    assert "Nv_opt" not in law.derived and not law.positive_target
    with pytest.raises(LawError, match="data must be one of"):
        get_law("vocab", data="tokens")


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_at_one_percent_noise(seed):
    # a 5x vocabulary term (at the paper's size it is a few noise widths), 400 runs
    true = {**PAPER, "A2": 5 * PAPER["A2"]}
    ranges = {"N_nv": (1e7, 1e10), "N_v": (1e6, 1e9), "D": (1e9, 1e11)}
    rtol = {"E": 0.02, "A1": 1.0, "alpha1": 0.15, "A2": 0.5, "alpha2": 0.06, "B": 0.6, "beta": 0.07}
    assert_recovers(get_law("vocab"), true, ranges, rtol, seed=seed, n=400)
