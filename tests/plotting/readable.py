"""Checks of a drawn figure's legibility: tick labels that overlap, legends that sit on the data."""

from __future__ import annotations

import numpy as np


def renderer(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def visible_tick_labels(axis, rend) -> list:
    """(text, window extent) of the labelled ticks inside the axis' view interval, major and minor."""
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for locs, labels in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                         (axis.get_minorticklocs(), axis.get_minorticklabels())):
        for loc, text in zip(locs, labels):
            if text.get_visible() and text.get_text() and lo <= loc <= hi:
                out.append((text.get_text(), text.get_window_extent(rend)))
    return out


def overlapping_tick_labels(ax, rend, tol: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of visible tick labels of ``ax`` (either axis) whose boxes overlap by more than ``tol`` pixels."""
    pairs = []
    for axis in (ax.xaxis, ax.yaxis):
        labels = visible_tick_labels(axis, rend)
        for i, (t1, b1) in enumerate(labels):
            for t2, b2 in labels[i + 1:]:
                dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
                dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
                if dx > tol and dy > tol:
                    pairs.append((t1, t2))
    return pairs


def data_points(ax) -> np.ndarray:
    """Display coordinates of the points and line vertices drawn in ``ax`` (inside its view)."""
    pts = [np.asarray(c.get_offsets(), dtype=float) for c in ax.collections if hasattr(c, "get_offsets")
           and len(c.get_offsets()) and c.get_offset_transform() is ax.transData]
    pts += [np.asarray(line.get_xydata(), dtype=float) for line in ax.lines if line.get_transform() is ax.transData]
    if not pts:
        return np.empty((0, 2))
    xy = np.concatenate(pts)
    xy = xy[np.isfinite(xy).all(axis=1)]
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    xy = xy[(xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)]
    return ax.transData.transform(xy) if len(xy) else np.empty((0, 2))


def points_under_legend(ax, rend) -> int:
    """How many of the axes' data points lie under its legend."""
    legend = ax.get_legend()
    if legend is None:
        return 0
    box = legend.get_window_extent(rend)
    xy = data_points(ax)
    return int(((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)).sum())


def legend_outside_axes(ax, rend) -> bool:
    legend = ax.get_legend()
    if legend is None:
        return True
    lb, ab = legend.get_window_extent(rend), ax.get_window_extent(rend)
    return min(lb.x1, ab.x1) - max(lb.x0, ab.x0) <= 0.5 or min(lb.y1, ab.y1) - max(lb.y0, ab.y0) <= 0.5


def titles(fig) -> list:
    """The figure's title and every axes title that has text (matplotlib Text objects)."""
    out = [ax.title for ax in fig.axes if ax.get_title()]
    sup = getattr(fig, "_suptitle", None)
    return out + ([sup] if sup is not None and sup.get_text() else [])


def titles_outside_figure(fig, rend, tol: float = 0.5) -> list[str]:
    """The titles whose drawn extent reaches beyond the figure's edges (clipped in the saved image)."""
    box = fig.bbox
    out = []
    for t in titles(fig):
        e = t.get_window_extent(rend)
        if e.x0 < box.x0 - tol or e.x1 > box.x1 + tol or e.y0 < box.y0 - tol or e.y1 > box.y1 + tol:
            out.append(t.get_text())
    return out


def overlapping_titles(fig, rend, tol: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of titles whose drawn extents overlap."""
    boxes = [(t.get_text(), t.get_window_extent(rend)) for t in titles(fig)]
    return [(a, b) for i, (a, ea) in enumerate(boxes) for b, eb in boxes[i + 1:]
            if min(ea.x1, eb.x1) - max(ea.x0, eb.x0) > tol and min(ea.y1, eb.y1) - max(ea.y0, eb.y0) > tol]
