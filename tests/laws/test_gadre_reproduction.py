"""Reproduce Gadre et al. 2024 (arXiv:2403.08540) on their released runs (../shared/data/gadre/runs_flat.csv).

Protocol of the paper (and of its repository's default configuration): per training dataset, fit Eq. 4 on
5 runs (the 0.011B-0.411B models at M = 20 plus the 0.011B model at M = 320) by least squares on the C4
eval loss; fit Eq. 5 on those runs plus the 1.4B model at M = 20 (6 runs) against the 17-task average
error; predict the held-out 1.4B (over-trained) and 6.9B runs, the error through the predicted loss.
Paper, RedPajama: E=1.84, a=212, b=367, eta=0.136; loss errors 0.7% (1.4B M=640) and 0.7% (6.9B M=20);
error errors 3.6% (1.4B M=640) and 0.05% (6.9B M=20).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from scalefit.fitting import fit
from scalefit.planning.chain import chain_predict

LOSS_SET = "dataset == 'rpj' and ((M == 20 and N < 1e9) or (N < 2e7 and M == 320))"
ERR_SET = "dataset == 'rpj' and ((M == 20 and N < 2e9) or (N < 2e7 and M == 320))"
PAPER = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}


@pytest.fixture(scope="module")
def runs():
    from tests.conftest import shared_file

    return pd.read_csv(shared_file("gadre/runs_flat.csv"))


@pytest.fixture(scope="module")
def held(runs):
    rpj = runs[runs.dataset == "rpj"]
    out = rpj[(rpj.N > 5e9) | ((rpj.N > 1e9) & (rpj.M == 640))].sort_values("N")
    assert len(out) == 2
    return out


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def loss_fit(runs):
    return _fit("overtrain", runs, target="loss_c4_val", where=LOSS_SET, loss="mse", space="raw")


def test_overtrain_constants_match_paper(loss_fit):
    assert loss_fit.stats["n"] == 5
    for k, v in PAPER.items():
        assert loss_fit.params[k] == pytest.approx(v, rel=0.01), k


@pytest.mark.parametrize("objective", [{"loss": "mse", "space": "raw"}, {}])
def test_overtrain_predicts_held_out_runs(runs, held, objective):
    res = _fit("overtrain", runs, target="loss_c4_val", where=LOSS_SET, **objective)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = res.predict({"N": held.N.to_numpy(), "D": held.D.to_numpy()})
    rel = abs(pred / held.loss_c4_val.to_numpy() - 1)
    assert (rel < 0.015).all(), rel


def test_downstream_chain_predicts_held_out_error(runs, held, loss_fit):
    err_fit = _fit("downstream", runs, target="err_avg17", mapping={"L": "loss_c4_val"}, where=ERR_SET,
                   loss="mse", space="raw")
    assert err_fit.stats["n"] == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = chain_predict(loss_fit, err_fit, {"N": held.N.to_numpy(), "M": held.M.to_numpy()}).frame
    rel = abs(out["Err_pred"].to_numpy() / held.err_avg17.to_numpy() - 1)
    small, big = rel  # sorted by N: 1.4B M=640, then 6.9B M=20
    assert big < 0.01
    assert small < 0.05
