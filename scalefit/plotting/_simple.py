"""Fit panels for one-input laws (target against x, extrapolated to ``to``) and for any other law
(predicted against observed)."""

from __future__ import annotations

import numpy as np

from scalefit.errors import RunDataError
from scalefit.fitting.intervals import label as interval_label
from scalefit.plotting._common import Points, band, fmt, label, log_ticks

_TO = "crimson"


def draw_one(ax, res, pts: Points | None, *, to: float | None, level: float) -> None:
    """Runs and the fitted curve of a one-input law, extrapolated to ``to`` with its bootstrap band."""
    law = res.law_spec
    sym = law.inputs[0]
    lo, hi = (float(pts.x[sym].min()), float(pts.x[sym].max())) if pts is not None else res.data["ranges"][sym]
    end = max(hi, to) if to is not None else hi
    logx = lo > 0
    grid = np.geomspace(lo / 1.2, end, 240) if logx else np.linspace(lo, end, 240)
    with np.errstate(all="ignore"):
        yhat = np.asarray(law({sym: grid}, res.params), dtype=float)
    inside = grid <= hi * (1 + 1e-9)
    ax.plot(grid[inside], yhat[inside], color="C0", lw=2, zorder=3, gid="fit-curve", label="fitted law")
    if (~inside).any():
        k = max(int(inside.sum()) - 1, 0)
        ax.plot(grid[k:], yhat[k:], color="C0", lw=2, ls="--", zorder=3, gid="fit-curve-extrapolated",
                label="extrapolation")
        ax.axvspan(hi, end * (1.3 if logx else 1.0), color="0.6", alpha=0.12, lw=0, zorder=0, gid="extrapolation",
                   label=f"beyond the fitted {sym}")
    pb = band(res, {sym: grid}, level, "prediction")
    if pb is not None:
        ax.fill_between(grid, *pb, color="C0", alpha=0.15, lw=0, zorder=1, gid="prediction-band",
                        label=interval_label("prediction", level))
    b = band(res, {sym: grid}, level)
    if b is not None:
        ax.fill_between(grid, *b, color="C0", alpha=0.25, lw=0, zorder=2, gid="bootstrap-band",
                        label=interval_label("mean", level))
    if pts is not None:
        ax.scatter(pts.x[sym], pts.y, s=26, color="C1", edgecolors="k", linewidths=0.4, zorder=4, gid="runs",
                   label=f"runs (n = {len(pts)})")
    if to is not None:
        y_t = float(np.asarray(law({sym: np.array([to])}, res.params)).reshape(-1)[0])
        bt = band(res, {sym: np.array([to])}, level, "prediction") or band(res, {sym: np.array([to])}, level)
        yerr = None if bt is None else [[y_t - bt[0][0]], [bt[1][0] - y_t]]
        text = f"prediction at {sym} = {to:.3g}:\n{law.target} = {fmt(y_t)}"
        if bt is not None:
            text += f" [{fmt(bt[0][0])}, {fmt(bt[1][0])}]"
        ax.errorbar([to], [y_t], yerr=yerr, fmt="*", ms=13, color=_TO, mec="k", mew=0.5, capsize=4, zorder=6,
                    gid="to-point", label=text)
    if logx:
        ax.set_xscale("log")
        log_ticks(ax.xaxis)
    finite = yhat[np.isfinite(yhat)]
    if law.positive_target and finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        ax.set_yscale("log")
    ax.set_xlabel(label(sym))
    ax.set_ylabel(label(law.target))
    ax.legend(loc="lower left", fontsize=7.5, framealpha=0.9)


def draw_generic(ax, res, pts: Points | None, *, level: float) -> None:
    """Predicted against observed target, with the identity line and bootstrap intervals of the predictions."""
    law = res.law_spec
    if pts is None:
        raise RunDataError(f"plotting law {law.name!r} (inputs {', '.join(law.inputs)}) needs the runs it was "
                           "fitted on: pass runs= (CLI: --runs RUNS.csv)")
    with np.errstate(all="ignore"):
        pred = np.asarray(law(pts.x, res.params), dtype=float).reshape(-1)
    b = band(res, pts.x, level)
    yerr = None if b is None else np.abs(np.vstack([pred - b[0], b[1] - pred]))
    text = f"runs (n = {len(pts)})" + ("" if b is None else f", {interval_label('mean', level)}")
    ax.errorbar(pts.y, pred, yerr=yerr, fmt="o", ms=5, color="C0", mec="k", mew=0.4, elinewidth=0.8, alpha=0.85,
                zorder=3, gid="runs", label=text)
    lo = float(np.nanmin([pts.y.min(), np.nanmin(pred)]))
    hi = float(np.nanmax([pts.y.max(), np.nanmax(pred)]))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=1, ls="--", zorder=2, gid="identity",
            label="predicted = observed")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("observed " + label(law.target))
    ax.set_ylabel("predicted " + label(law.target))
    ax.legend(loc="lower right", fontsize=7.5, framealpha=0.9)
