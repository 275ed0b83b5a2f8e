"""The model ladder's figure: one row per task, step 1 (task loss over compute, one curve per model size, the
target model marked) beside step 2 (the accuracy sigmoid over the checkpoints, the target's prediction marked).
matplotlib is imported only when drawing."""

from __future__ import annotations

import warnings

import numpy as np

from scalefit.fitting.intervals import label as interval_label
from scalefit.plotting._common import band, fmt, pyplot


def plot_ladder(result, *, axes=None, group: object | None = None, level: float = 0.95):
    """Draw ``result`` (a LadderResult): ``axes`` an (n_tasks, 2) array of Axes, or None for a new figure."""
    plt = pyplot()
    tasks = [str(group)] if group is not None else result.tasks
    if axes is None:
        fig, axes = plt.subplots(len(tasks), 2, figsize=(12, 4.6 * len(tasks)), squeeze=False)
    else:
        axes = np.asarray(axes, dtype=object).reshape(len(tasks), 2)
        fig = axes[0, 0].figure
    target = _target(result, level)
    for row, task in enumerate(tasks):
        pred = None if target is None else target[target["task"] == task].iloc[0]
        _step1(axes[row, 0], result, task, pred, level)
        _step2(axes[row, 1], result, task, pred, level)
    fig.tight_layout()
    return fig


def _target(result, level):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the target lies beyond the ladder: that is the point
        return result.target_prediction(level)


def _step1(ax, result, task: str, pred, level: float) -> None:
    fit, pts = result.loss_fit[task], result.points[task]
    N, D, L = (np.asarray(pts[k], dtype=float) for k in ("N", "D", "L"))
    sizes = sorted(set(N.tolist()))
    colors = pyplot().cm.viridis(np.linspace(0.1, 0.85, len(sizes) + 1))
    d_hi = D.max() * (3 if pred is None else max(3.0, float(pred["D"]) / D.max() * 1.5))
    for size, color in zip(sizes, colors):
        sel = N == size
        ax.scatter(6 * N[sel] * D[sel], L[sel], color=color, s=36, zorder=3, label=f"N = {fmt(size)}")
        d = np.geomspace(D[sel].min() / 1.5, d_hi, 100)
        _curve(ax, fit, {"N": np.full_like(d, size), "D": d}, 6 * size * d, color, level)
    if pred is not None:
        n_t, d_t = float(pred["N"]), float(pred["D"])
        d = np.geomspace(min(d_t, D.max()) / 3, d_hi, 100)
        _curve(ax, fit, {"N": np.full_like(d, n_t), "D": d}, 6 * n_t * d, colors[-1], level, dashed=True)
        _marker(ax, 6 * n_t * d_t, pred, "L", f"target N = {fmt(n_t)}, D = {fmt(d_t)}")
    low = min(L.min(), float(pred["L_pred"])) if pred is not None else L.min()
    ax.set_ylim(0.85 * low, 1.25 * L.max())
    ax.set_xscale("log")
    ax.set_xlabel("training compute C = 6ND (FLOPs)")
    ax.set_ylabel(f"task loss ({task})")
    ax.set_title(f"{task}, step 1: task loss L(N, D), each run's last checkpoint")
    ax.legend(fontsize=8, loc="upper right")


def _step2(ax, result, task: str, pred, level: float) -> None:
    fit, pts = result.acc_fit[task], result.points[task]
    L, acc = np.asarray(pts["ckpt_L"], dtype=float), np.asarray(pts["ckpt_Acc"], dtype=float)
    ax.scatter(L, acc, s=14, color="tab:gray", alpha=0.7, zorder=3, label="checkpoints")
    lo = min(L.min(), float(pred["L_pred"]) if pred is not None else L.min())
    grid = np.linspace(max(0.0, lo * 0.85), L.max() * 1.05, 200)
    _curve(ax, fit, {"L": grid}, grid, "tab:blue", level, label=f"{fit.law} fit")
    if pred is not None:
        ax.errorbar([pred["L_pred"]], [pred["acc_pred"]], xerr=[[pred["L_pred"] - pred.get("L_lower", pred["L_pred"])],
                    [pred.get("L_upper", pred["L_pred"]) - pred["L_pred"]]], fmt="none", ecolor="tab:red", zorder=4)
        _marker(ax, float(pred["L_pred"]), pred, "acc", "target (predicted)")
    ax.set_xlabel(f"task loss ({task})")
    ax.set_ylabel(f"accuracy ({task})")
    ax.set_ylim(0, 1)
    ax.set_title(f"{task}, step 2: Acc(L) on all checkpoints (first {100 * result.options['skip_first']:g}% "
                 "skipped)")
    ax.legend(fontsize=8, loc="upper right")


def _curve(ax, fit, inputs: dict, x: np.ndarray, color, level: float, *, dashed: bool = False,
           label: str | None = None) -> None:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        y = fit.law_spec(inputs, fit.params)
        b = band(fit, inputs, level)
    ax.plot(x, y, color=color, lw=1.6, ls="--" if dashed else "-", label=label)
    if b is not None:
        text = interval_label("mean", level)
        shown = any(c.get_label() == text for c in ax.collections)  # one legend entry for every size's band
        ax.fill_between(x, b[0], b[1], color=color, alpha=0.15, lw=0, label=None if shown else text)


def _marker(ax, x: float, pred, prefix: str, text: str) -> None:
    y = float(pred[f"{prefix}_pred"])
    lo, hi = pred.get(f"{prefix}_lower"), pred.get(f"{prefix}_upper")
    if lo is not None and hi is not None:
        ax.errorbar([x], [y], yerr=[[y - lo], [hi - y]], fmt="none", ecolor="tab:red", capsize=4, zorder=4)
    ax.scatter([x], [y], marker="*", s=220, color="tab:red", edgecolor="k", zorder=5, label=f"{text}: {y:.3g}")


__all__ = ["plot_ladder"]
