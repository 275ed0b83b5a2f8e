"""Backtest scores (R², RMSLE, NMSE, |rel. error|, band coverage and width) on hand-computed cases, run names
in the per-row output, and per-group and overall scores from `scalefit backtest --group-by`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.fitting import backtest
from scalefit.fitting.scores import band_scores, format_scores, scores
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.28)


def test_scores_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.1, 1.8, 3.0, 4.4])
    s = scores(y, p)
    mse = (0.01 + 0.04 + 0 + 0.16) / 4  # 0.0525
    var = 1.25  # np.var([1, 2, 3, 4])
    assert s["n"] == 4
    assert s["r2"] == pytest.approx(1 - mse / var)
    assert s["nmse"] == pytest.approx(mse / var)
    assert s["rmsle"] == pytest.approx(math.sqrt(np.mean(np.log([1.1, 0.9, 1.0, 1.1]) ** 2)))
    assert s["mean_abs_rel_error"] == pytest.approx((0.1 + 0.1 + 0 + 0.1) / 4)
    assert s["max_abs_rel_error"] == pytest.approx(0.1)
    assert "coverage" not in s


def test_scores_perfect_and_degenerate():
    s = scores([2.0, 3.0], [2.0, 3.0])
    assert (s["r2"], s["rmsle"], s["nmse"], s["max_abs_rel_error"]) == (1.0, 0.0, 0.0, 0.0)
    one = scores([2.0], [2.2])  # one row: no variance, R² and NMSE undefined, the rest defined
    assert math.isnan(one["r2"]) and math.isnan(one["nmse"])
    assert one["mean_abs_rel_error"] == pytest.approx(0.1)
    assert math.isnan(scores([1.0, -1.0], [1.0, 1.0])["rmsle"])  # a non-positive value has no log error
    assert "n/a" in format_scores(one)


def test_band_covers_three_of_four_rows_by_construction():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lo = np.array([0.9, 1.9, 3.05, 3.5])  # row 3's truth (3.0) lies below its band
    hi = np.array([1.1, 2.0, 3.2, 4.5])  # row 2's truth sits on the upper end: inside
    b = band_scores(y, y, lo, hi)
    assert b["coverage"] == 0.75
    assert b["mean_band_width"] == pytest.approx(np.mean(hi - lo))
    assert b["mean_rel_band_width"] == pytest.approx(np.mean((hi - lo) / y))
    s = scores(y, y, lo, hi)
    assert s["coverage"] == 0.75 and "coverage" in format_scores(s)


@pytest.fixture(scope="module")
def runs():
    df = simulate(get_law("chinchilla"), TRUE, n_points=40, noise=0.01, seed=3)
    df.insert(0, "run_id", [f"run-{i:02d}" for i in range(len(df))])
    df["family"] = np.where(np.arange(len(df)) % 2 == 0, "a", "b")
    return df


def test_backtest_scores_names_and_coverage(runs):
    cut = float(np.quantile(runs["n_params"], 0.8))
    bt = backtest("chinchilla", runs, holdout=f"N > {cut}", bootstrap=40, seed=1)
    assert list(bt.rows.columns[:2]) == ["row", "run_id"]
    held = runs[runs["n_params"] > cut]
    assert list(bt.rows["run_id"]) == list(held["run_id"])
    s = bt.scores
    assert s["n"] == len(held)
    assert s["mean_abs_rel_error"] == pytest.approx(bt.mean_abs_rel_error)
    assert s["r2"] > 0.5 and s["rmsle"] < 0.05
    inside = (bt.rows["actual"] >= bt.rows["lower"]) & (bt.rows["actual"] <= bt.rows["upper"])
    assert s["coverage"] == pytest.approx(inside.mean())
    assert s["mean_band_width"] == pytest.approx((bt.rows["upper"] - bt.rows["lower"]).mean())


def test_cli_group_by_scores_per_group_and_overall(runs, tmp_path):
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    cut = float(np.quantile(runs["n_params"], 0.75))
    args = ["backtest", "chinchilla", str(path), "--holdout", f"N > {cut}", "--group-by", "family",
            "--bootstrap", "20"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert res.output.count("R² =") == 3 and res.output.count("mean |relative error|") == 2
    assert "overall (2 groups" in res.output and "coverage" in res.output
    assert "run-" in res.output
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    rows = pd.concat([pd.DataFrame(g["rows"]) for g in data["groups"].values()])
    assert data["overall"]["n"] == len(rows)
    assert data["overall"]["mean_abs_rel_error"] == pytest.approx(np.mean(np.abs(rows["rel_error"])))
    assert set(data["groups"]["a"]["scores"]) >= {"r2", "rmsle", "nmse", "coverage", "mean_band_width"}
