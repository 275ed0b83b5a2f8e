"""IsoFLOP profiles: Approach 2 of Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models").

Runs are grouped by equal training compute C (a column given with ``group_by``, or clusters of log10 C
within ``tol`` decades). In each group the final loss is fitted by a parabola in ln N,
    L = c0 + c1 ln N + c2 (ln N)^2,
whose minimum N* = exp(-c1 / (2 c2)) is that budget's compute-optimal size (``parabola`` = [c0, c1, c2]);
D* is read off the group's own ln D vs ln N line at N* (= C / (6 N*) when C = 6ND). Power laws
N*(C) = k_N C^a and D*(C) = k_D C^b are then fitted through the minima by least squares in log-log space.

Bootstrap: runs are resampled with replacement within each compute group (each group keeps its size;
:func:`scalefit.fitting.resample.stratified_counts`), the parabolas and power laws refitted, and
percentile intervals reported (:func:`scalefit.fitting.resample.percentile_interval`). A resample whose group has
fewer than three distinct sizes, is not convex, or puts the minimum outside the group's sampled sizes (the
parabola then extrapolates) drops that group from that resample's power law; the notes say how often.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalefit.errors import FitError, RunDataError
from scalefit.fitting.resample import percentile_interval, stratified_counts
from scalefit.planning.frontier import FrontierResult, bootstrap_fields, frontier_laws, load_points, power_law


def compute_groups(C: np.ndarray, tol: float) -> list[np.ndarray]:
    """Index arrays of runs whose log10 C lie within ``tol`` decades of their neighbours (single linkage)."""
    if not tol > 0:
        raise FitError(f"the IsoFLOP grouping tolerance must be > 0 decades, got {tol}")
    order = np.argsort(C)
    gaps = np.diff(np.log10(C[order]))
    return np.split(order, np.flatnonzero(gaps > tol) + 1)


def _parabola_minima(x: np.ndarray, y: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted parabola fits of y on x for each row of weights W (B, n): (x*, y*, c2), NaN if degenerate."""
    xc = x - x.mean()
    X = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)
    A = np.einsum("bn,ni,nj->bij", W, X, X)
    r = np.einsum("bn,ni,n->bi", W, X, y)
    distinct = _distinct_counts(x, W)
    ok = distinct >= 3
    coef = np.full((W.shape[0], 3), np.nan)
    if ok.any():
        coef[ok] = np.linalg.solve(A[ok], r[ok][:, :, None])[:, :, 0]
    c0, c1, c2 = coef.T
    with np.errstate(all="ignore"):
        convex = c2 > 0
        xs = np.where(convex, -c1 / (2 * c2), np.nan)
        ys = c0 + c1 * xs + c2 * xs * xs
    return xs + x.mean(), ys, c2


