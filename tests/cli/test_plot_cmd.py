"""``scalefit plot`` through Typer's CliRunner: figure files, --json, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plot")
    rng = np.random.default_rng(0)
    n = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 5)
    d = np.tile([3e8, 1e9, 3e9, 1e10, 3e10], 5)
    loss = (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * np.exp(rng.normal(0, 0.01, len(n)))
    runs = folder / "runs.csv"
    pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}).to_csv(runs, index=False)
    fit = folder / "fit.json"
    scalefit.fit("chinchilla", runs, bootstrap=50, seed=0).save(fit)
    return fit, runs


def _is_png(path):
    return path.exists() and path.stat().st_size > 0 and path.read_bytes()[:8] == PNG


def test_plot_writes_the_figure_and_prints_its_path(runner, files, tmp_path):
    fit, runs = files
    out = tmp_path / "figures" / "chinchilla.png"
    res = runner.invoke(app, ["plot", str(fit), "--runs", str(runs), "--out", str(out), "--dpi", "40"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out) and _is_png(out)
    assert [p.name for p in out.parent.iterdir()] == ["chinchilla.png"]


def test_plot_json_without_runs_extrapolated(runner, files, tmp_path):
    fit, _ = files
    out = tmp_path / "fit.png"
    res = runner.invoke(app, ["plot", str(fit), "--to", "1e24", "--out", str(out), "--dpi", "40", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"out": str(out)} and _is_png(out)


def test_missing_fit_file_is_one_line_error(runner, tmp_path):
    out = tmp_path / "x.png"
    res = runner.invoke(app, ["plot", str(tmp_path / "nope.json"), "--out", str(out)])
    assert res.exit_code == 1 and not out.exists()
    assert res.stderr.startswith("error: ") and "fit file not found" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "{tmp}/nope.csv"], "run log not found"),
        (["--group", "a"], "no groups"),
        (["--to", "-5"], "positive"),
        (["--by", "diagonal"], "choose one of"),
    ],
)
def test_bad_inputs_are_one_line_errors(runner, files, tmp_path, args, message):
    fit, _ = files
    out = tmp_path / "x.png"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = runner.invoke(app, ["plot", str(fit), "--out", str(out), *args])
    assert res.exit_code == 1 and message in res.stderr and not out.exists()
    assert len(res.stderr.strip().splitlines()) == 1


def test_unsupported_suffix_is_refused_before_plotting(runner, files, tmp_path):
    fit, _ = files
    res = runner.invoke(app, ["plot", str(fit), "--out", str(tmp_path / "fig.nope")])
    assert res.exit_code == 1 and "cannot write a figure as 'nope'" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_plot_help(runner):
    res = runner.invoke(app, ["plot", "-h"])
    assert res.exit_code == 0 and "--runs" in res.output and "--to" in res.output
