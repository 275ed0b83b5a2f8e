"""Prediction intervals that cover the truth when extrapolating, calibrated on the fit's own rows.

A bootstrap band is the uncertainty of the fitted curve (``interval="mean"``). Where a new run at a scale
would land (``interval="prediction"``) also depends on the run-to-run noise and on the error that
extrapolating the law brings, which grows with the distance beyond the fitted range. Both are learnt from
the rows given, never from a holdout:

1. **Noise.** σ = 1.4826 × MAD of the in-sample residuals r (ln(pred/actual) for a log-space fit,
   pred − actual for a raw-space one).
2. **Rolling-origin extrapolation folds** (:mod:`scalefit.fitting.folds`): along each scale axis of the law
   (N, C, D, M among its inputs, else every input that varies), fold k refits the law on the rows below the
   (1 − k·f) quantile (K = 5 folds, f = 0.1) and predicts the rows above: out-of-fold residuals r at
   distances d beyond the fold's fitted range, measured in fitted spans (:func:`distance`: the Euclidean
   norm over the inputs of ln(v/hi) / ln(hi/lo)), so that folds fitted on narrower ranges than the full
   fit are comparable with it.
3. **Error growth.** s(d) = sqrt(σ² + (g·d)²), g ≥ 0 with g² the median over the out-of-fold points of their
   own (r² − σ²)/d² (:func:`growth`; robust to the far folds that dominated a least-squares fit).
4. **Multiplier, fold by fold, along the prediction's axis.** Each fold's q_f is the ``level`` quantile of its
   normalised scores |r| / s(d). A prediction at x takes the multiplier of the folds along the axis x
   extrapolates furthest along (its largest per-input distance; every fold's when x lies inside the fitted
   ranges or beyond them only along an input no fold is cut along): q is the ⌈(F+1)·level⌉-th smallest of those
   F folds' q_f, their largest when F < 1/(1 − level) − 1 (as for any 1–5 folds per axis at 0.95).

What this guarantees: **no theorem**. It borrows split-conformal prediction's order statistic, but the folds
are nested and overlap across axes, so they are not exchangeable with each other or with the extrapolation
asked for; with one fold along an axis q is that fold's ``level`` quantile of a handful of scores. What the
band has is the coverage measured on held-out larger scales by ``benchmarks/bench_calibration.py`` (synthetic
misspecified laws, Epoch's N ≥ 5e9, Gadre's larger models; results in ``benchmarks/results/``), where the rules
studied instead (pooled out-of-fold quantiles, medians of folds, a power-law growth, a least-squares growth, all
folds' maximum) are scored too. The per-axis maximum is the one that held on all three: pooled or averaged rules
drop Epoch's coverage below 85% (its largest runs miss more than the folds' typical extrapolations), and the
maximum over every fold made Gadre's band 11.6× its error (its D folds, refitted on few rows, miss far more than
its N extrapolation). The median growth narrowed the synthetic band by a tenth against a least-squares one,
keeping Epoch's and Gadre's coverage.

The prediction interval at inputs x is pred ± max(q·s(d), z·σ_fit) (in log units for a log-space fit), d the
distance of x beyond the full fit's range, σ_fit the bootstrap spread of the fitted curve at x (0 without a
bootstrap) and z the Gaussian quantile: the folds' errors already hold the parameter uncertainty of a fit on
fewer rows, so the bootstrap spread is not added to them; it only keeps the prediction interval from being
narrower than the mean interval. The calibration is stored in the result (and its file), so ``predict`` and
``plot`` reuse it; it says how many folds and points it rests on, and warns when they are too few.
The folds of fits are refitted (all fits' folds in one stacked search) by :mod:`scalefit.fitting.calibrate_fits`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from scalefit.errors import ConvergenceWarning, ScalefitError
from scalefit.fitting.folds import DESCENDING, OutwardFold, outward_folds, scale_axes

METHOD = "rolling-origin extrapolation folds"
FOLDS, FRACTION = 5, 0.1  # fold k holds out the top k·10% along an axis, k = 1..5
MIN_FOLDS, MIN_POINTS = 3, 20  # below these the calibration is flagged as too thin
SPAN_FLOOR = 0.1  # smallest fitted span (e-folds, or range units) a distance is measured in
MAX_ROWS = 20_000  # a larger fit is calibrated on a seeded subsample of this many rows
FAILURES = (ScalefitError, ValueError, ArithmeticError, np.linalg.LinAlgError)

Predictor = Callable[[dict], np.ndarray]  # a refitted law: inputs -> predictions


def distances(x: Mapping[str, np.ndarray], ranges: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Extrapolation distance of each point along each input with a fitted range, in fitted spans: the distance
    beyond the fitted range [lo, hi] divided by the range's width, both on a log scale for positive inputs
    (ln(v/hi) / ln(hi/lo)), linear otherwise; widths floored at 0.1 (e-folds or range units); 0 inside.

    Dividing by the span makes a fold fitted on a narrow range and a full fit on a wide one comparable: one
    e-fold beyond a fit over one e-fold is a far bolder extrapolation than one e-fold beyond a fit over five."""
    out = {}
    for s, v in x.items():
        v = np.asarray(v, dtype=float).reshape(-1)
        if s not in ranges:
            continue
        lo, hi = (float(b) for b in ranges[s])
        with np.errstate(all="ignore"):
            if lo > 0 and np.all(v > 0):
                beyond, span = np.maximum(np.log(v / hi), np.log(lo / v)), np.log(hi / lo)
            else:
                beyond, span = np.maximum(v - hi, lo - v), hi - lo
        out[s] = np.clip(beyond, 0.0, None) / max(span, SPAN_FLOOR)
    return out


