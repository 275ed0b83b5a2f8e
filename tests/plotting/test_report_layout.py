"""Figures a practitioner can hand on: many targets in a compact grid with the fitted rows counted, titles that
fit inside the figure, and an over-training fit over runs whose M varies run by run drawn with a few lines."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import ConfigError
from scalefit.fitting import fit
from scalefit.laws import get_law
from scalefit.plotting import plot_fit_report
from scalefit.plotting._common import pyplot
from scalefit.plotting.overtrain import plot_overtrain
from tests.plotting.readable import overlapping_titles, renderer, titles_outside_figure

TARGETS = ["loss_a", "loss_b", "loss_c", "loss_d"]


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def power_runs():
    rng = np.random.default_rng(0)
    c = np.exp(rng.uniform(np.log(1e18), np.log(1e22), 60))
    frame = pd.DataFrame({"flops": c, "family": np.where(np.arange(60) % 2, "a-rather-long-family-name-one",
                                                         "a-rather-long-family-name-two")})
    for i, col in enumerate(TARGETS):
        frame[col] = (1.5 + 0.1 * i + 2000.0 / c**0.2) * np.exp(0.01 * rng.normal(size=c.size))
    return frame


def test_many_targets_make_a_grid_and_the_title_counts_the_fitted_rows(power_runs):
    res = _fit("power", power_runs, target=TARGETS, where="flops < 1e21", calibrate=False)
    n_fit = int((power_runs["flops"] < 1e21).sum())
    assert 0 < n_fit < len(power_runs)
    fig = plot_fit_report(res, power_runs)
    width, height = fig.get_size_inches()
    assert width <= 20 and height <= 14, (width, height)  # one 5.8-inch row per target made it 23 inches tall
    fits = [ax for ax in fig.axes if ax.get_xlabel() and ax.get_ylabel().startswith("loss")]
    assert len(fits) == len(TARGETS)
    assert len({round(ax.get_position().x0, 2) for ax in fits}) == 3  # three cells per row
    title = fig._suptitle.get_text()
    assert f"{n_fit} runs" in title and f"{len(power_runs)} runs" not in title and "4 targets" in title
    rend = renderer(fig)
    assert titles_outside_figure(fig, rend) == [] and overlapping_titles(fig, rend) == []
    pyplot().close(fig)
    bare = plot_fit_report(res)  # without runs: the fit panels alone, in the same grid
    assert len(bare.axes) == len(TARGETS)
    assert tuple(bare.get_size_inches()) == pytest.approx((19.2, 9.6))  # 2 rows of 3 cells
    assert len({round(ax.get_position().x0, 2) for ax in bare.axes}) == 3
    pyplot().close(bare)


def test_a_few_targets_keep_one_row_each(power_runs):
    res = _fit("power", power_runs, target=TARGETS[:2], calibrate=False)
    fig = plot_fit_report(res, power_runs)
    assert len(fig.axes) == 4 and tuple(fig.get_size_inches()) == pytest.approx((14.0, 11.6))
    assert f"{len(power_runs)} runs" in fig._suptitle.get_text()
    pyplot().close(fig)


def test_residual_titles_wrap_inside_the_figure(power_runs):
    res = _fit("power", power_runs, target="loss_a", group_by="family", calibrate=False)
    fig = plot_fit_report(res, power_runs)
    rend = renderer(fig)
    assert titles_outside_figure(fig, rend) == [] and overlapping_titles(fig, rend) == []
    residual_titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("residuals")]
    assert len(residual_titles) == 2 and all("\n" in t for t in residual_titles)  # long enough to need wrapping
    assert all("family = a-rather-long-family-name" in t.replace("\n", " ") for t in residual_titles)
    for ax in fig.axes:  # each title within its own panel's width, so none runs over its neighbour
        if ax.get_title():
            box, panel = ax.title.get_window_extent(rend), ax.get_window_extent(rend)
            assert box.width <= panel.width + 0.5
    pyplot().close(fig)


@pytest.fixture(scope="module")
def overtrain_runs():
    """Runs whose tokens per parameter M vary run by run (an IsoFLOP sweep's M): 48 distinct values."""
    rng = np.random.default_rng(1)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 48))
    m = np.exp(rng.uniform(np.log(2.0), np.log(300.0), 48))
    law = get_law("overtrain")
    loss = law({"C": 6 * m * n * n, "M": m}, {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136})
    return pd.DataFrame({"n_params": n, "n_tokens": m * n, "loss": loss * np.exp(0.003 * rng.normal(size=48))})


def test_overtrain_over_many_multipliers_draws_a_few_binned_lines(overtrain_runs):
    res = _fit("overtrain", overtrain_runs, calibrate=False)
    fig = res.plot(overtrain_runs)  # the figure `select` and `plot` draw for an overtrain winner
    ax = fig.axes[0]
    lines = [line for line in ax.lines if line.get_gid() == "fit-line"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(lines) == 8 and len(labels) == 8  # not one per run's M (48)
    drawn = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == "runs")
    assert drawn == len(overtrain_runs)  # every run, once, in its bin's colour
    m = overtrain_runs["n_tokens"] / overtrain_runs["n_params"]
    counted = 0
    for text in labels:  # "M ≈ 14.2 (10.3–18, 6 runs)" or "M ≈ 38.4 (1 run)": the bins cover every run's M once
        inside = text.split("(")[1].rstrip(")")
        lo, hi = ((float(v) for v in inside.split(",")[0].split("–")) if "–" in inside
                  else [float(text.split()[2])] * 2)
        k = int(inside.split()[-2].lstrip("("))
        assert ((m >= lo * (1 - 2e-3)) & (m <= hi * (1 + 2e-3))).sum() == k, text
        counted += k
    assert counted == len(overtrain_runs)
    pyplot().close(ax.figure)
    with pytest.raises(ConfigError, match="max_curves"):
        plot_overtrain(res, overtrain_runs, max_curves=0)


def test_overtrain_with_a_few_multipliers_keeps_one_line_each(overtrain_runs):
    few = overtrain_runs.assign(n_tokens=overtrain_runs["n_params"] * np.tile([5.0, 20.0, 80.0], 16))
    res = _fit("overtrain", few, calibrate=False)
    ax = plot_overtrain(res, few)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["M = 20", "M = 5", "M = 80"]
    pyplot().close(ax.figure)
