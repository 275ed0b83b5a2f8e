"""Plots of optimal hyperparameters: the Step Law fits, one cell's loss valley, the recommendation check
(and, from ``scalefit.plotting.lr_transfer``, the LR-transfer curves).

    plot_lr_transfer(result)            loss vs LR, one line per width, optima marked; one panel per
                                        parametrization (SP and muP side by side)
    plot_hparam_laws(hparams)           lr* against N (at fixed D), lr* against D (at fixed N), B* against D,
                                        with the cell optima and fitted laws (bootstrap band)
    plot_recommendation_check(hparams)  per cell, how far the run nearest the recommended (lr, B) is above the
                                        cell's best loss (fitted on all cells, and with the cell left out)
    plot_loss_valley(hparams, runs)     loss over (lr, B) for one (N, D) cell: runs, band, optima,
                                        recommendation and the fitted lr-bsz valley's contours
    hparams_figure(path, runs)          what `scalefit plot` draws: the law panels and the check (and the
                                        valley, given the runs), every panel used, legends outside the data

Every function takes ``ax``/``axes=None`` and returns the figure; matplotlib is imported when drawing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from scalefit.errors import ConfigError, ExtrapolationWarning
from scalefit.fitting.intervals import label as interval_label
from scalefit.plotting._common import CMAP, axes_row, log_ticks, pyplot
from scalefit.plotting.lr_transfer import plot_lr_transfer

__all__ = ["hparams_figure", "plot_hparam_laws", "plot_loss_valley", "plot_lr_transfer",
           "plot_recommendation_check"]

MARK = {"band": "0.35", "opt": "tab:red", "rec": "tab:blue", "valley": "tab:orange"}
_D_LABEL = "log10 D (training tokens of the cell)"


def _g(v: float, _pos=None) -> str:
    return f"{v:.2g}"


def _legend_above(ax, ncol: int = 1) -> None:
    """The axes' legend in a strip above it, outside the data."""
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.02, 1.0, 0.1), mode="expand", ncol=ncol,
              borderaxespad=0.0, frameon=False)


def _d_norm(cells: pd.DataFrame):
    from matplotlib.colors import Normalize

    lo, hi = float(np.log10(cells["D"].min())), float(np.log10(cells["D"].max()))
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def _d_colorbar(fig, axes, norm) -> None:
    import matplotlib

    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=matplotlib.colormaps[CMAP])
    fig.colorbar(sm, ax=axes, label=_D_LABEL, fraction=0.04, shrink=0.9, aspect=30, pad=0.01)


# ---- the Step Law fits ----------------------------------------------------------------------
def _law_band(fit, inputs: dict, level: float):
    if not fit.bootstrap:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fit.predict_interval(inputs, level=level, interval="mean")


def _law_panels(hf, cells: pd.DataFrame) -> list[tuple]:
    """(x, y, grid, inputs, fit, law label, x label, y label) of the three law panels."""
    lr_fit, b_fit = hf.fits["lr"], hf.fits["B"]
    p, q = lr_fit.params, b_fit.params
    n_ref = float(np.exp(np.mean(np.log(cells["N"]))))
    d_ref = float(np.exp(np.mean(np.log(cells["D"]))))
    n_grid = np.geomspace(cells["N"].min() / 1.5, cells["N"].max() * 1.5, 100)
    d_grid = np.geomspace(cells["D"].min() / 1.5, cells["D"].max() * 1.5, 100)
    lr_law = f"fitted lr* = {p['c_eta']:.3g} N^{p['alpha']:.3f} D^{p['beta']:.3f}"
    unit = hf.data["provenance"].get("batch_unit", "")
    return [
        (cells["N"], cells["lr_opt"] * (d_ref / cells["D"]) ** p["beta"], n_grid,
         {"N": n_grid, "D": np.full(100, d_ref)}, lr_fit, lr_law, "model size N (parameters)",
         f"optimal lr at D = {d_ref:.3g}"),
        (cells["D"], cells["lr_opt"] * (n_ref / cells["N"]) ** p["alpha"], d_grid,
         {"N": np.full(100, n_ref), "D": d_grid}, lr_fit, lr_law, "training tokens D",
         f"optimal lr at N = {n_ref:.3g}"),
        (cells["D"], cells["B_opt"], d_grid, {"D": d_grid}, b_fit,
         f"fitted B* = {q['c_B']:.3g} D^{q['gamma']:.3f}", "training tokens D", f"optimal batch ({unit})"),
    ]