def distance(x: Mapping[str, np.ndarray], ranges: Mapping[str, object]) -> np.ndarray:
    """Extrapolation distance of each point, in fitted spans: the Euclidean norm over the inputs of
    :func:`distances`."""
    per_input = distances(x, ranges)
    n = len(next(iter(x.values()))) if x else 0
    return np.sqrt(sum(d**2 for d in per_input.values())) if per_input else np.zeros(n)


def decades(x: Mapping[str, np.ndarray], ranges: Mapping[str, object]) -> dict[str, float]:
    """How far the inputs ``x`` go beyond the fitted ``ranges``, in decades (log10) per positive input with a
    range (0 inside it): the numbers an extrapolation warning quotes."""
    out = {}
    for s, v in x.items():
        v = np.asarray(v, dtype=float).reshape(-1)
        if s not in ranges or not v.size:
            continue
        lo, hi = (float(b) for b in ranges[s])
        if lo > 0 and np.all(v > 0):
            out[s] = float(np.max(np.clip(np.maximum(np.log10(v / hi), np.log10(lo / v)), 0.0, None)))
    return out


def residuals(y, pred, space: str) -> np.ndarray:
    """ln(pred/y) for a log-space fit, pred − y otherwise."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    with np.errstate(all="ignore"):
        return np.log(pred / y) if space == "log" else pred - y


def noise_scale(r: np.ndarray) -> float:
    """1.4826 × MAD of the finite residuals (robust to the outliers a Huber fit leaves); 0 when none."""
    r = np.asarray(r, dtype=float)
    r = r[np.isfinite(r)]
    return float(1.4826 * np.median(np.abs(r - np.median(r)))) if r.size else 0.0


@dataclass(frozen=True)
class AxisFold(OutwardFold):
    """An outward fold of the calibration, with the scale axis it extrapolates along."""

    axis: str = ""


def fold_masks(x: Mapping[str, np.ndarray], n_params: int) -> list[tuple[AxisFold, np.ndarray]]:
    """The scale axes' outward folds that keep enough rows to fit (n_params + 2), with the mask of those rows."""
    folds = [(AxisFold(**vars(fold), axis=axis), ~fold.held) for axis in scale_axes(x)
             for fold in outward_folds(x[axis], axis, FOLDS, FRACTION, descending=axis in DESCENDING)]
    return [(fold, inside) for fold, inside in folds if inside.sum() >= n_params + 2]


