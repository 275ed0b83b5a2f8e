"""Held-out scores as the scaling-law literature reports them, for backtests and law selection.

On the held-out rows (truth ``y``, prediction ``p``):

- ``r2``: 1 - sum((p - y)^2) / sum((y - mean y)^2) (NaN with fewer than 2 rows or constant ``y``);
- ``rmsle``: sqrt(mean((ln p - ln y)^2)), the RMSE of log predictions (NaN where a value is not positive);
- ``rmse``: sqrt(mean((p - y)^2)), in target units (defined for targets of any sign);
- ``nmse``: mean((p - y)^2) / var(y), the MSE normalised by the truths' variance (= 1 - r2);
- ``mean_abs_rel_error`` / ``max_abs_rel_error``: of |p - y| / |y|;
- with a band [lo, hi] at level 1 - a (a prediction or bootstrap interval): ``coverage``, the share of truths
  inside it, ``mean_band_width`` (hi - lo, target units), ``mean_rel_band_width`` ((hi - lo) / p) and the
  interval score of Gneiting & Raftery (2007, eq. 43), (hi - lo) + (2/a)(lo - y)[y < lo] + (2/a)(y - hi)[y > hi]:
  its mean ``interval_score`` (target units) and ``rel_interval_score`` (each divided by |y|). Lower is better:
  it rewards narrow bands and charges each miss 2/a times its distance to the band.
"""

from __future__ import annotations

import numpy as np

SCORE_NAMES = ("r2", "rmsle", "rmse", "nmse", "mean_abs_rel_error", "max_abs_rel_error")
BAND_NAMES = ("coverage", "mean_band_width", "mean_rel_band_width", "interval_score", "rel_interval_score")


def scores(actual, predicted, lower=None, upper=None, *, level: float = 0.95) -> dict[str, float]:
    """The scores above (floats; NaN where undefined), plus ``n``; band scores only when a band is given."""
    y = np.asarray(actual, dtype=float).reshape(-1)
    p = np.asarray(predicted, dtype=float).reshape(-1)
    out: dict[str, float] = {"n": int(len(y))}
    if len(y) == 0:
        return {**out, **{k: float("nan") for k in SCORE_NAMES}}
    err = p - y
    mse = float(np.mean(err**2))
    var = float(np.var(y))
    with np.errstate(all="ignore"):
        rel = np.abs(err) / np.abs(y)
        logs = np.log(p) - np.log(y) if (y > 0).all() and (p > 0).all() else np.full_like(y, np.nan)
    ok = len(y) >= 2 and var > 0
    out["r2"] = 1.0 - mse / var if ok else float("nan")
    out["rmsle"] = float(np.sqrt(np.mean(logs**2)))
    out["rmse"] = float(np.sqrt(mse))
    out["nmse"] = mse / var if ok else float("nan")
    out["mean_abs_rel_error"] = float(np.mean(rel))
    out["max_abs_rel_error"] = float(np.max(rel))
    if lower is not None and upper is not None:
        out.update(band_scores(y, p, lower, upper, level=level))
    return out


def band_scores(actual, predicted, lower, upper, *, level: float = 0.95) -> dict[str, float]:
    """Coverage of the band [lower, upper] (share of truths inside, ends included), its mean widths and its
    mean interval score at ``level``."""
    y = np.asarray(actual, dtype=float).reshape(-1)
    p = np.asarray(predicted, dtype=float).reshape(-1)
    lo = np.asarray(lower, dtype=float).reshape(-1)
    hi = np.asarray(upper, dtype=float).reshape(-1)
    if len(y) == 0:
        return {k: float("nan") for k in BAND_NAMES}
    width = hi - lo
    alpha = 1.0 - level
    with np.errstate(all="ignore"):
        score = width + (2 / alpha) * (np.clip(lo - y, 0, None) + np.clip(y - hi, 0, None))
        return {
            "coverage": float(np.mean((y >= lo) & (y <= hi))),
            "mean_band_width": float(np.nanmean(width)),
            "mean_rel_band_width": float(np.nanmean(width / np.abs(p))),
            "interval_score": float(np.nanmean(score)),
            "rel_interval_score": float(np.nanmean(score / np.abs(y))),
        }


def format_scores(s: dict, *, errors: bool = True) -> str:
    """One line: mean/max |relative error| (unless ``errors=False``), R², RMSLE, NMSE, and the band's coverage
    and mean width when present."""
    def f(v: float, spec: str) -> str:
        return "n/a" if v is None or not np.isfinite(v) else format(v, spec)

    parts = [f"mean |relative error| = {f(100 * s['mean_abs_rel_error'], '.3f')}%   "
             f"max = {f(100 * s['max_abs_rel_error'], '.3f')}%"] if errors else []
    parts.append(f"R² = {f(s['r2'], '.4f')}   RMSLE = {f(s['rmsle'], '.4g')}   NMSE = {f(s['nmse'], '.4g')}")
    if "coverage" in s:
        what = f"{100 * s.get('level', 0.95):g}% {s.get('interval') or 'bootstrap'} interval"
        parts.append(f"{what}: coverage = {f(100 * s['coverage'], '.1f')}%   mean width = "
                     f"{f(s['mean_band_width'], '.4g')} ({f(100 * s['mean_rel_band_width'], '.2f')}%)   "
                     f"interval score = {f(s['interval_score'], '.4g')} ({f(100 * s['rel_interval_score'], '.2f')}%)")
    return "   ".join(parts)


__all__ = ["BAND_NAMES", "SCORE_NAMES", "band_scores", "format_scores", "scores"]
