"""Plots for over-training, downstream-error and compute-optimal frontier fits.

* ``plot_overtrain``: (reducible) loss against compute with one fitted line per token multiplier M, the
  style of Gadre et al. 2024 Fig. 2 (with L - E on log axes the lines of the ``overtrain`` law are parallel);
* ``plot_downstream``: downstream error against loss with the fitted curve and its bootstrap band, and,
  given the loss fit, the chained predictions of the held-out runs (Gadre et al. Fig. 1, right);
* ``plot_isoflop``: IsoFLOP parabolas with their minima, and the N*(C), D*(C) power laws (Hoffmann et al.
  2022, Fig. 3); ``plot_frontier`` draws the power-law panel alone (also for the envelope approach).

Every function takes ``ax=None`` (``axes=None`` for two panels) and returns the Axes (or the Figure).
``runs`` may be a path, RunTable or DataFrame; ``where`` selects the rows to show (default: every row that
agrees with the fitted rows in the text columns constant over them, e.g. the same ``dataset``); rows outside
the fit's filter are drawn hollow. matplotlib is imported only when drawing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from scalefit.errors import ConfigError, ExtrapolationWarning, RunDataError
from scalefit.fitting.intervals import label as interval_label
from scalefit.fitting.result import FitResult
from scalefit.plotting._common import band, clusters, fmt, label, param_box, percentiles, pyplot, single
from scalefit.runs import ensure_derived_columns, filter_rows, resolve


def _ax(ax, figsize=(7.6, 5.4)):
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def _like_fitted(table, fitted) -> np.ndarray:
    """Rows that agree with the fitted rows in every text column that is constant over them (same dataset,
    same status, ...): the runs comparable with the fit, the default rows to show."""
    frame, keep = table.frame, np.ones(len(table.frame), dtype=bool)
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            continue
        values = fitted.frame[col].dropna().astype(str).unique()
        if len(values) == 1:
            keep &= (frame[col].astype(str) == values[0]).to_numpy()
    return keep


def _shown_runs(res: FitResult, runs, where: str | None, symbols):
    """(values for ``symbols``, in-fit mask) for the rows to show, or None without runs.

    ``where`` selects the rows; by default the rows comparable with the fitted ones (``_like_fitted``), so
    runs the fit's filter left out are shown (hollow) beside the fitted ones.
    """
    if runs is None:
        return None
    from scalefit.fitting.api import as_table

    mapping = dict(res.data.get("mapping") or {})
    table = ensure_derived_columns(as_table(runs), mapping.values())
    fitted = filter_rows(table, res.data.get("where"), mapping=mapping)
    if where is not None:
        shown = filter_rows(table, where, mapping=mapping)
    else:
        shown = table.subset(table.frame.index[_like_fitted(table, fitted)])
    vals = resolve(shown, symbols, mapping=mapping).values
    return vals, np.isin(shown.frame.index.to_numpy(), fitted.frame.index.to_numpy())


def _scatter(ax, x, y, colour, in_fit, held_label=None, **kw):
    ax.scatter(x[in_fit], y[in_fit], color=colour, edgecolors="k", linewidths=0.4, zorder=4, s=30, gid="runs", **kw)
    if (~in_fit).any():
        ax.scatter(x[~in_fit], y[~in_fit], facecolors="none", edgecolors=colour, linewidths=1.4, zorder=4, s=36,
                   gid="held-out", label=held_label)


def _multipliers(m: np.ndarray, max_curves: int) -> list[tuple[float, np.ndarray, str]]:
    """(M of a fitted line, mask of the runs drawn in its colour, legend label) per line: one per distinct M
    (within 1e-6), or, with more than ``max_curves`` of them (a sweep whose M varies run by run), one per
    log-spaced bin of M at the bin's geometric-mean M."""
    groups = clusters(m, max_curves, rtol=1e-6)
    binned = len(groups) < len(clusters(m, 10**9, rtol=1e-6))
    out = []
    for g in groups:
        mask = np.zeros(m.size, dtype=bool)
        mask[g] = True
        centre = float(np.exp(np.mean(np.log(m[g]))))
        spread = f"{m[g].min():.3g}–{m[g].max():.3g}, " if f"{m[g].min():.3g}" != f"{m[g].max():.3g}" else ""
        text = (f"M ≈ {centre:.3g} ({spread}{g.size} run{'s' * (g.size > 1)})" if binned
                else f"M = {float(np.round(m[g][0], 6)):g}")
        out.append((centre, mask, text))
    return out


