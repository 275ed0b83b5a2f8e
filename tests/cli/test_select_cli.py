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
