"""The LR-transfer figure: loss against learning rate per width, one panel per parametrization (SP, muP).

Each width's curve is drawn with its optimum lr* (dashed line, bootstrap interval shaded) and a star on the
fitted curve at lr*: where lr* is the vertex of the window parabola (``scalefit.planning.lr_transfer``: a
least-squares parabola in log2 lr over the grid minimum ± ``half_window`` points, failed runs left out),
that parabola is drawn (dotted) and the star sits at its value at lr*; where lr* is a grid point (argmin or
edge), the star sits on the observed curve. Failed runs (diverged, loss = L0) are marked on the top edge,
and listed in the legend only when a panel has any. Takes ``axes=None`` and returns the Figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalefit.fitting.intervals import label as interval_label
from scalefit.plotting._common import CMAP, axes_row, pyplot


def fitted_optimum(curve: pd.DataFrame, width: dict, half_window: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(lr grid, fitted loss on it, fitted loss at lr*) for one width's curve (sorted by lr).

    The window parabola when lr* is its vertex; otherwise the observed curve of the runs that did not fail.
    """
    log_lr, loss = np.log2(curve["lr"].to_numpy(dtype=float)), curve["loss"].to_numpy(dtype=float)
    bad = curve["n_failed"].to_numpy() > 0
    x_opt = float(np.log2(width["lr_opt"]))
    if width.get("how") == "parabola":
        i = int(np.argmin(loss))
        use = np.arange(max(0, i - half_window), min(len(loss), i + half_window + 1))
        use = use[~bad[use]]
        if use.size >= 3:
            coef = np.polyfit(log_lr[use], loss[use], 2)
            grid = np.linspace(log_lr[use].min(), log_lr[use].max(), 60)
            return 2.0**grid, np.polyval(coef, grid), float(np.polyval(coef, x_opt))
    ok = ~bad
    return 2.0 ** log_lr[ok], loss[ok], float(np.interp(x_opt, log_lr[ok], loss[ok]))


def _draw_width(ax, c: pd.DataFrame, w: dict, k: int, color, half_window: int) -> list[float]:
    """One width on ``ax``; returns the loss values drawn (for the y-limits)."""
    good, bad = c[c["n_failed"] == 0], c[c["n_failed"] > 0]
    ax.plot(good["lr"], good["loss"], "o-", ms=3, lw=1.2, color=color, label=f"width {w['width']:g}", gid="curve")
    if len(bad):  # failed runs sit at the initial loss, far above: mark them on the top edge
        ax.plot(bad["lr"], np.full(len(bad), 0.985 - 0.02 * k), "x", color=color, ms=5, gid="failed",
                transform=ax.get_xaxis_transform())
    ax.axvline(w["lr_opt"], color=color, lw=0.8, ls="--")
    if "lr_opt_lower" in w:
        ax.axvspan(w["lr_opt_lower"], w["lr_opt_upper"], color=color, alpha=0.12, lw=0)
    lr, fitted, y_opt = fitted_optimum(c, w, half_window)
    if w.get("how") == "parabola":
        ax.plot(lr, fitted, ":", color=color, lw=1.4, zorder=4, gid="lr-fit")
    ax.plot([w["lr_opt"]], [y_opt], "*", color=color, ms=11, mec="k", mew=0.5, zorder=5, gid="optimum")
    return [*good["loss"], *fitted, y_opt]


def _legend(ax, widths: list, any_failed: bool, level: float) -> None:
    """Legend outside the axes (right), with entries only for what the panel draws."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    star = {"marker": "*", "ms": 9, "mfc": "0.6", "mec": "k", "mew": 0.5}
    if any(w.get("how") == "parabola" for w in widths):
        handles.append(Line2D([], [], ls=":", color="0.3", lw=1.4, label="parabola fit near the minimum"))
    handles.append(Line2D([], [], ls="--", color="0.3", lw=0.8, label="lr* (★ on the fitted curve)", **star))
    if any("lr_opt_lower" in w for w in widths):
        handles.append(Patch(color="0.3", alpha=0.15, lw=0, label=f"lr*: {interval_label('parameter', level)}"))
    if any_failed:
        handles.append(Line2D([], [], ls="none", marker="x", color="0.3", ms=5, label="failed runs (top edge)"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def plot_lr_transfer(result, axes=None):
    """Loss vs learning rate per width (one panel per parametrization), optima with their intervals."""
    curves = pd.DataFrame(result.curves)
    half_window = int(result.options.get("half_window", 2))
    names = sorted(result.params, key=lambda n: (n.lower() != "sp", n))  # SP first, then muP and others
    fig, axes = axes_row(axes, len(names), (6.6, 4.2))
    cmap = pyplot().get_cmap(CMAP)
    for ax, name in zip(axes, names):
        info = result.params[name]
        n = len(info["widths"])
        drawn = []
        for k, w in enumerate(info["widths"]):
            c = curves[(curves["param"] == name) & (curves["width"] == w["width"])].sort_values("lr")
            drawn += _draw_width(ax, c, w, k, cmap(k / max(1, n - 1)), half_window)
        if drawn:
            lo, hi = float(np.min(drawn)), float(np.max(drawn))
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
        ax.set_title(f"{name}{sub}", fontsize=9)
        _legend(ax, info["widths"], bool((curves[curves["param"] == name]["n_failed"] > 0).any()),
                float(result.options.get("level", 0.95)))
        ax.grid(alpha=0.3, which="both")
    return fig
