"""`scalefit predict --interval mean` on a fit without a bootstrap gives the delta-method interval of the fitted
curve, as the library's ``fit.predict_interval(x, interval="mean")`` does (it refused: "this fit has no
bootstrap"); a fit with neither a bootstrap nor a covariance is still refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

runner = CliRunner()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    d = tmp_path_factory.mktemp("mean")
    csv, out = d / "runs.csv", d / "fit.json"
    simulate(get_law("power"), {"E": 1.0, "A": 2000.0, "alpha": 0.2}, n_points=30, seed=2).to_csv(csv, index=False)
    res = runner.invoke(app, ["fit", "power", str(csv), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_cli_mean_interval_without_bootstrap_is_the_librarys_delta_interval(fitted):
    res = runner.invoke(app, ["predict", str(fitted), "--at", "C=1e21", "--interval", "mean", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (row,) = out["predictions"]
    assert out["interval"]["kind"] == "mean" and row["interval"] == "95% interval of the fitted curve"
    fit = scalefit.load(fitted)
    assert not fit.bootstrap and fit.interval_method().startswith("Wald")
    lib = fit.predict_interval({"C": [1e21]}, interval="mean")
    assert lib.method.startswith("delta method")
    np.testing.assert_allclose([row["L_lower"], row["L_upper"]], [lib[0][0], lib[1][0]], rtol=1e-12)
    assert row["L_lower"] < row["L_pred"] < row["L_upper"]
    assert out["interval"]["method"] == lib.method  # the output says how: delta method, not a bootstrap
    assert "interval_method" not in row


def test_every_predict_output_says_how_its_interval_was_computed(fitted, tmp_path):
    fit = scalefit.load(fitted)
    lib = fit.predict_interval({"C": [1e21]})
    assert lib.kind == "prediction" and lib.method
    res = runner.invoke(app, ["predict", str(fitted), "--at", "C=1e21", "--json"])
    assert json.loads(res.stdout)["interval"]["method"] == lib.method
    text = runner.invoke(app, ["predict", str(fitted), "--at", "C=1e21"])
    assert "95% prediction interval (" in text.stdout and f"; {lib.method})" in text.stdout
    csv = tmp_path / "p.csv"
    assert runner.invoke(app, ["predict", str(fitted), "--at", "C=1e21", "--out", str(csv)]).exit_code == 0
    assert "interval_method" not in csv.read_text().splitlines()[0]  # the CSV keeps its columns


def test_a_fit_with_neither_bootstrap_nor_covariance_is_refused_in_one_line(fitted, tmp_path):
    raw = json.loads(fitted.read_text())
    raw["covariance"] = None
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(raw))
    res = runner.invoke(app, ["predict", str(bare), "--at", "C=1e21", "--interval", "mean"])
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "--interval mean" in res.stderr and "--bootstrap N" in res.stderr