def plot_hparam_laws(hf, axes=None, *, level: float = 0.95, colorbar: bool = True):
    """lr* vs N (at D fixed to its geometric mean), lr* vs D (at N likewise), B* vs D, with the fitted laws.

    Points are each cell's refined optimum (coloured by D), moved to the reference D (or N) along the
    fitted law so that one line shows the law: lr * (D_ref/D)^beta. Legends sit above the panels.
    """
    cells = pd.DataFrame(hf.cells)
    fig, axes = axes_row(axes, 3, (4.6, 4.4))
    norm = _d_norm(cells)
    for ax, (x, y, grid, inputs, fit, law, xlabel, ylabel) in zip(axes, _law_panels(hf, cells)):
        ax.scatter(x, y, c=np.log10(cells["D"]), cmap=CMAP, norm=norm, s=30, edgecolor="k", lw=0.4, zorder=3,
                   label="cell optimum (colour: D)", gid="cells")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            ax.plot(grid, fit.predict(inputs), color=MARK["opt"], lw=1.5, label=law, gid="law")
        band = _law_band(fit, inputs, level)
        if band is not None:
            ax.fill_between(grid, *band, color=MARK["opt"], alpha=0.15, lw=0, label=interval_label("mean", level))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel, fontsize=8)
        log_ticks(ax.xaxis, _g)
        log_ticks(ax.yaxis, _g)
        _legend_above(ax)
        ax.grid(alpha=0.3, which="both")
    params = ", ".join(f"{k} = {v:.3g}" for k, v in hf.exponents.items() if k in ("alpha", "beta", "gamma"))
    fig.suptitle(f"Step Law fit on {hf.data.get('source', '?')}: {params}", fontsize=10)
    if colorbar:
        _d_colorbar(fig, axes, norm)
    return fig


def plot_recommendation_check(hf, ax=None, *, colorbar: bool = True):
    """Per cell (against compute 6ND): % above the cell's best loss of the run nearest the recommended (lr, B),
    from the laws fitted on all cells (filled) and with that cell left out (hollow), with their means."""
    check = pd.DataFrame(hf.check)
    fig, (ax,) = axes_row(None if ax is None else [ax], 1, (5.2, 4.4))
    norm = _d_norm(check)
    c, colour = 6.0 * check["N"] * check["D"], np.log10(check["D"])
    gaps = [100 * check["gap"]]
    ax.scatter(c, gaps[0], c=colour, cmap=CMAP, norm=norm, s=34, edgecolor="k", lw=0.4, zorder=4, gid="gap",
               label="laws fitted on all cells (colour: D)")
    if "gap_loo" in check.columns and check["gap_loo"].notna().any():
        gaps.append(100 * check["gap_loo"])
        ax.scatter(c, gaps[1], facecolor="none", edgecolor=pyplot().get_cmap(CMAP)(norm(colour)), s=90, lw=1.2,
                   marker="s", zorder=3, gid="gap-loo", label="laws fitted with the cell left out")
    for g, ls, what in zip(gaps, ("--", ":"), ("all cells", "cell left out")):
        ax.axhline(float(g.mean()), color="0.3", lw=1.0, ls=ls, zorder=2, label=f"mean, {what}: {g.mean():.3f}%")
    ax.set_xscale("log")
    top = 1.1 * max(float(np.nanmax(g)) for g in gaps) or 1.0
    ax.set_ylim(-0.04 * top, top)
    log_ticks(ax.xaxis)
    ax.set_xlabel("compute C = 6ND of the cell (FLOPs)")
    ax.set_ylabel("% above the cell's best loss\n(the run nearest the recommended lr, B)", fontsize=8)
    _legend_above(ax, ncol=2)
    ax.grid(alpha=0.3, which="both")
    if colorbar:
        _d_colorbar(fig, ax, norm)
    return fig


# ---- one cell's valley ----------------------------------------------------------------------
def _cell_frame(hf, runs) -> pd.DataFrame:
    from scalefit.fitting import as_table
    from scalefit.planning.hparams import resolve_grid
    from scalefit.runs import filter_rows

    mapping = hf.options.get("mapping") or {}
    table = filter_rows(as_table(runs), hf.options.get("where"), mapping=mapping)
    frame, _ = resolve_grid(table, mapping=mapping, seq_len=hf.options.get("seq_len"))
    return frame


def _pick_cell(cells: pd.DataFrame, cell) -> pd.Series:
    if cell is None:
        return cells.assign(C=cells["N"] * cells["D"]).sort_values(["n_runs", "C"]).iloc[-1]
    if isinstance(cell, (int, np.integer)):
        if not 0 <= cell < len(cells):
            raise ConfigError(f"cell {cell} does not exist; there are {len(cells)} cells (0-{len(cells) - 1})")
        return cells.iloc[int(cell)]
    n, d = cell
    hit = cells[np.isclose(cells["N"], n, rtol=1e-6) & np.isclose(cells["D"], d, rtol=1e-6)]
    if hit.empty:
        raise ConfigError(f"no cell with N={n:g}, D={d:g}; cells are "
                          + ", ".join(f"({a:.4g}, {b:.4g})" for a, b in zip(cells["N"], cells["D"])))
    return hit.iloc[0]


