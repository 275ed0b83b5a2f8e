"""Per-cell optimal hyperparameters from an LR x batch-size grid of runs.

A *cell* is one (N, D) pair (or any grouping keys). For each cell:

* the grid argmin of the loss;
* a refined optimum: a full quadratic in (ln lr, ln B) fitted by least squares to the runs nearest the
  minimum in loss (those within ``refine_tol`` of it, at least ``min_points``); its vertex is used when
  the quadratic is convex and the vertex lies inside the box spanned by those runs, else the argmin is
  kept and the reason recorded. Cells with a single batch size (or a single lr) get a parabola in the
  other variable;
* the Step Law near-optimal band (Li et al. 2025): every run whose loss is within ``tol`` (relative,
  default 0.25%) of the cell minimum, with its extent in lr and B.

Inputs are a DataFrame with columns ``lr``, ``B``, ``L`` and the key columns; nothing is mutated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError

BAND_TOL = 0.0025  # Step Law's filter_threshold: runs within 0.25% of the cell's best loss
REFINE_TOL = 0.01  # runs within 1% of the cell minimum enter the quadratic refinement


def band_mask(frame: pd.DataFrame, *, keys: Sequence[str] = ("N", "D"), tol: float = BAND_TOL) -> np.ndarray:
    """Boolean mask of the runs within ``tol`` (relative) of their cell's minimum loss."""
    if not tol >= 0:
        raise RunDataError(f"the band tolerance must be >= 0 (a fraction, 0.0025 = 0.25%), got {tol}")
    best = frame.groupby(list(keys), sort=False)["L"].transform("min")
    return (np.abs(frame["L"] / best - 1.0) <= tol).to_numpy()


def _quadratic_design(x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    if y is None:
        return np.stack([np.ones_like(x), x, x * x], axis=1)
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def refine_optimum(
    log_lr: np.ndarray, log_b: np.ndarray, loss: np.ndarray, *, refine_tol: float = REFINE_TOL,
    min_points: int | None = None,
) -> dict:
    """Quadratic refinement of one cell's optimum in (ln lr, ln B); see the module docstring.

    Returns ``{"log_lr", "log_B", "loss", "refined", "note", "n_points"}``.
    """
    i0 = int(np.argmin(loss))
    vary_lr = np.unique(log_lr).size > 1
    vary_b = np.unique(log_b).size > 1
    out = {"log_lr": float(log_lr[i0]), "log_B": float(log_b[i0]), "loss": float(loss[i0]), "refined": False,
           "note": "", "n_points": 0}
    if not (vary_lr or vary_b):
        out["note"] = "a single (lr, B) point"
        return out
    two_d = vary_lr and vary_b
    n_coef = 6 if two_d else 3
    need = min_points if min_points is not None else n_coef + 2
    order = np.argsort(loss, kind="stable")
    close = int(np.sum(loss <= loss[i0] * (1.0 + refine_tol)))
    pick = order[: max(close, need)]
    out["n_points"] = int(pick.size)
    if pick.size < n_coef + 1:
        out["note"] = f"only {pick.size} runs; a quadratic needs {n_coef + 1}"
        return out
    x = log_lr[pick] - log_lr[i0]
    y = log_b[pick] - log_b[i0]
    if two_d:
        A = _quadratic_design(x, y)
    else:
        A = _quadratic_design(x if vary_lr else y, None)
    if np.linalg.matrix_rank(A) < n_coef:
        out["note"] = "the runs near the minimum do not span a quadratic (too few distinct lr or B values)"
        return out
    coef, *_ = np.linalg.lstsq(A, loss[pick], rcond=None)
    if two_d:
        H = np.array([[2 * coef[3], coef[4]], [coef[4], 2 * coef[5]]])
        if not (H[0, 0] > 0 and np.linalg.det(H) > 0):
            out["note"] = "the fitted quadratic is not convex; kept the grid argmin"
            return out
        z = -np.linalg.solve(H, coef[1:3])
        box = np.array([[x.min(), x.max()], [y.min(), y.max()]])
        val = float(_quadratic_design(z[:1], z[1:])[0] @ coef)
    else:
        if not coef[2] > 0:
            out["note"] = "the fitted parabola is not convex; kept the grid argmin"
            return out
        t = -coef[1] / (2 * coef[2])
        z = np.array([t, 0.0]) if vary_lr else np.array([0.0, t])
        u = x if vary_lr else y
        span, flat = [u.min(), u.max()], [0.0, 0.0]
        box = np.array([span, flat] if vary_lr else [flat, span])
        val = coef[0] + coef[1] * t + coef[2] * t * t
    inside = all(box[k, 0] - 1e-12 <= z[k] <= box[k, 1] + 1e-12 for k in range(2))
    if not inside:
        out["note"] = "the quadratic's vertex lies outside the runs near the minimum; kept the grid argmin"
        return out
    out.update(log_lr=float(log_lr[i0] + z[0]), log_B=float(log_b[i0] + z[1]), loss=float(val), refined=True)
    return out


def cell_optima(
    frame: pd.DataFrame, *, keys: Sequence[str] = ("N", "D"), tol: float = BAND_TOL,
    refine_tol: float = REFINE_TOL,
) -> pd.DataFrame:
    """One row per cell: grid argmin, refined optimum, and the near-optimal band's size and extent.

    ``frame`` needs columns ``lr``, ``B``, ``L`` and ``keys``. Columns of the result: the keys, ``n_runs``,
    ``loss_min``, ``lr_argmin``, ``B_argmin``, ``lr_opt``, ``B_opt``, ``loss_opt`` (refined), ``refined``,
    ``refine_note``, ``n_band``, ``band_lr_min``, ``band_lr_max``, ``band_B_min``, ``band_B_max``.
    """
    keys = list(keys)
    missing = [c for c in [*keys, "lr", "B", "L"] if c not in frame.columns]
    if missing:
        raise RunDataError(f"cell optima need columns {missing}; have {list(frame.columns)}")
    in_band = band_mask(frame, keys=keys, tol=tol)
    rows = []
    for key, idx in frame.groupby(keys, sort=True).indices.items():
        sub = frame.iloc[idx]
        lr, b, loss = (sub[c].to_numpy(dtype=float) for c in ("lr", "B", "L"))
        i0 = int(np.argmin(loss))
        ref = refine_optimum(np.log(lr), np.log(b), loss, refine_tol=refine_tol)
        band = in_band[idx]
        key = key if isinstance(key, tuple) else (key,)
        rows.append({
            **dict(zip(keys, key)), "n_runs": len(sub), "loss_min": float(loss[i0]),
            "lr_argmin": float(lr[i0]), "B_argmin": float(b[i0]),
            "lr_opt": float(np.exp(ref["log_lr"])), "B_opt": float(np.exp(ref["log_B"])), "loss_opt": ref["loss"],
            "refined": ref["refined"], "refine_note": ref["note"], "n_band": int(band.sum()),
            "band_lr_min": float(lr[band].min()), "band_lr_max": float(lr[band].max()),
            "band_B_min": float(b[band].min()), "band_B_max": float(b[band].max()),
        })
    return pd.DataFrame(rows)


def nearest_run(frame: pd.DataFrame, lr: float, batch: float) -> int:
    """Positional index of the run nearest to (lr, batch) in (ln lr, ln B) — for judging a recommendation."""
    d = (np.log(frame["lr"].to_numpy(dtype=float)) - np.log(lr)) ** 2
    d = d + (np.log(frame["B"].to_numpy(dtype=float)) - np.log(batch)) ** 2
    return int(np.argmin(d))
