"""Public plotting functions: the fit panel, the residual panel, and the two-panel fit report.

Each takes ``ax=None`` (``axes=None`` for the report) and returns the Axes it drew on (the Figure for the
report). ``runs`` is a path, RunTable or DataFrame; its symbols are resolved with the fit's mapping and
filtered with the fit's ``where``, so the plotted points are the fitted points.

Which fit panel is drawn depends on the law's inputs:

* two of N, D, C, M (chinchilla, kaplan, ...): loss against compute with one curve per model size, or
  against model size with one IsoFLOP curve per budget (``by``; see ``scalefit.plotting._nd``), the
  compute-optimal frontier extrapolated to ``to`` FLOPs and its bootstrap band;
* one input x (``power``): the runs and the fitted curve against x, extrapolated to x = ``to``, with band;
* anything else: predicted against observed (needs ``runs``).

Grouped and multi-target fits (a ``FitSet``): one panel per member (one row per group in the report), or only ``group``.
"""

from __future__ import annotations

import numpy as np

from scalefit.errors import ConfigError, FitError, RunDataError
from scalefit.fitting.fit_set import FitSet
from scalefit.fitting.result import FitResult
from scalefit.plotting._common import (
    CMAP,
    fit_titles,
    fitted_points,
    is_nd,
    label,
    log_ticks,
    nd_from,
    panel_groups,
    param_box,
    pyplot,
    single,
    title,
)
from scalefit.plotting._nd import _lognorm, choose_view, draw_nd
from scalefit.plotting._simple import draw_generic, draw_one


def _axes_for(ax, n: int, *, figsize_one: tuple[float, float]) -> list:
    if ax is None:
        plt = pyplot()
        _, axs = plt.subplots(1, n, figsize=(figsize_one[0] * n, figsize_one[1]), squeeze=False, layout="constrained")
        return list(axs[0])
    axs = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axs) != n:
        raise FitError(f"the plot has {n} panels (one per group) but {len(axs)} axes were given; "
                       "pass one axes per group, or group= to draw one group")
    return axs


def _table(runs):
    if runs is None:
        return None
    from scalefit.fitting.api import as_table

    return as_table(runs)


def _check_to(to: float | None) -> None:
    if to is not None and not (np.isfinite(to) and to > 0):
        raise ConfigError(f"to={to!r}: the extrapolation target must be a positive number, e.g. 1e24 FLOPs")


def plot_fit(fit: FitResult, runs=None, *, to: float | None = None, group: object | None = None, by: str = "auto",
             max_curves: int = 12, level: float = 0.95, colorbar: bool = True, ax=None):
    """Runs, fitted law and extrapolation to ``to`` (FLOPs for N/D laws, x for one-input laws).

    Returns the Axes (a list of Axes, one per group, for a grouped fit drawn without ``group``).
    """
    _check_to(to)
    groups = panel_groups(fit, group)
    table = _table(runs)
    axs = _axes_for(ax, len(groups), figsize_one=(8.2, 5.6))
    for a, g in zip(axs, groups):
        res = single(fit, g)
        pts = fitted_points(fit, table, g)
        law = res.law_spec
        if is_nd(law):
            draw_nd(a, res, pts, to=to, by=by, max_curves=max_curves, level=level, colorbar=colorbar)
            loc = "lower left"  # below the frontier: no run can sit there
        elif len(law.inputs) == 1:
            draw_one(a, res, pts, to=to, level=level)
            loc = "upper right"
        else:
            draw_generic(a, res, pts, level=level)
            loc = "upper left"
        param_box(a, res, level, loc)
        a.set_title(title(res, g, getattr(fit, "by", None)), fontsize=10)
        a.grid(True, which="major", alpha=0.25)
    return axs[0] if len(axs) == 1 else axs


def plot_residuals(fit: FitResult, runs, *, group: object | None = None, by: str = "auto", max_curves: int = 12,
                   ax=None):
    """Residuals of the fitted runs: ln(observed/fitted) for a log-space fit, observed − fitted otherwise.

    Plotted against compute (coloured by model size) or model size (coloured by compute) for N/D laws,
    following the fit panel's ``by``; against x for one-input laws; against the prediction otherwise.
    Returns the Axes (a list for a grouped fit drawn without ``group``).
    """
    groups = panel_groups(fit, group)
    table = _table(runs)
    if table is None:
        raise RunDataError("the residual plot needs the runs the fit was made on: pass runs= (CLI: --runs RUNS.csv)")
    axs = _axes_for(ax, len(groups), figsize_one=(6.0, 5.6))
    for a, g in zip(axs, groups):
        _draw_residuals(a, fit, table, g, by, max_curves)
    return axs[0] if len(axs) == 1 else axs


