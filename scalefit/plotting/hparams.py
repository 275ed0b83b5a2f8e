"""Plots of optimal hyperparameters: LR-transfer curves, the Step Law fits, and one cell's loss valley.

    plot_lr_transfer(result)            loss vs LR, one line per width, optima marked; one panel per
                                        parametrization (SP and muP side by side)
    plot_hparam_laws(hparams)           lr* against N (at fixed D), lr* against D (at fixed N), B* against D,
                                        with the cell optima and fitted laws (bootstrap band)
    plot_loss_valley(hparams, runs)     loss over (lr, B) for one (N, D) cell: runs, band, optima,
                                        recommendation and the fitted lr-bsz valley's contours

Every function takes ``ax``/``axes=None`` and returns the figure; matplotlib is imported when drawing.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.errors import ConfigError, ExtrapolationWarning
from scalefit.plotting._common import CMAP, pyplot

MARK = {"band": "0.35", "opt": "tab:red", "rec": "tab:blue", "valley": "tab:orange"}


def _axes(axes, n: int, size: tuple[float, float]):
    plt = pyplot()
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(size[0] * n, size[1]), squeeze=False)
        return fig, list(axes[0])
    axes = list(np.atleast_1d(axes))
    if len(axes) != n:
        raise ConfigError(f"this plot needs {n} axes, got {len(axes)}")
    return axes[0].figure, axes


# ---- LR transfer ------------------------------------------------------------------------------
def plot_lr_transfer(result, axes=None):
    """Loss vs learning rate per width (one panel per parametrization), optima with their intervals."""
    curves = pd.DataFrame(result.curves)
    names = sorted(result.params, key=lambda n: (n.lower() != "sp", n))  # SP first, then muP and others
    fig, axes = _axes(axes, len(names), (5.0, 4.0))
    cmap = pyplot().get_cmap(CMAP)
    for ax, name in zip(axes, names):
        info = result.params[name]
        widths = [w["width"] for w in info["widths"]]
        ok = curves[(curves["param"] == name) & (curves["n_failed"] == 0)]
        for k, w in enumerate(info["widths"]):
            color = cmap(k / max(1, len(widths) - 1))
            c = curves[(curves["param"] == name) & (curves["width"] == w["width"])]
            good = c[c["n_failed"] == 0]
            ax.plot(good["lr"], good["loss"], "o-", ms=3, lw=1.2, color=color, label=f"width {w['width']:g}")
            bad = c[c["n_failed"] > 0]  # failed runs sit at the initial loss, far above: mark them on the top edge
            ax.plot(bad["lr"], np.full(len(bad), 0.985 - 0.02 * k), "x", color=color, ms=5,
                    transform=ax.get_xaxis_transform())
            ax.axvline(w["lr_opt"], color=color, lw=0.8, ls="--")
            if "lr_opt_lower" in w:
                ax.axvspan(w["lr_opt_lower"], w["lr_opt_upper"], color=color, alpha=0.12, lw=0)
            ax.plot([w["lr_opt"]], [w["best_loss"]], "*", color=color, ms=11, mec="k", mew=0.5, zorder=5)
        if len(ok):
            lo, hi = ok["loss"].min(), ok["loss"].max()
            pad = 0.05 * (hi - lo if hi > lo else 1.0)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("final loss (nats)")
        sub = ""
        if "slope" in info:
            sub = f"\nslope of log lr* vs log width {info['slope']:+.2f}"
            if "slope_interval" in info:
                sub += " [{:+.2f}, {:+.2f}]".format(*info["slope_interval"])
        ax.set_title(f"{name}{sub}", fontsize=10)
        ax.legend(fontsize=7, title="x (top): failed runs", title_fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


# ---- the Step Law fits ----------------------------------------------------------------------
def _law_band(fit, inputs: dict, level: float):
    if not fit.bootstrap:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fit.predict_interval(inputs, level=level)


def plot_hparam_laws(hf, axes=None, *, level: float = 0.95):
    """lr* vs N (at D fixed to its geometric mean), lr* vs D (at N likewise), B* vs D, with the fitted laws.

    Points are each cell's refined optimum (coloured by D), moved to the reference D (or N) along the
    fitted law so that one line shows the law: lr * (D_ref/D)^beta.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    cells = pd.DataFrame(hf.cells)
    fig, axes = _axes(axes, 3, (4.3, 3.8))
    lr_fit, b_fit = hf.fits["lr"], hf.fits["B"]
    p = lr_fit.params
    n_ref = float(np.exp(np.mean(np.log(cells["N"]))))
    d_ref = float(np.exp(np.mean(np.log(cells["D"]))))
    n_grid = np.geomspace(cells["N"].min() / 1.5, cells["N"].max() * 1.5, 100)
    d_grid = np.geomspace(cells["D"].min() / 1.5, cells["D"].max() * 1.5, 100)
    color = np.log10(cells["D"])
    panels = [
        (axes[0], cells["N"], cells["lr_opt"] * (d_ref / cells["D"]) ** p["beta"], n_grid,
         {"N": n_grid, "D": np.full(100, d_ref)}, lr_fit, "model size N (parameters)",
         f"optimal lr at D = {d_ref:.3g}"),
        (axes[1], cells["D"], cells["lr_opt"] * (n_ref / cells["N"]) ** p["alpha"], d_grid,
         {"N": np.full(100, n_ref), "D": d_grid}, lr_fit, "training tokens D", f"optimal lr at N = {n_ref:.3g}"),
        (axes[2], cells["D"], cells["B_opt"], d_grid, {"D": d_grid}, b_fit, "training tokens D",
         f"optimal batch ({hf.data['provenance'].get('batch_unit', '')})"),
    ]
    for ax, x, y, grid, inputs, fit, xlabel, ylabel in panels:
        sc = ax.scatter(x, y, c=color, cmap=CMAP, s=30, edgecolor="k", lw=0.4, zorder=3, label="cell optimum")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            ax.plot(grid, fit.predict(inputs), color=MARK["opt"], lw=1.5, label=fit.law_spec.equation)
        band = _law_band(fit, inputs, level)
        if band is not None:
            ax.fill_between(grid, *band, color=MARK["opt"], alpha=0.15, lw=0, label=f"{100 * level:g}% bootstrap")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):  # label 1, 2, 5 x 10^k on short axes
            short = np.log10(lim[1] / lim[0]) < 1.5
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if short else (1.0,)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=6.5, loc="best")
        ax.grid(alpha=0.3, which="both")
    params = ", ".join(f"{k} = {v:.3g}" for k, v in hf.exponents.items() if k in ("alpha", "beta", "gamma"))
    axes[1].set_title(f"Step Law fit: {params}", fontsize=9)
    fig.colorbar(sc, ax=axes[2], label="log10 D")
    fig.tight_layout()
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
    plt = pyplot()
    fig, ax = (plt.subplots(figsize=(6.2, 4.8)) if ax is None else (ax.figure, ax))
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
            pen = surface.derived("penalty", lr=L_, B=B_, N=c["N"], D=c["D"])
            floor = float(surface.derived("loss_floor", N=c["N"], D=c["D"]))
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
    fig.colorbar(sc, ax=ax, label="% above the cell's best loss")
    ax.legend(fontsize=6.5, loc="upper left")
    fig.tight_layout()
    return fig


def hparams_figure(fit_json: str | Path, runs=None):
    """The figure `scalefit plot` draws for a `fit hparams` or `fit lr-transfer` file; None for other files."""
    try:
        schema = json.loads(Path(fit_json).read_text()).get("schema")
    except (OSError, ValueError, AttributeError):
        return None
    if schema == "scalefit.lr-transfer/1":
        from scalefit.fitting.lr_transfer_result import LRTransferResult

        return plot_lr_transfer(LRTransferResult.load(fit_json))
    if schema != "scalefit.hparams/1":
        return None
    from scalefit.planning.hparams import HparamFit

    hf = HparamFit.load(fit_json)
    if runs is None:
        return plot_hparam_laws(hf)
    fig = pyplot().figure(figsize=(13.5, 8.2))
    grid = fig.add_gridspec(2, 3)
    plot_hparam_laws(hf, axes=[fig.add_subplot(grid[0, k]) for k in range(3)])
    plot_loss_valley(hf, runs, ax=fig.add_subplot(grid[1, :2]))
    return fig