def plot_overtrain(fit: FitResult, runs=None, *, where: str | None = None, to: float | None = None,
                   reducible: bool = True, group: object | None = None, level: float = 0.95, max_curves: int = 8,
                   ax=None):
    """Loss (minus E when ``reducible``) against compute, one colour and fitted line per token multiplier M
    (runs with more than ``max_curves`` distinct M: one line per log-spaced bin of M, its runs in its colour)."""
    import matplotlib

    res = single(fit, group)
    law = res.law_spec
    if law.name != "overtrain":
        raise RunDataError(f"plot_overtrain draws `overtrain` fits; this fit is {law.name!r}")
    if not (isinstance(max_curves, int) and max_curves >= 1):
        raise ConfigError(f"max_curves={max_curves!r}: need a whole number >= 1 of fitted lines")
    ax = _ax(ax)
    E = res.params["E"] if reducible else 0.0
    shown = _shown_runs(res, runs, where, ["C", "M", "L"])
    c_lo, c_hi = res.data["ranges"]["C"]
    if shown is not None:
        v, in_fit = shown
        lines = _multipliers(np.asarray(v["M"], dtype=float), max_curves)
        c_lo, c_hi = min(c_lo, v["C"].min()), max(c_hi, v["C"].max())
    else:
        m_lo, m_hi = res.data["ranges"]["M"]
        lines = [(float(m), None, f"M = {m:g}") for m in np.unique(np.geomspace(m_lo, m_hi, 4).round(2))]
    c_end = max(c_hi, to or 0.0)
    grid = np.geomspace(c_lo / 1.5, c_end * 1.5, 200)
    cmap = matplotlib.colormaps["viridis"]
    ms = np.array([m for m, _, _ in lines])
    norm = matplotlib.colors.LogNorm(ms.min() / 1.5, ms.max() * 1.5) if ms.size > 1 else None
    for m, sel, text in lines:
        colour = cmap(norm(m)) if norm else "C0"
        y = np.asarray(law({"C": grid, "M": np.full_like(grid, m)}, res.params)) - E
        ax.plot(grid, y, color=colour, lw=1.6, zorder=3, label=text, gid="fit-line")
        if sel is not None:
            _scatter(ax, v["C"][sel], v["L"][sel] - E, colour, in_fit[sel])
    fitted_hi = res.data["ranges"]["C"][1]
    if c_end > fitted_hi:
        ax.axvspan(fitted_hi, c_end * 1.5, color="0.6", alpha=0.12, lw=0, zorder=0, gid="extrapolation")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(label("C"))
    ax.set_ylabel(f"reducible loss L − E (E = {fmt(E)})" if reducible else label("L"))
    held = 0 if shown is None else int((~in_fit).sum())
    key = "" if shown is None else "  (filled: fitted runs" + (f"; hollow: not fitted, n = {held})" if held else ")")
    ax.set_title("overtrain: " + law.equation + key, fontsize=9)
    binned = any(text.startswith("M ≈") for _, _, text in lines)
    ax.legend(loc="lower left", fontsize=7.5, ncol=1 if binned else 2, framealpha=0.9,
              title="token multiplier, binned: one line per bin" if binned else "token multiplier")
    param_box(ax, res, level, "upper right")
    ax.grid(True, which="major", alpha=0.25)
    return ax


def plot_downstream(fit: FitResult, runs=None, *, where: str | None = None, loss_fit: FitResult | None = None,
                    group: object | None = None, level: float = 0.95, ax=None):
    """Downstream error against loss: runs, fitted curve with its bootstrap band, chained held-out predictions."""
    res = single(fit, group)
    law = res.law_spec
    if law.inputs != ("L",):
        raise RunDataError(f"plot_downstream draws laws of the loss L; this fit is {law.name!r} of {law.inputs}")
    ax = _ax(ax)
    l_lo, l_hi = res.data["ranges"]["L"]
    extra = ["N", "M"] if loss_fit is not None else []
    shown = _shown_runs(res, runs, where, ["L", law.target, *extra])
    if shown is not None:
        v, in_fit = shown
        l_lo, l_hi = min(l_lo, v["L"].min()), max(l_hi, v["L"].max())
    grid = np.linspace(l_lo - 0.05 * (l_hi - l_lo), l_hi + 0.05 * (l_hi - l_lo), 200)
    y = np.asarray(law({"L": grid}, res.params), dtype=float)
    ax.plot(grid, y, color="C0", lw=2, zorder=3, gid="fit-curve", label="fitted law")
    b = band(res, {"L": grid}, level)
    if b is not None:
        ax.fill_between(grid, *b, color="C0", alpha=0.18, lw=0, zorder=1, label=interval_label("mean", level))
    if shown is not None:
        _scatter(ax, v["L"], v[law.target], "C1", in_fit, label=f"fitted runs (n = {int(in_fit.sum())})",
                 held_label=f"other runs (n = {int((~in_fit).sum())})")
        if loss_fit is not None and (~in_fit).any():
            from scalefit.planning.chain import chain_predict

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExtrapolationWarning)
                pred = chain_predict(loss_fit, res, {"N": v["N"][~in_fit], "M": v["M"][~in_fit]}).frame
            lp, ep = pred["L_pred"].to_numpy(), pred[f"{law.target}_pred"].to_numpy()
            ax.scatter(lp, ep, marker="X", s=60, color="crimson", edgecolors="k", linewidths=0.4, zorder=5,
                       label="predicted from the loss fit", gid="chained")
            for x0, y0, x1, y1 in zip(v["L"][~in_fit], v[law.target][~in_fit], lp, ep):
                ax.plot([x0, x1], [y0, y1], color="crimson", lw=0.8, ls=":", zorder=4)
    ax.set_xlabel(label("L"))
    ax.set_ylabel(label(law.target) if law.target != "Err" else "downstream error (fraction)")
    ax.set_title(f"{law.name}: {law.equation}", fontsize=9)
    ax.legend(loc="lower right", fontsize=7.5, framealpha=0.9)
    param_box(ax, res, level, "upper left")
    ax.grid(True, which="major", alpha=0.25)
    return ax