def _draw_residuals(ax, fit, table, group, by, max_curves):
    import matplotlib

    res = single(fit, group)
    pts = fitted_points(fit, table, group)
    law = res.law_spec
    with np.errstate(all="ignore"):
        pred = np.asarray(law(pts.x, res.params), dtype=float).reshape(-1)
    log_space = res.stats.get("space", "log") == "log" and (pts.y > 0).all() and (pred > 0).all()
    r = np.log(pts.y / pred) if log_space else pts.y - pred
    colour = ""
    style = {"s": 24, "edgecolors": "k", "linewidths": 0.4, "zorder": 3, "gid": "residuals"}
    if is_nd(law):
        n, d = nd_from(pts.x)
        c = 6 * n * d
        size_view = choose_view(by, pts, max_curves) == "size"
        x, colour_by, xsym, csym = (c, n, "C", "N") if size_view else (n, c, "N", "C")
        ax.scatter(x, r, c=colour_by, cmap=matplotlib.colormaps[CMAP], norm=_lognorm(colour_by), **style)
        ax.set_xscale("log")
        ax.set_xlabel(label(xsym))
        colour = f" · colour: {csym}"
    elif len(law.inputs) == 1:
        sym = law.inputs[0]
        ax.scatter(pts.x[sym], r, color="C1", **style)
        if (pts.x[sym] > 0).all():
            ax.set_xscale("log")
        ax.set_xlabel(label(sym))
    else:
        ax.scatter(pred, r, color="C0", **style)
        ax.set_xlabel("fitted " + label(law.target))
    rmse = float(np.sqrt(np.mean(r**2)))
    ax.axhline(0.0, color="0.2", lw=1, zorder=2)
    ax.axhspan(-rmse, rmse, color="0.5", alpha=0.15, lw=0, zorder=1, gid="rmse-band", label=f"±RMSE = {rmse:.3g}")
    lim = 1.15 * float(np.max(np.abs(r))) or 1.0
    ax.set_ylim(-lim, lim)
    t = law.target
    ax.set_ylabel(f"residual ln({t}_obs / {t}_fit)" if log_space else f"residual {t}_obs − {t}_fit")
    where = f" · {fit.by} = {group}" if group is not None else ""
    ax.set_title(f"residuals ({'log space' if log_space else 'raw'}), n = {len(r)}, grey: ±RMSE = {rmse:.3g}"
                 f"{colour}{where}", fontsize=10)  # in the title: a legend would sit on the points
    ax.grid(True, which="major", alpha=0.25)
    if ax.get_xscale() == "log":
        log_ticks(ax.xaxis)


def plot_fit_report(fit: FitResult, runs=None, *, to: float | None = None, group: object | None = None,
                    by: str = "auto", max_curves: int = 12, level: float = 0.95, axes=None):
    """Fit panel and residual panel side by side (one row per group); the fit panel only without ``runs``.

    Returns the Figure. ``axes``, if given, is a (rows, columns) array of Axes to draw on.
    """
    _check_to(to)
    groups = panel_groups(fit, group)
    table = _table(runs)
    ncols = 1 if table is None else 2
    own = axes is None
    if own:
        axes = _report_axes(len(groups), ncols)
    else:
        axes = np.asarray(axes, dtype=object)
        if axes.size != len(groups) * ncols:
            raise FitError(f"the report has {len(groups)} row(s) of {ncols} panel(s); {axes.size} axes were given")
        axes = axes.reshape(len(groups), ncols)
    for i, g in enumerate(groups):
        plot_fit(fit, table, to=to, group=g, by=by, max_curves=max_curves, level=level, ax=axes[i][0])
        if table is not None:
            plot_residuals(fit, table, group=g, by=by, max_curves=max_curves, ax=axes[i][1])
    fig = axes[0][0].figure
    fig.suptitle(_report_title(fit, group, table is not None), fontsize=11)
    if own:
        fit_titles(fig)
    return fig


GRID_FROM = 3  # a report of this many groups or targets or more is a grid of cells, each fit over its residuals
GRID_COLUMNS = 3  # cells per row at most


def _report_axes(n: int, ncols: int) -> list[list]:
    """Per group, its [fit axes] or [fit axes, residual axes] in a new figure: one row per group side by side
    (fewer than :data:`GRID_FROM` groups), else a grid of up to :data:`GRID_COLUMNS` cells per row, each cell
    the fit panel over its residual panel, so many targets make a compact page, not a 2100×7000 px strip."""
    plt = pyplot()
    if n < GRID_FROM:
        _, axes = plt.subplots(n, ncols, figsize=(8.4 + 5.6 * (ncols - 1), 5.8 * n), squeeze=False,
                               layout="constrained", gridspec_kw={"width_ratios": [1.5, 1][:ncols]})
        return [list(row) for row in axes]
    cols = min(GRID_COLUMNS, n)
    rows = -(-n // cols)
    fig = plt.figure(figsize=(6.4 * cols, (6.6 if ncols == 2 else 4.8) * rows), layout="constrained")
    grid = fig.add_gridspec(rows, cols)
    out = []
    for i in range(n):
        cell = grid[i // cols, i % cols]
        if ncols == 1:
            out.append([fig.add_subplot(cell)])
        else:
            fit_cell, res_cell = cell.subgridspec(2, 1, height_ratios=[2.2, 1])
            out.append([fig.add_subplot(fit_cell), fig.add_subplot(res_cell)])
    return out


def _report_title(fit: FitResult, group: object | None, with_runs: bool) -> str:
    """The report's title: law, source and the number of fitted runs (of the one group drawn, if one)."""
    shown = single(fit, group) if group is not None else fit
    src = shown.data.get("source") or fit.data.get("source") or "?"
    grouped = isinstance(fit, FitSet)
    if group is None and grouped and fit.targets:  # every target fitted on its own rows (with a value): counts
        counts = sorted({int(g.data.get("n_rows", 0)) for g in fit.values()})
        n_runs = (f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}") if counts else "?"
        what = f"{n_runs} runs of {src} ({len(fit.targets)} targets)"
    elif group is None and grouped:
        n_runs = sum(int(g.data.get("n_rows", 0)) for g in fit.values()) or fit.data.get("n_rows", "?")
        what = f"{n_runs} runs of {src} ({len(fit)} groups by {fit.by})"
    else:
        where = f" with {fit.by} = {group}" if group is not None else ""
        what = f"{shown.data.get('n_rows', '?')} runs of {src}{where}"
    note = "" if with_runs else " (pass runs to show them and the residuals)"
    return f"scalefit · {fit.law} fitted on {what}{note}"
