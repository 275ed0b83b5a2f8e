"""The fit panel of a law in N and D (any two of N, D, C, M): fitted surface, frontier, extrapolation.

Two views, chosen by ``by``:

* ``"size"``: loss against compute C = 6ND, runs coloured by model size, one fitted curve per distinct
  model size across that size's token range (sizes within 0.1% count as one; more than ``max_curves``
  sizes are grouped into log-spaced bins, one curve at each bin's geometric-mean size).
* ``"compute"``: loss against model size N, runs coloured by compute, one fitted IsoFLOP curve per
  distinct budget (budgets within 1% count as one). Suits IsoFLOP sweeps.

``"auto"`` picks ``"compute"`` when the runs share at most ``max_curves`` budgets and fewer budgets than
model sizes, else ``"size"``. Both draw the compute-optimal frontier (when the law has one), extrapolated
to ``to`` FLOPs, with the bootstrap band when the fit has a bootstrap.
"""

from __future__ import annotations

import numpy as np

from scalefit.errors import ConfigError
from scalefit.fitting.intervals import label as interval_label
from scalefit.plotting._common import (
    CMAP,
    Points,
    boot_params,
    central_params,
    clusters,
    fmt,
    label,
    log_ticks,
    nd_from,
    nd_inputs,
    nd_ranges,
    percentiles,
)
from scalefit.plotting._frontier import frontier

VIEWS = ("auto", "size", "compute")
_PAD = 1.25  # curves extend this factor beyond the runs of their size (or budget)
_TO = "crimson"


def choose_view(by: str, pts: Points | None, max_curves: int) -> str:
    if by not in VIEWS:
        raise ConfigError(f"by={by!r}: choose one of {', '.join(VIEWS)}")
    if by != "auto":
        return by
    if pts is None:
        return "size"
    n, d = nd_from(pts.x)
    n_budgets = len(clusters(6 * n * d, 10**9, rtol=1e-2))
    return "compute" if n_budgets <= max_curves and n_budgets < len(clusters(n, 10**9)) else "size"


def draw_nd(ax, res, pts: Points | None, *, to: float | None, by: str, max_curves: int, level: float,
            colorbar: bool) -> str:
    """Draw the fit panel on ``ax``; returns the view drawn."""
    view = choose_view(by, pts, max_curves)
    (draw_by_size if view == "size" else draw_by_compute)(ax, res, pts, to, max_curves, level, colorbar)
    return view


def _lognorm(values):
    from matplotlib.colors import LogNorm

    lo, hi = float(np.min(values)), float(np.max(values))
    if hi <= lo * 1.0001:
        lo, hi = lo / 2, hi * 2
    return LogNorm(lo, hi)


def _colorbar(ax, norm, symbol):
    import matplotlib

    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=matplotlib.colormaps[CMAP])
    cb = ax.figure.colorbar(sm, ax=ax, pad=0.015, fraction=0.05)
    cb.set_label(label(symbol))


def _legend(ax, proxy_label, color):
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    proxy = Line2D([], [], color=color, lw=1.6, label=proxy_label)
    at = 1 if labels and labels[0].startswith("runs") else 0
    handles.insert(at, proxy)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=7.5, frameon=False)


def _frontier_curves(res, grid, level):
    """Central (N*, D*, L*) over ``grid`` and the band of L* (None without bootstrap), or None if no optimum."""
    law = res.law_spec
    n, d, loss = (a[0] for a in frontier(law, central_params(res), grid))
    if not np.isfinite(loss).any():
        return None
    boot = boot_params(res)
    lo_hi = None
    if boot is not None:
        lo_hi = percentiles(frontier(law, boot, grid)[2], level)
        if not np.isfinite(lo_hi[0]).any():
            lo_hi = None
    return n, d, loss, lo_hi


def _to_point(res, to, level):
    """(N*, D*, L*) at ``to`` and their bootstrap intervals (or None)."""
    law = res.law_spec
    n, d, loss = (float(a[0, 0]) for a in frontier(law, central_params(res), np.array([to])))
    boot = boot_params(res)
    iv = None
    if boot is not None:
        bn, _, bl = frontier(law, boot, np.array([to]))
        iv = tuple(float(v[0]) for v in (*percentiles(bn, level), *percentiles(bl, level)))
    return n, d, loss, iv