def _distinct_counts(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    _, inv = np.unique(x, return_inverse=True)
    onehot = np.zeros((x.size, inv.max() + 1))
    onehot[np.arange(x.size), inv] = 1.0
    return ((W @ onehot) > 0).sum(axis=1)


def isoflop(data, *, mapping: Mapping[str, str] | None = None, target: str | None = None, where: str | None = None,
            group_by: str | None = None, tol: float = 0.05, bootstrap: int = 0, seed: int = 0, level: float = 0.95
            ) -> FrontierResult:
    """Fit IsoFLOP parabolas per compute group and the power laws N*(C), D*(C) through their minima.

    data: run log (path, RunTable or DataFrame) with one row per finished run; N, D (or C) and L resolve
    as everywhere (``target`` names the loss column). group_by: a column of equal-compute labels; otherwise
    runs within ``tol`` decades of log10 C are grouped.
    """
    table, res, mapping = load_points(data, mapping, target, where, bootstrap, level)
    v = res.values
    groups, grouping = _groups(table, v["C"], group_by, tol)
    x, logd, L = np.log(v["N"]), np.log(v["D"]), v["L"]
    points, kept, notes = _group_minima(groups, v, x, logd, L)
    if len(points) < 2:
        raise RunDataError(
            f"{table.source}: {len(points)} usable compute group(s) ({grouping}); IsoFLOP needs at least 2 budgets "
            "with 3+ model sizes each. Check --group-by, or widen/narrow the grouping with --opt tol=DECADES"
            + ("; " + "; ".join(notes) if notes else "")
        )
    result = _power_laws(points, notes)
    boot, intervals = None, {}
    if bootstrap:
        boot, intervals, dropped = _bootstrap(kept, x, logd, L, bootstrap, seed, level, points)
        if dropped.any():
            notes.append("bootstrap: group minima dropped (too few sizes, not convex, or outside the sampled sizes) "
                         "in " + ", ".join(f"{100 * f:.0f}% of resamples at C ≈ {p['C']:.3g}"
                                           for f, p in zip(dropped, points) if f > 0))
    return FrontierResult(
        method="isoflop", points=points, **result, level=level, intervals=intervals, bootstrap=boot, notes=notes,
        seed=seed if bootstrap else None,
        data={"source": table.source, "n_rows": len(table), "where": where, "provenance": dict(res.provenance),
              "mapping": mapping, "grouping": grouping, "tol": tol, "group_by": group_by},
    )


def _groups(table, C: np.ndarray, group_by: str | None, tol: float) -> tuple[list[np.ndarray], str]:
    """Row index arrays of the equal-compute groups, and how they were formed."""
    if group_by is None:
        return compute_groups(C, tol), f"log10 C within {tol:g} decades"
    if group_by not in table.columns:
        raise RunDataError(f"{table.source}: --group-by {group_by!r} is not a column; columns are {table.columns}")
    labels = table.frame[group_by].to_numpy()
    return [np.flatnonzero(labels == g) for g in dict.fromkeys(labels)], f"by column {group_by!r}"


def _group_minima(groups, v, x, logd, L) -> tuple[list[dict], list[np.ndarray], list[str]]:
    """One point per usable group in order of compute (its parabola's minimum), the kept groups' rows, notes."""
    notes, points, kept = [], [], []
    for idx in sorted(groups, key=lambda i: float(np.mean(np.log(v["C"][i])))):
        c_group = float(np.exp(np.mean(np.log(v["C"][idx]))))
        n_distinct = np.unique(x[idx]).size
        if n_distinct < 3:
            notes.append(f"C ≈ {c_group:.3g}: {n_distinct} distinct model size(s); a parabola needs 3, group skipped")
            continue
        xs, ys, c2 = (a[0] for a in _parabola_minima(x[idx], L[idx], np.ones((1, idx.size))))
        if not np.isfinite(xs):
            notes.append(f"C ≈ {c_group:.3g}: loss vs ln N is not convex (c2 = {c2:.3g}); group skipped")
            continue
        slope, icpt = power_law(x[idx], logd[idx])
        interior = bool(x[idx].min() <= xs <= x[idx].max())
        if not interior:
            notes.append(f"C ≈ {c_group:.3g}: the parabola's minimum N* = {np.exp(xs):.3g} lies outside the sampled "
                         f"sizes [{np.exp(x[idx].min()):.3g}, {np.exp(x[idx].max()):.3g}]; add sizes around it")
        points.append({"C": c_group, "n_runs": int(idx.size), "N_opt": float(np.exp(xs)),
                       "D_opt": float(np.exp(icpt + slope * xs)), "L_opt": float(ys), "curvature": float(c2),
                       "N_min": float(np.exp(x[idx].min())), "N_max": float(np.exp(x[idx].max())),
                       "interior": interior, "parabola": [float(c) for c in np.polyfit(x[idx], L[idx], 2)[::-1]],
                       "N": v["N"][idx].tolist(), "L": L[idx].tolist()})
        kept.append(idx)
    return points, kept, notes


def _power_laws(points: list[dict], notes: list[str]) -> dict:
    """a, k_N, b, k_D through the group minima (appending notes on what they rest on)."""
    # The power laws go through the interior minima only, as the bootstrap does: a minimum outside the
    # sampled sizes is the parabola's extrapolation, not a measurement.
    use = [p for p in points if p["interior"]]
    if len(use) < 2:
        use = points
        notes.append("fewer than 2 budgets have their minimum inside the sampled sizes: the power laws use "
                     "extrapolated minima and are unreliable")
    elif len(use) < len(points):
        notes.append(f"the power laws use the {len(use)} budgets whose minimum lies inside the sampled sizes")
    if len(use) == 2:
        notes.append("only 2 compute budgets: the power laws pass exactly through both minima (no check of fit)")
    return frontier_laws(*np.log([[p["C"] for p in use], [p["N_opt"] for p in use], [p["D_opt"] for p in use]]))


def _bootstrap(kept, x, logd, L, n_boot, seed, level, points):
    """Resample runs within each kept group; samples of a, k_N, b, k_D, their intervals (and each point's
    N* interval, set on ``points``), and the fraction of resamples in which each group's minimum dropped out."""
    W = stratified_counts(kept, x.size, n_boot, seed)
    logc = np.log([p["C"] for p in points])
    xs_all = np.full((n_boot, len(kept)), np.nan)
    xd_all = np.full((n_boot, len(kept)), np.nan)
    for j, idx in enumerate(kept):
        xs, _, _ = _parabola_minima(x[idx], L[idx], W[:, idx])
        xs = np.where((xs >= x[idx].min()) & (xs <= x[idx].max()), xs, np.nan)
        xs_all[:, j] = xs
        slope, icpt = power_law(x[idx], logd[idx])
        xd_all[:, j] = icpt + slope * xs
    samples, intervals = bootstrap_fields(logc, xs_all, xd_all, level)
    n_lo, n_hi = percentile_interval(xs_all, level, axis=0)
    for p, lo, hi in zip(points, n_lo, n_hi):
        p["N_opt_lower"], p["N_opt_upper"] = float(np.exp(lo)), float(np.exp(hi))
    return samples, intervals, np.isnan(xs_all).mean(axis=0)
