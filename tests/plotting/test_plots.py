"""Plots of fitted laws: artists on the axes, the fitted points, bands, views, groups, files, lazy import."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ConfigError, FitError, RunDataError, ScalefitWarning
from scalefit.laws import Law, Param, get_law, registry
from scalefit.plotting import plot_fit, plot_fit_report, plot_residuals, save_figure
from scalefit.plotting._common import central_params
from scalefit.plotting._frontier import frontier

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
SIZES = [1e7, 3e7, 1e8, 3e8, 1e9]
PNG = b"\x89PNG\r\n\x1a\n"
STARTS = np.array([[1.5, 300.0, 300.0, 0.3, 0.3], [2.0, 1000.0, 1000.0, 0.4, 0.4]])  # small grid: fast test fits


def chinchilla_loss(n, d, rng, noise=0.01):
    loss = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
    return loss * np.exp(rng.normal(0.0, noise, len(n)))


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = np.repeat(SIZES, 6)
    d = np.tile([2e8, 5e8, 1e9, 3e9, 1e10, 3e10], len(SIZES))
    loss = chinchilla_loss(n, d, rng)
    return pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss, "seed": np.arange(len(n)) % 2})


@pytest.fixture(scope="module")
def fit_boot(frame):
    return scalefit.fit("chinchilla", frame, bootstrap=50, seed=0)


@pytest.fixture(scope="module")
def fit_plain(fit_boot):
    return dataclasses.replace(fit_boot, bootstrap=None, seed=None)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def by_gid(ax, gid):
    return [a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid() == gid]


def test_fit_panel_has_one_curve_per_model_size_and_a_band(fit_boot, frame):
    ax = plot_fit(fit_boot, frame, to=1e24)
    assert len(by_gid(ax, "model-size-curve")) == frame["n_params"].nunique() == 5
    assert len(by_gid(ax, "bootstrap-band")) == 1
    assert by_gid(ax, "frontier") and by_gid(ax, "frontier-extrapolated") and by_gid(ax, "extrapolation")
    (runs,) = by_gid(ax, "runs")
    assert len(runs.get_offsets()) == len(frame)
    assert ax.get_xscale() == "log" and ax.get_xlim()[1] >= 1e24
    assert "FLOPs" in ax.get_xlabel() and "nats" in ax.get_ylabel()
    assert "chinchilla" in ax.get_title() and "α" in ax.get_title()
    text = " ".join(t.get_text() for t in ax.texts)
    assert "α = " in text and "bootstrap" in text
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "C = 1e+24" in legend and "N* = " in legend


def test_band_brackets_the_frontier_and_matches_derived_interval(fit_boot, frame):
    ax = plot_fit(fit_boot, frame, to=1e24)
    (band,) = by_gid(ax, "bootstrap-band")
    verts = band.get_paths()[0].vertices
    at_to = verts[np.isclose(verts[:, 0], 1e24)][:, 1]
    lo, hi = fit_boot.derived_interval("loss_opt", C=1e24)
    assert np.allclose(sorted(at_to)[:1], lo) and np.allclose(sorted(at_to)[-1:], hi)
    assert lo < float(fit_boot.derived("loss_opt", C=1e24)) < hi


def test_no_band_without_bootstrap(fit_plain, frame):
    ax = plot_fit(fit_plain, frame, to=1e24)
    assert not by_gid(ax, "bootstrap-band")
    assert len(by_gid(ax, "model-size-curve")) == 5 and by_gid(ax, "frontier") and by_gid(ax, "to-point")


def test_without_runs_draws_curves_over_the_fitted_range(fit_boot):
    ax = plot_fit(fit_boot, to=1e23)
    assert not by_gid(ax, "runs")
    assert len(by_gid(ax, "model-size-curve")) == 5 and by_gid(ax, "bootstrap-band")


def test_plotted_points_are_the_fitted_points(frame):
    fit = scalefit.fit("chinchilla", frame, where="N >= 1e8 and seed == 0", starts=STARTS)
    ax = plot_fit(fit, frame)
    (runs,) = by_gid(ax, "runs")
    assert len(runs.get_offsets()) == fit.stats["n"] == int(((frame.n_params >= 1e8) & (frame.seed == 0)).sum())
    other = frame.assign(loss=frame["loss"] * 1.01)
    with pytest.warns(ScalefitWarning, match="differ from"):
        plot_fit(fit, other)


def test_isoflop_runs_get_one_curve_per_budget():
    rng = np.random.default_rng(1)
    c = np.repeat([1e18, 1e19, 1e20], 7)
    n = np.sqrt(c / 6) * np.tile(np.geomspace(0.02, 0.5, 7), 3)
    d = c / (6 * n)
    runs = pd.DataFrame({"params": n, "flops": c, "loss": chinchilla_loss(n, d, rng)})
    fit = scalefit.fit("chinchilla", runs, starts=STARTS)
    ax = plot_fit(fit, runs, to=1e22)
    assert len(by_gid(ax, "compute-curve")) == 3 and not by_gid(ax, "model-size-curve")
    assert by_gid(ax, "to-curve") and ax.get_xlabel().startswith("model size")
    assert len(by_gid(plot_fit(fit, runs, by="size"), "model-size-curve")) == 12  # 21 sizes -> 12 log bins
    assert plot_residuals(fit, runs).get_xlabel().startswith("model size")


def test_residuals_are_log_ratios(fit_boot, frame):
    ax = plot_residuals(fit_boot, frame)
    (pts,) = by_gid(ax, "residuals")
    pred = fit_boot.predict({"N": frame.n_params, "D": frame.n_tokens})
    assert np.allclose(np.sort(pts.get_offsets()[:, 1]), np.sort(np.log(frame["loss"] / pred)))
    assert by_gid(ax, "rmse-band") and "ln(" in ax.get_ylabel()
    with pytest.raises(RunDataError, match="needs the runs"):
        plot_residuals(fit_boot, None)


def test_report_writes_a_png(fit_boot, frame, tmp_path):
    fig = plot_fit_report(fit_boot, frame, to=1e24)
    assert len([a for a in fig.axes if a.get_label() != "<colorbar>"]) == 2
    out = save_figure(fig, tmp_path / "figures" / "chinchilla.png", dpi=40)
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 1000
    assert [p.name for p in out.parent.iterdir()] == ["chinchilla.png"]  # no temp file left behind
    with pytest.raises(ConfigError, match="cannot write a figure"):
        save_figure(fig, tmp_path / "chinchilla.nope")


def test_report_without_runs_has_one_panel(fit_boot):
    fig = plot_fit_report(fit_boot, None, to=1e24)
    assert len([a for a in fig.axes if a.get_label() != "<colorbar>"]) == 1
    assert "pass runs" in fig.get_suptitle()


def test_grouped_fit_has_one_row_per_group(frame):
    fit = scalefit.fit("chinchilla", frame, group_by="seed", starts=STARTS)
    fig = plot_fit_report(fit, frame)
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(panels) == 4 and "seed = 0" in panels[0].get_title() and "seed = 1" in panels[2].get_title()
    ax = plot_fit(fit, frame, group="1")
    (runs,) = by_gid(ax, "runs")
    assert len(runs.get_offsets()) == int((frame.seed == 1).sum())
    assert len(plot_fit(fit, frame)) == 2
    with pytest.raises(FitError, match="no group"):
        plot_fit(fit, frame, group="7")


def test_bad_options(fit_boot, frame, tmp_path):
    with pytest.raises(ConfigError, match="positive"):
        plot_fit(fit_boot, frame, to=-1.0)
    with pytest.raises(ConfigError, match="choose one of"):
        plot_fit(fit_boot, frame, by="diagonal")
    with pytest.raises(RunDataError, match="not found"):
        plot_fit(fit_boot, tmp_path / "missing.csv")
    with pytest.raises(FitError, match="no groups"):
        plot_fit(fit_boot, frame, group="a")


def test_numeric_frontier_matches_closed_form():
    law = get_law("chinchilla")
    numeric = dataclasses.replace(law, derived={})
    p = {k: np.array([[v]]) for k, v in TRUE.items()}
    c = np.geomspace(1e18, 1e25, 6)
    n1, d1, l1 = frontier(law, p, c)
    n2, d2, l2 = frontier(numeric, p, c)
    assert np.allclose(n1, n2, rtol=1e-3) and np.allclose(d1, d2, rtol=1e-3) and np.allclose(l1, l2, rtol=1e-6)


def _toy_power():
    return Law(name="toy_power", equation="L = E + A*C^-alpha", source="test", inputs=("C",),
               formula=lambda x, p: p["E"] + p["A"] * x["C"] ** (-p["alpha"]),
               params=(Param("E", (1.0, 2.0), 0, 10), Param("A", (100.0, 1000.0), 0, 1e6, log=True),
                       Param("alpha", (0.1, 0.3), 0, 2)))


def _toy_generic():
    return Law(name="toy_generic", equation="L = E + A/N^alpha + B*lr^2", source="test", inputs=("N", "lr"),
               formula=lambda x, p: p["E"] + p["A"] * x["N"] ** (-p["alpha"]) + p["B"] * x["lr"] ** 2,
               params=(Param("E", (1.0, 2.0), 0, 10), Param("A", (10.0, 1000.0), 0, 1e6, log=True),
                       Param("alpha", (0.1, 0.3), 0, 2), Param("B", (1.0, 100.0), 0, 1e6)))


def test_one_input_law_curve_extrapolation_and_band(monkeypatch):
    monkeypatch.setitem(registry._FACTORIES, "toy_power", _toy_power)
    rng = np.random.default_rng(2)
    c = np.geomspace(1e17, 1e21, 12)
    runs = pd.DataFrame({"flops": c, "loss": (1.7 + 2000 * c**-0.15) * np.exp(rng.normal(0, 0.005, 12))})
    fit = scalefit.fit("toy_power", runs, bootstrap=20, starts=np.array([[1.5, 1000.0, 0.2]]))
    ax = plot_fit(fit, runs, to=1e24)
    for gid in ("fit-curve", "fit-curve-extrapolated", "bootstrap-band", "to-point", "runs"):
        assert by_gid(ax, gid), gid
    assert ax.get_xscale() == "log" and "FLOPs" in ax.get_xlabel()
    assert plot_residuals(fit, runs).get_xscale() == "log"


def test_other_laws_get_predicted_vs_observed(monkeypatch):
    monkeypatch.setitem(registry._FACTORIES, "toy_generic", _toy_generic)
    rng = np.random.default_rng(3)
    n, lr = np.repeat([1e7, 1e8, 1e9], 4), np.tile([1e-3, 1e-2, 3e-2, 1e-1], 3)
    loss = (1.7 + 400 * n**-0.3 + 20 * lr**2) * np.exp(rng.normal(0, 0.005, 12))
    runs = pd.DataFrame({"N": n, "lr": lr, "loss": loss})
    fit = scalefit.fit("toy_generic", runs, starts=np.array([[1.5, 300.0, 0.3, 10.0]]))
    ax = plot_fit(fit, runs)
    assert by_gid(ax, "identity") and ax.get_xlabel().startswith("observed")
    with pytest.raises(RunDataError, match="needs the runs"):
        plot_fit(fit, None)


def test_import_scalefit_leaves_matplotlib_unimported():
    code = ("import sys, scalefit, scalefit.plotting, scalefit.cli.plot_cmd; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_central_params_shape(fit_boot):
    assert all(v.shape == (1, 1) for v in central_params(fit_boot).values())
