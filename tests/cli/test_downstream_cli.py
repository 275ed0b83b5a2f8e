"""`--target-mean`, `--map L=...` hints and `scalefit predict --chain` through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.laws import get_law

LOSS_TRUE = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}
ERR_TRUE = {"epsilon": 0.857, "k": 2.2, "gamma": 0.71}


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 4e8, 5), 3)
    M = np.tile([10.0, 20.0, 80.0], 5)
    L = get_law("overtrain")({"C": 6 * M * N * N, "M": M}, LOSS_TRUE) * np.exp(rng.normal(0, 0.003, N.size))
    err = get_law("downstream")({"L": L}, ERR_TRUE)
    # Two "tasks" whose mean error is err.
    frame = pd.DataFrame({"n_params": N, "n_tokens": M * N, "loss_c4": L,
                          "acc_x": 1 - err + 0.02, "acc_y": 1 - err - 0.02})
    path = tmp_path_factory.mktemp("gadre") / "runs.csv"
    frame.to_csv(path, index=False)
    return path


def test_loss_column_hint(runner, runs_csv):
    res = runner.invoke(app, ["fit", "downstream", str(runs_csv), "--target-mean", "acc_*"])
    assert res.exit_code == 1
    assert "columns that may hold it: ['loss_c4'], e.g. --map L=loss_c4" in res.output


def test_target_mean_and_chain(runner, runs_csv, tmp_path):
    loss_json, err_json = tmp_path / "loss.json", tmp_path / "err.json"
    res = runner.invoke(app, ["fit", "overtrain", str(runs_csv), "--target", "loss_c4", "--bootstrap", "20",
                              "--out", str(loss_json)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["fit", "downstream", str(runs_csv), "--target-mean", "acc_*", "--map", "L=loss_c4",
                              "--loss", "mse", "--space", "raw", "--bootstrap", "20", "--out", str(err_json)])
    assert res.exit_code == 0, res.output
    assert "Err ← column '1-mean(acc_*)'" in res.output
    res = runner.invoke(app, ["predict", str(loss_json), "--chain", str(err_json), "--at", "N=6.9e9",
                              "--at", "M=20", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["predictions"][0]
    assert set(row) == {"N", "M", "L_pred", "L_lower", "L_upper", "Err_pred", "Err_lower", "Err_upper", "interval"}
    L = get_law("overtrain")({"C": [6 * 20 * 6.9e9**2], "M": [20.0]}, LOSS_TRUE)
    assert row["L_pred"] == pytest.approx(float(L[0]), rel=0.02)
    assert row["Err_lower"] <= row["Err_pred"] <= row["Err_upper"]
    # Chaining the wrong way round is a one-line error.
    res = runner.invoke(app, ["predict", str(err_json), "--chain", str(loss_json), "--at", "L=2.5"])
    assert res.exit_code == 1 and "error: the chained fit (overtrain) must take one input" in res.output


def test_backtest_target_mean_and_conflicts(runner, runs_csv):
    res = runner.invoke(app, ["backtest", "downstream", str(runs_csv), "--target-mean", "acc_*", "--map",
                              "L=loss_c4", "--holdout", "n_params > 2e8", "--loss", "mse", "--space", "raw"])
    assert res.exit_code == 0, res.output
    assert "mean |relative error|" in res.output
    res = runner.invoke(app, ["fit", "downstream", str(runs_csv), "--target-mean", "acc_*", "--target", "acc_x"])
    assert res.exit_code == 1 and "use one of --target" in res.output and "--target-mean GLOB" in res.output
