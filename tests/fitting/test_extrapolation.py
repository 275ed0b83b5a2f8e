"""Extrapolation said everywhere (fitting/extrapolation.py): law predictions, compute-optimal plans, isoflop
frontiers and lr-transfer say how many decades beyond the data they go, at the user's line; inside the data, no
warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import ExtrapolationWarning
from scalefit.fitting import fit_law
from scalefit.fitting.extrapolation import beyond


def _caught(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w for w in caught if issubclass(w.category, ExtrapolationWarning)]


@pytest.fixture(scope="module")
def chinchilla():
    n, m = np.meshgrid(np.geomspace(1e7, 1e9, 5), [5.0, 10.0, 20.0, 40.0], indexing="ij")
    n, d = n.ravel(), (n * m).ravel()
    runs = pd.DataFrame({"N": n, "D": d, "loss": 1.8 + 400 / n**0.34 + 2000 / d**0.28})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_law("chinchilla", runs)


def test_decades_by_hand():
    assert beyond({"N": [1e9]}, {"N": (1e6, 1e9)}) == []
    (phrase,) = beyond({"N": [1e12]}, {"N": (1e6, 1e9)})
    assert "3 decades beyond the fitted N range [1e+06, 1e+09]" in phrase
    (low,) = beyond({"N": [1e4, 1e7]}, {"N": (1e6, 1e9)})
    assert "N = 1e+04 is 2 decades" in low


def test_law_prediction_warns_at_the_callers_line(chinchilla):
    (w,) = _caught(lambda: chinchilla.predict({"N": [1e11], "D": [1e13]}))
    assert w.filename == __file__ and "N = 1e+11 is 2 decades beyond" in str(w.message)
    assert _caught(lambda: chinchilla.predict({"N": [1e8], "D": [1e9]})) == []


def test_every_plan_kind_warns(chinchilla):
    from scalefit.planning.allocation import compute_optimal
    from scalefit.planning.frontier import FrontierResult

    (w,) = _caught(lambda: compute_optimal(chinchilla, [1e25]))
    assert w.filename == __file__ and str(w.message).startswith("plan: extrapolating beyond the data: N = ")
    assert "prediction interval of the loss" in str(w.message)  # the fit is calibrated: the interval is said
    frontier = FrontierResult(method="isoflop", points=[{"C": 1e18, "N_opt": 1e7, "D_opt": 1e10, "L_opt": 3.0},
                                                        {"C": 1e20, "N_opt": 1e8, "D_opt": 1e11, "L_opt": 2.5}],
                              a=0.5, k_N=1e-2, b=0.5, k_D=1e1, data={})
    (f,) = _caught(lambda: frontier.warn_extrapolation([1e24], "plan"))
    assert "C = 1e+24 is 4 decades beyond the fitted C range" in str(f.message)
    assert _caught(lambda: frontier.warn_extrapolation([1e19])) == []


def test_lr_transfer_prediction_warns(tmp_path):
    import scalefit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = scalefit.fit("lr-transfer", "runs/lr-transfer-cpu/runs.csv")
    widths = [x["width"] for p in res.params.values() if p.get("slope") is not None for x in p["widths"]]
    (w,) = _caught(lambda: res.predict(max(widths) * 1000))
    assert w.filename == __file__ and "3 decades beyond the fitted width range" in str(w.message)
    assert _caught(lambda: res.predict(max(widths))) == []
    near, far = res.predict_interval(max(widths)), res.predict_interval(max(widths) * 1000)
    assert near, "the lr-transfer sweep has 3+ widths: its lr* predictions get an interval"
    for name, (lo, hi) in far.items():
        lr = res.predict(max(widths) * 1000)[name]
        assert lo[0] < lr[0] < hi[0] and hi[0] / lo[0] > near[name][1][0] / near[name][0][0]
