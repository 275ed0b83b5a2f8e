"""The lr-annealing law's areas (S1, S2) against the paper's recursion, and recovery from synthetic curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import LawError
from scalefit.laws import get_law
from scalefit.laws.lr_annealing import annealing_area, annealing_momentum, areas, forward_area, warmup_end


def _recursion(lr, lam, start):
    """m_i = lam m_{i-1} + (eta_{i-1} - eta_i), written as a loop, with m = 0 up to update ``start``."""
    m = np.zeros_like(lr)
    for i in range(1, lr.size):
        m[i] = lam * m[i - 1] + (lr[i - 1] - lr[i] if i > start else 0.0)
    return m


def _schedule():
    rng = np.random.default_rng(0)
    return np.concatenate([
        np.linspace(1e-4, 3e-3, 40), np.full(300, 3e-3), np.linspace(3e-3, 3e-4, 500),
        np.full(100, 1e-3), rng.uniform(1e-4, 3e-3, 300),  # re-warming and noise: increases count negatively
    ])


@pytest.mark.parametrize("lam", [0.5, 0.9, 0.99, 0.999, 0.9999])
def test_annealing_momentum_matches_the_recursion(lam):
    lr = _schedule()
    start = warmup_end(lr)
    assert start == 39
    np.testing.assert_allclose(annealing_momentum(lr, lam), _recursion(lr, lam, start), rtol=0, atol=1e-15)
    np.testing.assert_allclose(annealing_area(lr, lam), np.cumsum(_recursion(lr, lam, start)), rtol=0, atol=1e-13)


def test_areas_are_vectorised_over_lambda_values():
    lr = _schedule()
    lams = np.array([[0.9], [0.99], [0.999]])
    out = annealing_area(lr, lams)
    assert out.shape == (3, lr.size)
    for k, lam in enumerate(lams[:, 0]):
        np.testing.assert_allclose(out[k], annealing_area(lr, lam), rtol=1e-12, atol=1e-15)


def test_forward_area_and_constant_schedule():
    lr = np.full(100, 2e-3)
    s1, s2 = areas(lr)
    np.testing.assert_allclose(s1, 2e-3 * np.arange(1, 101))
    assert np.all(s2 == 0)  # no annealing without a decrease
    np.testing.assert_allclose(forward_area(lr), s1)


def test_a_step_decay_gives_the_closed_form_area():
    # LR drops by d at update k: m_i = d lam^(i-k), S2(s) = d (1 - lam^(s-k+1)) / (1 - lam)
    lam, d, k = 0.99, 1e-3, 50
    lr = np.r_[np.full(k, 2e-3), np.full(150, 1e-3)]
    s = np.arange(k, lr.size)
    np.testing.assert_allclose(annealing_area(lr, lam)[s], d * (1 - lam ** (s - k + 1)) / (1 - lam), rtol=1e-12)


def test_bad_lambda_and_schedule_are_errors():
    with pytest.raises(LawError, match="lambda"):
        get_law("lr-annealing", lam=1.0)
    with pytest.raises(LawError, match="lambda"):
        annealing_momentum(np.ones(5), 0.0)
    with pytest.raises(LawError, match="1-D"):
        annealing_momentum(np.ones((2, 5)))


@pytest.mark.parametrize("lam", [0.999, 0.99])
def test_recovers_parameters_from_synthetic_cosine_and_wsd_curves(lam):
    from scalefit.planning.curves import trainer_schedule

    law = get_law("lr-annealing", lam=lam)
    true = {"L0": 2.2, "A": 0.5, "alpha": 0.45, "C": 0.25 if lam == 0.999 else 2.0}
    rows = []
    for name in ("cosine", "wsd"):
        lr = trainer_schedule(name, 3000, 3e-3, warmup_frac=0.02, decay_frac=0.2)
        s1, s2 = areas(lr, lam)
        steps = np.arange(100, 3001, 50)
        rows.append(pd.DataFrame({"S1": s1[steps - 1], "S2": s2[steps - 1], "loss": law(
            {"S1": s1[steps - 1], "S2": s2[steps - 1]}, true)}))
    result = scalefit.fit(law, pd.concat(rows, ignore_index=True))
    assert result.law_options == {"lam": lam}
    for p, v in true.items():
        assert result.params[p] == pytest.approx(v, rel=1e-4), result.params