def plot_loss_valley(hf, runs, *, cell=None, ax=None):
    """Loss over (lr, B) for one cell: runs coloured by loss, band, optima, recommendation, valley contours.

    ``cell``: an index into ``hf.cells``, an (N, D) pair, or None for the cell with the most runs.
    """
    cells = pd.DataFrame(hf.cells)
    c = _pick_cell(cells, cell)
    frame = _cell_frame(hf, runs)
    sub = frame[np.isclose(frame["N"], c["N"], rtol=1e-9) & np.isclose(frame["D"], c["D"], rtol=1e-9)]
    fig, (ax,) = axes_row(None if ax is None else [ax], 1, (8.4, 5.6))
    rel = sub["L"] / sub["L"].min() - 1.0
    shown = rel <= np.quantile(rel, 0.9)
    sc = ax.scatter(sub["lr"][shown], sub["B"][shown], c=100 * rel[shown], cmap=CMAP, s=40, marker="s",
                    edgecolor="none", label="runs")
    ax.scatter(sub["lr"][~shown], sub["B"][~shown], c="0.85", s=25, marker="s", label="runs (worst 10%)")
    band = rel <= hf.options["tol"]
    ax.scatter(sub["lr"][band], sub["B"][band], facecolor="none", edgecolor=MARK["band"], s=90, lw=1.2,
               label=f"band (within {100 * hf.options['tol']:g}%)")
    ax.plot(c["lr_argmin"], c["B_argmin"], "x", color="k", ms=9, label="grid argmin")
    ax.plot(c["lr_opt"], c["B_opt"], "*", color=MARK["opt"], ms=14, mec="k", mew=0.5, label="refined optimum")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        rec = hf.recommend(c["N"], c["D"])
    ax.plot(rec["lr"]["value"], rec["B"]["value"], "D", color=MARK["rec"], ms=8, mec="k", mew=0.5,
            label="Step Law recommendation")
    surface = hf.fits.get("surface")
    if surface is not None:
        lr_g = np.geomspace(sub["lr"].min(), sub["lr"].max(), 120)
        b_g = np.geomspace(sub["B"].min(), sub["B"].max(), 120)
        L_, B_ = np.meshgrid(lr_g, b_g)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            pen = surface.derived("penalty", lr=L_, B=B_, N=c["N"], D=c["D"], warn=False)
            floor = float(surface.derived("loss_floor", N=c["N"], D=c["D"], warn=False))
        cs = ax.contour(L_, B_, 100 * pen / floor, levels=[0.25, 1, 2, 5], colors=MARK["valley"], linewidths=1)
        ax.clabel(cs, fmt="%g%%", fontsize=7)
        s = rec["surface"]
        ax.plot(s["lr_opt"]["value"], s["B_opt"]["value"], "o", color=MARK["valley"], ms=7, mec="k", mew=0.5,
                label="lr-bsz valley centre (contours: % above floor)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"batch size ({hf.data['provenance'].get('batch_unit', '')})", fontsize=8)
    ax.set_title(f"N = {c['N']:.3g}, D = {c['D']:.3g}: best loss {c['loss_min']:.4f} ({int(c['n_runs'])} runs)",
                 fontsize=10)
    fig.colorbar(sc, ax=ax, label="% above the cell's best loss", location="bottom", fraction=0.05, shrink=0.6)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # outside the data
    return fig


def hparams_figure(hf, runs=None):
    """The figure of a hyperparameter fit (``HparamFit``).

    Without runs: the three law panels and the recommendation check (2 x 2, one colour bar for D); given
    the runs, the law panels on top and one cell's loss valley beside the check below.
    """
    if runs is None:
        fig = pyplot().figure(figsize=(10.5, 9.4), layout="constrained")
        laws = [*fig.subplots(2, 2).ravel()]
        check = laws.pop()
        plot_hparam_laws(hf, axes=laws, colorbar=False)
        plot_recommendation_check(hf, ax=check, colorbar=False)
        _d_colorbar(fig, [*laws, check], _d_norm(pd.DataFrame(hf.cells)))
        return fig
    fig = pyplot().figure(figsize=(15.5, 10.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.2])  # own layouts: the valley's legend stays its own
    plot_hparam_laws(hf, axes=top.subplots(1, 3), colorbar=True)
    valley, check = bottom.subplots(1, 2, width_ratios=[2.0, 1.0])
    plot_loss_valley(hf, runs, ax=valley)
    plot_recommendation_check(hf, ax=check, colorbar=False)
    return fig
