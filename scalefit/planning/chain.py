"""Chained prediction: a loss law feeds a downstream law (compute -> loss -> error).

The point prediction evaluates the first fit at the inputs and the second fit at that predicted
loss. Intervals propagate both fits' bootstrap uncertainty: the k-th bootstrap loss prediction is
fed to the k-th bootstrap parameter set of the downstream fit ("paired"). The two bootstraps
resample different runs independently, so pairing by index is a valid joint draw; when the two fits
have different numbers of resamples, ``max(B1, B2)`` pairs are drawn with replacement from each
(seeded). When only one fit has a bootstrap, only its uncertainty is propagated and the result says so.

``chain_predict_groups`` chains every group in one call: groups of the two fits are joined by name (a group
missing from either fit is a one-line FitError naming it), and an ungrouped fit feeds, or is fed by, every
group of the other (one loss curve into per-task accuracy laws). Prediction columns are named by
:func:`prediction_label`: the target symbol (``L_pred``, ``Err_pred``), or the fitted column for laws that
say what they predict (``acc_mmlu_pred``; :data:`scalefit.laws.downstream_acc.COLUMN_NAMED`).

``widen``: a seam for prediction (rather than mean) intervals. A callable ``widen(fit, x, samples)`` receives
each stage's fit, its inputs at the points (symbol -> (points,) array; for the chained stage, the first stage's
point prediction) and its (draws, points) samples, and returns samples of the same shape (e.g. with the
run-to-run noise and extrapolation error of a calibrated fit added); the first stage's widened samples feed
the second stage, so the widening propagates. ``None`` leaves the bootstrap samples as
they are (mean intervals).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from scalefit.errors import FitError
from scalefit.fitting.calibration import PredictionWiden
from scalefit.fitting.fit_set import FitSet, member
from scalefit.fitting.resample import percentile_interval, tail_percent
from scalefit.fitting.result import FitResult
from scalefit.laws.downstream_acc import COLUMN_NAMED

Widen = Callable[[FitResult, Mapping[str, np.ndarray], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ChainPrediction:
    """Predictions of both stages at the same points, with the bootstrap samples behind the intervals."""

    frame: pd.DataFrame  # the inputs, then <L>_pred[,_lower,_upper] and <Err>_pred[,_lower,_upper]
    first_target: str  # target symbol of the first fit (e.g. "L")
    second_target: str  # target symbol of the second fit (e.g. "Err")
    n_samples: int  # joint bootstrap draws behind the intervals (0: no intervals)
    pairing: str  # "paired", "resampled", "first only", "second only" or "none"
    level: float  # interval level
    group_by: str | None = None  # chain_predict_groups: the column naming each row's group (None: one chain)
    labels: tuple[str, str] = ("", "")  # prefixes of the two stages' columns (prediction_label of each fit)


def prediction_label(fit: FitResult) -> str:
    """What a fit's prediction columns are called: ``<label>_pred``. The target symbol (``L``, ``Err``), or for
    the laws that say what they predict the column they were fitted on (``acc_mmlu``)."""
    symbol = fit.law_spec.target
    if fit.law not in COLUMN_NAMED:
        return symbol
    column = fit.data.get("mapping", {}).get(symbol)
    source = str(fit.data.get("provenance", {}).get(symbol, ""))
    if column is None and source.startswith("column "):  # found by name or alias: "column 'acc'"
        column = source[len("column "):].strip("'\"")
    return str(column) if column else symbol


def _check_link(first: FitResult, second: FitResult) -> str:
    target = first.law_spec.target
    inputs = second.law_spec.inputs
    if len(inputs) != 1:
        raise FitError(
            f"the chained fit ({second.law}) must take one input (the first fit's {target}); it takes {list(inputs)}"
        )
    if inputs[0] != target:
        raise FitError(
            f"cannot chain {first.law} -> {second.law}: the first predicts {target!r} but the second takes "
            f"{inputs[0]!r}; chain a loss fit into a downstream fit, e.g. `scalefit predict loss.json --chain err.json`"
        )
    return target


def _frame(inputs: Mapping[str, Any] | pd.DataFrame) -> pd.DataFrame:
    """The points as a DataFrame: a copy of one, or a column of each symbol's values."""
    if isinstance(inputs, pd.DataFrame):
        return inputs.copy()
    return pd.DataFrame({k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in inputs.items()})


