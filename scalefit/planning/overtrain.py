"""Over-trained alternatives to the compute-optimal allocation of a budget C (Gadre et al. 2024).

For a budget C the fitted law's closed form gives the compute-optimal N*, D* and M* = D*/N*. Training
a smaller model on more tokens at the same compute (token multiplier M = m M*, m = 2, 4, ...) costs
loss; the rows below give, for each m: N = sqrt(C / (6M)), D = M N, the predicted loss, and how much
compute a model trained at that M needs to reach the compute-optimal loss L*(C), as a ratio to C.
That ratio solves L(C', M) = L*(C) for C' (closed form for ``overtrain``; bisection in log C'
for any other law of N and D, e.g. ``chinchilla``). With a bootstrap, every quantity gets a
percentile interval from the bootstrap parameter sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalefit.errors import FitError
from scalefit.fitting.fit_set import member
from scalefit.fitting.resample import percentile_interval, tail_percent
from scalefit.fitting.result import FitResult
from scalefit.planning.inputs import positives

_ND = frozenset({"N", "D", "C", "M"})
_NEEDS = ("N_opt", "D_opt", "loss_opt")


def law_at(law, params: Mapping[str, np.ndarray], N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """The law at model size N and tokens D, for a law whose inputs are two of N, D, C = 6ND, M = D/N."""
    full = {"N": N, "D": D, "C": 6.0 * N * D, "M": D / N}
    with np.errstate(all="ignore"):
        return np.asarray(law.formula({s: full[s] for s in law.inputs}, params), dtype=float)


def compute_to_reach(law, params: Mapping[str, np.ndarray], M: np.ndarray, target: np.ndarray,
                     c_start: np.ndarray) -> np.ndarray:
    """The compute C' >= ``c_start`` at which a model trained at tokens-per-parameter M reaches loss ``target``.

    Elementwise over arrays of equal shape; NaN where the loss never gets that low within 1e12 x ``c_start``.
    """
    if law.name == "overtrain":
        gap = target - params["E"]
        coef = params["a"] * M ** params["eta"] + params["b"] * M ** (-params["eta"])
        with np.errstate(all="ignore"):
            return np.where(gap > 0, (coef / np.where(gap > 0, gap, 1.0)) ** (1.0 / params["eta"]), np.nan)

    def loss(log_c):
        c = np.exp(log_c)
        n = np.sqrt(c / (6.0 * M))
        return law_at(law, params, n, M * n)

    lo = np.log(c_start) - 1e-9
    hi = lo + np.log(1e12)
    ok = loss(hi) <= target
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = loss(mid) <= target
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return np.where(ok, np.exp(hi), np.nan)


def _rows_for(law, params: Mapping[str, np.ndarray], C: float, multipliers: np.ndarray) -> dict[str, np.ndarray]:
    """Arrays (over parameter sets) for the optimum and each multiplier: shape (n_mult, K)."""
    d = law.derived
    n_star = np.asarray(d["N_opt"].fn(params, C=C), dtype=float)
    d_star = np.asarray(d["D_opt"].fn(params, C=C), dtype=float)
    l_star = np.asarray(d["loss_opt"].fn(params, C=C), dtype=float)
    m_star = d_star / n_star
    M = multipliers[:, None] * m_star[None, :]
    N = np.sqrt(C / (6.0 * M))
    D = M * N
    p2 = {k: np.broadcast_to(v, M.shape) for k, v in params.items()}
    L = law_at(law, p2, N, D)
    c_need = compute_to_reach(law, p2, M, np.broadcast_to(l_star, M.shape), np.full(M.shape, C))
    return {"M": M, "N": N, "D": D, "loss": L, "loss_opt": np.broadcast_to(l_star, M.shape),
            "compute_ratio": c_need / C}


def overtrain_alternatives(
    fit: FitResult,
    compute: Sequence[float],
    multipliers: Sequence[float],
    *,
    level: float = 0.95,
) -> list[dict]:
    """One row per (budget, multiplier): M, N, D, predicted loss, loss increase over L*(C), compute ratio.

    ``multipliers`` are factors on the compute-optimal M* (1 = the optimum itself). The law needs the
    closed-form allocation (derived ``N_opt``, ``D_opt``, ``loss_opt``) and inputs among N, D, C, M. One fit: a
    grouped or multi-target fit's member (``fits["c4"]``).
    """
    single = member(fit)
    law = single.law_spec
    missing = [k for k in _NEEDS if k not in law.derived]
    if missing or not set(law.inputs) <= _ND:
        raise FitError(
            f"law {law.name!r} has no closed-form compute-optimal allocation in N and D, so over-trained "
            "alternatives cannot be planned from it; fit `chinchilla` or `overtrain`"
        )
    mult = np.asarray(positives(multipliers, "an over-training multiple of M*", "--overtrain", "2,4,8"))
    compute = positives(compute, "a compute budget", "--compute", "1e24", "FLOP count")
    tail_percent(level)  # a bad level: the one-line error, before any work
    point = {k: np.array([v], dtype=float) for k, v in single.params.items()}
    boot = single.param_samples()
    rows = []
    for C in compute:
        best = _rows_for(law, point, float(C), mult)
        spread = None if boot is None else _rows_for(law, boot, float(C), mult)
        for i, m in enumerate(mult):
            row = {"C": float(C), "multiplier": float(m)}
            for key in ("M", "N", "D", "loss", "compute_ratio"):
                row[key] = float(best[key][i, 0])
                if spread is not None:
                    row[f"{key}_lower"], row[f"{key}_upper"] = percentile_interval(spread[key][i], level)
            row["loss_increase"] = row["loss"] / float(best["loss_opt"][i, 0]) - 1.0
            rows.append(row)
    return rows


def _cell(row: dict, key: str, fmt: str = "{:.4g}") -> str:
    text = fmt.format(row[key])
    if f"{key}_lower" in row:
        text += " [" + fmt.format(row[f"{key}_lower"]) + ", " + fmt.format(row[f"{key}_upper"]) + "]"
    return text


def overtrain_table(rows: Sequence[dict], *, level: float = 0.95) -> str:
    """A text table of :func:`overtrain_alternatives` rows."""
    lines = ["over-trained alternatives (M = multiplier x M*; 'compute to match' = compute at that M that reaches "
             "the optimum's loss, / C" + (f"; {100 * level:g}% bootstrap intervals)" if rows and
                                          "loss_lower" in rows[0] else ")")]
    head = f"{'C':>10}  {'xM*':>5}  {'M':>22}  {'N':>24}  {'D':>24}  {'loss':>24}  {'+loss':>7}  compute to match"
    lines.append(head)
    for r in rows:
        lines.append(
            f"{r['C']:>10.3g}  {r['multiplier']:>5g}  {_cell(r, 'M'):>22}  {_cell(r, 'N'):>24}  "
            f"{_cell(r, 'D'):>24}  {_cell(r, 'loss'):>24}  {100 * r['loss_increase']:>+6.2f}%  "
            f"{_cell(r, 'compute_ratio', '{:.3f}')}x"
        )
    return "\n".join(lines)
