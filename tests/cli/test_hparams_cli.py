"""`scalefit fit hparams`, `scalefit plan HPARAMS.json --n-params --n-tokens`, `scalefit fit lr-transfer`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.planning.hparams import HparamFit
from tests.planning.test_hparams import SEQ, STEP, runs
from tests.planning.test_lr_transfer import sweep

runner = CliRunner()


@pytest.fixture(scope="module")
def hp_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("hp")
    csv = d / "grid.csv"
    runs(noise=0.0005, seed=2).to_csv(csv, index=False)
    out = d / "hp.json"
    res = runner.invoke(app, ["fit", "hparams", str(csv), "--target", "smooth loss", "--opt", f"seq_len={SEQ}",
                              "--opt", "loo=false", "--bootstrap", "30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Step Law" in res.output and "loss valley" in res.output and "check:" in res.output
    return csv, out


def test_fit_hparams_writes_a_plannable_file(hp_file):
    _, out = hp_file
    res = runner.invoke(app, ["plan", str(out), "--n-params", "6e8", "--n-tokens", "3e10", "--lr", "3e-3",
                              "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    lr_true = STEP["c_eta"] * 6e8 ** STEP["alpha"] * 3e10 ** STEP["beta"]
    assert rec["lr"]["lower"] < rec["lr"]["value"] < rec["lr"]["upper"]
    assert abs(rec["lr"]["value"] / lr_true - 1) < 0.2
    assert rec["penalty"]["lr"] == 3e-3 and rec["penalty"]["nats"]["value"] > 0
    text = runner.invoke(app, ["plan", str(out), "--n-params", "6e8", "--n-tokens", "3e10"]).output
    assert "learning rate" in text and "sequences" in text


def test_plan_errors_are_one_line(hp_file, tmp_path):
    _, out = hp_file
    res = runner.invoke(app, ["plan", str(out), "--n-params", "6e8"])
    assert res.exit_code == 1 and "--n-tokens" in res.output
    other = HparamFit.load(out).fits["lr"].save(tmp_path / "other.json")  # a law fit, not a hyperparameter fit
    res = runner.invoke(app, ["plan", str(other), "--n-params", "6e8", "--n-tokens", "3e10"])
    assert res.exit_code == 1 and "fit hparams" in res.output
    assert "--n-params applies to hyperparameter fits" in res.output and "other.json is a law fit" in res.output


def test_predict_prices_a_given_lr_and_batch_on_the_loss_valley(hp_file, tmp_path):
    _, out = hp_file
    hf = HparamFit.load(out)
    at = ["--at", "N=6e8", "--at", "D=3e10"]
    res = runner.invoke(app, ["predict", str(out), *at, "--at", "lr=3e-3", "--at", "B=2e5", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["predictions"][0]
    surface = hf.fits["surface"]
    expected = float(surface.predict({"N": 6e8, "D": 3e10, "lr": 3e-3, "B": 2e5})[0])
    assert row["L_pred"] == pytest.approx(expected, rel=1e-12)
    assert row["L_lower"] < row["L_pred"] < row["L_upper"]
    # with no lr/B the loss is priced at the recommended ones, and a far-off lr costs more
    best = json.loads(runner.invoke(app, ["predict", str(out), *at, "--json"]).stdout)["predictions"][0]
    rec = float(surface.predict({"N": 6e8, "D": 3e10, "lr": best["lr_pred"], "B": best["B_pred"]})[0])
    assert best["L_pred"] == pytest.approx(rec, rel=1e-12)
    far = runner.invoke(app, ["predict", str(out), *at, "--at", f"lr={100 * best['lr_pred']}", "--json"])
    assert json.loads(far.stdout)["predictions"][0]["L_pred"] > best["L_pred"]


def test_predict_loss_needs_a_surface_and_a_positive_lr(hp_file, tmp_path):
    csv, out = hp_file
    res = runner.invoke(app, ["predict", str(out), "--at", "N=6e8", "--at", "D=3e10", "--at", "lr=-1"])
    assert res.exit_code != 0 and "lr must be > 0" in res.output
    flat = tmp_path / "flat.json"
    assert runner.invoke(app, ["fit", "hparams", str(csv), "--target", "smooth loss", "--opt", f"seq_len={SEQ}",
                               "--opt", "loo=false", "--opt", "surface=false", "--out", str(flat)]).exit_code == 0
    res = runner.invoke(app, ["predict", str(flat), "--at", "N=6e8", "--at", "D=3e10", "--at", "lr=3e-3"])
    assert res.exit_code != 0 and "no loss surface" in res.output
    ok = runner.invoke(app, ["predict", str(flat), "--at", "N=6e8", "--at", "D=3e10", "--json"])
    assert ok.exit_code == 0 and "L_pred" not in json.loads(ok.stdout)["predictions"][0]


def test_fit_hparams_rejects_unknown_options(hp_file):
    csv, _ = hp_file
    res = runner.invoke(app, ["fit", "hparams", str(csv), "--opt", "band=0.1"])
    assert res.exit_code == 1 and "does not take --opt ['band']" in res.output
    res = runner.invoke(app, ["fit", "hparams", str(csv), "--target", "smooth loss", "--opt", "surface=maybe"])
    assert res.exit_code == 1 and "true or false" in res.output


def test_fit_lr_transfer(tmp_path):
    csv = tmp_path / "sweep.csv"
    sweep().to_csv(csv, index=False)
    out = tmp_path / "t.json"
    res = runner.invoke(app, ["fit", "lr-transfer", str(csv), "--opt", "target_width=2048", "--bootstrap", "100",
                              "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["schema"] == "scalefit.lr-transfer/1"
    assert d["params"]["sp"]["slope_interval"][1] < 0
    lo, hi = d["params"]["mup"]["slope_interval"]
    assert lo <= 0 <= hi and d["params"]["mup"]["target"]["width"] == 2048
    assert out.exists()
    res = runner.invoke(app, ["fit", "lr-transfer", str(csv), "--opt", "half_window=1.5"])
    assert res.exit_code == 1 and "whole number" in res.output
