"""Nested outward extrapolation folds along a scale axis: one construction for ``select``, ``backtest --folds``
and the prediction-interval calibration.

Fold k (k = 1 … K) holds out the rows whose value along the axis lies above the (1 − k·f) quantile and fits
the rest (or below the k·f quantile, for an axis whose larger scales have smaller values, such as a loss L
used as an input). A fold that ties in the axis make empty, or identical to the previous one, is dropped,
so there may be fewer than K folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalefit.errors import ScalefitError


@dataclass(frozen=True)
class OutwardFold:
    """One fold: the boolean mask of held-out values and a description such as ``N > 3.2e9``."""

    held: np.ndarray  # True where a value is held out (predicted), False where it is fitted
    cut: float  # the quantile the fold cuts at
    what: str  # e.g. "N > 3.2e9"


def check_folds(folds: int, fraction: float) -> None:
    """ScalefitError unless folds >= 1 and 0 < folds·fraction < 1."""
    if not (isinstance(folds, int) and folds >= 1 and 0 < fraction and folds * fraction < 1):
        raise ScalefitError(f"folds={folds}, fraction={fraction}: need folds >= 1 and 0 < folds·fraction < 1")


def outward_folds(values, along: str, folds: int, fraction: float, *, descending: bool = False) -> list[OutwardFold]:
    """The nested outward folds of ``values`` (the axis ``along``), largest scales held out first."""
    check_folds(folds, fraction)
    v = np.asarray(values, dtype=float).reshape(-1)
    out: list[OutwardFold] = []
    for k in range(1, folds + 1):
        if descending:
            cut = float(np.quantile(v, k * fraction))
            held, what = v < cut, f"{along} < {cut:.4g}"
        else:
            cut = float(np.quantile(v, 1 - k * fraction))
            held, what = v > cut, f"{along} > {cut:.4g}"
        n = int(held.sum())
        if n and (not out or n != int(out[-1].held.sum())):  # ties in ``along``: fewer folds
            out.append(OutwardFold(held, cut, what))
    return out


__all__ = ["OutwardFold", "check_folds", "outward_folds"]
