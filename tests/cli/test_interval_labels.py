"""Every interval says its kind and level: `scalefit predict` (table, --out CSV, --json), the library's return
values and the plots' legends; the library and the CLI default to the same (prediction) interval."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.fitting import FitResult
from scalefit.fitting.intervals import DEFAULT, Interval, label
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
AT = ["--at", "N=7e9", "--at", "D=1.4e11"]


def _reject(name):
    raise ValueError(f"non-strict JSON constant {name}")


@pytest.fixture(scope="module")
def fit_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "runs.csv"
    simulate(get_law("chinchilla"), TRUE, n_points=40, noise=0.005, seed=3).to_csv(path, index=False)
    out = path.parent / "fit.json"
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(path), "--bootstrap", "30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _predict(fit_json, *args):
    res = CliRunner().invoke(app, ["predict", str(fit_json), *AT, *args])
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.parametrize("kind", ["prediction", "mean"])
def test_json_table_and_csv_name_the_kind_and_level(fit_json, tmp_path, kind):
    data = json.loads(_predict(fit_json, "--interval", kind, "--level", "0.9", "--json").stdout,
                      parse_constant=_reject)
    assert data["interval"]["kind"] == kind and data["interval"]["level"] == 0.9
    assert data["interval"]["label"] == label(kind, 0.9) and data["predictions"][0]["interval"] == label(kind, 0.9)
    text = _predict(fit_json, "--interval", kind).stdout
    assert f"_lower/_upper: {label(kind, 0.95)}" in text
    out = tmp_path / f"{kind}.csv"
    _predict(fit_json, "--interval", kind, "--out", str(out))
    assert pd.read_csv(out)["interval"].tolist() == [label(kind, 0.95)]


def test_no_interval_no_label(fit_json):
    data = json.loads(_predict(fit_json, "--interval", "none", "--json").stdout)
    assert "interval" not in data and "interval" not in data["predictions"][0]


def test_library_and_cli_defaults_agree(fit_json):
    cli = json.loads(_predict(fit_json, "--json").stdout)
    fit = FitResult.load(fit_json)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = fit.predict_interval({"N": [7e9], "D": [1.4e11]})
        mean = fit.predict_interval({"N": [7e9], "D": [1.4e11]}, interval="mean")
    assert DEFAULT == "prediction" and isinstance(iv, Interval)
    assert cli["interval"]["kind"] == iv.kind == DEFAULT and iv.level == 0.95
    row = cli["predictions"][0]
    assert np.allclose([row["L_lower"], row["L_upper"]], [iv.lower[0], iv.upper[0]])
    assert mean.kind == "mean" and mean.label == "95% interval of the fitted curve" and "bootstrap" in mean.method
    assert mean.upper[0] - mean.lower[0] < iv.upper[0] - iv.lower[0]
    lo, hi = iv  # still unpacks as (lower, upper)
    assert lo[0] < hi[0]


def _legend(figure) -> set[str]:
    return {t.get_text() for ax in figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()}


def test_plot_legends_name_kind_and_level(fit_json):
    import matplotlib

    matplotlib.use("Agg")
    from scalefit.fitting import fit_law

    c = np.geomspace(1e17, 1e22, 30)
    runs = pd.DataFrame({"C": c, "loss": 1.5 + 60 * c**-0.15})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_d = _legend(fit_law("power", runs, bootstrap=20, seed=0).plot(runs))
        two_d = _legend(FitResult.load(fit_json).plot())
    assert label("prediction", 0.95) in one_d and label("mean", 0.95) in one_d, one_d
    assert any(label("mean", 0.95) in t for t in two_d), two_d
    assert not any("band" in t for t in one_d | two_d)