def _joint_indices(b1: int, b2: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    if b1 == b2:
        idx = np.arange(b1)
        return idx, idx, "paired"
    rng = np.random.default_rng(seed)
    n = max(b1, b2)
    return rng.integers(0, b1, n), rng.integers(0, b2, n), "resampled"


def chain_predict(first: FitResult, second: FitResult, inputs: Mapping[str, Any] | pd.DataFrame, *,
                  level: float = 0.95, seed: int = 0, widen: Widen | None = None) -> ChainPrediction:
    """Predict ``first``'s target at ``inputs``, then ``second``'s target at that prediction.

    Two single fits (of a grouped fit, its member: ``loss["c4"]``; every group at once:
    :func:`chain_predict_groups`). ``seed`` is used only when the two bootstraps differ in size (indices are then
    resampled). ``widen``: see the module docstring.
    """
    tail_percent(level)  # a bad level: the one-line error, before any work
    one, two = member(first), member(second)  # a FitSet: refused, naming its keys
    mid = _check_link(one, two)
    lab1, lab2 = prediction_label(one), prediction_label(two)
    frame = _frame(inputs)
    loss = one.predict(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the second fit's range check is on a predicted, not a user, input
        err = np.asarray(two.law_spec({mid: loss}, two.params), dtype=float).reshape(-1)
    two.warn_extrapolation({mid: loss})
    out = frame.copy()
    out[f"{lab1}_pred"] = loss
    out[f"{lab2}_pred"] = err
    loss_s, err_s, how = _joint_samples(one, two, frame, loss, mid, seed, widen)
    if loss_s is None:
        return ChainPrediction(out, mid, two.law_spec.target, 0, "none", level, labels=(lab1, lab2))
    if how != "second only" or widen is not None:
        out[f"{lab1}_lower"], out[f"{lab1}_upper"] = percentile_interval(loss_s, level, axis=0)
    out[f"{lab2}_lower"], out[f"{lab2}_upper"] = percentile_interval(err_s, level, axis=0)
    if isinstance(widen, PredictionWiden):  # a prediction interval holds the fitted curve's band: the envelope
        plain = _joint_samples(one, two, frame, loss, mid, seed, None)[:2]
        for lab, samples in zip((lab1, lab2), plain):
            lo, hi = percentile_interval(samples, level, axis=0)
            out[f"{lab}_lower"] = np.fmin(out[f"{lab}_lower"].to_numpy(dtype=float), lo)
            out[f"{lab}_upper"] = np.fmax(out[f"{lab}_upper"].to_numpy(dtype=float), hi)
    cols = [c for c in out.columns if c not in frame.columns]
    rank = {"pred": 0, "lower": 1, "upper": 2}
    order = sorted(cols, key=lambda c: (not c.startswith(lab1 + "_"), rank[c.rsplit("_", 1)[1]]))
    out = out[[*frame.columns, *order]]
    return ChainPrediction(out, mid, two.law_spec.target, int(loss_s.shape[0]), how, level, labels=(lab1, lab2))


def _joint_samples(one: FitResult, two: FitResult, frame: pd.DataFrame, loss: np.ndarray, mid: str, seed: int,
                   widen: Widen | None):
    """(loss draws, downstream draws, pairing): each downstream draw evaluates one bootstrap parameter set of
    ``two`` at one bootstrap loss of ``one`` (widened first, when ``widen`` is given); (None, None, "none")
    without any bootstrap."""
    s1 = one.samples(frame) if one.bootstrap else None
    p2 = two.param_samples()
    if s1 is None and p2 is None:
        return None, None, "none"
    if s1 is not None and p2 is not None:
        i1, i2, how = _joint_indices(s1.shape[0], len(next(iter(p2.values()))), seed)
        loss_s = s1[i1]
        par = {k: v[i2][:, None] for k, v in p2.items()}
    elif s1 is not None:
        loss_s, par, how = s1, {k: np.array([[v]]) for k, v in two.params.items()}, "first only"
    else:
        loss_s = np.broadcast_to(loss, (len(next(iter(p2.values()))), loss.size))
        par, how = {k: v[:, None] for k, v in p2.items()}, "second only"
    if widen is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the extrapolation warning was given by one.predict already
            x = one._inputs(frame)
        loss_s = np.asarray(widen(one, x, np.array(loss_s)), dtype=float)
    with np.errstate(all="ignore"):
        err_s = np.broadcast_to(two.law_spec.formula({mid: loss_s}, par), loss_s.shape)
    if widen is not None:
        err_s = np.asarray(widen(two, {mid: np.asarray(loss, dtype=float)}, np.array(err_s)), dtype=float)
    return loss_s, err_s, how


def _group_pairs(first: FitResult, second: FitResult) -> list[tuple[str | None, str | None, str | None]]:
    """(row label, group of ``first``, group of ``second``) for every chain; groups joined by name."""
    g1, g2 = (list(f) if isinstance(f, FitSet) else [] for f in (first, second))
    if not g1 and not g2:
        return [(None, None, None)]
    if not g1 or not g2:
        return [(g, g if g1 else None, g if g2 else None) for g in (g1 or g2)]
    for mine, theirs, which in ((g2, g1, "the first (loss) fit"), (g1, g2, "the chained fit")):
        missing = [g for g in mine if g not in theirs]
        if missing:
            raise FitError(f"group {missing[0]!r} has no match in {which}, whose groups are {sorted(theirs)}; "
                           "chained groups are joined by name")
    return [(g, g, g) for g in g2]


def chain_predict_groups(first: FitResult, second: FitResult, inputs: Mapping[str, Any] | pd.DataFrame, *,
                         level: float = 0.95, seed: int = 0, widen: Widen | None = None) -> ChainPrediction:
    """:func:`chain_predict` for every group at once: one row per (point, group), the group in a column named
    like the grouped fit's ``group_by`` (the chained fit's when both are grouped). When the inputs have that
    column, each row is predicted for its own group only. See the module docstring."""
    pairs = _group_pairs(first, second)
    if pairs == [(None, None, None)]:
        return chain_predict(first, second, inputs, level=level, seed=seed, widen=widen)
    frame = _frame(inputs)
    col = second.by if isinstance(second, FitSet) else first.by
    own = col in frame.columns
    if own:
        unknown = sorted({str(v) for v in frame[col]} - {g for g, _, _ in pairs})
        if unknown:
            raise FitError(f"the inputs' {col} {unknown[0]!r} is not a group of the fits; groups are "
                           f"{sorted(g for g, _, _ in pairs)}")
    parts, names = [], []
    for g, a, b in pairs:
        rows = frame[frame[col].astype(str) == g] if own else frame
        if len(rows):
            parts.append(chain_predict(member(first, a), member(second, b), rows, level=level, seed=seed,
                                       widen=widen))
            names.append(g)
    if len({p.labels for p in parts}) > 1:  # groups fitted on different columns: one set of columns, by symbol
        parts = [_rename(p) for p in parts]
    inputs_cols = [c for c in frame.columns if c != col]
    out = pd.concat([p.frame.assign(**{col: g}) for p, g in zip(parts, names)])
    out = out.loc[frame.index] if own else out.reset_index(drop=True)
    out = out[[*inputs_cols, col, *[c for c in out.columns if c not in frame.columns and c != col]]]
    how = {p.pairing for p in parts}
    return ChainPrediction(out, parts[0].first_target, parts[0].second_target, min(p.n_samples for p in parts),
                           how.pop() if len(how) == 1 else "mixed", level, group_by=col, labels=parts[0].labels)


def _rename(pred: ChainPrediction) -> ChainPrediction:
    """The prediction with its columns named by the target symbols (L_pred, Acc_pred ...)."""
    new = (pred.first_target, pred.second_target)
    names = {}
    for old, sym in zip(pred.labels, new):
        names.update({f"{old}_{s}": f"{sym}_{s}" for s in ("pred", "lower", "upper")})
    return replace(pred, frame=pred.frame.rename(columns=names), labels=new)
