"""Compute-optimal allocation of a FLOP budget from a fitted law with a closed form (e.g. ``chinchilla``)."""

from __future__ import annotations

from collections.abc import Iterable

from scalefit.errors import FitError
from scalefit.fitting.fit_set import member
from scalefit.fitting.resample import tail_percent
from scalefit.fitting.result import FitResult
from scalefit.planning.inputs import positives

ALLOCATION = ("N_opt", "D_opt", "tokens_per_param", "loss_opt")


def compute_optimal(fit: FitResult, compute: Iterable[float], *, level: float = 0.95) -> list[dict]:
    """Rows of compute-optimal N, D, D/N and loss per budget, with bootstrap intervals if present.

    Every budget must be a finite number of FLOPs > 0 (PlanInputError naming ``--compute`` otherwise). One fit:
    a grouped or multi-target fit's member (``fits["c4"]``; a FitSet is refused, naming its keys).
    """
    budgets = positives(compute, "a compute budget", "--compute", "1e24", "FLOP count")
    tail_percent(level)
    single = member(fit)
    law = single.law_spec
    missing = [k for k in ALLOCATION if k not in law.derived]
    if missing:
        raise FitError(f"law {law.name!r} has no closed-form compute-optimal allocation ({', '.join(missing)} missing)")
    rows = []
    for c in budgets:
        row = {"C": c}
        for k in ALLOCATION:
            row[k] = float(single.derived(k, C=c, warn=False))
            if single.bootstrap:
                lo, hi = single.derived_interval(k, C=c, level=level)
                row[f"{k}_lower"], row[f"{k}_upper"] = float(lo), float(hi)
        rows.append(row)
    _warn_if_beyond(single, rows, level)
    return rows


def _warn_if_beyond(fit: FitResult, rows: list[dict], level: float) -> None:
    """ExtrapolationWarning when a plan's N* or D* leaves the fitted ranges: how many decades, and the loss's
    prediction interval at the farthest plan where the fit is calibrated."""
    import warnings

    from scalefit.fitting.extrapolation import beyond, warn_beyond

    at = {"N": [r["N_opt"] for r in rows], "D": [r["D_opt"] for r in rows]}
    ranges = fit.data.get("ranges", {})
    if not beyond(at, ranges):
        return
    interval = None
    if fit.calibration and set(fit.law_spec.inputs) <= {"N", "D"}:
        far = rows[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lo, hi = fit.predict_interval({"N": [far["N_opt"]], "D": [far["D_opt"]]}, level=level)
        interval = (f"at C = {far['C']:.3g} the {100 * level:g}% prediction interval of the loss is "
                    f"[{float(lo[0]):.4g}, {float(hi[0]):.4g}]")
    warn_beyond(at, ranges, "plan", interval)
