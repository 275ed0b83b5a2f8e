"""`scalefit fit lr-annealing`, `scalefit predict --schedule`, `scalefit plan --compare-schedules` via CliRunner."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from tests.planning.test_lr_annealing import PEAK, T, curve_log


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def curve_json(runner, tmp_path_factory):
    folder = tmp_path_factory.mktemp("curves")
    path = folder / "curves.csv"
    curve_log(schedules=("cosine", "constant", "wsd"), noise=0.002).to_csv(path, index=False)
    out = folder / "curve.json"
    res = runner.invoke(app, ["fit", "lr-annealing", str(path), "--where", "schedule != 'wsd'", "--bootstrap", "30",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "lambda   0.999" in res.output and "fit per run" in res.output and "95% parameter interval" in res.output
    return out


def test_fit_options_and_errors(runner, tmp_path):
    path = tmp_path / "c.csv"
    curve_log().to_csv(path, index=False)
    res = runner.invoke(app, ["fit", "lr-annealing", str(path), "--opt", "lam=0.99", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["lambda"] == 0.99 and payload["fit"]["law_options"] == {"lam": 0.99}
    res = runner.invoke(app, ["fit", "lr-annealing", str(path), "--opt", "gamma=1"])
    assert res.exit_code == 1 and "does not take --opt ['gamma']" in res.output
    curve_log().drop(columns=["schedule"]).to_csv(path, index=False)
    res = runner.invoke(app, ["fit", "lr-annealing", str(path)])
    assert res.exit_code == 1 and "learning rate of every update" in res.output


def test_predict_a_schedule_curve(runner, curve_json, tmp_path):
    out = tmp_path / "pred.csv"
    res = runner.invoke(app, ["predict", str(curve_json), "--schedule", "wsd", "--steps", str(T), "--peak-lr",
                              str(PEAK), "--decay-frac", "0.3", "--warmup-frac", "0.02", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "final loss after 3000 updates:" in res.output and "95% bootstrap" in res.output
    curve = pd.read_csv(out)
    assert len(curve) == T and {"step", "lr", "S1", "S2", "L_pred", "L_lower", "L_upper"} <= set(curve.columns)
    assert curve["lr"].iloc[-1] == pytest.approx(0.1 * PEAK)
    # the same schedule given as a CSV gives the same curve
    sched = tmp_path / "sched.csv"
    curve[["step", "lr"]].to_csv(sched, index=False)
    res = runner.invoke(app, ["predict", str(curve_json), "--schedule-csv", str(sched), "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["final"]["L_pred"] == pytest.approx(curve["L_pred"].iloc[-1], rel=1e-9)
    assert len(payload["curve"]) == T


def test_predict_schedule_errors(runner, curve_json):
    res = runner.invoke(app, ["predict", str(curve_json), "--schedule", "wsd"])
    assert res.exit_code == 1 and "needs --steps" in res.output
    res = runner.invoke(app, ["predict", str(curve_json), "--schedule", "step", "--steps", "10", "--peak-lr", "1"])
    assert res.exit_code == 1 and "unknown schedule 'step'" in res.output
    res = runner.invoke(app, ["predict", str(curve_json), "--at", "S1=1", "--at", "S2=0"])  # old behaviour intact
    assert res.exit_code == 0 and "L_pred" in res.output


def test_plan_compares_schedules(runner, curve_json):
    res = runner.invoke(app, ["plan", str(curve_json), "--compare-schedules", "--steps", str(T), "--peak-lr",
                              str(PEAK), "--warmup-frac", "0.02", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    finals = [r["L_final"] for r in payload["schedules"]]
    assert finals == sorted(finals) and payload["best_wsd"]["schedule"] == "wsd"
    assert {r["schedule"] for r in payload["schedules"]} == {"cosine", "wsd", "linear", "constant"}
    res = runner.invoke(app, ["plan", str(curve_json), "--compare-schedules", "--steps", str(T), "--peak-lr",
                              str(PEAK), "--decay-fracs", "0.1,0.2"])
    assert res.exit_code == 0 and "best WSD decay fraction:" in res.output
    assert np.sum(["wsd" in line for line in res.output.splitlines()]) >= 2
    res = runner.invoke(app, ["plan", str(curve_json)])  # the mode follows from the file: a loss-curve fit
    assert res.exit_code == 1 and "--steps N" in res.output and "--peak-lr LR" in res.output
    res = runner.invoke(app, ["plan", str(curve_json), "--compute", "1e22"])
    assert res.exit_code == 1 and "--compute applies to law and frontier" in res.output
    res = runner.invoke(app, ["plan", str(curve_json), "--compare-schedules", "--steps", str(T), "--peak-lr",
                              str(PEAK), "--group", "c4"])  # one law for every run: --group is refused, not ignored
    assert res.exit_code == 1 and "--group c4: this fit is not grouped" in res.output
