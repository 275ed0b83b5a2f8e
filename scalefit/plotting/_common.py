"""Shared plotting helpers: lazy matplotlib, the fitted runs, clustering of sizes, labels, atomic saving.

Nothing here imports matplotlib at module import; ``pyplot()`` does, choosing Agg when there is no display.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalefit._io import atomic_path
from scalefit.errors import ConfigError, ExtrapolationWarning, FitError, RunDataError, ScalefitWarning
from scalefit.fitting.fit_set import FitSet
from scalefit.fitting.result import FitResult
from scalefit.runs import SYMBOL_DOCS, filter_rows, resolve

ND_SYMBOLS = frozenset({"N", "D", "C", "M"})
CMAP = "viridis"
LABELS = {
    "N": "model size N (parameters)",
    "D": "training tokens D",
    "C": "training compute C = 6ND (FLOPs)",
    "M": "tokens per parameter M = D/N",
    "L": "loss L (nats/token)",
    "lr": "learning rate",
    "Err": "downstream error (fraction)",
}
_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω",
}
_GREEK_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(_GREEK, key=len, reverse=True)) + r")(?![a-z])")


def pyplot():
    """matplotlib.pyplot, imported now; the Agg backend when no display and no backend was chosen."""
    import matplotlib

    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND") and headless:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def greek(text: str) -> str:
    """Spell parameter names like ``alpha`` or ``alpha_N`` with Greek letters."""
    return _GREEK_RE.sub(lambda m: _GREEK[m.group(1)], text)


def label(symbol: str) -> str:
    """An axis label with units for a law symbol."""
    return LABELS.get(symbol) or f"{SYMBOL_DOCS.get(symbol, symbol)} ({symbol})"


def fmt(v: float) -> str:
    return f"{v:.4g}"


def fit_titles(fig) -> None:
    """Wrap every axes title wider than its axes, and a figure title wider than the figure, onto more lines (at
    spaces), so no title is clipped at the figure's edge or runs over its neighbour; laid out once to measure (the
    layout engine's pass, not a draw)."""
    import textwrap

    rend = fig.canvas.get_renderer()
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    texts = [(ax.title, ax.get_window_extent(rend).width) for ax in fig.axes if ax.get_title()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        texts.append((fig._suptitle, 0.96 * fig.bbox.width))
    for text, room in texts:
        wide = text.get_window_extent(rend).width
        if wide <= room or room <= 0:
            continue
        lines = text.get_text().split("\n")
        chars = max(12, int(max(map(len, lines)) * room / wide * 0.97))
        text.set_text("\n".join(textwrap.fill(line, chars, break_on_hyphens=False) for line in lines))


def axes_row(axes, n: int, size: tuple[float, float]):
    """(figure, list of ``n`` axes): a new constrained-layout row of ``size`` per panel, or the given axes."""
    if axes is None:
        fig, row = pyplot().subplots(1, n, figsize=(size[0] * n, size[1]), squeeze=False, layout="constrained")
        return fig, list(row[0])
    axes = list(np.atleast_1d(axes))
    if len(axes) != n:
        raise ConfigError(f"this plot needs {n} axes, got {len(axes)}")
    return axes[0].figure, axes


# ---- the fit and its runs -----------------------------------------------------------------
def single(fit: FitResult | FitSet, group: object | None) -> FitResult:
    """The single fit (or one member of a FitSet) that a panel shows."""
    return fit[group] if isinstance(fit, FitSet) else fit


def panel_groups(fit: FitResult | FitSet, group: object | None) -> list[object | None]:
    """The groups to draw: the one asked for, every member of a FitSet, or [None]."""
    if group is not None:
        if not isinstance(fit, FitSet):
            raise FitError("this fit has no groups (it was not fitted with group_by)")
        fit[group]  # raises a clear FitError for an unknown group
        return [group]
    return sorted(fit) if isinstance(fit, FitSet) else [None]


@dataclass(frozen=True)
class Points:
    """The fitted runs: law inputs and observed target, one entry per run."""

    x: dict[str, np.ndarray]  # law input symbol -> values
    y: np.ndarray  # observed target
    source: str  # where the runs came from

    def __len__(self) -> int:
        return len(self.y)


PLOT_LIMIT = 1e100  # run values beyond this overflow a plot's products and axis margins (6ND, limits x 1.5)


def fitted_points(fit: FitResult, runs, group: object | None = None) -> Points | None:
    """The runs a fit was made on, resolved with its mapping and filtered with its ``where``.

    ``runs`` is a path, RunTable or DataFrame (or None: no points). For a grouped fit only the rows of
    ``group`` are kept. Warns when the rows differ from those the fit was made on (by content hash).
    """
    if runs is None:
        return None
    from scalefit.fitting.api import as_table

    res = single(fit, group)
    table = as_table(runs)
    if isinstance(fit, FitSet) and not fit.targets:  # a multi-target fit's parts read all rows, each its target
        col = fit.by
        if col not in table.columns:
            raise RunDataError(f"{table.source}: the fit is grouped by {col!r} but the runs have no such column; "
                               f"columns are {table.columns}")
        mask = (table.frame[col].astype(str) == str(group)).to_numpy()
        if not mask.any():
            raise RunDataError(f"{table.source}: no runs with {col} == {group!r}")
        table = table.subset(table.frame.index[mask])
    mapping = dict(res.data.get("mapping") or {})
    table = filter_rows(table, res.data.get("where"), mapping=mapping)
    law = res.law_spec
    r = resolve(table, [*law.inputs, law.target], mapping=mapping)
    if res.data.get("hash") and table.digest() != res.data["hash"]:
        warnings.warn(f"{table.source}: these {len(r)} runs differ from the {res.data.get('n_rows', '?')} runs the "
                      "fit was made on; the plot shows them against the fitted law", ScalefitWarning, stacklevel=3)
    for s, v in r.values.items():
        far = np.abs(v) > PLOT_LIMIT
        if far.any():
            i = int(np.flatnonzero(far)[0])
            raise RunDataError(f"{table.location(r.rows[i])}: {s} = {v[i]:g} ({r.provenance[s]}) is beyond what a plot "
                               f"can draw (|value| <= {PLOT_LIMIT:g}; {int(far.sum())} such rows); check its units")
    return Points({s: r.values[s] for s in law.inputs}, r.values[law.target], table.source)


# ---- N/D geometry -------------------------------------------------------------------------
def is_nd(law) -> bool:
    """A law of two of N, D, C, M (so every input follows from N and D)."""
    return len(law.inputs) == 2 and set(law.inputs) <= ND_SYMBOLS


def nd_from(x: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """N and D from any two of N, D, C (= 6ND), M (= D/N)."""
    if "N" in x:
        n = np.asarray(x["N"], dtype=float)
    elif "D" in x:
        n = x["C"] / (6.0 * x["D"]) if "C" in x else x["D"] / x["M"]
    else:
        n = np.sqrt(x["C"] / (6.0 * x["M"]))
    if "D" in x:
        d = np.asarray(x["D"], dtype=float)
    else:
        d = x["C"] / (6.0 * n) if "C" in x else x["M"] * n
    return np.asarray(n, dtype=float), np.asarray(d, dtype=float)


def nd_inputs(law, n: np.ndarray, d: np.ndarray) -> dict[str, np.ndarray]:
    """The law's inputs at model size ``n`` and tokens ``d``."""
    full = {"N": n, "D": d, "C": 6.0 * n * d, "M": d / n}
    return {s: full[s] for s in law.inputs}


def nd_ranges(res: FitResult) -> tuple[tuple[float, float], tuple[float, float]]:
    """(N range, D range) covered by the fitted inputs' ranges (from the corners of the input box)."""
    (s1, s2) = res.law_spec.inputs
    ranges = res.data.get("ranges", {})
    if s1 not in ranges or s2 not in ranges:
        raise ConfigError(f"the fit records no fitted range of {s1} and {s2} (a hand-written fit file?), so its "
                          f"curves have no extent to draw; fit it with `scalefit fit` to plot it")
    r1, r2 = ranges[s1], ranges[s2]
    a, b = np.meshgrid(np.asarray(r1, float), np.asarray(r2, float))
    n, d = nd_from({s1: a.ravel(), s2: b.ravel()})
    return (float(n.min()), float(n.max())), (float(d.min()), float(d.max()))


def clusters(values: np.ndarray, max_groups: int, rtol: float = 1e-3) -> list[np.ndarray]:
    """Index arrays of runs sharing a value (within ``rtol``); log-spaced bins when there are too many."""
    logv = np.log(values)
    order = np.argsort(logv)
    breaks = np.flatnonzero(np.diff(logv[order]) > np.log1p(rtol)) + 1
    groups = np.split(order, breaks)
    if len(groups) <= max_groups:
        return groups
    edges = np.linspace(logv.min(), logv.max(), max_groups + 1)
    idx = np.clip(np.digitize(logv, edges[1:-1]), 0, max_groups - 1)
    return [np.flatnonzero(idx == k) for k in range(max_groups) if (idx == k).any()]


def boot_params(res: FitResult) -> dict[str, np.ndarray] | None:
    """Bootstrap parameter sets shaped (K, 1) for vectorised evaluation, or None."""
    s = res.param_samples()
    return None if s is None else {k: v[:, None] for k, v in s.items()}


def central_params(res: FitResult) -> dict[str, np.ndarray]:
    """The fitted parameters shaped (1, 1)."""
    return {k: np.array([[v]], dtype=float) for k, v in res.params.items()}


def band(res: FitResult, inputs: Mapping[str, np.ndarray], level: float,
         interval: str = "mean") -> tuple[np.ndarray, np.ndarray] | None:
    """The band at ``inputs`` (extrapolation is intended, so not warned): ``"mean"``, the percentile bootstrap
    band of the fitted curve (None without a bootstrap); ``"prediction"``, where a new run would land (None
    when the fit has no calibration)."""
    if not (res.bootstrap if interval == "mean" else res.calibration):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return res.predict_interval(dict(inputs), level=level, interval=interval)


def percentiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The percentile band of (n_samples, n_points) ``samples`` (the one convention,
    :func:`scalefit.fitting.resample.percentile_interval`: over the finite samples)."""
    from scalefit.fitting.resample import percentile_interval

    return percentile_interval(samples, level, axis=0)


# ---- text -----------------------------------------------------------------------------------
def title(res: FitResult, group: object | None, group_by: str | None) -> str:
    law = res.law_spec
    where = f" · {group_by} = {group}" if group is not None else ""
    return f"{law.name}: {greek(law.equation)}{where}"


def param_text(res: FitResult, level: float) -> str:
    """Fitted parameters, with bootstrap intervals when present, and the fit statistics."""
    iv = res.intervals(level=level)
    width = max(len(greek(k)) for k in res.params)
    lines = []
    for k, v in res.params.items():
        line = f"{greek(k):<{width}} = {fmt(v)}"
        if k in iv:
            line += f"  [{fmt(iv[k][0])}, {fmt(iv[k][1])}]"
        lines.append(line)
    st = res.stats
    if iv:  # bootstrap percentiles, or (results that have interval_method) Wald intervals from the covariance
        how = res.interval_method() if hasattr(res, "interval_method") else None
        lines.append(f"[{100 * level:g}% {how or f'bootstrap, {len(next(iter(res.bootstrap.values())))} resamples'}]")
    lines.append(f"n = {st.get('n')}, RMSE(log) = {st.get('rmse_log', float('nan')):.3g}")
    return "\n".join(lines)


def param_box(ax, res: FitResult, level: float, loc: str = "upper right") -> None:
    x, ha = (0.98, "right") if "right" in loc else (0.02, "left")
    y, va = (0.98, "top") if "upper" in loc else (0.02, "bottom")
    ax.text(x, y, param_text(res, level), transform=ax.transAxes, ha=ha, va=va, multialignment="left",
            fontsize=7.5, family="monospace",
            bbox={"boxstyle": "round,pad=0.4", "fc": "white", "ec": "0.75", "alpha": 0.9}, zorder=10, gid="params")


# ---- ticks -----------------------------------------------------------------------------------
def sci_label(v: float, _pos=None) -> str:
    """A tick label 10^k or m×10^k (mathtext)."""
    if not (np.isfinite(v) and v > 0):
        return ""
    k = int(np.floor(np.log10(v) + 1e-9))
    m = v / 10.0**k
    return f"$10^{{{k}}}$" if abs(m - 1) < 1e-6 else f"${m:.2g}{{\\times}}10^{{{k}}}$"


def log_ticks(axis, formatter=sci_label, *, min_labels: int = 2) -> None:
    """Readable ticks on a log ``axis`` for its current limits (call once the limits are final).

    Labels only major ticks, no more than fit side by side: decades (every k-th on long ranges), else
    1-3, 1-2-5 or 1-9 × 10^k, the first giving at least ``min_labels`` labels (else the most that fit),
    else evenly stepped values on very short ranges; minor ticks stay unlabelled (matplotlib labels them
    on short log axes, where they collide).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    lo, hi = sorted(float(v) for v in axis.get_view_interval())
    if not (lo > 0 and np.isfinite(hi) and hi > lo):
        return
    space = axis.get_tick_space()  # how many labels of 3 em (x: width) or 2 em (y: height) fit
    most = max(2, 2 * space // 3 if axis.axis_name == "x" else space)  # "3×10^11" is ~4.5 em wide
    ks = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    best, best_n = None, 0
    for subs in ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), tuple(np.arange(1.0, 10.0))):
        ticks = np.outer(10.0**ks, subs).ravel()
        n = int(((ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))).sum())
        if (len(subs) == 1 and n > most) or min(min_labels, most) <= n <= most:
            best, best_n = subs, max(n, 2)  # many decades: LogLocator labels every k-th
            break
        if best_n < n <= most:
            best, best_n = subs, n
    if best_n >= 2 or (best is not None and hi / lo >= 3):
        axis.set_major_locator(LogLocator(base=10, subs=best, numticks=most + 1))
    else:  # a range too short for any 10^k multiple to repeat: evenly stepped values
        axis.set_major_locator(MaxNLocator(nbins=most, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(formatter))
    axis.set_minor_formatter(NullFormatter())


# ---- saving ---------------------------------------------------------------------------------
def figure_format(path: str | Path) -> str:
    """The image format named by ``path``'s suffix; a ConfigError when matplotlib cannot write it."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    fmt_ = path.suffix.lstrip(".").lower()
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt_ not in supported:
        raise ConfigError(f"{path}: cannot write a figure as {fmt_ or 'a file without suffix'!r}; "
                          f"use one of .{', .'.join(sorted(supported))} (e.g. figures/NAME.png)")
    return fmt_


MAX_PIXELS = 10**8  # a figure of more pixels is refused before drawing (20000 dpi ran out of memory)


def check_dpi(fig, dpi: object) -> int:
    """``dpi`` as a whole number >= 1 at which ``fig`` has at most :data:`MAX_PIXELS` pixels; ConfigError otherwise."""
    from scalefit._schema import whole_argument

    dpi = whole_argument(dpi, "dpi", 1)
    w, h = fig.get_size_inches()
    if w * h * dpi**2 > MAX_PIXELS:
        most = int((MAX_PIXELS / (w * h)) ** 0.5)
        raise ConfigError(f"dpi {dpi}: the {w:.3g} x {h:.3g} inch figure would be {w * dpi:,.0f} x {h * dpi:,.0f} "
                          f"pixels, more than {MAX_PIXELS:,}; use a dpi of at most {most}")
    return dpi


def save_figure(fig, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` atomically (temp file in the same folder, then rename); the format is the suffix."""
    path = Path(path)
    fmt_ = figure_format(path)
    dpi = check_dpi(fig, dpi)
    with atomic_path(path, suffix=f".tmp.{fmt_}") as tmp:
        tight = None if fig.get_layout_engine() is not None else "tight"  # a layout engine already fits the page
        fig.savefig(tmp, format=fmt_, dpi=dpi, bbox_inches=tight)
    return path
