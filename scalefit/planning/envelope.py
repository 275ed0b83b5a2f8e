"""Lower envelope of training curves: Approach 1 of Hoffmann et al. 2022 ("Training Compute-Optimal
Large Language Models").

Input: a run log with one row per checkpoint (a ``step`` column, or several rows per run id), where N
is the run's parameter count, D the tokens seen at that checkpoint and C = 6ND (or a FLOPs column) the
compute spent so far. Each run's curve of ln L against ln C is interpolated on a common log-spaced grid
of compute values; at each grid value covered by at least two runs, the run with the lowest loss gives
the compute-optimal size N*(C) (and tokens D*(C) from that run's own D at C). Power laws
N*(C) = k_N C^a and D*(C) = k_D C^b are fitted through the envelope points in log-log space.

Bootstrap: whole runs are resampled with replacement (a cluster bootstrap over curves;
:func:`scalefit.fitting.resample.resample_indices`) and the envelope and power laws recomputed; a resample
whose envelope has fewer than two points gives no power law (NaN), which the percentile intervals leave out.

Caveat: an intermediate checkpoint of a run with a decaying learning-rate schedule sits above the loss of a
run trained to exactly that length (Hoffmann et al. trained several cosine cycle lengths per size for this
reason), so with one schedule per size the envelope leans towards larger models at small compute.
Rows with a missing loss (steps without evaluation) must be dropped, e.g. ``--where "loss == loss"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalefit.errors import FitError, RunDataError
from scalefit.fitting.resample import resample_indices
from scalefit.planning.frontier import FrontierResult, bootstrap_fields, frontier_laws, load_points


def _curves(run_ids: np.ndarray, logc: np.ndarray, logl: np.ndarray, logd: np.ndarray, logn: np.ndarray):
    """Per run: (sorted ln C, ln L, ln D, ln N), keeping runs with at least two checkpoints."""
    out = []
    for rid in dict.fromkeys(run_ids):
        i = np.flatnonzero(run_ids == rid)
        if i.size < 2:
            continue
        o = i[np.argsort(logc[i])]
        out.append((logc[o], logl[o], logd[o], float(np.mean(logn[o]))))
    return out


def _envelope(curves, grid: np.ndarray, min_cover: int = 2):
    """(ln N*, ln D*, ln L*, covering count) at each grid point; NaN where fewer than ``min_cover`` runs cover it."""
    R, G = len(curves), grid.size
    loss = np.full((R, G), np.inf)
    logd = np.full((R, G), np.nan)
    logn = np.zeros(R)
    for r, (lc, ll, ld, ln) in enumerate(curves):
        inside = (grid >= lc[0]) & (grid <= lc[-1])
        loss[r, inside] = np.interp(grid[inside], lc, ll)
        logd[r, inside] = np.interp(grid[inside], lc, ld)
        logn[r] = ln
    cover = np.isfinite(loss).sum(axis=0)
    best = np.argmin(loss, axis=0)
    cols = np.arange(G)
    ok = cover >= min_cover
    return (np.where(ok, logn[best], np.nan), np.where(ok, logd[best, cols], np.nan),
            np.where(ok, loss[best, cols], np.nan), cover)


def envelope(data, *, mapping: Mapping[str, str] | None = None, target: str | None = None, where: str | None = None,
             run_col: str | None = None, n_grid: int = 40, bootstrap: int = 0, seed: int = 0, level: float = 0.95
             ) -> FrontierResult:
    """Approach 1 on per-checkpoint rows: the envelope of ln L vs ln C and power laws N*(C), D*(C).

    run_col: column identifying runs (default ``run_id`` when present, else runs are told apart by N).
    n_grid: log-spaced compute values between the smallest and largest checkpoint compute.
    """
    if n_grid < 3:
        raise FitError(f"n_grid must be >= 3, got {n_grid}")
    table, res, mapping = load_points(data, mapping, target, where, bootstrap, level)
    curves, run_col = _run_curves(table, res.values, run_col)
    grid = np.linspace(min(c[0][0] for c in curves), max(c[0][-1] for c in curves), n_grid)
    points, laws = _envelope_points(table, curves, grid)
    n_sizes = np.unique(np.round([p["N_opt"] for p in points])).size
    notes = [f"{len(curves)} runs; the envelope's N* takes only the runs' sizes "
             f"({n_sizes} distinct), so N*(C) is a step function fitted by a line"]
    boot, intervals = None, {}
    if bootstrap:
        boot, intervals = _bootstrap(curves, grid, bootstrap, seed, level)
    return FrontierResult(
        method="envelope", points=points, **laws, level=level, intervals=intervals, bootstrap=boot, notes=notes,
        seed=seed if bootstrap else None,
        data={"source": table.source, "n_rows": len(table), "where": where, "provenance": dict(res.provenance),
              "mapping": mapping, "grouping": f"runs by {run_col or 'N'}; {n_grid}-point log C grid",
              "n_runs": len(curves)},
    )


def _run_curves(table, v, run_col: str | None) -> tuple[list, str | None]:
    """The runs' training curves (see :func:`_curves`) and the column that told the runs apart (None: N)."""
    if run_col is None:
        run_col = "run_id" if "run_id" in table.columns else None
    if run_col is not None and run_col not in table.columns:
        raise RunDataError(f"{table.source}: run column {run_col!r} not found; columns are {table.columns}")
    run_ids = table.frame[run_col].astype(str).to_numpy() if run_col else np.array([f"{n:.6g}" for n in v["N"]])
    curves = _curves(run_ids, np.log(v["C"]), np.log(v["L"]), np.log(v["D"]), np.log(v["N"]))
    if len(curves) < 2:
        raise RunDataError(
            f"{table.source}: {len(curves)} run(s) with 2+ checkpoints; the envelope needs several training curves "
            f"(one row per checkpoint, runs told apart by {run_col or 'N'}; e.g. a sweep's curves.csv)"
        )
    return curves, run_col


def _envelope_points(table, curves, grid: np.ndarray) -> tuple[list[dict], dict]:
    """The envelope's points (C, N*, D*, L*, runs covering) and the power laws a, k_N, b, k_D through them."""
    ln_n, ln_d, ln_l, cover = _envelope(curves, grid)
    ok = np.isfinite(ln_n)
    if ok.sum() < 2 or np.unique(ln_n[ok]).size < 2:
        raise RunDataError(f"{table.source}: the envelope has fewer than 2 distinct optimal sizes; the runs' curves "
                           "must overlap in compute and differ in size")
    points = [{"C": float(np.exp(g)), "N_opt": float(np.exp(n)), "D_opt": float(np.exp(d)), "L_opt": float(np.exp(l)),
               "n_covering": int(k)} for g, n, d, l, k, o in zip(grid, ln_n, ln_d, ln_l, cover, ok) if o]
    return points, frontier_laws(grid, ln_n, ln_d)


def _bootstrap(curves, grid: np.ndarray, n_boot: int, seed: int, level: float) -> tuple[dict, dict]:
    """Resample whole runs: samples of a, k_N, b, k_D (NaN where a resample has no envelope) and their intervals."""
    picks = resample_indices(len(curves), n_boot, seed)
    envelopes = [_envelope([curves[i] for i in pick], grid) for pick in picks]
    return bootstrap_fields(grid, [e[0] for e in envelopes], [e[1] for e in envelopes], level)
