"""Chained prediction: a loss law feeds a downstream law (compute -> loss -> error).

The point prediction evaluates the first fit at the inputs and the second fit at that predicted
loss. Intervals propagate both fits' bootstrap uncertainty: the k-th bootstrap loss prediction is
fed to the k-th bootstrap parameter set of the downstream fit ("paired"). The two bootstraps
resample different runs independently, so pairing by index is a valid joint draw; when the two fits
have different numbers of resamples, ``max(B1, B2)`` pairs are drawn with replacement from each
(seeded). When only one fit has a bootstrap, only its uncertainty is propagated and the result says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalefit.errors import FitError
from scalefit.fitting.result import FitResult


@dataclass(frozen=True)
class ChainPrediction:
    """Predictions of both stages at the same points, with the bootstrap samples behind the intervals."""

    frame: pd.DataFrame  # the inputs, then <L>_pred[,_lower,_upper] and <Err>_pred[,_lower,_upper]
    first_target: str  # target symbol of the first fit (e.g. "L")
    second_target: str  # target symbol of the second fit (e.g. "Err")
    n_samples: int  # joint bootstrap draws behind the intervals (0: no intervals)
    pairing: str  # "paired", "resampled", "first only", "second only" or "none"
    level: float  # interval level


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


def _joint_indices(b1: int, b2: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    if b1 == b2:
        idx = np.arange(b1)
        return idx, idx, "paired"
    rng = np.random.default_rng(seed)
    n = max(b1, b2)
    return rng.integers(0, b1, n), rng.integers(0, b2, n), "resampled"


def chain_predict(
    first: FitResult,
    second: FitResult,
    inputs: Mapping[str, Any] | pd.DataFrame,
    *,
    level: float = 0.95,
    seed: int = 0,
    group: object | None = None,
    second_group: object | None = None,
) -> ChainPrediction:
    """Predict ``first``'s target at ``inputs``, then ``second``'s target at that prediction.

    ``group`` / ``second_group`` pick one group of grouped fits. ``seed`` is used only when the two
    bootstraps differ in size (indices are then resampled).
    """
    if not 0 < level < 1:
        raise FitError(f"level must be in (0, 1), got {level}")
    one, two = first.select(group), second.select(second_group)
    mid = _check_link(one, two)
    end = two.law_spec.target
    frame = inputs.copy() if isinstance(inputs, pd.DataFrame) else pd.DataFrame(
        {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in inputs.items()}
    )
    loss = one.predict(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the second fit's range check is on a predicted, not a user, input
        err = np.asarray(two.law_spec({mid: loss}, two.params), dtype=float).reshape(-1)
    two.warn_extrapolation({mid: loss})
    out = frame.copy()
    out[f"{mid}_pred"] = loss
    out[f"{end}_pred"] = err
    q = 100 * (1 - level) / 2
    s1 = one.samples(frame) if one.bootstrap else None
    p2 = two.param_samples()
    if s1 is None and p2 is None:
        return ChainPrediction(out, mid, end, 0, "none", level)
    if s1 is not None and p2 is not None:
        i1, i2, how = _joint_indices(s1.shape[0], len(next(iter(p2.values()))), seed)
        loss_s = s1[i1]
        par = {k: v[i2][:, None] for k, v in p2.items()}
    elif s1 is not None:
        loss_s, par, how = s1, {k: np.array([[v]]) for k, v in two.params.items()}, "first only"
    else:
        loss_s = np.broadcast_to(loss, (len(next(iter(p2.values()))), loss.size))
        par, how = {k: v[:, None] for k, v in p2.items()}, "second only"
    with np.errstate(all="ignore"):
        err_s = np.broadcast_to(two.law_spec.formula({mid: loss_s}, par), loss_s.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if s1 is not None:
            out[f"{mid}_lower"], out[f"{mid}_upper"] = np.nanpercentile(loss_s, [q, 100 - q], axis=0)
        out[f"{end}_lower"], out[f"{end}_upper"] = np.nanpercentile(err_s, [q, 100 - q], axis=0)
    cols = [c for c in out.columns if c not in frame.columns]
    rank = {"pred": 0, "lower": 1, "upper": 2}
    order = sorted(cols, key=lambda c: (not c.startswith(mid + "_"), rank[c.rsplit("_", 1)[1]]))
    out = out[[*frame.columns, *order]]
    return ChainPrediction(out, mid, end, int(loss_s.shape[0]), how, level)
