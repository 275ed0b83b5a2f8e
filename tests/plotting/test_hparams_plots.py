"""Hyperparameter plots: LR-transfer curves, Step Law fits, one cell's loss valley, and `scalefit plot` on them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import ConfigError
from scalefit.fitting.lr_transfer import lr_transfer
from scalefit.planning.hparams import fit_hparams
from scalefit.plotting._common import pyplot
from scalefit.plotting.hparams import plot_hparam_laws, plot_loss_valley, plot_lr_transfer
from tests.fitting.test_lr_transfer import sweep
from tests.planning.test_hparams import SEQ, runs


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
    assert len(axes[0].get_legend().get_texts()) == 4  # one line per width
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