def plot_isoflop_profiles(result, *, ax=None):
    """Each compute group's runs (loss against N), its fitted parabola in ln N and the minimum N*."""
    import matplotlib

    ax = _ax(ax)
    cs = np.array([p["C"] for p in result.points])
    cmap = matplotlib.colormaps["plasma"]
    norm = matplotlib.colors.LogNorm(cs.min() / 2, cs.max() * 2)
    for p in result.points:
        colour = cmap(norm(p["C"]))
        n = np.asarray(p["N"], dtype=float)
        ax.scatter(n, p["L"], color=colour, edgecolors="k", linewidths=0.4, s=28, zorder=4)
        grid = np.geomspace(min(n.min(), p["N_opt"]) / 1.3, max(n.max(), p["N_opt"]) * 1.3, 120)
        c0, c1, c2 = p["parabola"]
        x = np.log(grid)
        ax.plot(grid, c0 + c1 * x + c2 * x * x, color=colour, lw=1.5, zorder=3, gid="parabola",
                label=f"C = {p['C']:.2g}")
        ax.scatter([p["N_opt"]], [p["L_opt"]], marker="*", s=160, color=colour, edgecolors="k", linewidths=0.6,
                   zorder=5, gid="minimum")
    ax.set_xscale("log")
    ax.set_xlabel(label("N"))
    ax.set_ylabel(label("L"))
    ax.set_title("IsoFLOP profiles: parabola in ln N per budget, ★ = minimum", fontsize=9)
    ax.legend(loc="upper right", fontsize=7.5, framealpha=0.9, title="budget (FLOPs)")
    ax.grid(True, which="major", alpha=0.25)
    return ax


def plot_frontier(result, *, to: float | None = None, ax=None):
    """Compute-optimal N*(C) and D*(C): the points, the fitted power laws (extrapolated to ``to``), bands."""
    ax = _ax(ax)
    cs = np.array([p["C"] for p in result.points])
    end = max(cs.max(), to or 0.0)
    grid = np.geomspace(cs.min() / 2, end * 2, 200)
    n_fit, d_fit = result.predict(grid, warn=False)  # the drawn curve spans the plot
    for key, fitted, colour, sym, exp in (("N_opt", n_fit, "C0", "N*", "a"), ("D_opt", d_fit, "C2", "D*", "b")):
        vals = np.array([p[key] for p in result.points])
        lo = np.array([p.get(f"{key}_lower", np.nan) for p in result.points])
        hi = np.array([p.get(f"{key}_upper", np.nan) for p in result.points])
        yerr = None if np.isnan(lo).all() else [vals - lo, hi - vals]
        ax.errorbar(cs, vals, yerr=yerr, fmt="o", color=colour, mec="k", mew=0.4, capsize=3, zorder=4)
        iv = result.intervals.get(exp)
        text = f"{sym} ∝ C^{getattr(result, exp):.3f}" + (f" [{iv[0]:.3f}, {iv[1]:.3f}]" if iv else "")
        ax.plot(grid, fitted, color=colour, lw=1.8, zorder=3, label=text, gid=f"{key}-line")
    if result.bootstrap:
        b = {k: np.asarray(v, dtype=float)[:, None] for k, v in result.bootstrap.items()}
        with np.errstate(all="ignore"):
            for k_key, e_key, colour in (("k_N", "a", "C0"), ("k_D", "b", "C2")):
                lo, hi = percentiles(b[k_key] * grid[None, :] ** b[e_key], result.level)
                ax.fill_between(grid, lo, hi, color=colour, alpha=0.15, lw=0, zorder=1)
    if end > cs.max():
        ax.axvspan(cs.max() * 1.05, end * 2, color="0.6", alpha=0.12, lw=0, zorder=0, gid="extrapolation")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(label("C"))
    ax.set_ylabel("compute-optimal N* (parameters), D* (tokens)")
    approach = "IsoFLOP minima (Approach 2)" if result.method == "isoflop" else "training-curve envelope (Approach 1)"
    ax.set_title(f"compute-optimal allocation from {approach}", fontsize=9)
    ax.legend(loc="upper left", fontsize=7.5, framealpha=0.9)
    ax.grid(True, which="major", alpha=0.25)
    return ax


def plot_isoflop(result, *, to: float | None = None, axes=None):
    """IsoFLOP profiles beside the N*(C), D*(C) frontier; returns the Figure."""
    if axes is None:
        _, axes = pyplot().subplots(1, 2, figsize=(13.5, 5.4), layout="constrained")
    plot_isoflop_profiles(result, ax=axes[0])
    plot_frontier(result, to=to, ax=axes[1])
    return axes[0].figure