def fold_residuals(x: Mapping[str, np.ndarray], y: np.ndarray, space: str,
                   folds: list[tuple[OutwardFold, np.ndarray]], predictors: list[Predictor | None],
                   ) -> list[tuple[str, np.ndarray, dict[str, np.ndarray], str]]:
    """[(fold, out-of-fold residuals, their distances per input, the fold's axis)] over the ``folds`` whose refit
    succeeded: ``predictors[i]`` is the law refitted on fold i's rows (None where that fit failed)."""
    out = []
    for (fold, inside), predict in zip(folds, predictors):
        if predict is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = np.asarray(predict({s: v[fold.held] for s, v in x.items()}), dtype=float)
        except FAILURES:
            continue
        ranges = {s: (float(np.min(v[inside])), float(np.max(v[inside]))) for s, v in x.items()}
        r = residuals(y[fold.held], pred, space)
        d = distances({s: v[fold.held] for s, v in x.items()}, ranges)
        ok = np.isfinite(r) & np.all([np.isfinite(v) for v in d.values()], axis=0)
        if ok.any():
            out.append((fold.what, r[ok], {s: v[ok] for s, v in d.items()}, getattr(fold, "axis", "")))
    return out


def growth(folds: list[tuple[str, np.ndarray, Mapping[str, np.ndarray]]], sigma: float) -> float:
    """g >= 0 in s(d)² = σ² + (g·d)²: g² the median over the out-of-fold points beyond their fold's range (d > 0,
    d the Euclidean norm of the per-input distances) of each point's own estimate (r² − σ²)/d², 0 when that
    median is negative or no point is beyond.

    Each point's excess squared error normalised by its own distance, and the median of those: a least-squares
    fit of r² − σ² on d² weights each point by d⁴, so the farthest folds (refitted on two or three scale values,
    their errors far from linear in d) set g for every distance."""
    if not folds:
        return 0.0
    r = np.concatenate([f[1] for f in folds])
    d = np.concatenate([_norm(f[2], f[1].size) for f in folds])
    beyond = d > 0
    if not beyond.any():
        return 0.0
    return math.sqrt(max(0.0, float(np.median((r[beyond] ** 2 - sigma**2) / d[beyond] ** 2))))


