"""Loss curves under learning-rate schedules: observed against the lr-annealing law's predictions.

``plot_curves(fit, curves)`` draws, one colour per schedule, each run's logged loss (filled: fitted
points; hollow: points outside the fit, e.g. a held-out WSD run) and the law's predicted curve for that
run's schedule (with the bootstrap band when the fit has one), the LR schedules on a twin axis (thin
dashed), and optionally predicted curves of schedules nobody ran (``extra={"name": lr_array}``, dotted).

By default (``focus=True``) the axes show what the fit is compared with: the steps from where the fitted
points start (after warmup) to the end, with y-limits from the logged and predicted losses there (plus a
margin) — the law does not describe the early plateau, where its curve climbs far above the data.
``focus=False`` shows every logged step (y-limits from the points after warmup). Takes ``ax=None`` and
returns the Axes; matplotlib is imported only when drawing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting.fit_set import member
from scalefit.fitting.result import FitResult
from scalefit.plotting._common import log_ticks, pyplot
from scalefit.runs import filter_rows

_MARGIN = 0.05  # of the compared loss range, above and below


def _ax(ax, figsize=(8.4, 5.4)):
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def _predict(fit, lr, level) -> pd.DataFrame:
    from scalefit.planning.lr_annealing import predict_curve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return predict_curve(fit, np.asarray(lr, dtype=float), level=level)


def _first_step(frame: pd.DataFrame, fitted: pd.Index | None, focus: bool) -> float:
    """The first step shown: where the fitted points start (not before warmup ends); 0 without focus."""
    if not focus:
        return 0.0
    steps = pd.to_numeric(frame["step"])
    after = steps >= frame["warmup_end"]
    use = after & frame.index.isin(fitted) if fitted is not None else after
    if not use.any():
        use = after if after.any() else steps > 0
    return float(steps[use].min())


def _draw_run(ax, twin, rows, in_fit, pred, colour, label, start) -> list[np.ndarray]:
    """One run's points, predicted curve (band) and LR; returns the losses drawn from ``start`` on."""
    steps = pd.to_numeric(rows["step"]).to_numpy()
    loss = pd.to_numeric(rows["loss"]).to_numpy(dtype=float)
    shown = steps >= start
    for mask, kw in ((in_fit & shown, {"color": colour, "s": 16, "gid": "observed", "label": label}),
                     (~in_fit & shown, {"facecolors": "none", "edgecolors": colour, "s": 22, "gid": "held-out",
                                        "label": label and f"{label} (not fitted)"})):
        if mask.any():
            ax.scatter(steps[mask], loss[mask], zorder=4, **kw)
    ok = pred["L_pred"].notna().to_numpy() & (pred["step"].to_numpy() >= start)
    ax.plot(pred["step"][ok], pred["L_pred"][ok], color=colour, lw=1.6, gid="predicted")
    drawn = [loss[shown], pred["L_pred"][ok].to_numpy()]
    if "L_lower" in pred.columns:
        ax.fill_between(pred["step"][ok], pred["L_lower"][ok], pred["L_upper"][ok], color=colour, alpha=0.18,
                        lw=0, gid="band")
    twin.plot(pred["step"], pred["lr"], color=colour, lw=0.9, ls="--", alpha=0.7, gid="lr")
    return drawn


def _set_limits(ax, frame: pd.DataFrame, start: float, drawn: list[np.ndarray], logx: bool) -> None:
    """y from the losses compared (from ``start``; without focus, the logged points after warmup); x from start."""
    if start > 0:
        values = np.concatenate([np.asarray(v, dtype=float) for v in drawn])
        end = float(pd.to_numeric(frame["step"]).max())
        ax.set_xlim(start / 1.08, end * 1.05) if logx else ax.set_xlim(start - 0.03 * (end - start),
                                                                      end + 0.03 * (end - start))
    else:
        loss = pd.to_numeric(frame["loss"], errors="coerce")
        values = loss[pd.to_numeric(frame["step"]) >= frame["warmup_end"]].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        pad = _MARGIN * (hi - lo or abs(hi) or 1.0)
        ax.set_ylim(lo - pad, hi + pad)


def plot_curves(fit: FitResult, curves, *, where: str | None = None, extra: dict | None = None,
                group: object | None = None, level: float = 0.95, logx: bool = True, focus: bool = True, ax=None):
    """Observed vs predicted loss curves, one colour per schedule, LR on a twin axis; returns the Axes."""
    from scalefit.planning.curves import read_curves, run_ids, run_schedule
    from scalefit.planning.lr_annealing import prepare_curves

    single = member(fit, group)
    lam = float(single.law_spec.options.get("lam", 0.999))
    table = read_curves(curves)
    shown = prepare_curves(table, lam, skip_warmup=False)
    if where is not None:
        shown = filter_rows(shown, where)
    frame = shown.frame
    if not frame.shape[0]:
        raise RunDataError("no curve points to plot")
    fitted = filter_rows(shown, single.data.get("where")).frame.index if single.data.get("where") else None
    start = _first_step(frame, fitted, focus)
    runs, all_runs = run_ids(shown), run_ids(table)
    labels = frame["schedule"].astype(str) if "schedule" in frame.columns else runs
    kinds = list(dict.fromkeys(labels))
    cmap = pyplot().get_cmap("tab10")
    ax = _ax(ax)
    twin = ax.twinx()
    seen, drawn = set(), []
    for run, rows in frame.groupby(runs, sort=False):
        kind = labels.loc[rows.index[0]]
        pred = _predict(single, run_schedule(table, table.frame[all_runs == run], str(run)), level)
        in_fit = np.ones(len(rows), bool) if fitted is None else rows.index.isin(fitted)
        drawn += _draw_run(ax, twin, rows, in_fit, pred, cmap(kinds.index(kind) % 10),
                           None if kind in seen else kind, start)
        seen.add(kind)
    for i, (name, lr) in enumerate((extra or {}).items()):
        colour = cmap((len(kinds) + i) % 10)
        pred = _predict(single, lr, level)
        ok = pred["L_pred"].notna().to_numpy() & (pred["step"].to_numpy() >= start)
        ax.plot(pred["step"][ok], pred["L_pred"][ok], color=colour, lw=1.6, ls=":", gid="extra",
                label=f"{name} (predicted)")
        drawn.append(pred["L_pred"][ok].to_numpy())
        twin.plot(pred["step"], pred["lr"], color=colour, lw=0.9, ls="--", alpha=0.7, gid="lr")
    _set_limits(ax, frame, start, drawn, logx)
    _label(ax, twin, single.params, lam, start, logx)
    return ax


def _label(ax, twin, p: dict, lam: float, start: float, logx: bool) -> None:
    if logx:
        ax.set_xscale("log")
        twin.set_xscale("log")
        log_ticks(ax.xaxis, lambda v, _pos=None: f"{v:g}", min_labels=4)
    ax.set_xlabel("step (updates)" + (f", from step {start:g} where the fitted points start" if start else ""))
    ax.set_ylabel("loss (nats/token)")
    twin.set_ylabel("learning rate (dashed)")
    twin.set_ylim(bottom=0)
    ax.set_title(f"lr-annealing: L0={p['L0']:.3g}, A={p['A']:.3g}, α={p['alpha']:.3g}, C={p['C']:.3g}, λ={lam:.4g}",
                 fontsize=10)
    ax.legend(loc="lower left", fontsize=8)  # below the descending curves, under the LR lines (twin, at the top)
