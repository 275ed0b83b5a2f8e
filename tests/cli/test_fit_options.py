"""The constraint, anchor, weight and checkpoint options on `fit`, `backtest` and `select` (issue 14): declared
once, grouped in --help, reaching the library."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app

TRUE = {"E": 1.8, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """21 runs with 10 checkpoints each (noise 0.5%), as CSV."""
    rng = np.random.default_rng(0)
    rows = []
    for i, n in enumerate(np.geomspace(2e7, 1e9, 7)):
        for tpp in (10, 20, 40):
            for step in range(1, 11):
                d = n * tpp * step / 10
                loss = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
                rows.append({"run": f"r{i}-{tpp}", "step": step, "n_params": n, "n_tokens": d,
                             "loss": loss * np.exp(0.005 * rng.standard_normal())})
    path = tmp_path_factory.mktemp("ckpt") / "ckpt.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command, options", [
    ("fit", ["--param", "--fix", "--anchor", "--weight", "--run", "--reduce", "--skip-first", "--smooth", "--order"]),
    ("backtest", ["--param", "--fix", "--anchor", "--weight", "--run", "--reduce", "--skip-first", "--smooth"]),
    ("select", ["--run", "--reduce", "--skip-first", "--smooth", "--order"]),
])
def test_help_groups_the_options(command, options):
    res = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    panel = "Runs and checkpoints" if command == "select" else "Constraints, anchors and checkpoints"
    assert panel in res.output
    for option in options:
        assert option in res.output, option


def test_fit_with_every_option_and_the_saved_file_predicts(ckpt, tmp_path):
    out = tmp_path / "fit.json"
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(ckpt), "--reduce", "last", "--fix", "E=1.8",
                                   "--param", "alpha=:0.2:0.5", "--anchor", "N=1e12,D=1e14,L=1.8068",
                                   "--bootstrap", "20", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert any(line.split() == ["E", "1.8", "(fixed)"] for line in res.output.splitlines())
    assert "runs     per 'run', checkpoints by step: reduce last" in res.output
    assert "anchors  1 fixed point" in res.output
    pred = CliRunner().invoke(app, ["predict", str(out), "--at", "N=1e9", "--at", "D=2e10", "--json"])
    assert pred.exit_code == 0, pred.output
    expected = TRUE["E"] + TRUE["A"] / 1e9 ** TRUE["alpha"] + TRUE["B"] / 2e10 ** TRUE["beta"]
    assert str(round(expected, 2))[:4] in pred.output


def test_fit_json_lists_fixed_parameters(ckpt):
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(ckpt), "--reduce", "last", "--fix", "E=1.8", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["fixed"] == {"E": 1.8} and "E" not in payload["params"] and "E" not in payload["intervals"]


def test_backtest_takes_constraints(ckpt):
    res = CliRunner().invoke(app, ["backtest", "chinchilla", str(ckpt), "--reduce", "last", "--fix", "E=1.8",
                                   "--holdout", "N >= 5e8", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert set(payload["params"]) == {"A", "B", "alpha", "beta"} and payload["n_fit"] + payload["n_holdout"] == 21


def test_select_reduces_before_the_folds(ckpt):
    res = CliRunner().invoke(app, ["select", str(ckpt), "--candidates", "chinchilla,kaplan", "--reduce", "last",
                                   "--objectives", "huber", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["data"]["n_rows"] == 21  # one row per run, not 210 checkpoints


def test_row_options_refused_for_procedures_but_run_alone_is_fine(ckpt):
    res = CliRunner().invoke(app, ["fit", "isoflop", str(ckpt), "--reduce", "last"])
    assert res.exit_code == 1 and "--reduce apply to law fits" in res.output
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(ckpt), "--run", "run", "--skip-first", "0.8",
                                   "--bootstrap", "4", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["data"]["bootstrap_unit"] == "run"
