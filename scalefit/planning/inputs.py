"""Checks of planning inputs: budgets, sizes, token counts and multipliers are finite numbers > 0.

A planning function refuses a NaN, infinite, zero or negative input up front with
:class:`~scalefit.errors.PlanInputError` naming the quantity and the CLI option that sets it, instead of
printing nan or inf as if it were a plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from scalefit.errors import PlanInputError


def _as_float(value: object, what: str, option: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise PlanInputError(f"{option} {value!r}: {what} must be a number") from None


def positive(value: object, what: str, option: str, example: str = "", unit: str = "number") -> float:
    """``value`` as a float; PlanInputError unless it is finite and > 0 (``example`` shows a valid value)."""
    v = _as_float(value, what, option)
    if not (math.isfinite(v) and v > 0):
        hint = f", e.g. {option} {example}" if example else ""
        raise PlanInputError(f"{option} {v:g}: {what} must be > 0 (a finite, positive {unit}){hint}")
    return v


def positives(values: Iterable[object], what: str, option: str, example: str = "", unit: str = "number") -> list[float]:
    """Every value through :func:`positive` (one number is a list of one); an empty list is refused too."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) or getattr(values, "ndim", 1) == 0:
        values = [values]  # compute_optimal(fit, 1e24) as well as compute_optimal(fit, [1e24])
    out = [positive(v, what, option, example, unit) for v in values]
    if not out:
        hint = f", e.g. {option} {example}" if example else ""
        raise PlanInputError(f"give at least one {what} with {option}{hint}")
    return out


def fraction(value: object, what: str, option: str, *, upper_open: bool = False) -> float:
    """``value`` in [0, 1] (or [0, 1) with ``upper_open``)."""
    v = _as_float(value, what, option)
    ok = math.isfinite(v) and 0 <= v and (v < 1 if upper_open else v <= 1)
    if not ok:
        raise PlanInputError(f"{option} {v:g}: {what} must be in [0, 1{')' if upper_open else ']'}")
    return v


def steps_count(value: object, option: str = "--steps") -> int:
    """A whole number of updates >= 1."""
    v = _as_float(value, "the number of updates", option)
    if not (math.isfinite(v) and v >= 1 and v == int(v)):
        raise PlanInputError(f"{option} {value}: the number of updates must be a whole number >= 1, "
                             f"e.g. {option} 20000")
    return int(v)