def _to_label(head, n, d, loss, iv):
    """Legend text of the extrapolated optimum: N*, D*, L* with intervals when bootstrapped."""
    if iv is None:
        return f"{head}\nN* = {n:.3g}, D* = {d:.3g}, L* = {fmt(loss)}"
    return (f"{head}\nN* = {n:.3g} [{iv[0]:.3g}, {iv[1]:.3g}], D* = {d:.3g}\n"
            f"L* = {fmt(loss)} [{fmt(iv[2])}, {fmt(iv[3])}]")


# ---- loss vs compute, one curve per model size --------------------------------------------
def _sizes(res, pts, max_curves):
    if pts is None:
        (nlo, nhi), drange = nd_ranges(res)
        return [(float(v), drange) for v in np.geomspace(nlo, nhi, 5)], False
    n, d = nd_from(pts.x)
    groups = clusters(n, max_curves)
    binned = len(groups) < len(clusters(n, 10**9))
    return [(float(np.exp(np.mean(np.log(n[g])))), (d[g].min() / _PAD, d[g].max() * _PAD)) for g in groups], binned


def draw_by_size(ax, res, pts, to, max_curves, level, colorbar):
    import matplotlib

    law, cmap = res.law_spec, matplotlib.colormaps[CMAP]
    sizes, binned = _sizes(res, pts, max_curves)
    norm = _lognorm([s for s, _ in sizes] if pts is None else nd_from(pts.x)[0])
    c_seen = []
    for n_val, (dlo, dhi) in sizes:
        d = np.geomspace(dlo, dhi, 60)
        n = np.full_like(d, n_val)
        c = 6 * n * d
        c_seen += [c[0], c[-1]]
        ax.plot(c, law(nd_inputs(law, n, d), res.params), color=cmap(norm(n_val)), lw=1.3, alpha=0.9, zorder=2,
                gid="model-size-curve")
    if pts is not None:
        n, d = nd_from(pts.x)
        c = 6 * n * d
        ax.scatter(c, pts.y, c=n, cmap=cmap, norm=norm, s=24, edgecolors="k", linewidths=0.4, zorder=4,
                   gid="runs", label=f"runs (n = {len(pts)})")
        c_lo, c_hi = float(c.min()), float(c.max())
    else:
        c_lo, c_hi = min(c_seen), max(c_seen)
    c_start, c_end = min(c_seen + [c_lo]), max(c_hi, to or 0.0)
    grid = np.geomspace(c_start, c_end, 200)
    f = _frontier_curves(res, grid, level)
    if f is not None:
        _, _, loss, lo_hi = f
        inside = grid <= c_hi * 1.0001
        ax.plot(grid[inside], loss[inside], color="k", lw=2.0, zorder=5, gid="frontier",
                label="compute-optimal frontier L*(C)")
        if (~inside).any():
            k = max(int(inside.sum()) - 1, 0)
            ax.plot(grid[k:], loss[k:], color="k", lw=2.0, ls="--", zorder=5, gid="frontier-extrapolated",
                    label="frontier, extrapolated")
        if lo_hi is not None:
            ax.fill_between(grid, *lo_hi, color="0.3", alpha=0.2, lw=0, zorder=1, gid="bootstrap-band",
                            label=f"L*: {interval_label('mean', level)}")
    if c_end > c_hi * 1.0001:
        ax.axvspan(c_hi, c_end * 1.3, color="0.6", alpha=0.12, lw=0, zorder=0, gid="extrapolation",
                   label="beyond the fitted compute")
    if to is not None and f is not None:
        n_t, d_t, l_t, iv = _to_point(res, to, level)
        yerr = None if iv is None else [[l_t - iv[2]], [iv[3] - l_t]]
        ax.errorbar([to], [l_t], yerr=yerr, fmt="*", ms=13, color=_TO, mec="k", mew=0.5, capsize=4, zorder=6,
                    gid="to-point", label=_to_label(f"optimum at C = {to:.3g} FLOPs", n_t, d_t, l_t, iv))
    ax.set_xscale("log")
    ax.set_xlim(c_start / 1.5, c_end * 1.5)
    log_ticks(ax.xaxis)
    ax.set_xlabel(label("C"))
    ax.set_ylabel(label(law.target))
    what = "size bin" if binned else "model size" if pts is not None else "size across the fitted range"
    _legend(ax, f"fitted L, one curve per {what} ({len(sizes)})", cmap(0.55))
    if colorbar:
        _colorbar(ax, norm, "N")


