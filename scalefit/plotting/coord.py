"""The coordinate-check figure: mean |activation| per layer against width (or depth), one panel per parametrization."""

from __future__ import annotations

from scalefit.plotting._common import pyplot


def plot_coord_check(frames: dict, steps: int, axes=None):
    """``frames``: parametrization -> the coordinate-check table (step, width or depth, layer, l1); returns the Figure.

    Flat lines (slope ~0 on log-log axes) mean activations keep their scale as width grows (muP); rising
    lines mean they blow up (SP).
    """
    if axes is None:
        fig, grid = pyplot().subplots(1, len(frames), figsize=(5 * len(frames), 4), squeeze=False, sharey=True,
                                      layout="constrained")
        axes = list(grid[0])
    for ax, (kind, frame) in zip(axes, frames.items()):
        axis = "depth" if "depth" in frame.columns else "width"
        last = frame[frame["step"] == steps]
        for layer, g in last.groupby("layer", sort=False):
            ax.plot(g[axis], g["l1"], marker="o", label=layer)
        ax.set(xscale="log", yscale="log", xlabel=axis, title=f"{kind}: after {steps} steps")
    axes[0].set_ylabel("mean |activation|")
    axes[-1].legend(fontsize=7)
    return axes[0].figure
