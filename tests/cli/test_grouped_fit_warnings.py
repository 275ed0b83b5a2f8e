"""No raw numpy warning ("invalid value encountered in multiply", "divide by zero", "All-NaN slice") ever reaches
the user of a grouped fit: not from the fit, its report, predictions and intervals of every kind, derived
quantities, or its plot. The library runs here with numpy's RuntimeWarnings as errors; the CLI's stderr holds
only scalefit's own warning lines."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app

RAW_NUMPY = re.compile(r"encountered in|All-NaN slice|Mean of empty slice|Degrees of freedom <= 0|invalid value|"
                       r"divide by zero|overflow encountered|RuntimeWarning")
DATA = "dataset:gadre-overtrain"
runner = CliRunner()


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """`scalefit fit chinchilla dataset:gadre-overtrain --group-by dataset` with a bootstrap, through the CLI."""
    out = tmp_path_factory.mktemp("grouped") / "fit.json"
    res = runner.invoke(app, ["fit", "chinchilla", DATA, "--group-by", "dataset", "--target", "loss_c4_val",
                              "--bootstrap", "20", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return res, out


def test_the_grouped_fit_and_its_report_say_only_scalefits_warnings(grouped):
    res, _ = grouped
    assert "== dataset = rpj ==" in res.stdout
    assert not RAW_NUMPY.search(res.stderr), res.stderr
    assert all(line.startswith("warning: ") for line in res.stderr.splitlines() if line.strip())


@pytest.mark.parametrize("args", [
    ["predict", "{fit}", "--at", "N=7e9", "--at", "D=1.4e11", "--group", "rw_original"],
    ["predict", "{fit}", "--at", "N=7e11", "--at", "D=1.4e14", "--group", "c4_original", "--interval", "mean"],
    ["plot", "{fit}", "--runs", DATA, "--to", "1e24", "--out", "{png}"],
])
def test_predictions_and_plots_of_a_grouped_fit_leak_no_numpy_warning(grouped, args, tmp_path):
    _, fit = grouped
    res = runner.invoke(app, [a.format(fit=fit, png=tmp_path / "g.png") for a in args])
    assert res.exit_code == 0, res.output
    assert not RAW_NUMPY.search(res.stderr), res.stderr


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_the_library_on_a_grouped_fit_with_numpy_warnings_as_errors(grouped):
    _, path = grouped
    fit = scalefit.load(path)
    far = {"N": [7e8, 7e11], "D": [1.4e10, 1.4e14]}  # inside the data and 2-3 decades beyond
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scalefit.ExtrapolationWarning)  # said on purpose; RuntimeWarnings stay errors
        for group in fit:
            assert np.isfinite(fit[group].predict(far)).all()
            for kind in ("prediction", "mean"):
                lo, hi = fit[group].predict_interval(far, interval=kind)
                assert (np.asarray(lo) <= np.asarray(hi)).all()
            assert np.isfinite(fit[group].derived("N_opt", C=[1e21, 1e25])).all()
            fit[group].derived_interval("N_opt", C=[1e21, 1e25])
            fit[group].intervals()
            fit[group].standard_errors()
        assert "dataset = rw_original" in fit.report()
