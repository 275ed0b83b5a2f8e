"""`scalefit select`: the leaderboard, --out (the winner's fit file, usable by predict), --json, formulas,
--group-by, and one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.28)


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("select") / "runs.csv"
    df = simulate(get_law("chinchilla"), TRUE, n_points=50, noise=0.01, seed=4)
    df["family"] = ["a", "b"] * 25
    df.to_csv(path, index=False)
    return path


def test_leaderboard_and_winner_file(runs_csv, tmp_path):
    out = tmp_path / "best.json"
    res = CliRunner().invoke(app, ["select", str(runs_csv), "--candidates", "chinchilla,kaplan", "--formula",
                                   "E + A/N**alpha", "--param", "E=1:0:10", "--param", "A=100:0:1e6",
                                   "--param", "alpha=0.3:0:2", "--param", "beta=0.3:0:2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "RMSLE" in res.output and "winner (*): chinchilla" in res.output and "E + A/N**alpha" in res.output
    pred = CliRunner().invoke(app, ["predict", str(out), "--at", "N=1e10", "--at", "D=2e11"])
    assert pred.exit_code == 0, pred.output


def test_json_group_by_and_holdout(runs_csv):
    res = CliRunner().invoke(app, ["select", str(runs_csv), "--candidates", "chinchilla,kaplan", "--group-by",
                                   "family", "--holdout", "N > 1e10", "--objectives", "huber", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["schema"] == "scalefit.select/1" and d["folds"] == ["N > 1e10"] and d["fit"]["group_by"] == "family"
    assert [e["objective"] for e in d["board"]] == ["huber", "huber"]


@pytest.mark.parametrize("args, message", [
    (["--holdout", "N > 1e10", "--folds", "2"], "either --holdout"),
    (["--param", "E=1:0:10"], "--param applies to --formula"),
    (["--candidates", "chinchila"], "unknown law"),
    (["--objectives", "l1"], "objectives"),
])
def test_errors_are_one_line(runs_csv, args, message):
    res = CliRunner().invoke(app, ["select", str(runs_csv), *args])
    assert res.exit_code == 1 and message in res.output and res.output.count("\n") == 1


def test_several_targets_options_per_candidate_and_a_tied_axis(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = np.repeat([1e8, 2e8, 4e8, 8e8, 1.6e9], [6, 6, 6, 6, 10])  # the largest size: 10 of 34 rows
    d = 20 * n * rng.uniform(0.5, 4, len(n))
    law = get_law("chinchilla")
    frame = pd.DataFrame({"n_params": n, "n_tokens": d})
    for j, scale in enumerate((1.0, 1.2)):
        frame[f"loss_{j}"] = scale * law({"N": n, "D": d}, TRUE) * np.exp(0.003 * rng.standard_normal(len(n)))
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "best.json"
    res = CliRunner().invoke(app, ["select", str(path), "--target", "loss_0,loss_1", "--candidates",
                                   "power(x=N),power(x=D)", "--opt", "x=C", "--objectives", "huber", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.count("ranked by mean validation RMSLE") == 2  # one board per target
    assert "[target loss_0]" in res.output and "[target loss_1]" in res.output
    assert "N > 8e+08 (top 1 of 5 values, 10 of 34 rows)" in res.output  # cut between sizes, never inside a tie
    assert "power(x=N)" in res.output and "power(x=D)" in res.output and "power(x=C)" not in res.output
    assert (tmp_path / "best.loss_0.json").exists() and (tmp_path / "best.loss_1.json").exists()
    js = CliRunner().invoke(app, ["select", str(path), "--target-glob", "loss_*", "--candidates", "power(x=N)",
                                  "--objectives", "huber", "--json"])
    assert js.exit_code == 0, js.output
    d = json.loads(js.stdout)
    assert d["schema"] == "scalefit.select-set/1" and sorted(d["targets"]) == ["loss_0", "loss_1"]
    bad = CliRunner().invoke(app, ["select", str(path), "--candidates", "power(x=N", "--target", "loss_0"])
    assert bad.exit_code == 1 and "without its ')'" in bad.output and bad.output.count("\n") == 1
