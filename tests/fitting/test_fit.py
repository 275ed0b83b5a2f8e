"""The fitting engine on seeded synthetic data: recovery, options, diagnostics, FitResult round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import BoundWarning, FitError, FitFileError, RunDataError
from scalefit.fitting import FitResult, backtest, fit
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
# A tenth of Hoffmann's grid keeps tests fast where the full 4,500-start search is not the point.
FEW = get_law("chinchilla").start_grid()[::10]


@pytest.fixture(scope="module")
def runs():
    return simulate(get_law("chinchilla"), TRUE, n_points=80, noise=0.003, seed=1)


@pytest.fixture(scope="module")
def fitted(runs):
    return fit("chinchilla", runs, bootstrap=200, seed=3)


def test_recovers_chinchilla_parameters(fitted):
    p = fitted.params
    assert p["E"] == pytest.approx(TRUE["E"], rel=0.03)
    assert p["alpha"] == pytest.approx(TRUE["alpha"], abs=0.03)
    assert p["beta"] == pytest.approx(TRUE["beta"], abs=0.02)
    assert fitted.search["n_starts"] == 4500 + 2 and fitted.search["n_reached"] >= 2  # + the nested power optima


def test_noise_free_recovery_is_exact():
    df = simulate(get_law("chinchilla"), TRUE, n_points=60, noise=0.0, seed=0)
    res = fit("chinchilla", df, loss="mse", starts=FEW)
    for k, v in TRUE.items():
        assert res.params[k] == pytest.approx(v, rel=1e-4)


def test_intervals_cover_truth(fitted):
    iv = fitted.intervals()
    for k in ("E", "alpha", "beta"):
        lo, hi = iv[k]
        assert lo < fitted.params[k] < hi
    assert set(iv) >= {"E", "A", "B", "alpha", "beta", "a", "b"}


def test_bootstrap_is_seeded(runs):
    a = fit("chinchilla", runs, bootstrap=20, seed=7, starts=FEW)
    b = fit("chinchilla", runs, bootstrap=20, seed=7, starts=FEW)
    c = fit("chinchilla", runs, bootstrap=20, seed=8, starts=FEW)
    assert a.bootstrap == b.bootstrap and a.bootstrap != c.bootstrap


def test_predict_and_interval(fitted):
    pt = {"N": [7e10], "D": [1.4e12]}
    with pytest.warns(scalefit.ExtrapolationWarning):
        y = fitted.predict(pt)
    truth = get_law("chinchilla")(pt, TRUE)
    assert y[0] == pytest.approx(truth[0], rel=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lo, hi = fitted.predict_interval(pt)
    assert lo[0] < y[0] < hi[0]


def test_predict_derives_missing_inputs(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fitted.predict({"N": 1e9, "D": 2e10})
        b = fitted.predict({"N": 1e9, "C": 6 * 1e9 * 2e10})
    np.testing.assert_allclose(a, b)


def test_json_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "fit.json")
    back = FitResult.load(path)
    assert back == fitted
    assert back.intervals() == fitted.intervals()
    assert back.version == scalefit.__version__


def test_bad_fit_files(tmp_path):
    with pytest.raises(FitFileError, match="not found"):
        FitResult.load(tmp_path / "x.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FitFileError, match="not valid JSON"):
        FitResult.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"schema": "something/9"}')
    with pytest.raises(FitFileError, match="not a scalefit fit"):
        FitResult.load(tmp_path / "other.json")


def test_result_is_immutable(fitted):
    with pytest.raises(AttributeError):
        fitted.law = "kaplan"


def test_inputs_not_mutated(runs):
    before = runs.copy()
    fit("chinchilla", runs, where="n_params > 1e8", starts=FEW)
    pd.testing.assert_frame_equal(runs, before)


def test_compute_optimal_derived(fitted):
    law = get_law("chinchilla")
    n = fitted.derived("N_opt", C=1e24)
    d = fitted.derived("D_opt", C=1e24)
    assert 6 * n * d == pytest.approx(1e24)
    # the closed form is the minimum of the fitted loss along the iso-compute line
    grid = np.geomspace(n / 5, n * 5, 2001)
    losses = law({"N": grid, "D": 1e24 / (6 * grid)}, fitted.params)
    assert grid[np.argmin(losses)] == pytest.approx(n, rel=0.01)
    lo, hi = fitted.derived_interval("tokens_per_param", C=1e24)
    assert lo < fitted.derived("tokens_per_param", C=1e24) < hi
    with pytest.raises(FitError, match="needs"):
        fitted.derived("N_opt")
    with pytest.raises(FitError, match="no derived quantity"):
        fitted.derived("nope")


def test_fewer_rows_than_parameters(runs):
    with pytest.raises(RunDataError, match="4 rows but law 'chinchilla' has 5 free parameters"):
        fit("chinchilla", runs.iloc[:4])


def test_log_space_needs_positive_target(runs):
    df = runs.copy()
    df.loc[3, "loss"] = -1.0
    with pytest.raises(RunDataError, match="--space raw"):
        fit("chinchilla", df)


def test_raw_space_and_mse_options(runs):
    res = fit("chinchilla", runs, space="raw", loss="mse", starts=FEW)
    assert res.stats["space"] == "raw" and res.stats["loss"] == "mse"
    assert res.params["alpha"] == pytest.approx(TRUE["alpha"], abs=0.05)
    with pytest.raises(FitError, match="unknown loss"):
        fit("chinchilla", runs, loss="l3")
    with pytest.raises(FitError, match="unknown space"):
        fit("chinchilla", runs, space="sqrt")


def test_bound_warning():
    law = get_law("chinchilla")
    df = simulate(law, {**TRUE, "beta": 0.28}, n_points=40, noise=0.002, seed=4)
    starts = law.start_grid()[::50]
    starts[:, 4] = np.minimum(starts[:, 4], 0.2)
    from dataclasses import replace

    from scalefit.laws.base import Param

    capped = replace(law, params=(*law.params[:4], Param("beta", (0.1, 0.2), 0.0, 0.2)))
    with pytest.warns(BoundWarning, match="beta .* upper bound 0.2"):
        res = fit(capped, df, starts=starts)
    assert "upper bound" in res.search["warnings"][0]


def test_group_by(runs):
    df = pd.concat([runs.assign(dataset="a"), runs.assign(dataset="b", loss=runs["loss"] * 1.1)])
    res = fit("chinchilla", df, group_by="dataset", starts=FEW)
    assert set(res) == {"a", "b"} and res.by == "dataset"
    assert res["b"].params["E"] > res["a"].params["E"]
    every = res.predict({"N": 1e9, "D": 1e10})  # every group's, by key
    assert list(every) == ["a", "b"] and every["a"][0] == res["a"].predict({"N": 1e9, "D": 1e10})[0] < every["b"][0]
    with pytest.raises(FitError, match="no group 'c'"):
        res.predict({"N": 1e9, "D": 1e10}, key="c")
    assert FitResult.from_json(res.to_json()) == res
    with pytest.raises(RunDataError, match="not a column"):
        fit("chinchilla", df, group_by="nope")


def test_backtest_reports_heldout_rows(runs):
    bt = backtest("chinchilla", runs, holdout="N >= 5e9", starts=FEW)
    assert len(bt.rows) == int((runs["n_params"] >= 5e9).sum())
    assert bt.fit.stats["n"] == len(runs) - len(bt.rows)
    assert bt.mean_abs_rel_error < 0.02
    with pytest.raises(RunDataError, match="holds out every row"):
        backtest("chinchilla", runs, holdout="N > 0")


def test_unknown_law_suggests():
    with pytest.raises(scalefit.LawError, match="Did you mean 'chinchilla'"):
        get_law("chinchila")


def test_bootstrap_resamples_runs_not_checkpoints(runs):
    # two checkpoints per run: resampling by run keeps both checkpoints of a run together
    df = pd.concat([runs.assign(run_id=range(len(runs))), runs.assign(run_id=range(len(runs)))])
    res = fit("chinchilla", df, bootstrap=10, seed=0, starts=FEW)
    assert res.data["bootstrap_unit"] == "run_id"
    from scalefit.fitting.resample import resample_counts

    w = resample_counts(4, 50, 0, groups=np.array(["a", "a", "b", "b"]))
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 2] == w[:, 3]).all()
    with pytest.raises(RunDataError, match="--bootstrap-by 'nope'"):
        fit("chinchilla", df, bootstrap=5, bootstrap_by="nope", starts=FEW)
