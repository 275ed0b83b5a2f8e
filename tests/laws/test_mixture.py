"""Ye et al. 2024 data-mixing law for one validation domain: the simplex form equals the paper's form on the
simplex, options from the command line, and 1%-noise recovery from mixtures on the simplex."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.errors import LawError
from scalefit.laws import get_law
from tests.laws.recovery import assert_recovers


def _mixtures(n_domains, n_runs, seed=0, concentration=1.0):
    r = np.random.default_rng(seed).dirichlet(np.full(n_domains, concentration), n_runs)
    return {f"r{j + 1}": r[:, j] for j in range(n_domains)}


def test_simplex_form_equals_the_papers_form_on_the_simplex():
    paper, folded = get_law("data-mixture", simplex=False), get_law("data-mixture")
    assert paper.param_names == ("c", "k", "t1", "t2", "t3") and folded.param_names == ("c", "t1", "t2", "t3")
    p = {"c": 1.2, "k": 0.7, "t1": 0.5, "t2": -1.0, "t3": 0.3}
    q = {"c": 1.2, **{t: p[t] + np.log(p["k"]) for t in ("t1", "t2", "t3")}}
    r = _mixtures(3, 50)
    np.testing.assert_allclose(folded(r, q), paper(r, p), rtol=1e-13)
    assert folded.derived["loss_pure_2"].fn(q) == pytest.approx(paper({"r1": 0.0, "r2": 1.0, "r3": 0.0}, p))


def test_number_of_domains_from_the_command_line():
    law = get_law("data-mixture", n=4.0, simplex="false")  # --opt n=4 --opt simplex=false
    assert law.inputs == ("r1", "r2", "r3", "r4") and law.options == {"n": 4, "simplex": False}
    assert law.equation == "L = c + k*exp(t1*r1 + t2*r2 + t3*r3 + t4*r4)"
    with pytest.raises(LawError, match="n must be a whole number"):
        get_law("data-mixture", n=2.5)
    with pytest.raises(LawError, match="simplex must be true or false"):
        get_law("data-mixture", simplex="maybe")


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_from_mixtures_on_the_simplex(seed):
    law = get_law("data-mixture", n=4)
    # mixtures spread towards the pure domains (Dirichlet 0.5), as a mixture sweep would place them; the
    # floor c trades off with the exponential's curvature, so the smaller |t_j| are the loosest
    true = {"c": 1.5, "t1": 1.5, "t2": -1.0, "t3": 0.5, "t4": 2.0}
    rtol = {"c": 0.04, "t1": 0.03, "t2": 0.12, "t3": 0.12, "t4": 0.02}
    assert_recovers(law, true, {}, rtol, seed=seed, inputs=_mixtures(4, 120, seed, concentration=0.5))


def test_several_validation_domains_in_one_multi_target_fit():
    import warnings

    import pandas as pd

    from scalefit.fitting import fit

    law, rng = get_law("data-mixture"), np.random.default_rng(4)
    x = _mixtures(3, 80, seed=4)
    truth = {"loss_web": {"c": 2.0, "t1": 0.5, "t2": -1.0, "t3": 0.2},
             "loss_code": {"c": 1.5, "t1": -0.8, "t2": 0.9, "t3": 0.1}}
    frame = pd.DataFrame(x)
    for col, p in truth.items():
        frame[col] = law(x, p) * np.exp(0.003 * rng.standard_normal(80))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit("data-mixture", frame, target=list(truth))
    assert res.targets == tuple(truth)
    for col, p in truth.items():
        got = res[col].params
        assert got["c"] == pytest.approx(p["c"], rel=0.05)
        for t in ("t1", "t2", "t3"):
            assert got[t] == pytest.approx(p[t], abs=0.1)