def _norm(d: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """The Euclidean norm of per-input distances (zeros for none)."""
    return np.sqrt(sum(np.asarray(v, float) ** 2 for v in d.values())) if d else np.zeros(n)


def calibrate(x: Mapping[str, np.ndarray], y: np.ndarray, fitted: np.ndarray, space: str,
              folds: list[tuple[OutwardFold, np.ndarray]], predictors: list[Predictor | None]) -> dict:
    """The calibration (a JSON-ready dict) of a fit on inputs ``x``, target ``y``, in-sample predictions
    ``fitted``, from its :func:`fold_masks` ``folds`` and the law refitted on each (``predictors``)."""
    y = np.asarray(y, dtype=float)
    sigma = noise_scale(residuals(y, fitted, space))
    folds = fold_residuals(x, y, space, folds, predictors)
    g = growth(folds, sigma)
    cal = {"method": METHOD, "space": space, "axes": scale_axes(x), "noise": sigma, "growth": g,
           "folds": [], "points": 0}
    for what, r, d, axis in folds:
        score = np.abs(r) / scale(cal, d)
        cal["folds"].append({"fold": what, "axis": axis, "points": int(r.size),
                             "max_distance": float(np.max(_norm(d, r.size))),
                             "scores": [float(v) for v in np.sort(score)]})
    cal["points"] = int(sum(f["points"] for f in cal["folds"]))
    return cal


def scale(calibration: Mapping, d) -> np.ndarray:
    """s(d) = sqrt(σ² + (g·d)²) at distances ``d`` (an array of :func:`distance`, or per-input
    :func:`distances`; σ floored at 1e-12)."""
    noise2 = max(float(calibration["noise"]), 1e-12) ** 2
    if isinstance(d, Mapping):
        d = _norm(d, 0)
    d = np.asarray(d, dtype=float)
    return np.sqrt(noise2 + (float(calibration["growth"]) * d) ** 2)


def _distances(x: Mapping[str, np.ndarray], ranges: Mapping[str, object]):
    """Per-input :func:`distances` of the points ``x``, or their combined :func:`distance` (zeros) when no input
    has a fitted range."""
    return distances(x, ranges) or distance(x, ranges)


def gaussian_quantile(level: float) -> float:
    """The two-sided standard normal quantile (1.96 at 0.95)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def thin(calibration: Mapping | None) -> str | None:
    """Why the calibration is too thin to trust (None when it is not)."""
    if not calibration or "method" not in calibration:
        return "this fit has no prediction-interval calibration (fitted with calibrate=False or by an older " \
               "scalefit); the prediction interval uses the residual noise with a Gaussian multiplier"
    folds, points = len(calibration["folds"]), calibration["points"]
    if folds < MIN_FOLDS or points < MIN_POINTS:
        return (f"the prediction interval is calibrated on only {folds} extrapolation folds and {points} "
                f"out-of-fold points (fewer than {MIN_FOLDS} folds or {MIN_POINTS} points): too few to calibrate; "
                "its multiplier is the Gaussian one or the largest fold's, whichever is larger")
    return None


def multiplier(calibration: Mapping, level: float, axis: str | None = None) -> float:
    """q at ``level``: the ⌈(F+1)·level⌉-th smallest of the ``level`` quantiles of the F folds' scores (the
    largest when F < 1/(1 − level) − 1, as for any 5–10 folds at 0.95), over the folds along ``axis`` (every
    fold when ``axis`` is None or has no fold, or in a calibration that does not record the folds' axes);
    never below the Gaussian quantile when the calibration is thin."""
    folds = [f for f in calibration.get("folds", []) if f["scores"]]
    along = [f for f in folds if axis is not None and f.get("axis") == axis]
    per_fold = sorted(float(np.quantile(f["scores"], level)) for f in (along or folds))
    z = gaussian_quantile(level)
    if not per_fold:
        return z
    k = min(len(per_fold), math.ceil((len(per_fold) + 1) * level))
    q = per_fold[k - 1]
    return max(q, z) if thin(calibration) else q


def multipliers(calibration: Mapping, d, level: float) -> np.ndarray | float:
    """The multiplier at each point of per-input distances ``d`` (:func:`distances`): that of the folds along the
    axis the point extrapolates furthest along (in fitted spans), the multiplier of every fold for a point
    inside the fitted ranges or beyond them along an input no fold extrapolates along. ``d`` an array of
    :func:`distance` (no per-input distances): every fold's multiplier."""
    if not isinstance(d, Mapping) or not d:
        return multiplier(calibration, level)
    names = list(d)
    stacked = np.vstack(np.broadcast_arrays(*(np.asarray(d[s], dtype=float).reshape(-1) for s in names)))
    furthest = np.argmax(stacked, axis=0)
    beyond = stacked.max(axis=0) > 0
    by_axis = {j: multiplier(calibration, level, names[j]) for j in np.unique(furthest[beyond])}
    overall = multiplier(calibration, level)
    return np.array([by_axis[j] if b else overall for j, b in zip(furthest, beyond)], dtype=float)


def half_width(calibration: Mapping | None, d, level: float, spread=0.0) -> np.ndarray:
    """Half-width of the prediction interval (log units for a log-space fit) at distances ``d`` (per input, as
    :func:`distances` gives them, so that each point takes the multiplier of the axis it extrapolates along; or
    the combined :func:`distance`); a missing or thin calibration is warned about (ConvergenceWarning)."""
    note = thin(calibration)
    if note:
        warnings.warn(note, ConvergenceWarning, stacklevel=3)
    cal = calibration or {"noise": 0.0, "growth": 0.0, "folds": []}
    return np.maximum(multipliers(cal, d, level) * scale(cal, d), gaussian_quantile(level) * np.asarray(spread, float))


def describe(calibration: Mapping) -> str:
    """One line for a report: what the calibration rests on, and the 95% multiplier along each axis."""
    axes = [a for a in calibration["axes"] if any(f.get("axis") == a for f in calibration["folds"])]
    per_axis = "; 95% multiplier " + ", ".join(
        f"{a} {multiplier(calibration, 0.95, a):.2f} ({sum(f.get('axis') == a for f in calibration['folds'])} "
        "folds)" for a in axes) if axes else ""
    return (f"prediction intervals: {calibration['method']} along {', '.join(calibration['axes']) or 'no axis'}; "
            f"{len(calibration['folds'])} folds, {calibration['points']} out-of-fold points; noise "
            f"{calibration['noise']:.3g}, error growth {calibration['growth']:.3g} per fitted span of "
            f"extrapolation{per_axis}{'' if thin(calibration) is None else ' (too few to calibrate)'}")


def fit_spread(result, x: Mapping[str, np.ndarray]) -> np.ndarray | float:
    """The bootstrap spread (standard deviation; of log predictions for a log-space fit) of ``result``'s
    fitted curve at resolved inputs ``x``; 0 without a bootstrap."""
    if not result.bootstrap:
        return 0.0
    p = {k: np.asarray(v, dtype=float)[:, None] for k, v in result.bootstrap.items()}
    with np.errstate(all="ignore"):
        s = np.asarray(result.law_spec.formula(x, p), dtype=float)
        s = np.log(s) if result.stats.get("space") == "log" else s
        s = np.where(np.isfinite(s), s, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nan_to_num(np.nanstd(s, axis=0), nan=0.0)


def prediction_band(result, x: Mapping[str, np.ndarray], level: float, center=None) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) at ``level`` of where a new run at resolved inputs ``x`` (symbol -> array) would land, for
    one (ungrouped) fit ``result``: pred ± max(q·s(d), z·σ_fit), in log units for a log-space fit.

    ``center`` replaces the fit's own predictions as the band's centre (a chained prediction passes the value
    it propagated). This is the function other procedures call to give their predictions prediction intervals.
    """
    from scalefit.fitting.resample import tail_percent

    tail_percent(level)  # refuses a level outside (0, 1)
    if center is None:
        center = np.asarray(result.law_spec(dict(x), result.params), dtype=float).reshape(-1)
    center = np.asarray(center, dtype=float)
    cal = result.calibration
    if cal is None:  # fitted with calibrate=False or by an older scalefit: the fit's residual noise (warned)
        cal = {"noise": float(result.stats.get("rmse_log" if result.stats.get("space") == "log" else "rmse", 0.0)),
               "growth": 0.0, "folds": [], "points": 0}
    hw = half_width(cal, _distances(x, result.data.get("ranges", {})), level, fit_spread(result, x))
    if result.stats.get("space") == "log":
        return center * np.exp(-hw), center * np.exp(hw)
    return center - hw, center + hw


def widen_for(interval: str, level: float = 0.95, seed: int = 0):
    """The ``widen`` of a sample-based (chained or ladder) prediction: :func:`prediction_widen` for
    ``interval="prediction"``, None (the bootstrap band) otherwise."""
    return prediction_widen(level, seed) if interval == "prediction" else None


class PredictionWiden:
    """A ``widen(fit, x, samples)`` for sample-based intervals (:func:`scalefit.planning.chain.chain_predict`):
    each (draws, points) bootstrap draw of ``fit``'s prediction at inputs ``x`` gets a seeded normal error of
    scale sqrt(h² − (z·σ_fit)²)/z (h the prediction half-width at the point, σ_fit the draws' own spread, z
    the Gaussian quantile), multiplied in for a log-space fit, added otherwise, so that the draws' ``level``
    percentile interval is about the prediction interval pred ± h. Its random draws must not narrow the fitted
    curve's band, which a prediction interval holds: a chain widened by one reports the envelope of the two."""

    def __init__(self, level: float = 0.95, seed: int = 0) -> None:
        self.level, self.rng, self.z = level, np.random.default_rng(seed), gaussian_quantile(level)

    def __call__(self, fit, x: Mapping[str, np.ndarray], samples: np.ndarray) -> np.ndarray:
        cal = fit.calibration or {"noise": float(fit.stats.get("rmse_log" if fit.stats.get("space") == "log"
                                                                 else "rmse", 0.0)), "growth": 0.0, "folds": []}
        hw = half_width(cal, _distances(dict(x), fit.data.get("ranges", {})), self.level)
        log = fit.stats.get("space") == "log"
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            spread = np.nan_to_num(np.nanstd(np.log(samples) if log else samples, axis=0), nan=0.0)
            e = (self.rng.standard_normal(np.shape(samples)) * np.sqrt(np.clip(hw**2 - (self.z * spread) ** 2, 0, None))
                 / self.z)
            return samples * np.exp(e) if log else samples + e


def prediction_widen(level: float = 0.95, seed: int = 0) -> PredictionWiden:
    """The :class:`PredictionWiden` at ``level``, its draws seeded with ``seed``."""
    return PredictionWiden(level, seed)


__all__ = ["METHOD", "AxisFold", "PredictionWiden", "calibrate", "decades", "describe", "distance", "distances",
           "half_width", "multiplier", "multipliers", "residuals", "scale", "scale_axes", "thin", "fold_masks",
           "fold_residuals", "fit_spread", "prediction_band", "prediction_widen", "widen_for"]
