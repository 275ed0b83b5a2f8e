"""Legibility of the drawn figures: tick labels never overlap, titles count the runs drawn, legends list only
what is drawn and sit off the data, stars sit on their curves, y-limits follow the data compared."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.plotting import plot_fit_report
from scalefit.plotting._common import log_ticks, pyplot
from tests.plotting.readable import overlapping_tick_labels, renderer

REPO = Path(__file__).resolve().parents[2]
CPU_RUNS = REPO / "runs" / "chinchilla-cpu" / "runs.csv"
STARTS = np.array([[1.0, 10.0, 1e5, 0.3, 0.9], [1.5, 300.0, 300.0, 0.3, 0.3]])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    pyplot().close("all")


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(*args, **kwargs)


def _panels(fig):
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


@pytest.mark.skipif(not CPU_RUNS.exists(), reason="the committed chinchilla-cpu sweep is not in this checkout")
def test_chinchilla_cpu_report_tick_labels_do_not_overlap():
    """The README's figure: the residual axis over 2e11-3e12 FLOPs used to label every minor tick."""
    fit = _quiet_fit("chinchilla", CPU_RUNS, starts=STARTS)
    fig = plot_fit_report(fit, CPU_RUNS, to=3e13)
    rend = renderer(fig)
    fit_ax, resid_ax = _panels(fig)
    assert overlapping_tick_labels(resid_ax, rend) == []
    assert overlapping_tick_labels(fit_ax, rend) == []
    assert len([t for t in resid_ax.get_xticklabels() if t.get_text()]) >= 2  # still labelled


@pytest.mark.parametrize("span", [1.3, 2.5, 8.0, 40.0, 1e4])
@pytest.mark.parametrize("width", [3.0, 6.0])
def test_log_ticks_never_overlap_on_short_or_long_ranges(span, width):
    fig, ax = pyplot().subplots(figsize=(width, 3.0), layout="constrained")
    x = np.geomspace(2e11, 2e11 * span, 20)
    ax.scatter(x, np.sin(np.arange(20)))
    ax.set_xscale("log")
    log_ticks(ax.xaxis)
    rend = renderer(fig)
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert overlapping_tick_labels(ax, rend) == []
    lo, hi = ax.get_xlim()
    assert sum(lo <= t.get_position()[0] <= hi for t in labels) >= (2 if width > 4 else 1)


def test_the_default_minor_labels_would_overlap():
    """The check above catches the defect: matplotlib's own labels on a short log axis collide."""
    fig, ax = pyplot().subplots(figsize=(3.0, 3.0))
    ax.scatter(np.geomspace(1.8e11, 3.2e12, 10), np.arange(10))
    ax.set_xscale("log")
    assert overlapping_tick_labels(ax, renderer(fig))


def test_single_group_report_counts_that_groups_runs():
    rng = np.random.default_rng(0)
    n = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 6)
    d = np.tile([2e8, 5e8, 1e9, 3e9, 1e10, 3e10], 5)
    loss = (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * np.exp(rng.normal(0, 0.01, n.size))
    frame = pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss, "g": np.where(d < 1e9, "short", "long")})
    fit = _quiet_fit("chinchilla", frame, group_by="g", starts=STARTS[1:])
    assert (frame.g == "short").sum() == 10 and (frame.g == "long").sum() == 20
    title = plot_fit_report(fit, frame, group="short").get_suptitle()
    assert "fitted on 10 runs" in title and "g = short" in title
    assert "fitted on 20 runs" in plot_fit_report(fit, frame, group="long").get_suptitle()
    assert "fitted on 30 runs" in plot_fit_report(fit, frame).get_suptitle()  # every group: all of them
