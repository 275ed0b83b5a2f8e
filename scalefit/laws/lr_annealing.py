"""Loss-curve law with learning-rate annealing (Tissue et al. 2024, "Scaling Law with Learning Rate
Annealing", arXiv:2408.11029).

    L = L0 + A * S1^-alpha - C * S2          (L = L(s), the loss after s updates)

    S1(s) = sum_{i<=s} eta_i                                   forward area
    S2(s) = sum_{i<=s} m_i,  m_i = lam * m_{i-1} + (eta_{i-1} - eta_i)   annealing area

``eta_i`` is the learning rate of update ``i`` (i = 1..s), so the law describes the loss after
``s`` updates under *any* schedule: the forward area drives the power-law descent, the annealing
area (an exponentially decaying memory, factor ``lam``, of the LR decreases) the extra drop that
annealing brings. ``lam`` is a law option (default 0.999, the paper's value); it can be chosen by a
profile fit (``scalefit.planning.lr_annealing.fit_curves(..., fit_lambda=True)``).

Conventions (stated, since they change the fitted numbers but not the fit's quality):

- ``eta`` is the *absolute* learning rate, as in the paper's definition of S1; A and C absorb the
  units (scaling eta by k maps A -> A k^-alpha and C -> C/k exactly), and curves run at different
  peak LRs stay on one law.
- Warmup: the updates up to the first one at the peak LR add no annealing area (m stays 0), so the
  LR *increase* of a warmup is not counted as negative annealing; S1 does include the warmup.
  Later LR increases (re-warming) do count negatively, as the recursion says.

The law's inputs are the per-row columns ``S1`` and ``S2`` (computed from a curve log by
``scalefit.planning.curves``); the pure functions below compute them from an LR array.
"""

from __future__ import annotations

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Law, Param
from scalefit.laws.registry import register

DEFAULT_LAMBDA = 0.999
_MAX_GROWTH = 1e6  # largest lam^-j used inside one block of the closed-form filter (bounds round-off)


def forward_area(lr: np.ndarray) -> np.ndarray:
    """S1 after each update: the cumulative sum of the learning rates (last axis)."""
    return np.cumsum(np.asarray(lr, dtype=float), axis=-1)


def warmup_end(lr: np.ndarray) -> int:
    """Index of the first update at the peak LR (0 when the schedule starts at its peak)."""
    lr = np.asarray(lr, dtype=float)
    return int(np.argmax(lr >= lr.max()))


def annealing_momentum(lr: np.ndarray, lam: float | np.ndarray = DEFAULT_LAMBDA, *, start: int | None = None):
    """m_i = lam * m_{i-1} + (eta_{i-1} - eta_i), with m = 0 up to update ``start`` (default: the warmup end).

    ``lr`` is (T,); ``lam`` a scalar or a (K, 1) array of decay factors in (0, 1), giving (K, T).
    Computed in closed form, m_j = lam^j * sum_{k<=j} lam^-k d_k, in blocks short enough that
    lam^-k stays below 1e6, so many lam values and long schedules cost a few array operations.
    """
    lr = np.asarray(lr, dtype=float)
    if lr.ndim != 1 or lr.size == 0:
        raise LawError(f"the learning-rate schedule must be a non-empty 1-D array, got shape {lr.shape}")
    lam = np.asarray(lam, dtype=float)
    if np.any(~(lam > 0)) or np.any(lam >= 1):
        raise LawError(f"the annealing decay factor lambda must lie in (0, 1), got {lam.ravel()[:5]}")
    start = warmup_end(lr) if start is None else int(start)
    d = np.zeros_like(lr)
    d[1:] = lr[:-1] - lr[1:]
    d[: start + 1] = 0.0
    T = lr.size
    block = max(1, int(np.log(_MAX_GROWTH) / max(float(-np.log(lam.min())), 1e-300)))
    out = np.empty(np.broadcast_shapes(lam.shape, (T,)))
    log_lam = np.log(lam)
    carry = np.zeros(lam.shape)
    for lo in range(0, T, block):
        j = np.arange(min(block, T - lo), dtype=float)
        grow = np.exp(-log_lam * j)  # lam^-j
        acc = np.cumsum(grow * d[lo : lo + j.size], axis=-1)
        decay = np.exp(log_lam * j)  # lam^j
        out[..., lo : lo + j.size] = decay * (carry + acc)
        carry = lam * out[..., lo + j.size - 1 : lo + j.size]  # lam * m_{lo-1} for the next block
    return out


def annealing_area(lr: np.ndarray, lam: float | np.ndarray = DEFAULT_LAMBDA, *, start: int | None = None):
    """S2 after each update: the cumulative sum of the annealing momentum (see :func:`annealing_momentum`)."""
    return np.cumsum(annealing_momentum(lr, lam, start=start), axis=-1)


def areas(lr: np.ndarray, lam: float = DEFAULT_LAMBDA, *, start: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(S1, S2) after each update of the schedule ``lr`` (one LR per update, update 1 first)."""
    return forward_area(lr), annealing_area(lr, lam, start=start)


def formula(x, p):
    """L = L0 + A S1^-alpha - C S2 (vectorised over parameter sets)."""
    return p["L0"] + p["A"] * np.exp(-p["alpha"] * np.log(x["S1"])) - p["C"] * x["S2"]


def gradient(x, p):
    """Partial derivatives of the formula with respect to each parameter (natural units)."""
    log_s1 = np.log(x["S1"])
    t = np.exp(-p["alpha"] * log_s1)
    return {"L0": 1.0, "A": t, "alpha": -p["A"] * t * log_s1, "C": -x["S2"]}


@register("lr-annealing")
def lr_annealing(lam: float = DEFAULT_LAMBDA) -> Law:
    lam = float(lam)
    if not 0.0 < lam < 1.0:
        raise LawError(f"lr-annealing: option lam (the annealing decay factor lambda) must lie in (0, 1), got {lam}")
    return Law(
        name="lr-annealing",
        equation="L = L0 + A*S1^-alpha - C*S2",
        source="Tissue et al. 2024, Scaling Law with Learning Rate Annealing (arXiv:2408.11029)",
        inputs=("S1", "S2"),
        params=(
            Param("L0", (0.5, 1.5, 3.0), 0.0, np.inf, log=True, doc="loss floor of the curve"),
            Param("A", (0.03, 0.3, 3.0), 0.0, np.inf, log=True, doc="forward-area term coefficient"),
            Param("alpha", (0.2, 0.5, 1.0), 0.0, 5.0, doc="forward-area exponent"),
            Param("C", (0.01, 0.1, 1.0, 10.0), 0.0, np.inf, log=True, doc="loss drop per unit of annealing area"),
        ),
        formula=formula,
        gradient=gradient,
        options={"lam": lam},
        description=(
            f"Whole loss curves under any LR schedule: S1 = sum eta_i (forward area), S2 = sum m_i with "
            f"m_i = lam*m_(i-1) + eta_(i-1) - eta_i (annealing area), lambda = {lam:g}. Inputs S1, S2 are "
            "computed from a curve log (step, lr, loss, run_id) by `scalefit fit lr-annealing CURVES`; eta is "
            "the absolute LR and the warmup adds no annealing area."
        ),
    )
