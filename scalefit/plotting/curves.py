"""Loss curves under learning-rate schedules: observed against the lr-annealing law's predictions.

``plot_curves(fit, curves)`` draws, one colour per schedule, each run's logged loss (filled: fitted
points; hollow: points outside the fit, e.g. a held-out WSD run) and the law's predicted curve for that
run's schedule (with the bootstrap band when the fit has one), the LR schedules on a twin axis (thin
dashed), and optionally predicted curves of schedules nobody ran (``extra={"name": lr_array}``, dotted).
Takes ``ax=None`` and returns the Axes; matplotlib is imported only when drawing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting.result import FitResult
from scalefit.plotting._common import pyplot
from scalefit.runs import filter_rows


def _ax(ax, figsize=(8.4, 5.4)):
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def plot_curves(fit: FitResult, curves, *, where: str | None = None, extra: dict | None = None,
                group: object | None = None, level: float = 0.95, logx: bool = True, ax=None):
    """Observed vs predicted loss curves, one colour per schedule, LR on a twin axis; returns the Axes."""
    from scalefit.planning.curves import read_curves, run_ids, run_schedule
    from scalefit.planning.lr_annealing import predict_curve, prepare_curves
    from scalefit.runs.table import RunTable

    single = fit._single(group)
    lam = float(single.law_spec.options.get("lam", 0.999))
    table = curves if isinstance(curves, RunTable) else (
        RunTable.from_frame(curves) if isinstance(curves, pd.DataFrame) else read_curves(curves))
    shown = prepare_curves(table, lam, skip_warmup=False)
    if where is not None:
        shown = filter_rows(shown, where)
    fitted = filter_rows(shown, single.data.get("where")).frame.index if single.data.get("where") else None
    frame = shown.frame
    runs = run_ids(shown)
    all_runs = run_ids(table)
    labels = frame["schedule"].astype(str) if "schedule" in frame.columns else runs
    kinds = list(dict.fromkeys(labels))
    plt = pyplot()
    colours = {k: plt.get_cmap("tab10")(i % 10) for i, k in enumerate(kinds)}
    ax = _ax(ax)
    twin = ax.twinx()
    seen = set()
    for run, rows in frame.groupby(runs, sort=False):
        kind = labels.loc[rows.index[0]]
        colour = colours[kind]
        lr = run_schedule(table, table.frame[all_runs == run], str(run))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = predict_curve(fit, lr, level=level, group=group)
        steps = pd.to_numeric(rows["step"]).to_numpy()
        loss = pd.to_numeric(rows["loss"]).to_numpy(dtype=float)
        in_fit = np.ones(len(rows), bool) if fitted is None else rows.index.isin(fitted)
        first = kind not in seen
        seen.add(kind)
        if in_fit.any():
            ax.scatter(steps[in_fit], loss[in_fit], color=colour, s=16, zorder=4, gid="observed",
                       label=kind if first else None)
        if (~in_fit).any():
            ax.scatter(steps[~in_fit], loss[~in_fit], facecolors="none", edgecolors=colour, s=22, zorder=4,
                       gid="held-out", label=f"{kind} (not fitted)" if first else None)
        ok = pred["L_pred"].notna()
        ax.plot(pred["step"][ok], pred["L_pred"][ok], color=colour, lw=1.6, gid="predicted")
        if "L_lower" in pred.columns:
            ax.fill_between(pred["step"][ok], pred["L_lower"][ok], pred["L_upper"][ok], color=colour, alpha=0.18,
                            lw=0, gid="band")
        twin.plot(pred["step"], pred["lr"], color=colour, lw=0.9, ls="--", alpha=0.7, gid="lr")
    for i, (name, lr) in enumerate((extra or {}).items()):
        colour = plt.get_cmap("tab10")((len(kinds) + i) % 10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = predict_curve(fit, np.asarray(lr, dtype=float), level=level, group=group)
        ok = pred["L_pred"].notna()
        ax.plot(pred["step"][ok], pred["L_pred"][ok], color=colour, lw=1.6, ls=":", gid="extra",
                label=f"{name} (predicted)")
        twin.plot(pred["step"], pred["lr"], color=colour, lw=0.9, ls="--", alpha=0.7, gid="lr")
    if not frame.shape[0]:
        raise RunDataError("no curve points to plot")
    finite = pd.to_numeric(frame["loss"], errors="coerce")
    after = finite[frame["step"] >= frame["warmup_end"]]
    if after.notna().any():
        lo, hi = float(after.min()), float(after.max())
        pad = 0.05 * (hi - lo or hi)
        ax.set_ylim(lo - pad, hi + pad)
    if logx:
        ax.set_xscale("log")
        twin.set_xscale("log")
    ax.set_xlabel("step (updates)")
    ax.set_ylabel("loss (nats/token)")
    twin.set_ylabel("learning rate (dashed)")
    twin.set_ylim(bottom=0)
    p = single.params
    ax.set_title(f"lr-annealing: L0={p['L0']:.3g}, A={p['A']:.3g}, α={p['alpha']:.3g}, C={p['C']:.3g}, λ={lam:.4g}",
                 fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    return ax
