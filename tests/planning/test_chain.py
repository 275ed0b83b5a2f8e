"""Chained prediction: loss fit -> downstream fit, with both bootstraps propagated."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import FitError
from scalefit.fitting import fit
from scalefit.laws import get_law
from scalefit.planning.chain import chain_predict

LOSS_TRUE = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}
ERR_TRUE = {"epsilon": 0.857, "k": 2.2, "gamma": 0.71}


def _runs(seed=0):
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(1e7, 4e8, 5), 3)
    M = np.tile([10.0, 20.0, 80.0], 5)
    L = get_law("overtrain")({"C": 6 * M * N * N, "M": M}, LOSS_TRUE) * np.exp(rng.normal(0, 0.003, N.size))
    err = get_law("downstream")({"L": L}, ERR_TRUE) + rng.normal(0, 0.003, N.size)
    return pd.DataFrame({"N": N, "D": M * N, "loss": L, "err": err})


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def fits():
    runs = _runs()
    return {
        "loss": _fit("overtrain", runs, bootstrap=40, seed=1),
        "loss0": _fit("overtrain", runs),
        "err": _fit("downstream", runs, loss="mse", space="raw", bootstrap=40, seed=2),
        "err30": _fit("downstream", runs, loss="mse", space="raw", bootstrap=30, seed=3),
        "err0": _fit("downstream", runs, loss="mse", space="raw"),
    }


def _chain(a, b, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return chain_predict(a, b, {"N": [1e9, 7e9], "M": [20.0, 640.0]}, **kw)


def test_point_prediction_is_the_composition(fits):
    out = _chain(fits["loss"], fits["err"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        L = fits["loss"].predict({"N": [1e9, 7e9], "M": [20.0, 640.0]})
        E = fits["err"].predict({"L": L})
    np.testing.assert_allclose(out.frame["L_pred"], L)
    np.testing.assert_allclose(out.frame["Err_pred"], E)
    assert list(out.frame.columns) == ["N", "M", "L_pred", "L_lower", "L_upper", "Err_pred", "Err_lower", "Err_upper"]
    assert out.pairing == "paired" and out.n_samples == 40
    assert (out.frame["Err_lower"] < out.frame["Err_upper"]).all()
    # The chained point prediction lands near the truth (noisy data, far extrapolation).
    true_err = get_law("downstream")({"L": get_law("overtrain")(
        {"C": 6 * np.array([20.0, 640.0]) * np.array([1e9, 7e9]) ** 2, "M": [20.0, 640.0]}, LOSS_TRUE)}, ERR_TRUE)
    np.testing.assert_allclose(out.frame["Err_pred"], true_err, rtol=0.06)  # 5 decades of extrapolation


def test_interval_widens_when_both_uncertainties_propagate(fits):
    both = _chain(fits["loss"], fits["err"]).frame
    first = _chain(fits["loss"], fits["err0"])
    second = _chain(fits["loss0"], fits["err"])
    assert first.pairing == "first only" and second.pairing == "second only"
    assert "L_lower" not in second.frame.columns
    width = lambda f: (f["Err_upper"] - f["Err_lower"]).to_numpy()  # noqa: E731
    assert (width(both) >= 0.9 * np.maximum(width(first.frame), width(second.frame))).all()


def test_different_bootstrap_sizes_are_resampled_with_seed(fits):
    a = _chain(fits["loss"], fits["err30"], seed=5)
    b = _chain(fits["loss"], fits["err30"], seed=5)
    assert a.pairing == "resampled" and a.n_samples == 40
    pd.testing.assert_frame_equal(a.frame, b.frame)


def test_no_bootstrap_gives_points_only(fits):
    out = _chain(fits["loss0"], fits["err0"])
    assert out.pairing == "none" and out.n_samples == 0
    assert list(out.frame.columns) == ["N", "M", "L_pred", "Err_pred"]


def test_mismatched_chain_is_an_error(fits):
    with pytest.raises(FitError, match="first predicts 'Err'"):
        _chain(fits["err"], fits["err"])
    with pytest.raises(FitError, match="one input"):
        _chain(fits["loss"], fits["loss"])
    with pytest.raises(FitError, match="level"):
        _chain(fits["loss"], fits["err"], level=1.5)
