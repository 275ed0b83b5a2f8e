"""Hyperparameter plots: LR-transfer curves, Step Law fits, one cell's loss valley, and `scalefit plot` on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import ConfigError
from scalefit.planning.hparams import fit_hparams
from scalefit.planning.lr_transfer import lr_transfer
from scalefit.plotting._common import pyplot
from scalefit.plotting.hparams import plot_hparam_laws, plot_loss_valley, plot_lr_transfer
from tests.planning.test_hparams import SEQ, runs
from tests.planning.test_lr_transfer import sweep
from tests.plotting.readable import legend_outside_axes, overlapping_tick_labels, points_under_legend, renderer

LT_RUNS = Path(__file__).resolve().parents[2] / "runs" / "lr-transfer-cpu" / "runs.csv"


@pytest.fixture(scope="module")
def grid():
    return runs(noise=0.0005, seed=4)


@pytest.fixture(scope="module")
def hf(grid):
    return fit_hparams(grid, target="smooth loss", seq_len=SEQ, loo=False, bootstrap=20)


def test_lr_transfer_panels_side_by_side():
    res = lr_transfer(sweep(), bootstrap=50)
    fig = plot_lr_transfer(res)
    axes = fig.get_axes()
    assert [ax.get_title().split("\n")[0] for ax in axes] == ["sp", "mup"]
    assert "slope" in axes[0].get_title()
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels[:4] == ["width 64", "width 128", "width 256", "width 512"]  # one line per width
    assert "failed runs (top edge)" in labels and "lr*: 95% parameter interval" in labels
    pyplot().close(fig)


def _window_parabola(curve, w, half_window):
    """The fitting procedure's window parabola for one width, computed here from the curve."""
    loss, bad = curve["loss"].to_numpy(), curve["n_failed"].to_numpy() > 0
    i = int(np.argmin(loss))
    use = np.arange(max(0, i - half_window), min(len(loss), i + half_window + 1))
    use = use[~bad[use]]
    return np.polyfit(np.log2(curve["lr"].to_numpy()[use]), loss[use], 2)


def _check_stars(res):
    curves = pd.DataFrame(res.curves)
    fig = plot_lr_transfer(res)
    for ax, name in zip(fig.get_axes(), ["sp", "mup"] if "sp" in res.params else sorted(res.params)):
        stars = [line for line in ax.lines if line.get_gid() == "optimum"]
        widths = res.params[name]["widths"]
        assert len(stars) == len(widths)
        lo, hi = ax.get_ylim()
        for star, w in zip(stars, widths):
            (x,), (y,) = star.get_xdata(), star.get_ydata()
            assert x == pytest.approx(w["lr_opt"]) and lo <= y <= hi
            if w["how"] == "parabola":
                c = curves[(curves["param"] == name) & (curves["width"] == w["width"])].sort_values("lr")
                coef = _window_parabola(c, w, res.options["half_window"])
                assert -coef[1] / (2 * coef[0]) == pytest.approx(np.log2(w["lr_opt"]))  # lr* is its vertex
                assert y == pytest.approx(np.polyval(coef, np.log2(x)))  # the star is on it, at its minimum
    return fig


def test_lr_transfer_stars_sit_on_the_fitted_curve_at_lr_star():
    _check_stars(lr_transfer(sweep(n_seeds=1, noise=0.01, seed=3), bootstrap=0))
    if LT_RUNS.exists():  # the committed sweep: muP width 128's grid minimum is far from the parabola's
        res = lr_transfer(LT_RUNS, bootstrap=0)
        fig = _check_stars(res)
        w128 = next(w for w in res.params["mup"]["widths"] if w["width"] == 128)
        star = [line for line in fig.get_axes()[1].lines if line.get_gid() == "optimum"][-1]
        assert abs(star.get_ydata()[0] - w128["best_loss"]) > 0.005  # not the grid's best loss


def test_lr_transfer_legend_lists_only_what_is_drawn():
    runs = sweep()
    fig = plot_lr_transfer(lr_transfer(runs[runs["status"] == "ok"], bootstrap=0))
    rend = renderer(fig)
    for ax in fig.get_axes():
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert not any("failed" in t for t in labels) and not any("interval" in t for t in labels)
        assert not [line for line in ax.lines if line.get_gid() == "failed"]
        assert legend_outside_axes(ax, rend) and overlapping_tick_labels(ax, rend) == []
    pyplot().close(fig)


def test_law_panels_and_valley(hf, grid):
    fig = plot_hparam_laws(hf)
    assert len([ax for ax in fig.get_axes() if ax.get_xscale() == "log"]) == 3
    pyplot().close(fig)
    fig = plot_loss_valley(hf, grid, cell=(4e8, 4e8 * 60))
    ax = fig.get_axes()[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "refined optimum" in labels and "Step Law recommendation" in labels
    assert any("valley" in label for label in labels)
    assert "N = 4e+08" in ax.get_title()
    pyplot().close(fig)
    with pytest.raises(ConfigError, match="no cell with"):
        plot_loss_valley(hf, grid, cell=(1.0, 2.0))
    with pytest.raises(ConfigError, match="does not exist"):
        plot_loss_valley(hf, grid, cell=99)


def test_scalefit_plot_draws_both_kinds(hf, grid, tmp_path):
    runner = CliRunner()
    csv = tmp_path / "grid.csv"
    grid.to_csv(csv, index=False)
    hp = hf.save(tmp_path / "hp.json")
    res = runner.invoke(app, ["plot", str(hp), "--runs", str(csv), "--out", str(tmp_path / "hp.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "hp.png").stat().st_size > 10_000
    lt = lr_transfer(sweep(), bootstrap=0).save(tmp_path / "lt.json")
    res = runner.invoke(app, ["plot", str(lt), "--out", str(tmp_path / "lt.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "lt.png").stat().st_size > 10_000


def _panels(fig):
    return [a for a in fig.get_axes() if a.get_label() != "<colorbar>"]


@pytest.mark.parametrize("with_runs", [True, False])
def test_step_law_figure_uses_every_panel_and_keeps_legends_off_the_data(hf, grid, tmp_path, with_runs):
    from scalefit.plotting.hparams import hparams_figure
    from scalefit.results import load

    fig = hparams_figure(load(hf.save(tmp_path / "hp.json")), grid if with_runs else None)
    rend = renderer(fig)
    panels = _panels(fig)
    assert len(panels) == (5 if with_runs else 4)
    for ax in panels:
        assert ax.collections or ax.lines, ax.get_ylabel()  # no empty panel
        assert ax.get_legend() is not None and legend_outside_axes(ax, rend), ax.get_ylabel()
        assert points_under_legend(ax, rend) == 0
        assert overlapping_tick_labels(ax, rend) == []
    # the panels fill the page: some panel in each quadrant of the figure
    w, h = fig.bbox.width, fig.bbox.height
    for qx, qy in ((0, 0), (0, 1), (1, 0), (1, 1)):
        assert any(b.x0 < (qx + 0.9) * w / 2 and b.x1 > (qx + 0.1) * w / 2 and b.y0 < (qy + 0.9) * h / 2
                   and b.y1 > (qy + 0.1) * h / 2 for b in (ax.get_window_extent(rend) for ax in panels)), (qx, qy)
    check = next(ax for ax in panels if ax.get_xlabel().startswith("compute"))
    gaps = [c for c in check.collections if c.get_gid() == "gap"][0].get_offsets()[:, 1]
    np.testing.assert_allclose(np.sort(gaps), np.sort([100 * r["gap"] for r in hf.check]))
    pyplot().close(fig)
