"""Downstream-error laws: Gadre et al. 2024 Eq. 5 and the Bhagia et al. 2024 sigmoid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalefit.fitting import fit
from scalefit.laws import get_law

EXP_TRUE = {"epsilon": 0.857, "k": 2.2, "gamma": 0.71}
SIG_TRUE = {"a": 0.45, "k": 3.0, "L0": 3.2, "b": 0.3}


@pytest.mark.parametrize(("name", "true"), [("downstream", EXP_TRUE), ("downstream-sigmoid", SIG_TRUE)])
def test_gradient_matches_finite_differences(name, true):
    law = get_law(name)
    x = {"L": np.array([2.2, 3.0, 4.5, 6.0])}
    g = law.gradient(x, {k: np.asarray(v) for k, v in true.items()})
    for p in true:
        h = 1e-6 * max(1.0, abs(true[p]))
        up, dn = dict(true), dict(true)
        up[p] += h
        dn[p] -= h
        fd = (law(x, up) - law(x, dn)) / (2 * h)
        np.testing.assert_allclose(np.broadcast_to(g[p], fd.shape), fd, rtol=1e-5, atol=1e-12, err_msg=p)


def test_exp_law_recovers_parameters():
    rng = np.random.default_rng(1)
    L = np.linspace(2.3, 6.0, 25)
    err = get_law("downstream")({"L": L}, EXP_TRUE) + rng.normal(0, 0.002, L.size)
    res = fit("downstream", pd.DataFrame({"loss": L, "err": err}), loss="mse", space="raw")
    assert res.data["provenance"] == {"L": "column 'loss'", "Err": "column 'err'"}
    for k, v in EXP_TRUE.items():
        assert res.params[k] == pytest.approx(v, rel=0.1), k
    # L_at_error inverts the law.
    L_back = res.derived("L_at_error", Err=0.6)
    assert float(res.predict({"L": L_back})[0]) == pytest.approx(0.6, rel=1e-9)


def test_sigmoid_law_recovers_parameters_on_error_and_accuracy():
    rng = np.random.default_rng(2)
    L = np.linspace(1.5, 5.5, 30)
    err = get_law("downstream-sigmoid")({"L": L}, SIG_TRUE) + rng.normal(0, 0.003, L.size)
    res = fit("downstream-sigmoid", pd.DataFrame({"loss": L, "err": err}))
    assert res.stats["space"] == "raw"
    for k, v in SIG_TRUE.items():
        assert res.params[k] == pytest.approx(v, rel=0.1), k
    acc = fit("downstream-sigmoid", pd.DataFrame({"loss": L, "acc": 1 - err}), target="acc")
    assert acc.params["a"] == pytest.approx(-SIG_TRUE["a"], rel=0.1)
    assert acc.params["b"] == pytest.approx(1 - SIG_TRUE["b"], rel=0.1)


def test_target_and_loss_column_are_named_in_errors():
    from scalefit.errors import RunDataError

    frame = pd.DataFrame({"loss_c4_val": [3.0, 3.2, 3.5, 4.0], "err_avg17": [0.5, 0.55, 0.6, 0.7]})
    with pytest.raises(RunDataError, match="--map"):
        fit("downstream", frame, target="err_avg17")
    with pytest.raises(RunDataError, match="no column 'nope'"):
        fit("downstream", frame, target="nope", mapping={"L": "loss_c4_val"})
