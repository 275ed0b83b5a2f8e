"""The fit / predict / plan / backtest / simulate / laws commands through Typer's CliRunner."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    simulate(get_law("chinchilla"), TRUE, n_points=60, noise=0.005, seed=2).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fit_json(runner, runs_csv):
    out = runs_csv.parent / "fit.json"
    res = runner.invoke(app, ["fit", "chinchilla", str(runs_csv), "--bootstrap", "100", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "alpha" in res.output and "95% parameter interval" in res.output and "N ← column 'n_params'" in res.output
    return out


def test_help_flags(runner):
    for args in (["-h"], ["fit", "-h"], ["predict", "--help"], ["plan", "-h"], ["backtest", "-h"], ["laws", "-h"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "Usage" in res.output, args


def test_laws_lists_equations(runner):
    res = runner.invoke(app, ["laws"])
    assert res.exit_code == 0
    assert "chinchilla: L = E + A/N^alpha + B/D^beta" in res.output and "Hoffmann" in res.output
    data = json.loads(runner.invoke(app, ["laws", "chinchilla", "--json"]).output)
    assert data["inputs"] == ["N", "D"] and "N_opt" in data["derived"]


def test_fit_json_output(runner, runs_csv):
    res = runner.invoke(app, ["fit", "chinchilla", str(runs_csv), "--json", "--where", "N > 1e8"])
    data = json.loads(res.output)
    assert data["law"] == "chinchilla" and data["data"]["where"] == "N > 1e8"
    assert abs(data["params"]["alpha"] - 0.34) < 0.05 and "bootstrap" not in data


def test_predict_at_points(runner, fit_json):
    res = runner.invoke(app, ["predict", str(fit_json), "--at", "N=7e10", "--at", "D=1.4e12", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["predictions"][0]
    assert row["L_lower"] < row["L_pred"] < row["L_upper"]
    truth = get_law("chinchilla")({"N": 7e10, "D": 1.4e12}, TRUE)
    assert row["L_pred"] == pytest.approx(float(truth), rel=0.03)
    assert "extrapolating" in res.stderr


def test_predict_lists_broadcast(runner, fit_json):
    res = runner.invoke(app, ["predict", str(fit_json), "--at", "N=1e9,2e9,4e9", "--at", "D=2e10", "--json"])
    assert len(json.loads(res.stdout)["predictions"]) == 3


def test_predict_input_output_keeps_columns(runner, fit_json, tmp_path):
    pts = tmp_path / "points.csv"
    pd.DataFrame({"name": ["a", "b"], "n_params": [1e9, 7e10], "flops": [1.2e20, 5.88e23]}).to_csv(pts, index=False)
    out = tmp_path / "preds.csv"
    res = runner.invoke(app, ["predict", str(fit_json), "--input", str(pts), "--out", str(out)])
    assert res.exit_code == 0, res.output
    preds = pd.read_csv(out)
    assert list(preds.columns) == ["name", "n_params", "flops", "L_pred", "L_lower", "L_upper", "interval"]
    assert (preds["L_lower"] < preds["L_pred"]).all()


def test_plan(runner, fit_json):
    res = runner.invoke(app, ["plan", str(fit_json), "--compute", "5.88e23", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["compute_optimal"][0]  # stderr: the extrapolation warning
    assert 6 * row["N_opt"] * row["D_opt"] == pytest.approx(5.88e23)
    assert row["N_opt_lower"] < row["N_opt"] < row["N_opt_upper"]
    text = runner.invoke(app, ["plan", str(fit_json), "--compute", "1e22", "--compute", "1e24"]).output
    assert text.count("tokens per parameter") == 2


def test_backtest(runner, runs_csv, tmp_path):
    out = tmp_path / "bt.csv"
    res = runner.invoke(app, ["backtest", "chinchilla", str(runs_csv), "--holdout", "N >= 5e9", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "mean |relative error|" in res.output
    rows = pd.read_csv(out)
    assert {"row", "actual", "predicted", "rel_error"} <= set(rows.columns) and len(rows) > 0


def test_simulate_round_trip(runner, tmp_path):
    out = tmp_path / "sim.csv"
    res = runner.invoke(app, ["simulate", "chinchilla", "--params", "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28",
                              "--points", "30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) == 30


@pytest.mark.parametrize(
    "args,message",
    [
        (["fit", "chinchilla", "missing.csv"], "not found"),
        (["fit", "chinchila", "{runs}"], "Did you mean 'chinchilla'"),
        (["fit", "chinchilla", "{runs}", "--map", "N"], "SYMBOL=COLUMN"),
        (["fit", "chinchilla", "{runs}", "--where", "N > 1e20"], "leaves no rows"),
        (["fit", "chinchilla", "{runs}", "--loss", "l1"], "unknown loss"),
        (["predict", "nofit.json", "--at", "N=1"], "fit file not found"),
        (["predict", "{fit}", "--at", "N=abc"], "not a number"),
        (["predict", "{fit}"], "--at SYMBOL=VALUE"),
        (["plan", "nofit.json", "--compute", "1e24"], "fit file not found"),
        (["simulate", "chinchilla", "--params", "E=1"], "missing parameters"),
    ],
)
def test_errors_are_one_line_exit_1(runner, runs_csv, fit_json, args, message):
    args = [a.replace("{runs}", str(runs_csv)).replace("{fit}", str(fit_json)) for a in args]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert "Traceback" not in res.output


def test_fit_never_writes_input(runner, runs_csv):
    before = runs_csv.read_bytes()
    runner.invoke(app, ["fit", "chinchilla", str(runs_csv)])
    assert runs_csv.read_bytes() == before


def test_bootstrap_by_reaches_the_fit(runner, runs_csv, tmp_path):
    df = pd.read_csv(runs_csv).assign(family=lambda d: (d.index // 3).astype(str))
    path = tmp_path / "fam.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "fam.json"
    res = runner.invoke(app, ["fit", "chinchilla", str(path), "--bootstrap", "5", "--bootstrap-by", "family",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["data"]["bootstrap_unit"] == "family"