# ---- loss vs model size, one IsoFLOP curve per budget ---------------------------------------
def _budgets(res, pts, max_curves):
    if pts is None:
        (nlo, nhi), (dlo, dhi) = nd_ranges(res)
        out = []
        for c in np.geomspace(6 * nlo * dlo, 6 * nhi * dhi, 7)[1:-1]:
            lo, hi = max(nlo, c / (6 * dhi)), min(nhi, c / (6 * dlo))
            if hi > lo:
                out.append((float(c), (lo, hi)))
        return out
    n, d = nd_from(pts.x)
    c = 6 * n * d
    return [(float(np.exp(np.mean(np.log(c[g])))), (n[g].min() / _PAD, n[g].max() * _PAD))
            for g in clusters(c, max_curves, rtol=1e-2)]


def draw_by_compute(ax, res, pts, to, max_curves, level, colorbar):
    import matplotlib

    law, cmap = res.law_spec, matplotlib.colormaps[CMAP]
    budgets = _budgets(res, pts, max_curves)
    c_all = [b for b, _ in budgets] if pts is None else 6 * np.prod(nd_from(pts.x), axis=0)
    norm = _lognorm(c_all)
    n_seen = []
    for c_val, (nlo, nhi) in budgets:
        n = np.geomspace(nlo, nhi, 80)
        n_seen += [nlo, nhi]
        ax.plot(n, law(nd_inputs(law, n, c_val / (6 * n)), res.params), color=cmap(norm(c_val)), lw=1.3,
                zorder=2, gid="compute-curve")
    if pts is not None:
        n, d = nd_from(pts.x)
        ax.scatter(n, pts.y, c=6 * n * d, cmap=cmap, norm=norm, s=24, edgecolors="k", linewidths=0.4, zorder=4,
                   gid="runs", label=f"runs (n = {len(pts)})")
    c_lo, c_hi = float(np.min(c_all)), float(np.max(c_all))
    c_end = max(c_hi, to or 0.0)
    grid = np.geomspace(c_lo, c_end, 200)
    f = _frontier_curves(res, grid, level)
    x_hi = max(n_seen)
    if f is not None:
        n_opt, _, loss, lo_hi = f
        inside = grid <= c_hi * 1.0001
        ax.plot(n_opt[inside], loss[inside], color="k", lw=2.0, zorder=5, gid="frontier",
                label="compute-optimal frontier (N*, L*)")
        if (~inside).any():
            k = max(int(inside.sum()) - 1, 0)
            ax.plot(n_opt[k:], loss[k:], color="k", lw=2.0, ls="--", zorder=5, gid="frontier-extrapolated",
                    label="frontier, extrapolated")
        if lo_hi is not None:
            ax.fill_between(n_opt, *lo_hi, color="0.3", alpha=0.2, lw=0, zorder=1, gid="bootstrap-band",
                            label=f"L*: {interval_label('mean', level)}")
        x_hi = max(x_hi, float(np.nanmax(n_opt)))
    if to is not None and f is not None:
        n_t, d_t, l_t, iv = _to_point(res, to, level)
        n = n_t * np.geomspace(1 / 30, 30, 80)
        ax.plot(n, law(nd_inputs(law, n, to / (6 * n)), res.params), color=_TO, lw=1.3, ls="--", zorder=3,
                gid="to-curve", label=f"IsoFLOP curve at C = {to:.3g}")
        xerr = None if iv is None else [[n_t - iv[0]], [iv[1] - n_t]]
        yerr = None if iv is None else [[l_t - iv[2]], [iv[3] - l_t]]
        ax.errorbar([n_t], [l_t], xerr=xerr, yerr=yerr, fmt="*", ms=13, color=_TO, mec="k", mew=0.5, capsize=4,
                    zorder=6, gid="to-point", label=_to_label(f"optimum at C = {to:.3g} FLOPs", n_t, d_t, l_t, iv))
        x_hi = max(x_hi, n[-1])
    ax.set_xscale("log")
    ax.set_xlim(min(n_seen) / 1.5, x_hi * 1.5)
    log_ticks(ax.xaxis)
    ax.set_xlabel(label("N"))
    ax.set_ylabel(label(law.target))
    _legend(ax, f"fitted L, one IsoFLOP curve per budget ({len(budgets)})", cmap(0.55))
    if colorbar:
        _colorbar(ax, norm, "C")
